"""The whole service as a user runs it: `cuas run` processes, real HTTP, WebSocket, SQLite."""

import asyncio
import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
import websockets
from conftest import DEMO_RECORDING, demo_config_text

from cuas.replay.format import Frame, ReplayReader, ReplayWriter

INTRUDER = "1581F5FJD239C00DW22E"


def _children(pid: int) -> list[int]:
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
    config = tmp_path / "deploy.toml"
    config.write_text(text)
    port = int(text.split("port = ", 1)[1].split()[0])
    proc = subprocess.Popen(
        [sys.executable, "-m", "cuas", "run", "--config", str(config)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
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
        yield proc, base, tmp_path / "data" / "cuas.sqlite"
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(10)


async def _watch_stream(base: str, timeout_s: float) -> tuple[dict, list[dict]]:
    url = base.replace("http", "ws") + "/api/v1/stream"
    messages = []
    async with websockets.connect(url) as ws:
        snapshot = json.loads(await ws.recv())
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            try:
                msg = json.loads(await asyncio.wait_for(ws.recv(), timeout=1.0))
            except TimeoutError:
                continue
            messages.append(msg)
            alerts = [a for m in messages if m["type"] == "alerts" for a in m["items"]]
            if any(a["state"] == "raised" for a in alerts):
                break
    return snapshot, messages


def test_demo_breach_reaches_http_and_websocket_and_can_be_acknowledged(service):
    proc, base, db_path = service
    snapshot, messages = asyncio.run(_watch_stream(base, timeout_s=45))
    assert snapshot["type"] == "snapshot"
    kinds = {m["type"] for m in messages}
    assert {"tracks", "alerts"} <= kinds, f"stream carried only {kinds}"
    streamed = [a for m in messages if m["type"] == "alerts" for a in m["items"]]
    alert = streamed[-1]
    assert alert["state"] == "raised" and alert["track"]["identity"]["rid_serial"] == INTRUDER

    tracks = httpx.get(f"{base}/api/v1/tracks").json()
    assert any(t["identity"]["rid_serial"] == INTRUDER for t in tracks)
    listed = httpx.get(f"{base}/api/v1/alerts", params={"state": "raised"}).json()
    assert alert["alert_id"] in [a["alert_id"] for a in listed["items"]]

    ack = httpx.post(
        f"{base}/api/v1/alerts/{alert['alert_id']}/ack", json={"operator": "e2e-operator"}
    )
    assert ack.status_code == 200 and ack.json()["state"] == "acknowledged"

    # malformed frames were counted by the driver and the good ones kept flowing
    sensor = httpx.get(f"{base}/api/v1/sensors").json()[0]
    assert sensor["state"] == "ok" and sensor["counters"]["malformed"] >= 1
    assert sensor["counters"]["detections"] > 20

    # the acknowledgement is in the SQLite file, with its audit row
    with sqlite3.connect(db_path) as db:
        rows = db.execute(
            "SELECT to_state, actor FROM alert_events WHERE alert_id=? ORDER BY event_id",
            (alert["alert_id"],),
        ).fetchall()
    assert ("acknowledged", "e2e-operator") in rows

    # Ctrl-C stops every process the command started
    children = _children(proc.pid)
    assert len(children) >= 3
    proc.send_signal(signal.SIGINT)
    assert proc.wait(20) == 0
    for pid in children:
        assert not Path(f"/proc/{pid}").exists() or "Z" in Path(f"/proc/{pid}/stat").read_text()
    assert os.path.exists(db_path)
