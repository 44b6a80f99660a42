"""A running `cuas run` service for end-to-end tests."""

import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest

from cuas.replay.format import Frame, ReplayReader, ReplayWriter

from support import DEMO_RECORDING, demo_config_text


@contextlib.contextmanager
def run_service(config_text: str, workdir: Path) -> Iterator[tuple[subprocess.Popen, str, Path]]:
    """`cuas run` on ``config_text`` (a demo config from ``demo_config_text``), until exit."""
    config = workdir / "deploy.toml"
    config.write_text(config_text)
    port = int(config_text.split("port = ", 1)[1].split()[0])
    proc = subprocess.Popen(
        [sys.executable, "-m", "cuas", "run", "--config", str(config)],
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


@pytest.fixture
def service(tmp_path):
    """`cuas run` on free loopback ports, replaying the demo at 5x with garbage mixed in."""
    recording = tmp_path / "mixed.jsonl"
    reader = ReplayReader(DEMO_RECORDING)
    writer = ReplayWriter(recording, sensors=reader.header.sensors)
    for i, rec in enumerate(r for r in reader if isinstance(r, Frame)):
        writer.frame(rec.t_unix, rec.sensor_id, rec.data)
        if i % 25 == 0:
            writer.frame(rec.t_unix, rec.sensor_id, b"\xde\xad not json")
    writer.close()
    text = demo_config_text(tmp_path / "data", recording, "?speed=5")
    with run_service(text, tmp_path) as running:
        yield running


@pytest.fixture(scope="module")
def start_service(tmp_path_factory) -> Iterator[Callable[..., tuple]]:
    """``start_service(edit, speed)``: the bundled demo recording under `cuas run`, its config
    changed by ``edit(text) -> text``; stopped when the test module ends."""
    with contextlib.ExitStack() as stack:

        def start(edit: Callable[[str], str] = lambda t: t, speed: float = 1.0) -> tuple:
            workdir = tmp_path_factory.mktemp("service")
            text = edit(demo_config_text(workdir / "data", DEMO_RECORDING, f"?speed={speed:g}"))
            return stack.enter_context(run_service(text, workdir))

        yield start
