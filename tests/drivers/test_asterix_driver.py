"""The ASTERIX driver on real EUROCONTROL recordings, on hand-encoded CAT010, and on garbage.

The recordings are read from ../shared/data/asterix (GPL: never copied here). For each one,
at least one record is decoded here by hand, FSPEC bit by bit and item by item with the
standard's scale factors written out, so the driver is checked against the standard and not
against libasterix, which it is built on.
"""

from __future__ import annotations

import math
import socket
import struct
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from cuas.config import SensorConfig
from cuas.driver import DecodeError, Detection, GeoPoint, MeasurementKind, ObjectClass, SensorInfo
from cuas.driver.host import SensorRunner
from cuas.driver.sources import open_source
from cuas.schema import SensorState
from cuas_drivers.asterix import (
    AsterixDriver,
    AsterixOptions,
    elevation_from_height,
    time_from_time_of_day,
)

from support import SHARED_DATA, free_port

NM_M = 1852.0
FT_M = 0.3048
RADAR = GeoPoint(lat_deg=45.0, lon_deg=16.0, alt_m=300.0)
# 2008-05-15 12:47:45.76 UTC, the first packet of asterix.pcap
T_PCAP = 1_210_855_665.763759


def _driver(position: GeoPoint | None = RADAR, **options: Any) -> AsterixDriver:
    info = SensorInfo(sensor_id="radar-1", driver="asterix", position=position)
    return AsterixDriver(info, AsterixOptions(**options))


def _assert_jsonable(det: Detection) -> None:
    assert isinstance(det, Detection)
    assert Detection.model_validate_json(det.model_dump_json()) == det


def _sample(shared_data: Path, name: str) -> bytes:
    path = shared_data / "asterix" / name
    if not path.is_file():
        pytest.skip(f"shared protocol sample not found: ../shared/data/asterix/{name}")
    return path.read_bytes()


def _u(data: bytes, offset: int, n: int) -> int:
    return int.from_bytes(data[offset : offset + n], "big")


def _s(data: bytes, offset: int, n: int) -> int:
    return int.from_bytes(data[offset : offset + n], "big", signed=True)


def _fspec(data: bytes, offset: int) -> tuple[set[int], int]:
    """The FRNs an FSPEC announces (bit 8 of octet 1 = FRN 1, bit 1 of every octet = FX)."""
    frns, frn = set(), 1
    while True:
        octet = data[offset]
        offset += 1
        for bit in range(7, 0, -1):
            if octet >> bit & 1:
                frns.add(frn)
            frn += 1
        if not octet & 1:
            return frns, offset


# --- CAT048: the real plot --------------------------------------------------------------


def test_cat048_plot_matches_a_hand_decoding_of_its_bytes(shared_data):
    data = _sample(shared_data, "cat048.raw")
    # data block: CAT 48, LEN covers the whole file
    assert data[0] == 48 and _u(data, 1, 2) == len(data)
    frns, at = _fspec(data, 3)
    assert frns == {1, 2, 3, 4, 5, 6, 8, 9, 10, 11, 13, 14, 21}
    sac, sic = data[at], data[at + 1]  # FRN 1 I010
    tod_s = _u(data, at + 2, 3) / 128  # FRN 2 I140, LSB 1/128 s
    assert data[at + 5] & 1 == 0, "FRN 3 I020 is one octet here (FX clear)"
    rho_nm = _u(data, at + 6, 2) / 256  # FRN 4 I040 RHO, LSB 1/256 NM
    theta_deg = _u(data, at + 8, 2) * 360 / 2**16  # I040 THETA, LSB 360/2^16 deg
    # FRN 5 I070 (2 octets); FRN 6 I090: V, G, then FL in 14 bits, LSB 1/4 FL
    i090 = _u(data, at + 12, 2)
    assert i090 >> 14 == 0, "Mode C validated and not garbled"
    fl = (i090 & 0x3FFF) / 4
    icao = _u(data, at + 14, 3)  # FRN 8 I220, 24-bit address
    # FRN 9 I240 (6 octets), FRN 10 I250 (REP octet + REP x 8 octets)
    rep = data[at + 23]
    i161 = at + 24 + 8 * rep
    track_number = _u(data, i161, 2) & 0x0FFF  # FRN 11 I161, 12 bits
    gsp_nm_s = _u(data, i161 + 2, 2) * 2**-14  # FRN 13 I200 GSP, LSB 2^-14 NM/s
    hdg_deg = _u(data, i161 + 4, 2) * 360 / 2**16  # I200 HDG

    assert (sac, sic, track_number, f"{icao:06x}") == (25, 201, 3563, "3c660c")
    assert rho_nm == pytest.approx(197.68, abs=0.01)  # as SOURCES.md states
    assert theta_deg == pytest.approx(340.14, abs=0.01)

    t_rx = datetime(2024, 5, 1, 7, 40, tzinfo=UTC).timestamp()
    [det] = _driver().decode(data, t_rx, 7)
    _assert_jsonable(det)
    assert det.kind is MeasurementKind.RANGE_AZ_EL
    assert det.range_m == pytest.approx(rho_nm * NM_M)
    assert det.azimuth_rad == pytest.approx(math.radians(theta_deg))
    assert det.t_unix == datetime(2024, 5, 1, tzinfo=UTC).timestamp() + tod_s
    assert det.identity.sensor_track_id == "25/201:3563"
    assert det.identity.icao24 == "3c660c"
    assert det.object_class is ObjectClass.MANNED_AIRCRAFT and det.class_source == "mode_s"
    hdg = math.radians(hdg_deg)
    gs = gsp_nm_s * NM_M
    assert det.velocity_enu_mps == pytest.approx((gs * math.sin(hdg), gs * math.cos(hdg), 0.0))
    # FL330 from 366 km: the radar sees it just below its horizon
    assert det.elevation_rad == pytest.approx(
        elevation_from_height(rho_nm * NM_M, RADAR.alt_m, fl * 100 * FT_M)
    )
    assert -0.01 < det.elevation_rad < 0.0
    assert det.raw is not None and det.raw.frame_seq == 7
    assert det.covariance is not None and det.covariance[2][2] < 1e-5


def test_cat048_without_a_declared_radar_height_has_no_elevation(shared_data):
    data = _sample(shared_data, "cat048.raw")
    [det] = _driver(position=None).decode(data, T_PCAP, 0)
    assert det.elevation_rad is None
    assert det.covariance is not None and det.covariance[2][2] == pytest.approx((math.pi / 2) ** 2)


def test_records_from_sources_not_in_the_profile_are_counted_and_skipped(shared_data):
    data = _sample(shared_data, "cat048.raw")
    driver = _driver(sources=["25/100"])
    assert driver.decode(data, T_PCAP, 0) == []
    assert driver.counters["records_other_source"] == 1
    assert len(_driver(sources=["25/201"]).decode(data, T_PCAP, 0)) == 1


# --- CAT062: real system tracks -----------------------------------------------------------


def test_cat062_tracks_match_a_hand_decoding_and_cat065_is_skipped(shared_data):
    data = _sample(shared_data, "cat062cat065.raw")
    assert data[0] == 62
    end062 = _u(data, 1, 2)
    assert data[end062] == 65, "a CAT065 block follows"
    frns, at = _fspec(data, 3)
    assert {1, 3, 4, 5, 6, 7, 12} <= frns and not {2, 11} & frns  # no I380 in record 1
    sac, sic = data[at], data[at + 1]  # FRN 1 I010; FRN 3 I015 is one octet
    tod_s = _u(data, at + 3, 3) / 128  # FRN 4 I070, LSB 1/128 s
    lat = _s(data, at + 6, 4) * 180 / 2**25  # FRN 5 I105, LSB 180/2^25 deg
    lon = _s(data, at + 10, 4) * 180 / 2**25
    # FRN 6 I100 (6 octets); FRN 7 I185 VX, VY, LSB 0.25 m/s
    vx, vy = _s(data, at + 20, 2) * 0.25, _s(data, at + 22, 2) * 0.25
    # FRN 8 I210 (2), FRN 9 I060 (2), FRN 12 I040 track number
    track_number = _u(data, at + 28, 2)

    driver = _driver()
    t_rx = datetime(2024, 5, 1, 8, 35, tzinfo=UTC).timestamp()
    dets = driver.decode(data, t_rx, 0)
    assert driver.counters["blocks_skipped_cat065"] == 1
    assert len(dets) == 2
    first, second = dets
    for det in dets:
        _assert_jsonable(det)
        assert det.kind is MeasurementKind.POSITION
    assert (sac, sic, track_number) == (25, 100, 4980)
    assert first.identity.sensor_track_id == "25/100:4980"
    assert first.position is not None
    assert (first.position.lat_deg, first.position.lon_deg) == pytest.approx((lat, lon))
    assert (round(lat, 3), round(lon, 3)) == (44.734, 13.042)  # as SOURCES.md states
    assert first.t_unix == datetime(2024, 5, 1, tzinfo=UTC).timestamp() + tod_s
    assert first.velocity_enu_mps is not None
    assert first.velocity_enu_mps[:2] == pytest.approx((vx, vy))
    # track 4980's I130 comes from "height from coverage" (I080 SRC 4) and disagrees with its
    # Mode C by 8 km: the flight level is the height to trust
    assert first.position.alt_m == pytest.approx(157 * 100 * FT_M)
    assert "altitude_from_flight_level" in first.flags
    assert first.identity.icao24 is None and first.object_class is ObjectClass.UNKNOWN
    assert second.identity.sensor_track_id == "25/100:7977"
    assert second.identity.icao24 == "3c0a55"
    assert second.position is not None
    assert (round(second.position.lat_deg, 3), round(second.position.lon_deg, 3)) == (
        45.401,
        15.133,
    )


def _pcap_udp_payloads(data: bytes) -> list[tuple[float, bytes]]:
    """UDP payloads of a classic little-endian pcap of Ethernet/IPv4 frames."""
    magic, _, _, _, _, _, linktype = struct.unpack_from("<IHHiIII", data, 0)
    assert magic == 0xA1B2C3D4 and linktype == 1
    out, offset = [], 24
    while offset + 16 <= len(data):
        sec, usec, incl, _ = struct.unpack_from("<IIII", data, offset)
        packet = data[offset + 16 : offset + 16 + incl]
        offset += 16 + incl
        assert struct.unpack_from(">H", packet, 12)[0] == 0x0800  # IPv4
        ip = packet[14:]
        assert ip[9] == 17  # UDP
        udp = ip[(ip[0] & 0x0F) * 4 :]
        out.append((sec + usec / 1e6, udp[8 : struct.unpack_from(">H", udp, 4)[0]]))
    return out


def test_pre_standard_cat062_capture_is_rejected_not_misread(shared_data):
    """asterix.pcap is CAT062 edition 0.17 (2008): I105 is six octets at FRN 5, not eight.

    Decoded here in that layout, its times match the capture clock and its tracks lie over
    the Balkans; read as any 1.x edition they would be garbage, so every frame must fail.
    """
    payloads = _pcap_udp_payloads(_sample(shared_data, "asterix.pcap"))
    assert len(payloads) == 100
    assert payloads[-1][0] - payloads[0][0] == pytest.approx(9.2, abs=0.1)
    for t_cap, frame in payloads:
        frns, at = _fspec(frame, 3)
        assert {1, 3, 4, 5} <= frns and 2 not in frns
        tod_s = _u(frame, at + 2, 3) / 128  # 0.17 FRN 3 I070, 1/128 s
        lat = _s(frame, at + 7, 3) * 180 / 2**23  # 0.17 FRN 5 I105, 24 + 24 bits
        lon = _s(frame, at + 10, 3) * 180 / 2**23
        assert abs(time_from_time_of_day(tod_s, t_cap) - t_cap) < 5.0
        assert 40 < lat < 50 and 10 < lon < 25
    for edition in ("1.16", "1.21"):
        driver = _driver(editions={62: edition})
        for seq, (t_cap, frame) in enumerate(payloads):
            with pytest.raises(DecodeError):
                driver.decode(frame, t_cap, seq)


# --- time of day ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "tod_s, received, expected",
    [
        (43_200.0, datetime(2024, 3, 1, 12, 0, 2), datetime(2024, 3, 1, 12, 0)),
        # sent just before midnight, received just after: yesterday
        (86_399.5, datetime(2024, 3, 1, 0, 0, 1), datetime(2024, 2, 29, 23, 59, 59, 500_000)),
        # a radar clock slightly ahead across midnight: tomorrow
        (0.25, datetime(2024, 12, 31, 23, 59, 59), datetime(2025, 1, 1, 0, 0, 0, 250_000)),
    ],
)
def test_time_of_day_lands_on_the_day_nearest_the_receive_time(tod_s, received, expected):
    t_rx = received.replace(tzinfo=UTC).timestamp()
    assert time_from_time_of_day(tod_s, t_rx) == expected.replace(tzinfo=UTC).timestamp()


def test_receive_time_source_ignores_the_asterix_clock():
    t_rx = 1_700_000_123.25
    [det] = _driver(time_source="receive").decode(_cat010_block([_cat010_wgs84()]), t_rx, 0)
    assert det.t_unix == t_rx


# --- CAT010, hand-encoded per the standard (no public real sample exists) ---------------


def _fspec_bytes(frns: set[int]) -> bytes:
    n_octets = max(1, math.ceil(max(frns) / 7))
    out = bytearray(n_octets)
    for frn in frns:
        octet, bit = divmod(frn - 1, 7)
        out[octet] |= 0x80 >> bit
    for i in range(n_octets - 1):
        out[i] |= 1  # FX
    return bytes(out)


def _cat010_record(items: dict[int, bytes]) -> bytes:
    return _fspec_bytes(set(items)) + b"".join(items[frn] for frn in sorted(items))


def _cat010_block(records: list[bytes]) -> bytes:
    body = b"".join(records)
    return struct.pack(">BH", 10, 3 + len(body)) + body


TOD_S = 43_200.5
LAT, LON = 51.5, -0.125


def _cat010_wgs84() -> bytes:
    return _cat010_record(
        {
            1: bytes([1, 2]),  # I010 SAC 1, SIC 2
            2: bytes([1]),  # I000 target report
            4: round(TOD_S * 128).to_bytes(3, "big"),  # I140, 1/128 s
            5: struct.pack(">ii", round(LAT * 2**31 / 180), round(LON * 2**31 / 180)),  # I041
            9: struct.pack(">hh", round(3.0 / 0.0625), round(-1.5 / 0.0625)),  # I202
            10: struct.pack(">H", 42),  # I161 track 42
            22: bytes([8, 12]) + struct.pack(">h", 0),  # I500: 2 m, 3 m (0.25 m LSB)
        }
    )


def _cat010_polar() -> bytes:
    return _cat010_record(
        {
            1: bytes([1, 2]),
            2: bytes([1]),
            4: round(TOD_S * 128).to_bytes(3, "big"),
            6: struct.pack(">HH", 1500, 2**14),  # I040 RHO 1500 m, THETA 90 deg
            10: struct.pack(">H", 43),
        }
    )


def _cat010_cartesian() -> bytes:
    return _cat010_record(
        {
            1: bytes([1, 2]),
            2: bytes([1]),
            7: struct.pack(">hh", 300, -400),  # I042 300 m east, 400 m south
            10: struct.pack(">H", 44),
        }
    )


def _cat010_status() -> bytes:
    return _cat010_record({1: bytes([1, 2]), 2: bytes([3])})  # I000 periodic status


def test_cat010_reports_become_positions_and_polar_measurements():
    t_rx = datetime(2024, 6, 1, 12, 0, 1, tzinfo=UTC).timestamp()
    frame = _cat010_block([_cat010_wgs84(), _cat010_polar(), _cat010_cartesian(), _cat010_status()])
    driver = _driver()
    wgs84, polar, cartesian = driver.decode(frame, t_rx, 3)
    for det in (wgs84, polar, cartesian):
        _assert_jsonable(det)
    noon = datetime(2024, 6, 1, 12, 0, 0, 500_000, tzinfo=UTC).timestamp()
    assert wgs84.kind is MeasurementKind.POSITION and wgs84.t_unix == noon
    assert wgs84.position is not None
    assert wgs84.position.lat_deg == pytest.approx(LAT, abs=1e-7)
    assert wgs84.position.lon_deg == pytest.approx(LON, abs=1e-7)
    assert wgs84.position.alt_m is None
    assert wgs84.velocity_enu_mps == (3.0, -1.5, 0.0)
    assert wgs84.identity.sensor_track_id == "1/2:42"
    assert wgs84.covariance is not None
    assert [wgs84.covariance[i][i] for i in range(3)] == pytest.approx([4.0, 9.0, 1000.0**2])
    assert polar.kind is MeasurementKind.RANGE_AZ_EL
    assert (polar.range_m, polar.azimuth_rad) == pytest.approx((1500.0, math.pi / 2))
    assert polar.elevation_rad is None
    assert cartesian.kind is MeasurementKind.RANGE_AZ_EL
    assert cartesian.range_m == pytest.approx(500.0)
    assert cartesian.azimuth_rad == pytest.approx(math.atan2(300, -400) % (2 * math.pi))
    assert "time_from_receive" in cartesian.flags and cartesian.t_unix == t_rx
    assert driver.counters["records"] == 4


def test_north_offset_turns_azimuths():
    [det] = _driver(north_offset_deg=-100.0).decode(_cat010_block([_cat010_polar()]), 0.0, 0)
    assert det.azimuth_rad == pytest.approx(math.radians(350.0))


def test_options_reject_unknown_editions_and_bad_sources():
    with pytest.raises(ValidationError, match="edition '0.17' unknown"):
        AsterixOptions(editions={62: "0.17"})
    with pytest.raises(ValidationError, match="not decoded"):
        AsterixOptions(editions={21: "2.1"})
    with pytest.raises(ValidationError, match="SAC/SIC"):
        AsterixOptions(sources=["25-201"])
    assert AsterixOptions.model_validate({"editions": {"48": "1.31"}}).editions == {48: "1.31"}


# --- malformed input -------------------------------------------------------------------

_LAT_100 = round(100 * 2**25 / 180).to_bytes(4, "big") + bytes(4)


@pytest.mark.parametrize(
    "frame",
    [
        pytest.param(b"", id="empty"),
        pytest.param(b"\x30\x00", id="header-cut"),
        pytest.param(b"\x30\x00\x02", id="len-below-3"),
        pytest.param(b"\x30\x00\x10\x80\x19", id="len-overruns"),
        pytest.param(_cat010_block([_cat010_polar()]) + b"\x0a", id="stray-octet"),
        pytest.param(_cat010_block([_cat010_polar()[:-1]]), id="record-cut-short"),
        pytest.param(_cat010_block([b"\xff\xff\xff\xff\xff"]), id="fspec-runs-off"),
        pytest.param(
            struct.pack(">BH", 62, 3 + 1 + len(_LAT_100)) + b"\x08" + _LAT_100, id="latitude-100"
        ),
        pytest.param(
            struct.pack(">BH", 48, 3 + 4) + b"\x40\xff\xff\xff", id="time-of-day-beyond-a-day"
        ),
    ],
)
def test_malformed_frames_raise_decode_error(frame):
    with pytest.raises(DecodeError):
        _driver().decode(frame, T_PCAP, 0)


# --- fuzzing ---------------------------------------------------------------------------

_FUZZ = settings(
    max_examples=300, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow]
)


def _decode_or_reject(driver: AsterixDriver, frame: bytes, seq: int = 0) -> None:
    try:
        dets = driver.decode(frame, T_PCAP, seq)
    except DecodeError:
        return
    for det in dets:
        _assert_jsonable(det)


def _seeds() -> list[bytes]:
    seeds = [
        _cat010_block([_cat010_wgs84(), _cat010_polar(), _cat010_cartesian(), _cat010_status()])
    ]
    folder = SHARED_DATA / "asterix"
    for name in ("cat048.raw", "cat062cat065.raw"):
        if (folder / name).is_file():
            seeds.append((folder / name).read_bytes())
    if (folder / "asterix.pcap").is_file():
        seeds += [p for _, p in _pcap_udp_payloads((folder / "asterix.pcap").read_bytes())[:5]]
    return seeds


SEEDS = _seeds()


@_FUZZ
@given(st.binary(max_size=600))
def test_arbitrary_bytes_only_ever_raise_decode_error(frame):
    _decode_or_reject(_driver(), frame)


@_FUZZ
@given(st.sampled_from([10, 48, 62, 65]), st.binary(max_size=300))
def test_arbitrary_records_behind_a_valid_header_only_ever_raise_decode_error(category, body):
    _decode_or_reject(_driver(), struct.pack(">BH", category, 3 + len(body)) + body)


@_FUZZ
@given(st.data())
def test_damaged_real_frames_only_ever_raise_decode_error(data):
    frame = bytearray(data.draw(st.sampled_from(SEEDS)))
    for _ in range(data.draw(st.integers(1, 4))):
        at = data.draw(st.integers(3, len(frame) - 1))  # keep the header: reach the records
        frame[at : at + data.draw(st.integers(0, 3))] = data.draw(st.binary(max_size=3))
    if data.draw(st.booleans()):
        frame[1:3] = struct.pack(">H", min(len(frame), 0xFFFF))  # let the records be read
    _decode_or_reject(_driver(), bytes(frame))


# --- real UDP, through the driver host --------------------------------------------------


def _wait_until(condition: Callable[[], object], what: str, timeout_s: float = 10.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.005)


def _run(url: str, tmp_path: Path, send: Callable[[bytes], None]) -> tuple[list[Detection], Any]:
    driver = _driver()
    detections: list[Detection] = []
    runner = SensorRunner(
        SensorConfig(id="radar-1", driver="asterix", source=url),
        driver,
        open_source(url, "radar-1", driver.framing, tmp_path),
        detections.extend,
        lambda status: None,
    )
    runner.start()
    try:
        _wait_until(lambda: runner.state is SensorState.OK, "the UDP socket to be bound")
        for frame in (
            _cat010_block([_cat010_wgs84()]),
            b"\x0a\x00\x09garbage",
            _cat010_block([_cat010_polar(), _cat010_cartesian()]),
        ):
            send(frame)
        _wait_until(lambda: len(detections) >= 3, "three detections")
        _wait_until(lambda: runner.decoder.counters["malformed"] >= 1, "the malformed count")
    finally:
        runner.stop_event.set()
        runner.join(5.0)
    assert not runner.is_alive()
    assert runner.decoder.counters["frames"] == 3
    assert runner.decoder.counters["malformed"] == 1
    return detections, runner


def test_udp_datagrams_through_the_sensor_runner(tmp_path):
    port = free_port()
    sender = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        dets, _ = _run(
            f"udp://127.0.0.1:{port}", tmp_path, lambda b: sender.sendto(b, ("127.0.0.1", port))
        )
    finally:
        sender.close()
    assert [d.identity.sensor_track_id for d in dets] == ["1/2:42", "1/2:43", "1/2:44"]
    assert [d.raw.frame_seq for d in dets if d.raw] == [0, 2, 2]


def _multicast_on_loopback(group: str) -> str | None:
    """Why multicast on loopback cannot be tested here, or None if it can."""
    probe = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        mreq = socket.inet_aton(group) + socket.inet_aton("127.0.0.1")
        probe.setsockopt(socket.IPPROTO_IP, socket.IP_ADD_MEMBERSHIP, mreq)
    except OSError as exc:
        return f"cannot join {group} on 127.0.0.1: {exc}"
    finally:
        probe.close()
    return None


def test_udp_multicast_group_joined_on_loopback(tmp_path):
    group, port = "239.255.48.62", free_port()
    reason = _multicast_on_loopback(group)
    if reason:
        pytest.skip(reason)
    sender = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sender.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_IF, socket.inet_aton("127.0.0.1"))
    sender.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_LOOP, 1)
    sender.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_TTL, 0)
    try:
        dets, _ = _run(
            f"udp://{group}:{port}?iface=127.0.0.1",
            tmp_path,
            lambda b: sender.sendto(b, (group, port)),
        )
    finally:
        sender.close()
    assert len(dets) == 3
