"""The outbound process end to end (a bus publisher standing in for the engine, a real HTTP
receiver, a real UDP socket, SIGKILL and restart), and the machine feed on the engine's
output bus as an external ZeroMQ consumer sees it."""

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

import pytest
import zmq

from cuas.bus import TOPIC_ALERTS, TOPIC_TRACKS, Publisher
from cuas.config import load_config, parse_config
from cuas.engine.service import run_engine
from cuas.schema import (
    SCHEMA_VERSION,
    Alert,
    AlertState,
    Detection,
    GeoPoint,
    Identity,
    MeasurementKind,
    ObjectClass,
    Track,
    TrackStatus,
    ZoneLevel,
)
from cuas.supervisor import _child

from support import free_port

SECRET = "outbound-e2e-secret-0123456789"
SITE = {"id": "s", "name": "s", "reference": {"lat_deg": 42.8746, "lon_deg": 74.6036, "alt_m": 780}}


def track() -> Track:
    return Track(
        track_id="21",
        site_id="s",
        t_unix=time.time(),
        status=TrackStatus.CONFIRMED,
        position=GeoPoint(lat_deg=42.875, lon_deg=74.604, alt_m=900.0),
        enu_m=(30.0, 40.0, 120.0),
        velocity_enu_mps=(0.0, 5.0, 0.0),
        position_std_m=4.0,
        object_class=ObjectClass.DRONE,
        identity=Identity(rid_serial="E2E-SERIAL"),
        pilot=GeoPoint(lat_deg=42.870, lon_deg=74.600, alt_m=780.0),
    )


def alert(state: AlertState) -> Alert:
    return Alert(
        alert_id=1,
        site_id="s",
        zone_id="bowl",
        zone_level=ZoneLevel.CRITICAL,
        rule="drone_in_zone",
        object_key="rid:E2E-SERIAL",
        track_id="21",
        state=state,
        raised_t_unix=time.time(),
        updated_t_unix=time.time(),
        track=track(),
    )


def write_config(tmp_path: Path, hook_url: str, cot_port: int) -> tuple[Path, str]:
    output = f"tcp://127.0.0.1:{free_port()}"
    path = tmp_path / "deploy.toml"
    path.write_text(
        f"""
[service]
data_dir = "{(tmp_path / "data").as_posix()}"
log_level = "warning"
[bus]
ingest = "tcp://127.0.0.1:{free_port()}"
output = "{output}"
[[sites]]
id = "s"
name = "s"
reference = {{ lat_deg = 42.8746, lon_deg = 74.6036, alt_m = 780.0 }}
[[outbound.webhooks]]
id = "ops"
url = "{hook_url}"
secret_env = "CUAS_TEST_WEBHOOK_SECRET"
retry_initial_s = 0.1
[[outbound.cot]]
address = "127.0.0.1"
port = {cot_port}
"""
    )
    return path, output


def start_outbound(config_path: Path) -> mp.Process:
    proc = mp.get_context("spawn").Process(
        target=_child, args=("outbound", str(config_path), None, None), daemon=True
    )
    proc.start()
    return proc


def verified(received) -> dict:
    expected = "sha256=" + hmac.new(SECRET.encode(), received.body, hashlib.sha256).hexdigest()
    assert hmac.compare_digest(expected, received.headers["X-Cuas-Signature"])
    return json.loads(received.body)


def cot_events(sock: socket.socket, want: int, timeout_s: float = 10.0) -> list[ET.Element]:
    events, deadline = [], time.monotonic() + timeout_s
    while len(events) < want and time.monotonic() < deadline:
        try:
            events.append(ET.fromstring(sock.recvfrom(65_535)[0]))
        except TimeoutError:
            continue
    return events


def test_outbound_process_delivers_and_resumes_after_sigkill(tmp_path, receiver, monkeypatch):
    monkeypatch.setenv("CUAS_TEST_WEBHOOK_SECRET", SECRET)
    udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    udp.bind(("127.0.0.1", 0))
    udp.settimeout(0.5)
    config_path, output = write_config(tmp_path, receiver.url, udp.getsockname()[1])
    engine = Publisher(output, bind=True, src="engine")
    procs = [start_outbound(config_path)]
    try:
        assert engine.wait_for_subscriber(30), "the outbound process never subscribed"
        engine.publish(TOPIC_ALERTS, [alert(AlertState.RAISED)])
        engine.publish(TOPIC_TRACKS, [track()])

        (raised,) = receiver.wait_for(lambda got: len(got) == 1)
        body = verified(raised)
        assert body["kind"] == "alert" and body["item"]["state"] == "raised"
        types = {e.get("uid"): e.get("type") for e in cot_events(udp, 3)}
        assert types == {
            "cuas.alert.1": "b-m-p-s-m",
            "cuas.track.21": "a-h-A-M-F-Q",
            "cuas.track.21.pilot": "b-m-p-s-m",
        }

        # the receiver goes down; the clearing is queued, then the process is killed
        receiver.then_status = 503
        engine.publish(TOPIC_ALERTS, [alert(AlertState.CLEARED)])
        got = receiver.wait_for(lambda got: len(got) >= 2)
        cleared_id = got[1].headers["X-Cuas-Delivery"]
        procs[0].kill()
        procs[0].join(5)
        with sqlite3.connect(tmp_path / "data" / "cuas.sqlite") as db:
            (state,) = db.execute(
                "SELECT state FROM webhook_outbox WHERE delivery_id=?", (cleared_id,)
            ).fetchone()
        assert state == "pending"

        receiver.then_status = 200
        procs.append(start_outbound(config_path))
        receiver.wait_for(
            lambda got: any(
                r.status == 200 and r.headers["X-Cuas-Delivery"] == cleared_id for r in got
            ),
            timeout_s=30,
        )
        time.sleep(0.5)
        ok = [r for r in receiver.requests if r.status == 200]
        assert [r.headers["X-Cuas-Delivery"] for r in ok] == [
            raised.headers["X-Cuas-Delivery"],
            cleared_id,
        ]
        assert verified(ok[1])["item"]["state"] == "cleared"
        procs[1].terminate()  # SIGTERM: a clean stop
        procs[1].join(10)
        assert procs[1].exitcode == 0
    finally:
        for proc in procs:
            if proc.is_alive():
                proc.kill()
        engine.close()
        udp.close()


def test_an_outbound_config_without_its_secret_in_the_environment_stops_at_startup(
    tmp_path, monkeypatch
):
    from cuas.config import ConfigError
    from cuas.supervisor import validate_deployment

    monkeypatch.delenv("CUAS_TEST_WEBHOOK_SECRET", raising=False)
    config_path, _ = write_config(tmp_path, "http://127.0.0.1:9/h", 6969)
    with pytest.raises(ConfigError, match="CUAS_TEST_WEBHOOK_SECRET"):
        validate_deployment(load_config(config_path))


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
        assert driver.wait_for_subscriber(20), "the engine never bound its ingest bus"
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
