"""Forged bus traffic: by default no other local user can reach the buses.

Before: the buses bound tcp://127.0.0.1:5550 and 5551 without authentication, so any
process on the machine could publish detections (45 forged ones raised a critical alert)
or a forged "ok" status. Now an unset [bus] means IPC sockets in DATA_DIR/bus, a folder of
mode 0700 with sockets of mode 0600: another user's process cannot even connect.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import stat
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import zmq

from cuas.config import ConfigError, parse_config
from cuas.engine.service import run_engine
from cuas.supervisor import check_ports

REF = {"lat_deg": 42.8746, "lon_deg": 74.6036, "alt_m": 780.0}
BOX_DEG = 0.003
NOBODY = 65534

# A forger: publishes a drone flying in the critical zone, as another local user might.
FORGER = """
import sys, time
from cuas.bus import Publisher
from cuas.schema import Detection, GeoPoint, Identity
pub = Publisher(sys.argv[1], bind=False, src="forger")
if not pub.wait_for_subscriber(float(sys.argv[2])):
    print("refused", flush=True)
    sys.exit(0)
print("joined", flush=True)
for k in range(400):
    det = Detection(sensor_id="rid-1", t_unix=time.time(), kind="position",
                    position=GeoPoint(lat_deg=42.8746 + 1e-6 * k, lon_deg=74.6036, alt_m=880.0),
                    identity=Identity(rid_serial="FORGED-1"), object_class="drone")
    pub.publish("det", [det])
    time.sleep(0.05)
"""


@pytest.fixture
def open_dir() -> Iterator[Path]:
    """A data folder that every user may enter (as many a deployment's is): only the bus
    folder's own mode can keep another user out."""
    path = Path(tempfile.mkdtemp(prefix="cuas-bus-"))
    path.chmod(0o755)
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


def _config(data_dir: Path):
    zone = [
        [REF["lat_deg"] + a, REF["lon_deg"] + b]
        for a, b in (
            (-BOX_DEG, -BOX_DEG),
            (-BOX_DEG, BOX_DEG),
            (BOX_DEG, BOX_DEG),
            (BOX_DEG, -BOX_DEG),
        )
    ]
    raw = {
        "service": {"data_dir": str(data_dir / "data")},
        "sites": [
            {
                "id": "s",
                "name": "s",
                "reference": REF,
                "zones": [{"id": "bowl", "name": "Bowl", "level": "critical", "polygon": zone}],
            }
        ],
        "sensors": [{"id": "rid-1", "driver": "dragonsync", "source": "udp://127.0.0.1:9"}],
    }
    return parse_config(raw, data_dir / "deploy.toml")


@contextlib.contextmanager
def _engine(config) -> Iterator[Callable[[int | None], tuple[str, list[dict]]]]:
    """An engine on ``config``, and a function running the forger as a given user (None:
    this user) against it: what the forger said ("joined" or "refused") and the alerts the
    engine published meanwhile."""
    stop = threading.Event()
    engine = threading.Thread(target=run_engine, args=(config, stop), daemon=True)
    engine.start()
    ctx = zmq.Context()
    feed = ctx.socket(zmq.SUB)
    feed.setsockopt(zmq.SUBSCRIBE, b"alert")
    feed.setsockopt(zmq.RCVTIMEO, 100)
    feed.connect(config.bus.output)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}

    def forge(user: int | None, wait_s: float) -> tuple[str, list[dict]]:
        extra = {} if user is None else {"user": user, "group": user}
        forger = subprocess.Popen(
            [sys.executable, "-c", FORGER, config.bus.ingest, str(wait_s)],
            stdout=subprocess.PIPE,
            text=True,
            env=env,
            cwd="/",
            **extra,
        )
        alerts: list[dict] = []
        try:
            said = forger.stdout.readline().strip()
            deadline = time.monotonic() + 20
            while said == "joined" and not alerts and time.monotonic() < deadline:
                with contextlib.suppress(zmq.Again):
                    alerts.extend(json.loads(feed.recv_multipart()[1])["items"])
            return said, alerts
        finally:
            forger.kill()
            forger.wait()

    try:
        yield forge
    finally:
        stop.set()
        engine.join(10)
        feed.close()
        ctx.term()


def test_the_default_buses_are_ipc_sockets_in_a_private_folder(open_dir):
    config = _config(open_dir)
    folder = open_dir / "data" / "bus"
    assert config.bus.ingest == f"ipc://{folder / 'ingest.sock'}"
    assert config.bus.output == f"ipc://{folder / 'output.sock'}"
    stop = threading.Event()
    engine = threading.Thread(target=run_engine, args=(config, stop), daemon=True)
    engine.start()
    try:
        deadline = time.monotonic() + 120  # a first start may compile the tracker's kernels
        sockets = [folder / "ingest.sock", folder / "output.sock"]
        while not all(s.is_socket() for s in sockets) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert stat.S_IMODE(folder.stat().st_mode) == 0o700
        assert [stat.S_IMODE(s.stat().st_mode) for s in sockets] == [0o600, 0o600]
        with pytest.raises(
            ConfigError, match=f"held by a running process: held by pid {os.getpid()}"
        ):
            check_ports(config)  # a second `cuas run` on this data dir stops before binding
    finally:
        stop.set()
        engine.join(10)
    check_ports(config)  # the stale socket files left behind are no obstacle


@pytest.mark.skipif(os.getuid() != 0, reason="acting as another local user needs root")
def test_another_local_user_cannot_reach_the_ingest_bus_but_this_user_can(open_dir):
    with _engine(_config(open_dir)) as forge:
        # this user may use the bus: once the engine is up, a forger of ours gets through
        said, alerts = forge(None, 120.0)
        assert said == "joined"
        assert any(a["identity"].get("rid_serial") == "FORGED-1" for a in alerts)
        said, alerts = forge(NOBODY, 5.0)  # the engine is up and listening by now
        assert said == "refused"
        assert alerts == []
