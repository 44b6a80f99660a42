"""Operator transitions leave the system: acknowledge and resolve through the real API reach
a webhook receiver (HMAC checked) with who, when and the note, TAK over UDP, and the machine
feed on the engine's output bus, while the dashboard stream gets each once. Engine, API and
outbound run as real processes; the test raises and clears the alert in the store as the
engine's rules would (no sensors here)."""

import hashlib
import hmac
import json
import multiprocessing as mp
import socket
import sqlite3
import threading
import time
import xml.etree.ElementTree as ET
from pathlib import Path

import httpx
import zmq
from websockets.sync.client import connect

from cuas.bus import Publisher
from cuas.config import load_config, parse_config
from cuas.engine.service import run_engine
from cuas.schema import (
    SCHEMA_VERSION,
    Alert,
    Detection,
    GeoPoint,
    Identity,
    MeasurementKind,
    ObjectClass,
    Track,
    TrackStatus,
    ZoneLevel,
)
from cuas.store.sqlite import Store
from cuas.supervisor import _child

from support import free_port

SECRET = "operator-e2e-secret-0123456789"
SITE = {"id": "s", "name": "s", "reference": {"lat_deg": 42.8746, "lon_deg": 74.6036, "alt_m": 780}}


def start(role: str, config_path: Path, api_port: int | None = None) -> mp.Process:
    proc = mp.get_context("spawn").Process(
        target=_child, args=(role, str(config_path), None, api_port), daemon=True
    )
    proc.start()
    return proc


def raise_alert(store: Store, serial: str) -> Alert:
    """What the engine's rules do when a drone enters a zone."""
    track = Track(
        track_id=f"T-{serial}",
        site_id="s",
        t_unix=time.time(),
        status=TrackStatus.CONFIRMED,
        position=GeoPoint(lat_deg=42.875, lon_deg=74.604, alt_m=900.0),
        enu_m=(30.0, 40.0, 120.0),
        velocity_enu_mps=(0.0, 5.0, 0.0),
        position_std_m=4.0,
        object_class=ObjectClass.DRONE,
        identity=Identity(rid_serial=serial),
    )
    return store.raise_alert(
        site_id="s",
        zone_id="bowl",
        zone_level=ZoneLevel.CRITICAL,
        rule="drone_in_zone",
        object_key=f"rid:{serial}",
        track=track,
        t_unix=time.time(),
        reason=f"{serial} inside the bowl",
    )


def verified(received) -> dict:
    expected = "sha256=" + hmac.new(SECRET.encode(), received.body, hashlib.sha256).hexdigest()
    assert hmac.compare_digest(expected, received.headers["X-Cuas-Signature"])
    return json.loads(received.body)


class Feed:
    """An integrator's own ZeroMQ SUB on ``[bus] output``, collecting alerts in a thread."""

    def __init__(self, endpoint: str) -> None:
        self.ctx = zmq.Context()
        self.sock = self.ctx.socket(zmq.SUB)
        self.sock.setsockopt(zmq.SUBSCRIBE, b"alert")
        self.sock.setsockopt(zmq.RCVTIMEO, 100)
        self.sock.connect(endpoint)
        self.alerts: list[dict] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                _, envelope = self.sock.recv_multipart()
            except zmq.Again:
                continue
            self.alerts.extend(json.loads(envelope)["items"])

    def has(self, alert_id: int, state: str) -> bool:
        return any(a["alert_id"] == alert_id and a["state"] == state for a in self.alerts)

    def close(self) -> None:
        self._stop.set()
        self._thread.join(5)
        self.sock.close()
        self.ctx.term()


def wait_until(predicate, timeout_s: float = 20.0, what: str = "condition") -> None:
    deadline = time.monotonic() + timeout_s
    while not predicate():
        assert time.monotonic() < deadline, f"{what} not met in {timeout_s} s"
        time.sleep(0.02)


def cursor_started(tmp_path: Path) -> bool:
    try:
        with sqlite3.connect(tmp_path / "data" / "cuas.sqlite") as db:
            return db.execute("SELECT 1 FROM outbound_cursor").fetchone() is not None
    except sqlite3.OperationalError:
        return False


def stream_alerts(ws, alert_id: int) -> list[str]:
    """States of ``alert_id`` in the stream's "alerts" messages received so far."""
    states = []
    while True:
        try:
            msg = json.loads(ws.recv(timeout=0.3))
        except TimeoutError:
            return states
        if msg["type"] == "alerts":
            states += [a["state"] for a in msg["items"] if a["alert_id"] == alert_id]


def test_acknowledge_and_resolve_through_the_api_reach_webhooks_tak_and_the_feed(
    tmp_path, receiver, monkeypatch, outbound_config
):
    monkeypatch.setenv("CUAS_TEST_WEBHOOK_SECRET", SECRET)
    udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    udp.bind(("127.0.0.1", 0))
    udp.settimeout(0.5)
    config_path = outbound_config(receiver.url, udp.getsockname()[1])
    output = load_config(config_path).bus.output
    api_port = free_port()
    base = f"http://127.0.0.1:{api_port}/api/v1"
    store = Store(tmp_path / "data" / "cuas.sqlite")
    procs = [start("engine", config_path), start("outbound", config_path)]
    procs.append(start("api", config_path, api_port))
    feed = Feed(output)
    client = httpx.Client(timeout=5)
    try:

        def api_up() -> bool:
            try:
                return client.get(f"{base}/health").status_code == 200
            except httpx.HTTPError:
                return False

        wait_until(api_up, 30, "the API")
        wait_until(lambda: cursor_started(tmp_path), 30, "the outbound cursor")

        def feed_live() -> bool:  # the feed is live once a probe acknowledgement is on it
            probe = raise_alert(store, f"PROBE-{time.monotonic_ns()}")
            client.post(f"{base}/alerts/{probe.alert_id}/ack", json={"operator": "probe"})
            time.sleep(0.3)
            return feed.has(probe.alert_id, "acknowledged")

        # the engine binds its output once its kernels are compiled or loaded (cuas.warmup)
        wait_until(feed_live, 120, "the engine's feed")
        alert = raise_alert(store, "INTRUDER-1")
        with connect(f"ws://127.0.0.1:{api_port}/api/v1/stream") as ws:
            assert json.loads(ws.recv(timeout=5))["type"] == "snapshot"
            t0 = time.time()
            ack = client.post(
                f"{base}/alerts/{alert.alert_id}/ack",
                json={"operator": "alice", "note": "on camera 2"},
            )
            assert ack.status_code == 200, ack.text
            store.clear(alert.alert_id, time.time(), "left the bowl", None)
            resolve = client.post(
                f"{base}/alerts/{alert.alert_id}/resolve",
                json={"operator": "bob", "note": "a news crew's drone"},
            )
            assert resolve.status_code == 200, resolve.text
            wait_until(lambda: feed.has(alert.alert_id, "resolved"), 10, "resolved on the feed")
            time.sleep(0.3)  # the API got the engine's copies too by now
            streamed = stream_alerts(ws, alert.alert_id)

        def mine(got) -> list[dict]:
            bodies = [verified(r) for r in got]
            return [b for b in bodies if b["item"]["alert_id"] == alert.alert_id]

        got = receiver.wait_for(lambda got: len(mine(got)) == 4)
        bodies = sorted(mine(got), key=lambda b: b["transition"]["event_id"])
        cot = []
        while True:
            try:
                cot.append(ET.fromstring(udp.recvfrom(65_535)[0]))
            except TimeoutError:
                break
    finally:
        client.close()
        feed.close()
        for proc in procs:
            proc.terminate()
        for proc in procs:
            proc.join(10)
            if proc.is_alive():
                proc.kill()
        store.close()
        udp.close()

    assert [b["transition"]["to_state"] for b in bodies] == [
        "raised",
        "acknowledged",
        "cleared",
        "resolved",
    ]
    acked, resolved = bodies[1], bodies[3]
    assert acked["transition"]["actor"] == "alice"
    assert acked["transition"]["reason"] == "on camera 2"
    assert acked["item"]["acknowledged_by"] == "alice" and acked["item"]["note"] == "on camera 2"
    assert t0 - 1 <= acked["item"]["acknowledged_t_unix"] <= time.time()
    assert resolved["transition"]["actor"] == "bob"
    assert resolved["item"]["resolved_by"] == "bob"
    assert resolved["item"]["resolution_note"] == "a news crew's drone"

    on_feed = [a for a in feed.alerts if a["alert_id"] == alert.alert_id]
    assert [a["state"] for a in on_feed] == ["acknowledged", "resolved"]
    assert on_feed[0]["acknowledged_by"] == "alice" and on_feed[1]["resolved_by"] == "bob"

    # the dashboard stream: each operator transition once (the API's own push, not the bus's)
    assert streamed == ["acknowledged", "resolved"]

    # TAK: the marker shows the acknowledgement; the clearing removes it (stale at once), so
    # the resolution of a marker already gone sends nothing
    uid = f"cuas.alert.{alert.alert_id}"
    events = [e for e in cot if e.get("uid") == uid]
    remarks = [e.find("detail/remarks").text for e in events]
    assert [r.split("; state ")[1].split()[0].rstrip(";") for r in remarks] == [
        "raised",
        "acknowledged",
        "cleared",
    ]
    assert "state acknowledged; acknowledged by alice" in remarks[1]
    assert "state cleared; acknowledged by alice" in remarks[2]  # not "cleared by alice"
    assert events[-1].get("stale") == events[-1].get("time")


def test_machine_feed_external_subscriber_gets_documented_envelopes(tmp_path):
    """An integrator's own ZeroMQ SUB on [bus] output, as the README's "Bus format" says."""
    ref = SITE["reference"]
    box = 0.003
    zone = [
        [ref["lat_deg"] + dlat, ref["lon_deg"] + dlon]
        for dlat, dlon in ((-box, -box), (-box, box), (box, box), (box, -box))
    ]
    site = {**SITE, "zones": [{"id": "bowl", "name": "Bowl", "level": "critical", "polygon": zone}]}
    ingest, output = f"tcp://127.0.0.1:{free_port()}", f"tcp://127.0.0.1:{free_port()}"
    raw = {
        "service": {"data_dir": str(tmp_path / "data")},
        "bus": {"ingest": ingest, "output": output},
        "sites": [site],
        "sensors": [{"id": "rid-1", "driver": "dragonsync", "source": "udp://127.0.0.1:9"}],
    }
    config = parse_config(raw, tmp_path / "deploy.toml")
    stop = threading.Event()
    engine = threading.Thread(target=run_engine, args=(config, stop), daemon=True)
    engine.start()
    ctx = zmq.Context()
    feed = ctx.socket(zmq.SUB)
    feed.setsockopt(zmq.SUBSCRIBE, b"")
    feed.setsockopt(zmq.RCVTIMEO, 100)
    feed.connect(output)
    driver = Publisher(ingest, bind=False, src="test-driver")
    messages: list[tuple[bytes, dict]] = []
    try:
        # the engine binds once its kernels are compiled or loaded: minutes on a cold cache
        assert driver.wait_for_subscriber(300), "the engine never bound its ingest bus"
        deadline = time.monotonic() + 20
        k = 0
        while time.monotonic() < deadline and not {b"track", b"alert"} <= {
            topic for topic, _ in messages
        }:
            k += 1
            det = Detection(
                sensor_id="rid-1",
                t_unix=time.time(),
                kind=MeasurementKind.POSITION,
                position=GeoPoint(
                    lat_deg=ref["lat_deg"] + 1e-5 * k, lon_deg=ref["lon_deg"], alt_m=880.0
                ),
                identity=Identity(rid_serial="FEED-TEST-1"),
                object_class=ObjectClass.DRONE,
                class_source="remote_id",
            )
            driver.publish("det", [det])
            t_end = time.monotonic() + 0.1
            while time.monotonic() < t_end:
                try:
                    frames = feed.recv_multipart()
                except zmq.Again:
                    continue
                assert len(frames) == 2, "two frames: topic, envelope"
                messages.append((frames[0], json.loads(frames[1].decode("utf-8"))))
    finally:
        stop.set()
        engine.join(10)
        driver.close()
        feed.close()
        ctx.term()

    assert {b"track", b"alert"} <= {topic for topic, _ in messages}
    seqs = [env["seq"] for _, env in messages]
    assert seqs == list(range(seqs[0], seqs[0] + len(seqs))), "subscribed to all: no gaps"
    for topic, env in messages:
        assert set(env) == {"v", "src", "seq", "items"}
        assert env["v"] == SCHEMA_VERSION and env["src"] == "engine"
        assert topic in (b"track", b"alert", b"status") and isinstance(env["items"], list)
    tracks = [t for topic, env in messages if topic == b"track" for t in env["items"]]
    alerts = [a for topic, env in messages if topic == b"alert" for a in env["items"]]
    drone = next(t for t in tracks if t["identity"]["rid_serial"] == "FEED-TEST-1")
    assert {"track_id", "status", "position", "velocity_enu_mps", "object_class"} <= set(drone)
    assert alerts[0]["state"] == "raised" and alerts[0]["zone_id"] == "bowl"
    assert alerts[0]["track"]["identity"]["rid_serial"] == "FEED-TEST-1"
