"""Helpers shared by the tests: paths, free loopback ports, a demo config on free ports."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = REPO.parent / "shared" / "data"
DEMO_CONFIG = REPO / "configs" / "demo.toml"
DEMO_RECORDING = REPO / "replay_data" / "demo.jsonl.gz"


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _sub(text: str, old: str, new: str) -> str:
    assert old in text, f"configs/demo.toml no longer contains {old!r}; update the test fixture"
    return text.replace(old, new)


def demo_config_text(data_dir: Path, recording: Path, source_query: str = "") -> str:
    """The bundled demo config, moved to free ports, a private data dir and a given recording."""
    text = DEMO_CONFIG.read_text()
    text = _sub(text, "port = 8000", f"port = {free_port()}")  # the bus: IPC in data_dir
    text = _sub(text, 'data_dir = "../var/demo"', f'data_dir = "{data_dir.as_posix()}"')
    return _sub(
        text,
        'source = "replay:../replay_data/demo.jsonl.gz?loop=1&gap=15"',
        f'source = "replay:{recording.as_posix()}{source_query}"',
    )


def children_of(pid: int) -> list[int]:
    """Process ids whose parent is ``pid`` (Linux /proc)."""
    out = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
                out.append(int(entry.name))
    return out


def drone_track(track_id: str = "T1", status=None, serial: str | None = None):
    """A Remote ID drone track over the demo stadium, as the engine would publish it.

    The serial defaults to one derived from the track id, so tracks stay distinct."""
    import time

    from cuas.schema import GeoPoint, Identity, ObjectClass, Track, TrackStatus

    serial = serial or f"S{track_id}"
    return Track(
        track_id=track_id,
        site_id="dolen-omurzakov",
        t_unix=time.time(),
        status=status or TrackStatus.CONFIRMED,
        position=GeoPoint(lat_deg=42.8746, lon_deg=74.6036, alt_m=850.0),
        enu_m=(0.0, 0.0, 70.0),
        velocity_enu_mps=(3.0, 4.0, 0.0),
        position_std_m=2.0,
        object_class=ObjectClass.DRONE,
        class_source="remote_id",
        identity=Identity(rid_serial=serial),
        identity_key=f"rid:{serial}",
    )


@contextlib.contextmanager
def run_service(
    config_text: str, workdir: Path, *args: str
) -> Iterator[tuple[subprocess.Popen, str, Path]]:
    """`cuas run` on ``config_text`` (a demo config from ``demo_config_text``) with more
    ``args``, until exit: the process, the API's base URL and the SQLite file."""
    config = workdir / "deploy.toml"
    config.write_text(config_text)
    port = int(config_text.split("port = ", 1)[1].split()[0])
    proc = subprocess.Popen(
        [sys.executable, "-m", "cuas", "run", "--config", str(config), *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,  # its own process group, so teardown can reach every child
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{base}/api/v1/health", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.2)
        else:
            proc.kill()
            pytest.fail(f"service did not come up:\n{proc.stdout.read()}")
        yield proc, base, workdir / "data" / "cuas.sqlite"
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGINT)
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(20)
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)  # anything left behind, children included
