"""``cuas run``: start the engine, the drivers and the API server as processes, keep them up.

Each part runs in its own process so a fault in one (a driver fed garbage, a stuck
client) cannot stall the others. A part that dies is restarted with backoff; alerts and
acknowledgements live in SQLite, so nothing acknowledged is lost across a restart.
Ctrl-C (SIGINT) or SIGTERM stops every process this command started. With ``--exercise``
a scenario is simulated first and its sensors join every process's config as exercise
sensors (``cuas.sim.exercise``).
"""

from __future__ import annotations

import ctypes
import logging
import multiprocessing as mp
import os
import signal
import socket
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from cuas.config import ConfigError, DeploymentConfig, load_config
from cuas.driver.service import validate_sensors
from cuas.holders import tcp_port_holders, unix_socket_holders
from cuas.keys import client_keys, server_keys
from cuas.log_format import setup_logging

log = logging.getLogger("cuas")

RESTART_BACKOFF_MAX_S = 30.0
PR_SET_PDEATHSIG = 1  # linux/prctl.h
HEALTHY_RUN_S = 60.0  # a part that ran this long before dying restarts after 1 s again


def on_stop_signals(event: threading.Event, also: Callable[[], None] | None = None) -> None:
    """Set ``event`` on SIGINT or SIGTERM.

    The handler must not call ``event.set()`` itself: it runs in the main thread, which
    may be inside ``event.wait()`` holding the event's lock, and would deadlock. A short
    thread sets it instead.
    """

    def handler(signum: int, frame: object) -> None:
        threading.Thread(target=event.set, name="stop-signal", daemon=True).start()
        if also is not None:
            also()

    signal.signal(signal.SIGTERM, handler)
    signal.signal(signal.SIGINT, handler)


def _interrupt() -> None:
    raise KeyboardInterrupt


def die_with_parent(parent_pid: int) -> None:
    """Have the kernel kill this process when its parent dies (Linux ``PR_SET_PDEATHSIG``),
    so a supervisor killed with -9 leaves no orphan holding the ports and the picture. If
    the parent is already gone (it died before this ran), exit now."""
    if sys.platform.startswith("linux"):
        libc = ctypes.CDLL(None, use_errno=True)
        if libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0) != 0:
            log.warning("prctl(PR_SET_PDEATHSIG) failed: errno %d", ctypes.get_errno())
    if os.getppid() != parent_pid:
        os._exit(1)


def _child(
    role: str,
    config_path: str,
    record_path: str | None,
    api_port: int | None,
    exercise_sensors: list[dict[str, Any]] | None = None,
    parent_pid: int | None = None,
) -> None:
    """Entry point of every child process."""
    if parent_pid is not None:
        die_with_parent(parent_pid)
    config = load_config(config_path)
    if api_port is not None:
        config.api.port = api_port
    if exercise_sensors:
        from cuas.sim.exercise import with_exercise

        with_exercise(config, exercise_sensors)
    setup_logging(config.service.log_level, config.service.log_format)
    stop = threading.Event()
    on_stop_signals(stop, _interrupt if role == "api" else None)
    try:
        if role == "engine":
            from cuas.engine.service import run_engine

            run_engine(config, stop)
        elif role == "drivers":
            from cuas.driver.service import run_drivers

            run_drivers(config, stop, record_path)
        elif role == "outbound":
            from cuas.outbound.service import run_outbound

            run_outbound(config, stop)
        else:
            from cuas.api.server import run_api

            run_api(config)
    except KeyboardInterrupt:
        pass


@dataclass
class _Part:
    role: str
    process: mp.Process | None = None
    restarts: int = 0  # since the last healthy run
    next_start: float = 0.0
    started: float = 0.0  # time.monotonic() of the latest start

    def restart_delay_s(self, died: float) -> float:
        """Backoff before the next start: 1, 2, 4 ... 30 s for a part that keeps dying, but
        1 s again once it has run ``HEALTHY_RUN_S`` (``died``: time.monotonic())."""
        if died - self.started >= HEALTHY_RUN_S:
            self.restarts = 0
        return min(2.0**self.restarts, RESTART_BACKOFF_MAX_S)


def _check_free(endpoint_host: str, port: int, what: str) -> None:
    if port == 0:
        return
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((endpoint_host, port))
        except OSError as exc:
            raise ConfigError(
                f"{what}: {endpoint_host}:{port} is not free ({exc.strerror}); "
                f"{_held_by(tcp_port_holders(port))}; stop it or choose another port in the "
                "config"
            ) from None


def _held_by(holders: list[str]) -> str:
    if not holders:
        return "its holder is not visible to this user"
    return "held by " + "; ".join(holders) + " (a part of an earlier run left behind?)"


def validate_deployment(config: DeploymentConfig) -> None:
    """Everything the children would trip over later: drivers, sources, key files."""
    validate_sensors(config)
    server_keys(config.bus, config.base_dir)
    client_keys(config.bus, config.base_dir)
    if config.outbound.enabled:
        from cuas.outbound.service import validate_outbound

        validate_outbound(config)


def _check_ipc_free(path: str, what: str) -> None:
    """A live listener on an IPC socket means another process owns it: ZeroMQ would
    silently take the path over from it, leaving two engines each with half the feed."""
    if not Path(path).is_socket():
        return
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
        try:
            s.connect(path)
        except OSError:
            return  # a stale file left by a dead process; binding replaces it
    raise ConfigError(
        f"{what}: {path} is held by a running process: {_held_by(unix_socket_holders(path))}; "
        "stop it or choose another service.data_dir"
    )


def check_ports(config: DeploymentConfig) -> None:
    _check_free(config.api.host, config.api.port, "api.port")
    for key in ("ingest", "output"):
        endpoint = getattr(config.bus, key)
        parts = urlsplit(endpoint)
        if parts.scheme == "tcp" and parts.port:
            _check_free(parts.hostname or "127.0.0.1", parts.port, f"bus.{key}")
        elif parts.scheme == "ipc":
            _check_ipc_free(endpoint[len("ipc://") :], f"bus.{key}")


def run(
    config_path: Path,
    record_path: str | None = None,
    api_port: int | None = None,
    exercise_path: Path | None = None,
    exercise_delay_s: float | None = None,
) -> int:
    config = load_config(config_path)
    if api_port is not None:
        config.api.port = api_port
    setup_logging(config.service.log_level, config.service.log_format)
    exercise_sensors: list[dict[str, Any]] = []
    plan = None
    if exercise_path is not None:
        from cuas.sim.exercise import DEFAULT_DELAY_S, plan_exercise, with_exercise

        delay_s = DEFAULT_DELAY_S if exercise_delay_s is None else exercise_delay_s
        plan = plan_exercise(config, exercise_path, delay_s=delay_s)
        exercise_sensors = [s.model_dump(mode="json") for s in plan.sensors]
        with_exercise(config, exercise_sensors)
    validate_deployment(config)  # a bad sensor or key must stop us here, not loop restarts
    check_ports(config)
    if plan is not None:
        plan.simulate()
        print(plan.describe(), flush=True)
        if time.time() > plan.start_unix:
            log.warning(
                "exercise: simulating took longer than the delay; its first %.1f s are skipped",
                time.time() - plan.start_unix,
            )
    ctx = mp.get_context("spawn")
    parts = [_Part("engine"), _Part("drivers"), _Part("api")]
    if config.outbound.enabled:
        parts.append(_Part("outbound"))
    stopping = threading.Event()
    on_stop_signals(stopping)

    def start(part: _Part) -> None:
        part.process = ctx.Process(
            target=_child,
            args=(
                part.role,
                str(config_path),
                record_path,
                api_port,
                exercise_sensors,
                os.getpid(),
            ),
            name=f"cuas-{part.role}",
            daemon=False,
        )
        part.process.start()
        part.started = time.monotonic()

    for part in parts:
        start(part)
        if part.role == "engine":
            time.sleep(0.3)  # the engine binds the bus; let it come up first
    url = f"http://{config.api.host}:{config.api.port}/"
    print(f"cuas is running: dashboard at {url}  (Ctrl-C stops it)", flush=True)
    try:
        while not stopping.wait(0.5):
            for part in parts:
                proc = part.process
                if proc is None or proc.is_alive():
                    continue
                now = time.monotonic()
                if part.next_start == 0.0:
                    delay = part.restart_delay_s(now)
                    part.next_start = now + delay
                    log.error(
                        "%s exited with code %s; restarting in %.0f s",
                        part.role,
                        proc.exitcode,
                        delay,
                    )
                elif now >= part.next_start:
                    part.restarts += 1
                    part.next_start = 0.0
                    start(part)
    finally:
        print("stopping cuas ...", flush=True)
        for part in reversed(parts):
            if part.process and part.process.is_alive():
                part.process.terminate()
        for part in parts:
            if part.process:
                part.process.join(5.0)
                if part.process.is_alive():
                    part.process.kill()
                    part.process.join(1.0)
    return 0
