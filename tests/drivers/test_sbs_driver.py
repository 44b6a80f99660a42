"""The SBS BaseStation ADS-B driver, on a real decoded recording, hand-made lines and garbage.

The recording is read from ../shared/data/adsb (GPL-2.0: never copied here). Its lines are
parsed again in this file with plain ``str.split``, so the driver is checked against the
SBS column layout, not against itself.
"""

from __future__ import annotations

import math
import socket
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from cuas.config import SensorConfig
from cuas.driver import DecodeError, Detection, MeasurementKind, ObjectClass, SensorInfo
from cuas.driver.host import SensorRunner
from cuas.driver.sources import open_source
from cuas_drivers.sbs import SbsDriver, SbsOptions

from support import SHARED_DATA, free_port

SBS_FILE = "adsb/beast_decoded_sbs.txt"
T0 = 1_522_782_148.136  # the recording's start, 2018-04-03 19:02:28.136 UTC
KT = 1852.0 / 3600.0
FPM = 0.3048 / 60.0


def _driver(**options: Any) -> SbsDriver:
    return SbsDriver(SensorInfo(sensor_id="adsb-1", driver="sbs"), SbsOptions(**options))


def _assert_jsonable(det: Detection) -> None:
    assert isinstance(det, Detection)
    assert Detection.model_validate_json(det.model_dump_json()) == det


def _line(ttype: int, icao: str = "4249B5", clock: str = "19:02:30.000", **cols: str) -> bytes:
    """One MSG line; ``cols`` sets columns by name (1-based SBS column numbers in names)."""
    fields = ["MSG", str(ttype), "1", "1", icao, "1", "2018/04/03", clock, "2018/04/03", clock]
    fields += [""] * 12
    names = {"callsign": 10, "alt": 11, "gs": 12, "track": 13, "lat": 14, "lon": 15}
    names |= {"vr": 16, "squawk": 17, "alert": 18, "emergency": 19, "spi": 20, "ground": 21}
    for name, value in cols.items():
        fields[names[name]] = value
    return ",".join(fields).encode()


def _utc(date: str, clock: str) -> float:
    return (
        datetime.strptime(f"{date} {clock}", "%Y/%m/%d %H:%M:%S.%f").replace(tzinfo=UTC).timestamp()
    )


def _recording_lines(shared_data: Path) -> list[bytes]:
    return [line for line in (shared_data / SBS_FILE).read_bytes().splitlines() if line]


def _decode_all(driver: SbsDriver, lines: list[bytes]) -> tuple[list[Detection], int]:
    detections: list[Detection] = []
    malformed = 0
    for seq, line in enumerate(lines):
        try:
            detections += driver.decode(line, T0 + 30, seq)
        except DecodeError:
            malformed += 1
    return detections, malformed


# --- the real recording -----------------------------------------------------------------


def test_recording_positions_are_the_msg3_lines_with_their_altitude_time_and_aircraft(
    shared_data,
):
    lines = _recording_lines(shared_data)
    expected: dict[tuple[str, float], tuple[float, float, float]] = {}
    for line in lines:
        f = line.decode().split(",")
        if f[0] == "MSG" and f[1] == "3" and f[14]:
            key = (f[4].lower(), _utc(f[6], f[7]))
            expected[key] = (float(f[14]), float(f[15]), float(f[11]) * 0.3048)
    detections, malformed = _decode_all(_driver(), lines)

    # the file ends with two lines of the decoder's own summary, which are not SBS
    assert malformed == 2
    assert len(expected) == 728, "every line of the recording is in it twice"
    assert len(detections) == len(expected), "repeated lines are dropped, nothing else"
    icaos = set((shared_data / "adsb" / "ICAOs.txt").read_text().split()[5:16])
    assert len(icaos) == 11
    assert {det.identity.icao24 for det in detections} == {icao.lower() for icao in icaos}
    for det in detections:
        _assert_jsonable(det)
        assert det.kind is MeasurementKind.POSITION
        assert det.object_class is ObjectClass.MANNED_AIRCRAFT and det.class_source == "adsb"
        assert det.position is not None and det.identity.icao24 is not None
        lat, lon, alt_m = expected[(det.identity.icao24, det.t_unix)]
        assert (det.position.lat_deg, det.position.lon_deg) == (lat, lon)
        assert det.position.alt_m == pytest.approx(alt_m)
        assert det.flags == ["altitude_barometric"]
        assert det.covariance is not None
        assert det.covariance[2][2] == pytest.approx(SbsOptions().baro_vertical_std_m ** 2)
        assert det.covariance[0][0] == pytest.approx(SensorInfo("x", "sbs").noise.position_m ** 2)


def test_recording_velocity_and_callsign_come_from_the_latest_msg4_and_callsign(shared_data):
    lines = _recording_lines(shared_data)
    driver = _driver()
    velocity: dict[str, tuple[float, float, float, float]] = {}
    callsign: dict[str, str] = {}
    checked = 0
    for seq, line in enumerate(lines):
        f = line.decode().split(",")
        if f[0] != "MSG":
            continue
        icao = f[4].lower()
        dets = driver.decode(line, T0 + 30, seq)
        if f[10].strip():  # MSG,1, and MSG,5/6 repeat the callsign the decoder knows
            callsign[icao] = f[10].strip()
        if f[1] == "4" and f[12]:
            velocity[icao] = (_utc(f[6], f[7]), float(f[12]), float(f[13]), float(f[16] or 0))
        for det in dets:
            assert det.identity.sensor_track_id == callsign.get(icao)
            if icao not in velocity or det.t_unix - velocity[icao][0] > 30:
                assert det.velocity_enu_mps is None
                continue
            _, gs_kt, track_deg, vr_fpm = velocity[icao]
            track = math.radians(track_deg)
            assert det.velocity_enu_mps == pytest.approx(
                (gs_kt * KT * math.sin(track), gs_kt * KT * math.cos(track), vr_fpm * FPM)
            )
            checked += 1
    assert checked > 700


# --- hand-made lines: units, state, flags, time zones -------------------------------------


def test_velocity_in_knots_and_feet_per_minute_becomes_enu_metres_per_second():
    driver = _driver()
    assert driver.decode(_line(4, gs="100", track="90", vr="640"), T0, 0) == []
    [det] = driver.decode(_line(3, alt="7000", lat="59.5", lon="31.0"), T0, 1)
    assert det.velocity_enu_mps == pytest.approx((51.4444, 0.0, 3.2512), abs=1e-4)
    assert det.position is not None and det.position.alt_m == pytest.approx(2133.6)


def test_velocity_older_than_the_state_age_is_not_attached():
    driver = _driver(state_max_age_s=5)
    driver.decode(_line(4, clock="19:02:30.000", gs="100", track="90"), T0, 0)
    [det] = driver.decode(_line(3, clock="19:02:36.000", alt="7000", lat="59", lon="31"), T0, 1)
    assert det.velocity_enu_mps is None


def test_position_without_altitude_takes_a_recent_surveillance_altitude_or_says_unknown():
    driver = _driver()
    [unknown] = driver.decode(_line(3, lat="59.5", lon="31.0"), T0, 0)
    assert unknown.position is not None and unknown.position.alt_m is None
    assert "altitude_unknown" in unknown.flags
    assert unknown.covariance is not None and unknown.covariance[2][2] >= 1000.0**2
    driver.decode(_line(5, clock="19:02:31.000", alt="10000"), T0, 1)
    [det] = driver.decode(_line(3, clock="19:02:32.000", lat="59.5", lon="31.0"), T0, 2)
    assert det.position is not None and det.position.alt_m == pytest.approx(3048.0)
    assert "altitude_from_earlier_message" in det.flags and "altitude_barometric" in det.flags


def test_surface_position_is_flagged_on_ground_with_its_own_velocity():
    [det] = _driver().decode(_line(2, gs="10", track="180", lat="59.8", lon="30.26"), T0, 0)
    assert "on_ground" in det.flags
    assert det.position is not None and det.position.alt_m is None
    assert det.velocity_enu_mps == pytest.approx((0.0, -10 * KT, 0.0), abs=1e-9)


def test_emergency_squawk_non_icao_address_and_ground_bit_are_flagged():
    driver = _driver()
    driver.decode(_line(6, icao="~ABC123", squawk="7700"), T0, 0)
    [det] = driver.decode(
        _line(3, icao="~ABC123", alt="3000", lat="59", lon="30", emergency="-1", ground="-1"),
        T0,
        1,
    )
    assert det.identity.icao24 == "abc123"
    for flag in ("adsb_non_icao_address", "squawk_7700", "emergency", "on_ground"):
        assert flag in det.flags


def test_other_basestation_record_types_are_well_formed_but_carry_nothing():
    driver = _driver()
    assert (
        driver.decode(b"AIR,,333,1,4249B5,,2018/04/03,19:02:30.000,2018/04/03,19:02:30.000", T0, 0)
        == []
    )
    assert driver.decode(b"STA,,5,179,400AE7,10103,2008/11/28,14:58:51.153,,,RM", T0, 1) == []


@pytest.mark.parametrize(
    "zone, offset_s", [("UTC", 0.0), ("Europe/Berlin", -7200.0), ("Asia/Bishkek", -21600.0)]
)
def test_time_columns_are_read_in_the_configured_zone(zone, offset_s):
    [det] = _driver(time_zone=zone).decode(_line(3, alt="7000", lat="59", lon="31"), T0, 0)
    assert det.t_unix == pytest.approx(_utc("2018/04/03", "19:02:30.000") + offset_s)


def test_receive_time_mode_ignores_the_time_columns():
    [det] = _driver(time_zone="receive").decode(_line(3, lat="59", lon="31"), 123.5, 0)
    assert det.t_unix == 123.5


def test_time_far_from_receive_time_is_flagged_as_skew():
    [det] = _driver().decode(_line(3, lat="59", lon="31"), T0 + 7200, 0)
    assert "sbs_time_skew" in det.flags


def test_unknown_time_zone_is_refused_when_the_options_are_validated():
    with pytest.raises(ValidationError, match="unknown time zone 'Mars/Olympus'"):
        SbsOptions(time_zone="Mars/Olympus")


# --- malformed lines ------------------------------------------------------------------


@pytest.mark.parametrize(
    "frame",
    [
        pytest.param(b"\xff\xfeMSG,3", id="not-ascii"),
        pytest.param(b"", id="empty"),
        pytest.param(b"Total processed 13954 messages", id="not-sbs"),
        pytest.param(b"MSG,3,1,1,4249B5,1", id="too-few-fields"),
        pytest.param(_line(9), id="transmission-type-9"),
        pytest.param(_line(3, icao="4249B"), id="icao-5-digits"),
        pytest.param(_line(3, icao="4249BZ"), id="icao-not-hex"),
        pytest.param(_line(3, lat="91", lon="30"), id="latitude-91"),
        pytest.param(_line(3, lat="59", lon="-180.5"), id="longitude-out-of-range"),
        pytest.param(_line(3, lat="0", lon="0"), id="position-0-0"),
        pytest.param(_line(3, alt="nan", lat="59", lon="30"), id="altitude-nan"),
        pytest.param(_line(3, alt="1e400", lat="59", lon="30"), id="altitude-infinite"),
        pytest.param(_line(4, gs="-3", track="10"), id="negative-speed"),
        pytest.param(_line(4, gs="300", track="361"), id="track-361"),
        pytest.param(_line(6, squawk="7800"), id="squawk-not-octal"),
        pytest.param(_line(3, clock="25:61:00.000", lat="59", lon="30"), id="time-unreadable"),
    ],
)
def test_malformed_lines_raise_decode_error(frame):
    with pytest.raises(DecodeError):
        _driver().decode(frame, T0, 0)


# --- fuzzing ------------------------------------------------------------------------------

_FUZZ = settings(
    max_examples=300, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow]
)
_REAL_LINES = [
    _line(3, alt="7000", lat="59.5", lon="31.0", ground="0"),
    _line(4, gs="418", track="170", vr="-640"),
    _line(1, callsign="UTA470  "),
    _line(6, squawk="1017", alert="0", emergency="0", spi="0"),
    _line(2, gs="10", track="180", lat="59.8", lon="30.26"),
]
if (SHARED_DATA / SBS_FILE).is_file():
    _REAL_LINES += _recording_lines(SHARED_DATA)[:400:7]
_FIELD_TEXT = (
    st.sampled_from(
        ["", "-1", "0", "nan", "inf", "1e999", "-0", "~", "MSG", "7700", "99999999", "ä", " ", "."]
    )
    | st.text(max_size=10)
    | st.floats().map(str)
    | st.integers().map(str)
)


def _decode_or_reject(driver: SbsDriver, frame: bytes, seq: int) -> None:
    try:
        dets = driver.decode(frame, T0 + seq, seq)
    except DecodeError:
        return
    for det in dets:
        _assert_jsonable(det)


@_FUZZ
@given(st.lists(st.binary(max_size=300), min_size=1, max_size=5))
def test_arbitrary_bytes_only_ever_raise_decode_error(frames):
    driver = _driver(max_aircraft=2)
    for seq, frame in enumerate(frames):
        _decode_or_reject(driver, frame, seq)


@_FUZZ
@given(st.data())
def test_real_lines_with_fields_replaced_only_ever_raise_decode_error(data):
    driver = _driver(max_aircraft=2, time_zone=data.draw(st.sampled_from(["UTC", "Europe/Berlin"])))
    for seq in range(data.draw(st.integers(1, 4))):
        fields = data.draw(st.sampled_from(_REAL_LINES)).decode("ascii").split(",")
        for _ in range(data.draw(st.integers(1, 4))):
            at = data.draw(st.integers(0, len(fields) - 1))
            fields[at] = data.draw(_FIELD_TEXT)
        frame = ",".join(fields).encode("utf-8", "surrogatepass")
        _decode_or_reject(driver, frame, seq)


@_FUZZ
@given(st.data())
def test_byte_damaged_real_lines_only_ever_raise_decode_error(data):
    frame = bytearray(data.draw(st.sampled_from(_REAL_LINES)))
    for _ in range(data.draw(st.integers(1, 4))):
        at = data.draw(st.integers(0, len(frame) - 1))
        frame[at : at + data.draw(st.integers(0, 3))] = data.draw(st.binary(max_size=3))
    _decode_or_reject(_driver(), bytes(frame), 0)


# --- bounded state ------------------------------------------------------------------------


def test_remembered_aircraft_are_bounded_and_least_recently_heard_go_first():
    limit = 8
    driver = _driver(max_aircraft=limit)
    keep = "AAAAAA"
    driver.decode(_line(1, icao=keep, callsign="KEEP1"), T0, 0)
    for i in range(500):
        driver.decode(_line(1, icao=f"{i:06X}", callsign=f"C{i}"), T0, i + 1)
        if i % 3 == 0:  # a new message each time: a repeated one is dropped unread
            driver.decode(_line(7, icao=keep, clock=f"19:{i // 60:02d}:{i % 60:02d}.000"), T0, i)
        assert len(driver._aircraft) <= limit

    def callsign_of(icao: str) -> str | None:
        [det] = driver.decode(_line(3, icao=icao, lat="59", lon="30"), T0, 9999)
        return det.identity.sensor_track_id

    assert callsign_of(keep) == "KEEP1"
    assert callsign_of(f"{499:06X}") == "C499"
    assert callsign_of(f"{0:06X}") is None, "long unheard: forgotten"


# --- end to end over a real TCP socket ----------------------------------------------------


def _serve(server: socket.socket, chunks: list[bytes], done: threading.Event) -> None:
    conn, _ = server.accept()
    with conn:
        for chunk in chunks:
            conn.sendall(chunk)
        done.wait(10)


def _chunks(data: bytes, sizes: Iterator[int]) -> list[bytes]:
    out, at = [], 0
    while at < len(data):
        size = next(sizes)
        out.append(data[at : at + size])
        at += size
    return out


def _cycle(values: list[int]) -> Iterator[int]:
    while True:
        yield from values


def test_tcp_feed_with_garbage_lines_gives_every_position_and_counts_the_garbage(
    shared_data, tmp_path
):
    lines = _recording_lines(shared_data)
    # each under max_frame_bytes: a longer run is cut where TCP happens to split it
    garbage = [b"\x00\xff\xfe garbage", b"MSG,3,not,a,line", b"#" * 900]
    stream = bytearray()
    for i, line in enumerate(lines):
        stream += line + b"\r\n"
        if i % 1000 == 500:
            stream += garbage[(i // 1000) % len(garbage)] + b"\n"
    n_garbage = sum(1 for i in range(len(lines)) if i % 1000 == 500)
    server = socket.create_server(("127.0.0.1", free_port()))
    port = server.getsockname()[1]
    done = threading.Event()
    feeder = threading.Thread(
        target=_serve, args=(server, _chunks(bytes(stream), _cycle([1, 37, 4096, 700])), done)
    )
    feeder.start()
    url = f"tcp://127.0.0.1:{port}"
    driver = _driver()
    detections: list[Detection] = []
    runner = SensorRunner(
        SensorConfig(id="adsb-1", driver="sbs", source=url),
        driver,
        open_source(url, "adsb-1", driver.framing, tmp_path),
        detections.extend,
        lambda status: None,
    )
    runner.start()
    try:
        deadline = time.monotonic() + 20
        while len(detections) < 728 and time.monotonic() < deadline:
            time.sleep(0.05)
        time.sleep(0.2)
        assert len(detections) == 728
        assert runner.decoder.counters["malformed"] == n_garbage + 2
        assert driver.counters["duplicates"] > 4000
        assert len({det.identity.icao24 for det in detections}) == 11
        # live receive time is 'now', the recording is from 2018: the zone check says so
        assert all("sbs_time_skew" in det.flags for det in detections)
    finally:
        done.set()
        runner.stop_event.set()
        runner.join(5)
        feeder.join(5)
        server.close()
