"""The supervisor is no single point of failure: kill -9 of `cuas run` takes its children
along, and a later run that finds its ports taken names who holds them.

Before: after kill -9 of the supervisor the engine, drivers and API ran on as orphans,
holding the ports and serving a frozen picture with nobody to restart them; a new
`cuas run` only said a port was not free.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx

from support import DEMO_RECORDING, children_of, demo_config_text, free_port, run_service


def _alive(pid: int) -> bool:
    """Running (a zombie waiting for a reaper counts as dead)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def _wait_for(fn, timeout_s: float):
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        value = fn()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError("condition not met in time")


def test_the_children_die_with_a_killed_supervisor_and_a_new_run_comes_up(tmp_path):
    text = demo_config_text(tmp_path / "data", DEMO_RECORDING)
    with run_service(text, tmp_path) as (proc, base, _):
        parts = _wait_for(lambda: [p for p in children_of(proc.pid) if _alive(p)], 30)
        assert len(parts) >= 3  # engine, drivers, API
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(10)
        deadline = time.monotonic() + 30
        while any(_alive(p) for p in parts) and time.monotonic() < deadline:
            time.sleep(0.1)
        survivors = [p for p in parts if _alive(p)]
        assert survivors == [], f"orphans left running: {survivors}"
        try:
            httpx.get(f"{base}/api/v1/health", timeout=2)
            raise AssertionError("the old API still answers")
        except httpx.HTTPError:
            pass
    with run_service(text, tmp_path) as (_, base, _):  # ports and bus sockets free again
        assert httpx.get(f"{base}/api/v1/health", timeout=5).status_code == 200


def test_a_run_whose_api_port_is_held_names_the_holder(tmp_path):
    port = free_port()
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import socket, sys, time\n"
            "s = socket.socket(); s.bind(('127.0.0.1', int(sys.argv[1]))); s.listen()\n"
            "print('listening', flush=True); time.sleep(120)",
            str(port),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout.readline().strip() == "listening"
        text = demo_config_text(tmp_path / "data", DEMO_RECORDING)
        text = text.replace("port = ", f"port = {port}\n# was: port = ", 1)
        config = tmp_path / "deploy.toml"
        config.write_text(text)
        result = subprocess.run(
            [sys.executable, "-m", "cuas", "run", "--config", str(config)],
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert result.returncode == 2
        assert f"api.port: 127.0.0.1:{port} is not free" in result.stderr
        assert f"held by pid {holder.pid}: " in result.stderr
    finally:
        holder.kill()
        holder.wait()


def test_the_holder_of_a_listening_port_is_found():
    from cuas.holders import tcp_port_holders

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        port = s.getsockname()[1]
        [mine] = tcp_port_holders(port)
        assert mine.startswith(f"pid {os.getpid()}: ")
    assert tcp_port_holders(port) == []
