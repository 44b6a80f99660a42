"""The driver host's frame decoding and the driver registry.

The host owns what must never fail: a malformed frame, an oversize frame or a driver bug
is counted and logged once per kind, never raised, and decoding goes on.
"""

from __future__ import annotations

import json
import logging

import pytest

from cuas.config import ConfigError, SensorConfig
from cuas.driver import DecodeError, Detection, Driver, MeasurementKind, SensorInfo
from cuas.driver.host import FrameDecoder
from cuas.driver.registry import build_driver, installed_drivers, load_driver_class
from cuas_drivers.dragonsync import DragonSyncDriver, DragonSyncOptions

HOST_LOGGER = "cuas.driver.host"


def _location_frame(lat: float, mac: str = "60:60:1f:aa:bb:cc") -> bytes:
    loc = {"latitude": lat, "longitude": -122.97, "geodetic_altitude": "237.0 m"}
    return json.dumps([{"Location/Vector Message": loc}, {"MAC": mac}]).encode()


def _dragonsync(sensor_id: str = "rid-1") -> DragonSyncDriver:
    return DragonSyncDriver(SensorInfo(sensor_id, "dragonsync"), DragonSyncOptions())


class PickyDriver(Driver):
    """Decodes b'ok:<n>' frames; b'bug' makes it fail the way a buggy driver would."""

    name = "picky"
    max_frame_bytes = 16

    def __init__(self) -> None:
        super().__init__(SensorInfo("picky-1", "picky"), DragonSyncOptions())
        self.seen: list[bytes] = []

    def decode(self, frame: bytes, t_rx_unix: float, frame_seq: int) -> list[Detection]:
        self.seen.append(frame)
        if frame == b"bug":
            return {}["no such key"]  # KeyError, as from a real oversight
        if frame == b"bug2":
            raise ZeroDivisionError("division by zero")
        if not frame.startswith(b"ok:"):
            raise DecodeError(f"expected ok:<n>, got {frame[:8]!r}")
        return [
            Detection(sensor_id="picky-1", t_unix=t_rx_unix, kind=MeasurementKind.PRESENCE)
            for _ in range(int(frame[3:]))
        ]


def test_malformed_frames_are_counted_and_good_frames_after_them_still_decode():
    decoder = FrameDecoder(_dragonsync())
    frames = [
        _location_frame(45.1),
        b"not json",
        _location_frame(45.2),
        b"42",
        _location_frame(45.3),
    ]
    results = [decoder(1000.0 + i, frame) for i, frame in enumerate(frames)]
    assert [len(r) for r in results] == [1, 0, 1, 0, 1]
    assert [r[0].position.lat_deg for r in results if r] == [45.1, 45.2, 45.3]
    # the frame counter runs over every frame, good or bad
    assert [r[0].raw.frame_seq for r in results if r] == [0, 2, 4]
    assert decoder.counters["frames"] == 5
    assert decoder.counters["malformed"] == 2
    assert decoder.counters["detections"] == 3


def test_a_driver_raising_an_unexpected_exception_is_counted_as_malformed_not_raised():
    driver = PickyDriver()
    decoder = FrameDecoder(driver)
    assert decoder(1.0, b"bug") == []
    assert decoder(2.0, b"bug2") == []
    after = decoder(3.0, b"ok:2")
    assert len(after) == 2 and all(d.t_unix == 3.0 for d in after)
    assert decoder.counters["malformed"] == 2
    assert decoder.counters["detections"] == 2
    assert decoder.counters["frames"] == 3


def test_oversize_frames_are_counted_and_never_reach_the_driver():
    driver = PickyDriver()
    decoder = FrameDecoder(driver)
    at_limit = b"ok:1" + b" " * (PickyDriver.max_frame_bytes - 4)  # int() ignores spaces
    assert len(at_limit) == PickyDriver.max_frame_bytes
    over = at_limit + b" "
    assert decoder(1.0, over) == []
    assert driver.seen == []
    assert decoder.counters["malformed"] == 1
    assert len(decoder(2.0, at_limit)) == 1, "a frame of exactly the limit is accepted"
    assert driver.seen == [at_limit]


def test_the_malformed_reason_is_logged_once_per_kind(caplog):
    caplog.set_level(logging.WARNING, logger=HOST_LOGGER)
    decoder = FrameDecoder(_dragonsync("rid-7"))
    frames = [
        b"not json",
        b"{broken",
        b"42",
        b"\xff\xfe",
        b"43",
        _location_frame(45.0),
        b"44",
        b"[1",
    ]
    for i, frame in enumerate(frames):
        decoder(float(i), frame)
    assert decoder.counters["malformed"] == 7
    warnings = [r for r in caplog.records if r.name == HOST_LOGGER]
    assert len(warnings) == 2, [r.getMessage() for r in warnings]
    messages = [r.getMessage() for r in warnings]
    assert all("rid-7" in m for m in messages)
    assert any("not JSON" in m for m in messages)
    assert any("top level is int" in m for m in messages)


def test_a_driver_bug_is_logged_with_its_traceback(caplog):
    caplog.set_level(logging.WARNING, logger=HOST_LOGGER)
    decoder = FrameDecoder(PickyDriver())
    decoder(1.0, b"bug")
    decoder(2.0, b"bug")
    [record] = [r for r in caplog.records if r.name == HOST_LOGGER]
    assert "KeyError" in record.getMessage()
    assert record.exc_info is not None and record.exc_info[0] is KeyError


# --- registry ------------------------------------------------------------------------


def test_the_dragonsync_entry_point_is_installed_and_loads_the_driver_class():
    assert installed_drivers()["dragonsync"] == "cuas_drivers.dragonsync:DragonSyncDriver"
    assert load_driver_class("dragonsync") is DragonSyncDriver


def test_an_unknown_driver_is_a_config_error_naming_the_key_and_the_installed_drivers():
    sensor = SensorConfig(id="radar-1", driver="radr", source="udp://127.0.0.1:4000")
    with pytest.raises(ConfigError) as err:
        build_driver(sensor, "sensors[0]")
    message = str(err.value)
    assert message.startswith("sensors[0].driver:")
    assert "'radr'" in message
    for name in installed_drivers():
        assert name in message
    with pytest.raises(ConfigError, match="installed: .*dragonsync"):
        load_driver_class("radr")


@pytest.mark.parametrize(
    "options, key",
    [
        ({"max_remembered": 0}, "max_remembered"),
        ({"max_remembred": 5}, "max_remembred"),
        ({"default_vertical_std_m": "tall"}, "default_vertical_std_m"),
    ],
)
def test_a_bad_driver_option_is_a_config_error_naming_the_option(options, key):
    sensor = SensorConfig(
        id="rid-1", driver="dragonsync", source="zmq+tcp://127.0.0.1:4224", options=options
    )
    with pytest.raises(ConfigError, match=rf"^sensors\[0\]\.options\.{key}: "):
        build_driver(sensor, "sensors[0]")


def test_build_driver_hands_the_driver_its_sensor_and_validated_options():
    sensor = SensorConfig(
        id="rid-2",
        driver="dragonsync",
        source="zmq+tcp://127.0.0.1:4224",
        position={"lat_deg": 45.0, "lon_deg": -122.0, "alt_m": 50.0},
        noise={"position_m": 7.5, "azimuth_deg": 2.0},
        pd=0.8,
        latency_s=0.25,
        options={"max_remembered": 5},
    )
    driver = build_driver(sensor, "sensors[3]")
    assert isinstance(driver, DragonSyncDriver)
    assert driver.options.max_remembered == 5
    assert driver.sensor.sensor_id == "rid-2"
    assert driver.sensor.position is not None and driver.sensor.position.alt_m == 50.0
    assert driver.sensor.noise.position_m == 7.5 and driver.sensor.noise.azimuth_deg == 2.0
    assert driver.sensor.pd == 0.8 and driver.sensor.latency_s == 0.25
