"""The engine process on real ZeroMQ sockets: an alert goes out at once, with its track."""

import json
import threading
import time

import zmq

from cuas.bus import Publisher
from cuas.config import parse_config
from cuas.engine.service import run_engine
from cuas.schema import Detection, GeoPoint, Identity, MeasurementKind, ObjectClass

from support import free_port

# Far below the 60 s picture interval, and far above a step's time on a loaded machine.
QUICK_ALERT_WITHIN_S = 30.0
REF = {"lat_deg": 42.8746, "lon_deg": 74.6036, "alt_m": 780.0}


def test_a_quick_step_alert_goes_out_with_its_track_long_before_the_next_picture(tmp_path):
    box = 0.003
    zone = [
        [REF["lat_deg"] + dlat, REF["lon_deg"] + dlon]
        for dlat, dlon in ((-box, -box), (-box, box), (box, box), (box, -box))
    ]
    ingest, output = f"tcp://127.0.0.1:{free_port()}", f"tcp://127.0.0.1:{free_port()}"
    raw = {
        "service": {"data_dir": str(tmp_path / "data")},
        "bus": {"ingest": ingest, "output": output},
        # the whole picture only every 60 s: the alert's track can only come with the alert
        "tracker": {"publish_interval_s": 60.0},
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
    config = parse_config(raw, tmp_path / "deploy.toml")
    stop = threading.Event()
    engine = threading.Thread(target=run_engine, args=(config, stop), daemon=True)
    engine.start()
    ctx = zmq.Context()
    feed = ctx.socket(zmq.SUB)
    feed.setsockopt(zmq.SUBSCRIBE, b"")
    feed.setsockopt(zmq.RCVTIMEO, 50)
    feed.connect(output)
    driver = Publisher(ingest, bind=False, src="test-driver")
    messages: list[tuple[bytes, dict, float]] = []
    sent: list[float] = []
    try:
        # the engine binds once its kernels are compiled or loaded: minutes on a cold cache
        assert driver.wait_for_subscriber(300), "the engine never bound its ingest bus"
        time.sleep(1.0)  # past the first (whole) picture, published at start
        # Three detections confirm the track (3 of 5). Only a quick step can then alert before
        # the next whole picture, 60 s away: nothing else makes the engine step in between.
        for k in range(3):
            det = Detection(
                sensor_id="rid-1",
                t_unix=time.time(),
                kind=MeasurementKind.POSITION,
                position=GeoPoint(
                    lat_deg=REF["lat_deg"] + 1e-5 * k, lon_deg=REF["lon_deg"], alt_m=880.0
                ),
                identity=Identity(rid_serial="QUICK-1"),
                object_class=ObjectClass.DRONE,
                class_source="remote_id",
            )
            driver.publish("det", [det])
            sent.append(time.monotonic())
            time.sleep(0.2)
        deadline = sent[-1] + QUICK_ALERT_WITHIN_S
        while time.monotonic() < deadline and not any(m[0] == b"alert" for m in messages):
            try:
                frames = feed.recv_multipart()
            except zmq.Again:
                continue
            messages.append((frames[0], json.loads(frames[1]), time.monotonic()))
    finally:
        stop.set()
        engine.join(10)
        driver.close()
        feed.close()
        ctx.term()

    alert_at = next((i for i, m in enumerate(messages) if m[0] == b"alert"), None)
    assert alert_at is not None, f"no alert within {QUICK_ALERT_WITHIN_S} s of the third detection"
    (alert,) = messages[alert_at][1]["items"]
    before = [t for topic, env, _ in messages[:alert_at] if topic == b"track" for t in env["items"]]
    assert alert["track_id"] in {t["track_id"] for t in before}, "the track came first"
    # a quick step's, not the next whole picture's (60 s after the first)
    assert messages[alert_at][2] - sent[-1] < QUICK_ALERT_WITHIN_S
