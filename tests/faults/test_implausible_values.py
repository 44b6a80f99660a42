"""Non-finite and absurd values: skipped and counted at the driver host and the engine.

Before: a DragonSync altitude of 1e308 crashed the engine (the track's position turned
into an invalid GeoPoint), a NaN altitude or range crashed the tracker, and a NaN time
jammed the reorder buffer (nothing was ever released again). Now each such item is
counted by reason and skipped, and the engine keeps alerting on the good ones.
"""

from __future__ import annotations

import json
import logging
import threading
import time

import pytest
import zmq

from cuas.bus import Publisher
from cuas.config import parse_config
from cuas.driver import SensorInfo
from cuas.driver.host import FrameDecoder
from cuas.engine.fusion import FusionEngine
from cuas.engine.service import run_engine
from cuas.plausibility import Screen
from cuas.schema import Detection, GeoPoint, SensorStatus
from cuas.store.sqlite import Store
from cuas_drivers.dragonsync import DragonSyncDriver, DragonSyncOptions

from support import free_port

REF = {"lat_deg": 42.8746, "lon_deg": 74.6036, "alt_m": 780.0}
BOX_DEG = 0.003
ZONE = [
    [REF["lat_deg"] + dlat, REF["lon_deg"] + dlon]
    for dlat, dlon in (
        (-BOX_DEG, -BOX_DEG),
        (-BOX_DEG, BOX_DEG),
        (BOX_DEG, BOX_DEG),
        (BOX_DEG, -BOX_DEG),
    )
]
NAN = float("nan")

# (name, detection fields) of items that must be skipped; the sensor "radar" has a position
BAD = [
    ("altitude 1e308", {"kind": "position", "position": {**REF, "alt_m": 1e308}}),
    ("altitude NaN", {"kind": "position", "position": {**REF, "alt_m": NAN}}),
    ("time NaN", {"kind": "position", "t_unix": NAN, "position": REF}),
    ("time +inf", {"kind": "position", "t_unix": float("inf"), "position": REF}),
    (
        "range 1e300",
        {
            "sensor_id": "radar",
            "kind": "range_az_el",
            "range_m": 1e300,
            "azimuth_rad": 0.1,
            "elevation_rad": 0.1,
        },
    ),
    (
        "range NaN",
        {
            "sensor_id": "radar",
            "kind": "range_az_el",
            "range_m": NAN,
            "azimuth_rad": 0.1,
            "elevation_rad": 0.1,
        },
    ),
    ("azimuth -inf", {"sensor_id": "radar", "kind": "bearing", "azimuth_rad": float("-inf")}),
    (
        "radial velocity NaN",
        {
            "sensor_id": "radar",
            "kind": "range_az_el",
            "range_m": 500.0,
            "azimuth_rad": 0.1,
            "elevation_rad": 0.1,
            "radial_velocity_mps": NAN,
        },
    ),
    ("covariance NaN", {"kind": "position", "position": REF, "covariance": [[NAN] * 3] * 3}),
    (
        "covariance not PSD",
        {
            "kind": "position",
            "position": REF,
            "covariance": [[1.0, 1e6, 0.0], [1e6, 1.0, 0.0], [0.0, 0.0, 1.0]],
        },
    ),
    (
        "covariance negative",
        {
            "kind": "position",
            "position": REF,
            "covariance": [[-1e6, 0, 0], [0, -1e6, 0], [0, 0, -1e6]],
        },
    ),
    ("velocity 1e308", {"kind": "position", "position": REF, "velocity_enu_mps": [1e308, 0, 0]}),
]


def _config(tmp_path, **bus):
    raw = {
        "service": {"data_dir": str(tmp_path / "data")},
        "bus": bus,
        "sites": [
            {
                "id": "s",
                "name": "s",
                "reference": REF,
                "zones": [{"id": "bowl", "name": "Bowl", "level": "critical", "polygon": ZONE}],
            }
        ],
        "sensors": [
            {"id": "rid-1", "driver": "dragonsync", "source": "udp://127.0.0.1:9"},
            {"id": "radar", "driver": "dragonsync", "source": "udp://127.0.0.1:9", "position": REF},
        ],
    }
    return parse_config(raw, tmp_path / "deploy.toml")


def _raw_item(t_unix: float, serial: str, fields: dict) -> dict:
    """A detection as a JSON object (NaN and inf written as JSON's NaN/Infinity extensions,
    as a careless or hostile peer would)."""
    return {
        "sensor_id": "rid-1",
        "t_unix": t_unix,
        "identity": {"rid_serial": serial},
        "object_class": "drone",
        **fields,
    }


def _good(t_unix: float, k: int) -> dict:
    pos = {**REF, "lat_deg": REF["lat_deg"] + 1e-5 * k, "alt_m": 880.0}
    return _raw_item(t_unix, "GOOD-1", {"kind": "position", "position": pos})


@pytest.mark.parametrize(("name", "fields"), BAD, ids=[b[0] for b in BAD])
def test_the_engine_skips_and_counts_an_implausible_detection_and_keeps_tracking(
    tmp_path, name, fields
):
    config = _config(tmp_path)
    store = Store(tmp_path / "cuas.sqlite")
    engine = FusionEngine(config, store)
    t0 = 1_764_400_000.0
    for k in range(12):
        batch = [_good(t0 + k, k)]
        if k == 5:
            batch.append(_raw_item(t0 + k + 0.5, "BAD-1", fields))
        engine.ingest([Detection.model_validate(item) for item in batch])
        result = engine.step(t0 + k + 1.0)
    [track] = [t for t in result.tracks if t.identity.rid_serial == "GOOD-1"]
    assert track.hits >= 10
    assert engine.counters["implausible"] == 1
    assert sum(v for key, v in engine.counters.items() if key.startswith("implausible_")) == 1
    store.close()


def test_the_driver_host_skips_a_dragonsync_altitude_of_1e308_and_counts_it(caplog):
    decoder = FrameDecoder(DragonSyncDriver(SensorInfo("rid-1", "dragonsync"), DragonSyncOptions()))

    def frame(alt: float | str) -> bytes:
        loc = {"latitude": 42.8746, "longitude": 74.6036, "geodetic_altitude": alt}
        return json.dumps([{"Location/Vector Message": loc}, {"MAC": "60:60:1f:aa:bb:cc"}]).encode()

    with caplog.at_level(logging.WARNING):
        assert decoder(1.0, frame(1e308)) == []
        assert decoder(2.0, frame("1e308 m")) == []
        assert decoder(3.0, frame(500_000.0)) == []  # finite, but 500 km up
    assert decoder.counters["implausible_position"] == 3
    [good] = decoder(4.0, frame(880.0))
    assert good.position.alt_m == 880.0
    assert decoder.counters["detections"] == 1
    logged = [r for r in caplog.records if r.name == "cuas.plausibility"]
    assert len(logged) == 1, "one log line per reason, not per frame"


def test_a_status_with_a_nan_time_or_absurd_position_is_skipped_and_counted():
    screen = Screen("engine")
    good = SensorStatus(sensor_id="rid-1", t_unix=1.0, state="ok", driver="dragonsync")
    bad_time = good.model_copy(update={"t_unix": NAN})
    bad_place = good.model_copy(update={"position": GeoPoint(**{**REF, "alt_m": 1e308})})
    assert screen.statuses([bad_time, good, bad_place]) == [good]
    assert screen.counters == {
        "implausible": 2,
        "implausible_status_t_unix": 1,
        "implausible_status_position": 1,
    }


def test_the_engine_process_survives_a_stream_of_bad_values_and_still_alerts(tmp_path):
    """Over real ZeroMQ sockets, raw JSON with NaN, Infinity and 1e308 values (as a hostile or
    broken peer would send, since our own encoder writes null) arrives between good reports
    of a drone flying into a critical zone: the engine stays up and raises the alert."""
    ingest, output = f"tcp://127.0.0.1:{free_port()}", f"tcp://127.0.0.1:{free_port()}"
    config = _config(tmp_path, ingest=ingest, output=output)
    stop = threading.Event()
    failure: list[BaseException] = []

    def engine_thread() -> None:
        try:
            run_engine(config, stop)
        except BaseException as exc:  # the fault we test for: the engine dying
            failure.append(exc)

    engine = threading.Thread(target=engine_thread, daemon=True)
    engine.start()
    ctx = zmq.Context()
    feed = ctx.socket(zmq.SUB)
    feed.setsockopt(zmq.SUBSCRIBE, b"alert")
    feed.setsockopt(zmq.RCVTIMEO, 50)
    feed.connect(output)
    driver = Publisher(ingest, bind=False, src="test-driver")
    alerts: list[dict] = []
    try:
        # the engine binds once its kernels are compiled or loaded: minutes on a cold cache
        assert driver.wait_for_subscriber(300), "the engine never bound its ingest bus"
        deadline = time.monotonic() + 20
        k = 0
        while time.monotonic() < deadline and not failure and not (alerts and k > len(BAD)):
            now = time.time()
            _, fields = BAD[k % len(BAD)]
            items = [_raw_item(now, "BAD-1", fields), _good(now, k)]
            envelope = json.dumps({"v": 1, "src": "test-driver", "seq": k, "items": items})
            driver.sock.send_multipart([b"det", envelope.encode()])
            k += 1
            t_end = time.monotonic() + 0.1
            while time.monotonic() < t_end:
                try:
                    frames = feed.recv_multipart()
                except zmq.Again:
                    continue
                alerts.extend(json.loads(frames[1])["items"])
        assert not failure, f"the engine died: {failure[0]!r}"
        assert engine.is_alive()
        assert k > len(BAD), "every kind of bad value was sent at least once"
        assert any(a["zone_id"] == "bowl" and a["state"] == "raised" for a in alerts)
    finally:
        stop.set()
        engine.join(10)
        driver.close()
        feed.close()
        ctx.term()
