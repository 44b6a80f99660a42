"""Shared fixtures: free loopback ports, deployment configs, short recordings, shared data."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = REPO.parent / "shared" / "data"
DEMO_CONFIG = REPO / "configs" / "demo.toml"
DEMO_RECORDING = REPO / "replay_data" / "demo.jsonl.gz"


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def shared_data() -> Path:
    """The recorded protocol samples beside the repo (present in CI, absent in a user's clone)."""
    if not SHARED_DATA.is_dir():
        pytest.skip(f"shared protocol samples not found at ../shared/data ({SHARED_DATA})")
    return SHARED_DATA


def demo_config_text(data_dir: Path, recording: Path, *, loop: bool = False) -> str:
    """The bundled demo config, moved to free ports, a private data dir and a given recording."""
    text = DEMO_CONFIG.read_text()
    api, ingest, output = free_port(), free_port(), free_port()
    text = text.replace("port = 8000", f"port = {api}")
    text = text.replace("tcp://127.0.0.1:5550", f"tcp://127.0.0.1:{ingest}")
    text = text.replace("tcp://127.0.0.1:5551", f"tcp://127.0.0.1:{output}")
    text = text.replace('data_dir = "../var/demo"', f'data_dir = "{data_dir.as_posix()}"')
    text = text.replace(
        'source = "replay:../replay_data/demo.jsonl.gz?loop=1"',
        f'source = "replay:{recording.as_posix()}{"?loop=1" if loop else ""}"',
    )
    return text


@pytest.fixture
def demo_config_file(tmp_path: Path) -> Path:
    path = tmp_path / "deploy.toml"
    path.write_text(demo_config_text(tmp_path / "data", DEMO_RECORDING))
    return path
