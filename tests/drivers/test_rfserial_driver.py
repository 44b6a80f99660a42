"""The rfserial driver: the cuas RF line protocol v1, decoded and on real serial and TCP links."""

from __future__ import annotations

import logging
import math
import os
import socket
import time
from collections.abc import Callable
from datetime import UTC, datetime

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cuas.config import ConfigError, Orientation, SensorConfig, SensorNoise
from cuas.driver import DecodeError, Detection, MeasurementKind, ObjectClass, SensorInfo
from cuas.driver.host import SensorRunner
from cuas.driver.registry import build_driver
from cuas.driver.sources import open_source
from cuas.schema import SensorState, SensorStatus
from cuas_drivers.rfserial import (
    MAX_LINE_BYTES,
    RfSerialDriver,
    RfSerialOptions,
    checksum,
    decode_line,
    sentence,
)

T0 = 1_764_403_200.0


def _driver(yaw_deg: float = 0.0, **options) -> RfSerialDriver:
    info = SensorInfo(
        "rf-1",
        "rfserial",
        orientation=Orientation(yaw_deg=yaw_deg),
        noise=SensorNoise(azimuth_deg=4.0, elevation_deg=6.0),
    )
    return RfSerialDriver(info, RfSerialOptions(**options))


def _curf(
    t: str = f"{T0 + 0.25}",
    band: str = "2.4G",
    proto: str = "DJI-O3",
    freq: str = "2437.5",
    rssi: str = "-61.5",
    bearing: str = "",
    ref: str = "",
    std: str = "",
    elev: str = "",
    emitter: str = "",
) -> bytes:
    return sentence(
        f"CURF,1,{t},{band},{proto},{freq},{rssi},{bearing},{ref},{std},{elev},{emitter}"
    )


def _one(line: bytes, driver: RfSerialDriver | None = None, t_rx: float = T0 + 0.3) -> Detection:
    [det] = (driver or _driver()).decode(line, t_rx, 7)
    Detection.model_validate_json(det.model_dump_json())  # survives the bus round trip
    return det


# --- the checksum and the sentence ----------------------------------------------------


def test_checksum_matches_the_textbook_nmea_example():
    # the GGA example every NMEA reference quotes, with its checksum 47
    body = b"GPGGA,123519,4807.038,N,01131.000,E,1,08,0.9,545.4,M,46.9,M,,"
    assert checksum(body) == 0x47
    assert sentence(body.decode()) == b"$" + body + b"*47"


def test_other_sentences_with_a_good_checksum_are_skipped_and_counted():
    driver = _driver()
    gga = b"$GPGGA,123519,4807.038,N,01131.000,E,1,08,0.9,545.4,M,46.9,M,,*47"
    assert driver.decode(gga, T0, 0) == []
    assert driver.counters["other_sentences"] == 1


def test_lower_case_checksum_digits_are_accepted():
    line = _curf()
    assert _one(line[:-2] + line[-2:].lower()).kind is MeasurementKind.PRESENCE


# --- detections -------------------------------------------------------------------------


def test_a_true_bearing_becomes_a_bearing_detection_in_radians_clockwise_from_north():
    det = _one(_curf(bearing="123.4", ref="T", std="3.0", emitter="e17"), _driver(yaw_deg=90))
    assert det.kind is MeasurementKind.BEARING
    assert det.azimuth_rad == pytest.approx(math.radians(123.4))  # yaw does not apply to T
    assert det.elevation_rad is None
    assert det.covariance is not None
    assert np.allclose(det.covariance, [[math.radians(3.0) ** 2]])
    assert det.t_unix == T0 + 0.25
    assert det.identity.sensor_track_id == "e17"
    assert det.object_class is ObjectClass.DRONE and det.class_source == "rf_signature"
    assert det.raw is not None and det.raw.frame_seq == 7 and det.raw.sensor_id == "rf-1"


@pytest.mark.parametrize(
    "yaw_deg, bearing, expected_deg",
    [(0.0, "20", 20.0), (90.0, "20", 110.0), (350.0, "20", 10.0), (-30.0, "10", 340.0)],
)
def test_a_relative_bearing_is_turned_by_the_sensor_yaw_and_wrapped(yaw_deg, bearing, expected_deg):
    det = _one(_curf(bearing=bearing, ref="R"), _driver(yaw_deg=yaw_deg))
    assert det.azimuth_rad == pytest.approx(math.radians(expected_deg))
    assert 0.0 <= det.azimuth_rad < 2 * math.pi


def test_bearing_360_is_north():
    assert _one(_curf(bearing="360", ref="T")).azimuth_rad == 0.0


def test_elevation_gives_a_two_by_two_covariance_with_the_sensor_default_sigmas():
    det = _one(_curf(bearing="10", ref="T", elev="12.5"))
    assert det.elevation_rad == pytest.approx(math.radians(12.5))
    az, el = math.radians(4.0) ** 2, math.radians(6.0) ** 2  # the sensor's declared noise
    assert np.allclose(det.covariance, [[az, 0.0], [0.0, el]])


def test_no_bearing_is_presence_with_the_rf_signature():
    det = _one(_curf(band="5.8g", proto="analog-fpv", freq="5740", rssi="-80"))
    assert det.kind is MeasurementKind.PRESENCE
    assert det.azimuth_rad is None and det.covariance is None
    assert det.signature is not None
    assert (det.signature.band, det.signature.protocol) == ("5.8G", "ANALOG-FPV")
    assert (det.signature.freq_mhz, det.signature.rssi_dbm) == (5740.0, -80.0)
    assert det.object_class is ObjectClass.DRONE


@pytest.mark.parametrize("proto", ["WIFI", "UNKNOWN", "BLUETOOTH"])
def test_links_that_are_not_drone_links_stay_unknown(proto):
    det = _one(_curf(proto=proto))
    assert det.object_class is ObjectClass.UNKNOWN and det.class_source is None


def test_the_drone_protocol_list_is_an_option():
    driver = _driver(drone_protocols=["wifi"])
    assert _one(_curf(proto="WIFI"), driver).object_class is ObjectClass.DRONE
    assert _one(_curf(proto="DJI-O3"), driver).object_class is ObjectClass.UNKNOWN


def test_iso_time_and_unix_time_give_the_same_instant():
    iso = datetime.fromtimestamp(T0 + 0.25, UTC).isoformat().replace("+00:00", "Z")
    assert _one(_curf(t=iso)).t_unix == pytest.approx(T0 + 0.25)
    offset = datetime.fromtimestamp(T0 + 0.25, UTC).astimezone().isoformat()
    assert _one(_curf(t=offset)).t_unix == pytest.approx(T0 + 0.25)


def test_empty_time_is_the_receive_time():
    assert _one(_curf(t=""), t_rx=T0 + 9).t_unix == T0 + 9


def test_a_time_far_from_receipt_is_replaced_and_flagged():
    det = _one(_curf(t=f"{T0 - 3600}"), t_rx=T0)
    assert det.t_unix == T0 and det.flags == ["time_untrusted"]


def test_extra_trailing_fields_of_a_later_minor_version_are_ignored():
    line = sentence(f"CURF,1,{T0},2.4G,ELRS,2440,-70,,,,,,future,fields")
    assert _one(line).signature.protocol == "ELRS"


def test_checksum_is_optional_only_when_the_options_say_so():
    bare = _curf()[:-3]
    with pytest.raises(DecodeError, match="no checksum"):
        _driver().decode(bare, T0, 0)
    assert _one(bare, _driver(require_checksum=False)).kind is MeasurementKind.PRESENCE


# --- status sentences and health --------------------------------------------------------


def test_status_sentences_set_the_sensor_health():
    driver = _driver()
    assert driver.health(T0) is None
    assert driver.decode(sentence(f"CURS,1,{T0},DEGRADED,antenna 3 open"), T0, 0) == []
    assert driver.health(T0) == (SensorState.DEGRADED, "antenna 3 open")
    driver.decode(sentence("CURS,1,,FAULT,"), T0, 1)
    assert driver.health(T0)[0] is SensorState.OFFLINE
    driver.decode(sentence("CURS,1,,ok,"), T0, 2)
    assert driver.health(T0)[0] is SensorState.OK
    assert driver.counters["status_sentences"] == 3


def test_a_missing_status_sentence_degrades_the_sensor_when_one_is_expected():
    driver = _driver(status_timeout_s=5)
    assert driver.health(T0) is None  # the clock starts with the first heartbeat
    state, detail = driver.health(T0 + 6)
    assert state is SensorState.DEGRADED and "no CURS status" in detail
    driver.decode(sentence("CURS,1,,OK,"), T0 + 6, 0)
    assert driver.health(T0 + 7) == (SensorState.OK, "detector reports ok")


# --- malformed ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "line, reason",
    [
        (b"", "not a sentence"),
        (b"hello world", "not a sentence"),
        (b"$CURF,1,\xff\xfe*00", "not a sentence"),
        (_curf()[:-2] + b"00", "checksum mismatch"),
        (_curf()[:-3], "no checksum"),
        (sentence("CURF,2,,2.4G,ELRS,,,,,,,"), "version"),
        (sentence("CURF,1,,2.4G,ELRS"), "fields"),
        (_curf(band="2.4GHz"), "band"),
        (_curf(band=""), "band"),
        (_curf(proto=""), "protocol"),
        (_curf(proto="DJI O3"), "protocol"),
        (_curf(freq="0"), "freq_mhz"),
        (_curf(freq="nan"), "freq_mhz"),
        (_curf(freq="1e3"), "freq_mhz"),
        (_curf(freq="2_400"), "freq_mhz"),
        (_curf(rssi="-300"), "rssi_dbm"),
        (_curf(bearing="361", ref="T"), "bearing_deg"),
        (_curf(bearing="-1", ref="T"), "bearing_deg"),
        (_curf(bearing="10"), "ref"),
        (_curf(bearing="10", ref="M"), "ref"),
        (_curf(ref="T"), "need a bearing_deg"),
        (_curf(elev="10"), "need a bearing_deg"),
        (_curf(bearing="10", ref="T", std="0"), "bearing_std_deg"),
        (_curf(bearing="10", ref="T", elev="91"), "elevation_deg"),
        (_curf(emitter="a b"), "emitter_id"),
        (_curf(t="yesterday"), "time"),
        (_curf(t="2025-11-29T08:00:00"), "time"),  # no UTC offset: ambiguous
        (_curf(t="2025-13-45T08:00:00Z"), "time"),
        (sentence("CURS,1,,BROKEN,"), "state"),
        (sentence("CURS,1,,OK"), "fields"),
        (b"$CURF," + b"x" * MAX_LINE_BYTES, "longer than"),
    ],
)
def test_malformed_lines_raise_decode_error_naming_the_field(line, reason):
    with pytest.raises(DecodeError, match=reason):
        _driver().decode(line, T0, 0)


def test_checksum_errors_are_counted_by_the_driver():
    driver = _driver()
    for _ in range(2):
        with pytest.raises(DecodeError):
            driver.decode(_curf()[:-2] + b"00", T0, 0)
    assert driver.counters["checksum_errors"] == 2


def test_bad_options_name_the_key():
    sensor = SensorConfig(
        id="rf-1",
        driver="rfserial",
        source="tcp://127.0.0.1:1",
        options={"drone_protocols": ["a b"]},
    )
    with pytest.raises(ConfigError, match=r"sensors\[0\]\.options\.drone_protocols: .*'a b'"):
        build_driver(sensor, "sensors[0]")


# --- fuzzing ------------------------------------------------------------------------------

_FUZZ = settings(
    max_examples=400, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow]
)
_FIELD = st.text(alphabet="0123456789.-+:TZRMGtrzmgeE_ ,*$abcxyz", max_size=14) | st.sampled_from(
    ["", "1", "2.4G", "DJI-O3", "T", "R", "360", "-90", "1e999", "nan", "2025-11-29T08:00:00Z"]
)


def _check(driver: RfSerialDriver, line: bytes) -> None:
    try:
        dets = driver.decode(line, T0, 0)
    except DecodeError:
        return
    for det in dets:
        Detection.model_validate_json(det.model_dump_json())
        if det.azimuth_rad is not None:
            assert 0.0 <= det.azimuth_rad < 2 * math.pi


@_FUZZ
@given(st.binary(max_size=300))
def test_arbitrary_bytes_only_ever_raise_decode_error(line):
    _check(_driver(), line)


@_FUZZ
@given(st.sampled_from(["CURF", "CURS", "GPGGA"]), st.lists(_FIELD, max_size=14), st.booleans())
def test_checksummed_sentences_with_arbitrary_fields_only_ever_raise_decode_error(
    kind, fields, relaxed
):
    body = ",".join([kind, *fields])
    line = sentence(body) if body.isascii() else b"$" + body.encode()
    _check(_driver(yaw_deg=-725.0, require_checksum=not relaxed), line)
    driver = _driver(status_timeout_s=1)
    _check(driver, line)
    driver.health(T0)


# --- on real links -------------------------------------------------------------------------


class Harness:
    def __init__(self, url: str, driver: RfSerialDriver) -> None:
        self.detections: list[Detection] = []
        self.statuses: list[SensorStatus] = []
        config = SensorConfig(id="rf-1", driver="rfserial", source=url)
        source = open_source(url, "rf-1", driver.framing, "/")  # type: ignore[arg-type]
        self.runner = SensorRunner(
            config, driver, source, self.detections.extend, self.statuses.append
        )

    @property
    def counters(self):
        return self.runner.decoder.counters

    def stop(self) -> None:
        self.runner.stop_event.set()
        self.runner.join(5.0)
        assert not self.runner.is_alive(), "the runner did not stop when told to"


def wait_until(condition: Callable[[], object], what: str, timeout_s: float = 5.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.005)


def test_serial_pty_split_lines_checksum_errors_overlong_lines_and_status(caplog):
    caplog.set_level(logging.WARNING, logger="cuas.driver.host")
    master, slave = os.openpty()
    h = Harness(f"serial://{os.ttyname(slave)}?baud=9600", _driver(yaw_deg=90))
    try:
        h.runner.start()
        wait_until(lambda: any(s.state is SensorState.OK for s in h.statuses), "the port to open")

        first = _curf(bearing="10", ref="R") + b"\r\n"
        os.write(master, first[:17])
        wait_until(lambda: any(h.runner._buffers.values()), "the first part to be read")
        assert h.detections == []
        os.write(master, first[17:])
        wait_until(lambda: len(h.detections) == 1, "a sentence split across two writes")
        assert h.detections[0].azimuth_rad == pytest.approx(math.radians(100.0))

        noisy = bytearray(_curf(proto="ELRS"))
        noisy[12] ^= 0x01  # one bit flipped on the wire
        os.write(master, bytes(noisy) + b"\r\n")
        os.write(master, b"$CURF," + b"9" * (MAX_LINE_BYTES + 10))  # never ends
        os.write(master, b"\r\n" + sentence("CURS,1,,DEGRADED,low battery") + b"\r\n")
        os.write(master, _curf(proto="WIFI") + b"\r\n")
        wait_until(lambda: len(h.detections) == 2, "the good sentence after the bad ones")
        wait_until(lambda: h.counters["malformed"] == 2, "a checksum error and an overlong line")

        assert h.detections[1].signature.protocol == "WIFI"
        status = h.runner.status()
        assert status.counters["checksum_errors"] == 1
        assert status.counters["status_sentences"] == 1
        assert status.counters["frames"] == 5
        assert (status.state, status.detail) == (SensorState.DEGRADED, "low battery")
        logged = " ".join(r.getMessage() for r in caplog.records)
        assert "checksum mismatch" in logged and f"longer than {MAX_LINE_BYTES} bytes" in logged
    finally:
        h.stop()
        os.close(master)
        os.close(slave)


def test_tcp_stream_is_read_line_by_line():
    listener = socket.create_server(("127.0.0.1", 0))
    listener.settimeout(5.0)
    h = Harness(f"tcp://127.0.0.1:{listener.getsockname()[1]}", _driver())
    try:
        h.runner.start()
        conn, _ = listener.accept()
        with conn:
            conn.sendall(_curf(bearing="45", ref="T") + b"\n" + b"junk\n" + _curf() + b"\n")
            wait_until(lambda: len(h.detections) == 2, "two detections")
            wait_until(lambda: h.counters["malformed"] == 1, "the junk line counted")
        kinds = [d.kind for d in h.detections]
        assert kinds == [MeasurementKind.BEARING, MeasurementKind.PRESENCE]
    finally:
        h.stop()
        listener.close()


def test_decode_line_is_usable_without_a_driver():
    rf = decode_line(_curf(bearing="45", ref="R", std="2", emitter="x1"))
    assert (rf.bearing_deg, rf.bearing_true, rf.bearing_std_deg, rf.emitter_id) == (
        45.0,
        False,
        2.0,
        "x1",
    )
