"""Our ASTM F3411 decoder, on messages built by hand from the standard and on real captures.

The hand-built messages use opendroneid-core-c's test_inout.c input set and are packed here
with struct and the scalings the standard documents, not with our own encoder (we have
none). The real captures are read from ../shared/data (skipped when absent).
"""

from __future__ import annotations

import base64
import ctypes
import json
import struct
from datetime import UTC, datetime
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cuas.driver import DecodeError
from cuas_drivers import odid
from cuas_drivers.remoteid import capture_frames, parse_radio_frame

# --- the core-c test_inout.c input set, packed by hand --------------------------------

LAT, LON = 45.539309, -122.966389


def _alt(m: float) -> int:
    return round((m + 1000) / 0.5)  # F3411 altitude encoding


BASIC_ID = struct.pack("<BB20s3x", 0x02, (2 << 4) | 2, b"12345678901234567890")
LOCATION = struct.pack(
    "<BBBBbiiHHHBBHBx",
    0x12,  # Location/Vector, protocol version 2
    (2 << 4) | 0x04 | 0x02,  # airborne, height over ground, E/W segment (215.7 >= 180)
    35,  # 215.7 - 180, whole degrees
    round(5.4 / 0.25),  # speed, multiplier 0
    round(5.25 / 0.5),  # vertical speed
    round(LAT * 1e7),
    round(LON * 1e7),
    _alt(100),  # pressure altitude
    _alt(110),  # geodetic altitude
    _alt(80),  # height
    (6 << 4) | 11,  # vertical accuracy < 1 m, horizontal < 3 m
    (5 << 4) | 3,  # baro accuracy < 3 m, speed accuracy < 1 m/s
    3605,  # 360.5 s past the hour, in tenths
    2,  # timestamp accuracy 0.2 s
)
AUTH_0 = struct.pack("<BBBBI17s", 0x22, (1 << 4) | 0, 1, 39, 28_000_000, b"12345678901234567")
AUTH_1 = struct.pack("<BB23s", 0x22, (1 << 4) | 1, b"12345678901234567890123")
SELF_ID = struct.pack("<BB23s", 0x32, 0, b"DronesRUS: Real Estate")
SYSTEM = struct.pack(
    "<BBiiHBHHBHIx",
    0x42,
    (1 << 2) | 0,  # EU classification, operator location = take-off
    round((LAT + 0.00001) * 1e7),
    round((LON + 0.00001) * 1e7),
    35,  # area count
    75 // 10,  # area radius in 10 m steps
    _alt(176.9),
    _alt(41.7),
    (2 << 4) | 4,  # EU category specific, class C3 (enum value 4)
    0,  # operator altitude not given
    0,  # timestamp not given
)
OPERATOR_ID = struct.pack("<BB20s3x", 0x52, 0, b"98765432100123456789")
ALL = [BASIC_ID, LOCATION, AUTH_0, AUTH_1, SELF_ID, SYSTEM, OPERATOR_ID]


def test_hand_packed_messages_are_25_bytes():
    assert [len(m) for m in ALL] == [25] * 7


def test_basic_id_reference_values():
    msg = odid.decode_basic_id(BASIC_ID)
    assert msg == odid.BasicId(2, odid.IdType.CAA_REGISTRATION_ID, 2, "12345678901234567890")


def test_location_reference_values_within_the_standards_resolution():
    loc = odid.decode_location(LOCATION)
    assert loc.protocol_version == 2
    assert loc.status == odid.Status.AIRBORNE and loc.height_over_ground
    assert loc.direction_deg == pytest.approx(215.7, abs=1.0)
    assert loc.speed_mps == pytest.approx(5.4, abs=0.125)
    assert loc.vertical_speed_mps == pytest.approx(5.25, abs=0.25)
    assert (loc.lat_deg, loc.lon_deg) == pytest.approx((LAT, LON), abs=1e-7)
    assert (loc.pressure_alt_m, loc.geodetic_alt_m, loc.height_m) == (100.0, 110.0, 80.0)
    assert loc.timestamp_s == pytest.approx(360.52, abs=0.05)
    assert loc.horizontal_accuracy_m == 3.0 and loc.vertical_accuracy_m == 1.0
    assert loc.baro_accuracy_m == 3.0 and loc.speed_accuracy_mps == 1.0
    assert loc.timestamp_accuracy_s == pytest.approx(0.2)
    assert loc.flags == ()


def test_auth_pages_reference_values():
    page0, page1 = odid.decode_auth(AUTH_0), odid.decode_auth(AUTH_1)
    assert (page0.auth_type, page0.page, page0.last_page_index, page0.length) == (1, 0, 1, 39)
    assert page0.timestamp_unix == odid.EPOCH_2019_UNIX + 28_000_000
    assert datetime.fromtimestamp(page0.timestamp_unix, UTC).year == 2019
    assert page0.data == b"12345678901234567"
    assert (page1.page, page1.last_page_index, page1.timestamp_unix) == (1, None, None)
    assert page1.data == b"12345678901234567890123"


def test_self_id_system_and_operator_id_reference_values():
    assert odid.decode_self_id(SELF_ID).description == "DronesRUS: Real Estate"
    system = odid.decode_system(SYSTEM)
    assert system.operator_location_type == odid.OperatorLocationType.TAKEOFF
    assert system.classification_type == 1
    assert system.operator_lat_deg == pytest.approx(LAT + 0.00001, abs=1e-7)
    assert system.operator_lon_deg == pytest.approx(LON + 0.00001, abs=1e-7)
    assert system.area_count == 35
    assert system.area_radius_m == pytest.approx(75, abs=10)
    assert system.area_ceiling_m == pytest.approx(176.9, abs=0.25)
    assert system.area_floor_m == pytest.approx(41.7, abs=0.25)
    assert (system.eu_category, system.eu_class) == (2, 3)  # specific, class C3
    assert system.operator_alt_m is None and system.timestamp_unix is None
    assert odid.decode_operator_id(OPERATOR_ID).operator_id == "98765432100123456789"


def test_message_pack_of_the_seven_reference_messages():
    pack = bytes([0xF2, 25, 7]) + b"".join(ALL)
    messages = odid.decode_messages(pack)
    assert [type(m) for m in messages] == [
        odid.BasicId,
        odid.Location,
        odid.Auth,
        odid.Auth,
        odid.SelfId,
        odid.System,
        odid.OperatorId,
    ]
    assert messages == tuple(odid.decode_message(m) for m in ALL)
    assert odid.decode_messages(LOCATION + b"\0" * 6) == (odid.decode_location(LOCATION),)


# --- sentinels, scalings, flags ---------------------------------------------------------


def _location(**changes: int) -> bytes:
    msg = bytearray(LOCATION)
    for offset, value in changes.items():
        msg[int(offset.removeprefix("b"))] = value
    return bytes(msg)


def test_unknown_sentinels_become_none():
    msg = bytearray(LOCATION)
    msg[1] |= 0x02
    msg[2] = 181  # 181 + 180 = 361: direction unknown
    msg[3] = 255  # speed unknown
    msg[4] = 126  # 63 m/s: vertical speed unknown
    msg[5:13] = bytes(8)  # 0/0: no position
    msg[13:19] = bytes(6)  # altitudes raw 0 = -1000 m = unknown
    msg[21:23] = b"\xff\xff"  # timestamp unknown
    loc = odid.decode_location(bytes(msg))
    assert loc.direction_deg is None and loc.speed_mps is None and loc.vertical_speed_mps is None
    assert (loc.lat_deg, loc.lon_deg) == (None, None)
    assert (loc.pressure_alt_m, loc.geodetic_alt_m, loc.height_m) == (None, None, None)
    assert loc.timestamp_s is None
    assert loc.flags == ()


@pytest.mark.parametrize(
    "raw, multiplier, speed",
    [(0, 0, 0.0), (1, 0, 0.25), (254, 0, 63.5), (0, 1, 63.75), (254, 1, 254.25)],
)
def test_speed_multiplier(raw, multiplier, speed):
    loc = odid.decode_location(_location(b1=(LOCATION[1] & 0xFE) | multiplier, b3=raw))
    assert loc.speed_mps == pytest.approx(speed)


def test_direction_east_west_segment():
    west = odid.decode_location(_location(b1=LOCATION[1] & ~0x02 & 0xFF, b2=90))
    east = odid.decode_location(_location(b1=LOCATION[1] | 0x02, b2=90))
    assert (west.direction_deg, east.direction_deg) == (90, 270)
    bad = odid.decode_location(_location(b1=LOCATION[1] | 0x02, b2=200))
    assert bad.direction_deg is None and "direction_invalid" in bad.flags


def test_out_of_range_position_and_bad_timestamp_are_flagged():
    msg = bytearray(LOCATION)
    msg[5:9] = struct.pack("<i", 95 * 10**7)
    msg[21:23] = struct.pack("<H", 36_001)
    loc = odid.decode_location(bytes(msg))
    assert loc.lat_deg is None and loc.lon_deg is None and loc.timestamp_s is None
    assert set(loc.flags) == {"position_out_of_range", "timestamp_invalid"}
    system = bytearray(SYSTEM)
    system[6:10] = struct.pack("<i", -181 * 10**7)
    assert odid.decode_system(bytes(system)).flags == ("operator_position_out_of_range",)


@pytest.mark.parametrize(
    "serial, valid",
    [
        ("1581F5FJD229Q00A0001", True),  # DJI, length character F = 15
        ("1787F04BM24010011195", True),  # the DroneScout sample
        ("ABCD1X", True),
        ("ABCD2X", False),  # says 2 characters, has 1
        ("ABCDFX", False),
        ("AOCD1X", False),  # O is not allowed
        ("ABCD1I", False),  # nor I
        ("ABCD0", False),  # length character 0
        ("abcd1x", False),
        ("SSEVTFG93700070", False),  # the BT5 capture's serial: T is no length character
    ],
)
def test_cta2063_serial_validation(serial, valid):
    assert odid.is_cta2063_serial(serial) is valid
    msg = struct.pack("<BB20s3x", 0x02, 0x12, serial.encode())
    assert ("rid_serial_invalid" in odid.decode_basic_id(msg).flags) is not valid


def test_non_ascii_ids_are_flagged_not_fatal():
    msg = odid.decode_operator_id(struct.pack("<BB20s3x", 0x52, 0, b"OP-\xff\x01X"))
    assert msg.operator_id == "OP-??X" and msg.flags == ("operator_id_not_ascii",)


def test_location_time_takes_the_hour_nearest_the_receive_time():
    t_rx = datetime(2024, 12, 31, 20, 38, 28, tzinfo=UTC).timestamp()
    assert odid.location_time_unix(2307.0, t_rx) == t_rx - 1.0  # 20:38:27
    # 59:59 heard at 21:00:01 was sent in the previous hour, 00:01 heard at 20:59:59 in the next
    t_rx = datetime(2024, 12, 31, 21, 0, 1, tzinfo=UTC).timestamp()
    assert odid.location_time_unix(3599.0, t_rx) == t_rx - 2.0
    t_rx = datetime(2024, 12, 31, 20, 59, 59, tzinfo=UTC).timestamp()
    assert odid.location_time_unix(1.0, t_rx) == t_rx + 2.0


@pytest.mark.parametrize(
    "data, reason",
    [
        (b"", "empty"),
        (LOCATION[:24], "24 bytes"),
        (bytes([0xF2, 24, 1]) + LOCATION, "single-message size 24"),
        (bytes([0xF2, 25, 0]), "count 0"),
        (bytes([0xF2, 25, 10]) + LOCATION * 10, "count 10"),
        (bytes([0xF2, 25, 2]) + LOCATION, "needs 53 bytes"),
        (bytes([0xF2, 25, 1]) + bytes([0xF2]) + bytes(24), "inside a message pack"),
    ],
)
def test_malformed_payloads_raise_decode_error_with_a_reason(data, reason):
    with pytest.raises(DecodeError, match=reason):
        odid.decode_messages(data)


def test_reserved_message_types_are_kept_apart_without_spoiling_a_pack():
    reserved = bytes([0x72]) + bytes(24)
    messages = odid.decode_messages(bytes([0xF2, 25, 2]) + reserved + LOCATION)
    assert messages[0] == odid.Reserved(2, 7, reserved)
    assert isinstance(messages[1], odid.Location)


# --- real captures ------------------------------------------------------------------------


def _capture_messages(path: Path) -> list[tuple[float, odid.Message]]:
    out = []
    for t_unix, frame in capture_frames(path):
        radio = parse_radio_frame(frame)
        assert radio is not None
        try:
            messages = odid.decode_messages(radio.payload)
        except DecodeError as exc:
            assert "count 0" in str(exc), "only empty packs are rejected in these captures"
            continue
        out.extend((t_unix, m) for m in messages)
    return out


def test_wifi_capture_decodes_consistently(shared_data):
    messages = _capture_messages(shared_data / "remoteid" / "odid_wifi_sample.pcap")
    locations = [m for _, m in messages if isinstance(m, odid.Location)]
    assert len(messages) == 42  # 21 Beacon + 21 NaN frames, one message each
    assert len(locations) == 31
    for loc in locations:
        assert loc.lat_deg == pytest.approx(45.545, abs=0.001)
        assert loc.lon_deg == pytest.approx(-122.972, abs=0.002)  # a ~100 m circuit
        assert (loc.geodetic_alt_m, loc.height_m, loc.pressure_alt_m) == (237.0, 100.0, None)
        assert loc.speed_mps == 20.5 and loc.vertical_speed_mps is None
        assert loc.horizontal_accuracy_m == 30.0 and loc.vertical_accuracy_m == 25.0
    operators = {m.operator_id for _, m in messages if isinstance(m, odid.OperatorId)}
    assert operators == {"GBR-OP-123ABCD"}
    systems = {m for _, m in messages if isinstance(m, odid.System)}
    assert len(systems) == 1
    [system] = systems
    assert (system.operator_lat_deg, system.operator_lon_deg) == pytest.approx(
        (45.5443876, -122.9726866), abs=1e-7
    )
    # open category, class C4; area radius byte 50 in 10 m steps (the DroneID decoder in
    # ../shared/data/wardragon prints the raw 50 as metres)
    assert (system.eu_category, system.eu_class, system.area_radius_m) == (1, 4, 500.0)
    assert {m.description for _, m in messages if isinstance(m, odid.SelfId)} == {"Recreational"}


def test_bt5_long_range_capture_decodes_consistently(shared_data):
    messages = _capture_messages(shared_data / "remoteid" / "odid_bt5_lr_sample.pcapng")
    locations = [m for _, m in messages if isinstance(m, odid.Location)]
    assert len(locations) == 222
    # the transmitter had no GNSS fix: every Location says "no position", never 0/0
    assert all(loc.lat_deg is None and loc.lon_deg is None for loc in locations)
    assert {loc.status for loc in locations} == {odid.Status.AIRBORNE}
    basic = {m for _, m in messages if isinstance(m, odid.BasicId)}
    assert {(b.id_type, b.uas_id, b.flags) for b in basic} == {
        (odid.IdType.SERIAL_NUMBER, "SSEVTFG93700070", ("rid_serial_invalid",))
    }
    operators = {m.operator_id for _, m in messages if isinstance(m, odid.OperatorId)}
    assert operators == {"FIN87astrdge12kxyz8"}
    assert {m.description for _, m in messages if isinstance(m, odid.SelfId)} == {"Drone ID demo"}


# --- ODID_UAS_Data, the C struct DroneScout receivers send ------------------------------

_E = ctypes.c_int  # C enums


class _BasicID(ctypes.Structure):
    _fields_ = [("UAType", _E), ("IDType", _E), ("UASID", ctypes.c_char * 21)]


class _Location(ctypes.Structure):
    _fields_ = [
        ("Status", _E),
        ("Direction", ctypes.c_float),
        ("SpeedHorizontal", ctypes.c_float),
        ("SpeedVertical", ctypes.c_float),
        ("Latitude", ctypes.c_double),
        ("Longitude", ctypes.c_double),
        ("AltitudeBaro", ctypes.c_float),
        ("AltitudeGeo", ctypes.c_float),
        ("HeightType", _E),
        ("Height", ctypes.c_float),
        ("HorizAccuracy", _E),
        ("VertAccuracy", _E),
        ("BaroAccuracy", _E),
        ("SpeedAccuracy", _E),
        ("TSAccuracy", _E),
        ("TimeStamp", ctypes.c_float),
    ]


class _Auth(ctypes.Structure):
    _fields_ = [
        ("DataPage", ctypes.c_uint8),
        ("AuthType", _E),
        ("LastPageIndex", ctypes.c_uint8),
        ("Length", ctypes.c_uint8),
        ("Timestamp", ctypes.c_uint32),
        ("AuthData", ctypes.c_uint8 * 24),
    ]


class _SelfID(ctypes.Structure):
    _fields_ = [("DescType", _E), ("Desc", ctypes.c_char * 24)]


class _System(ctypes.Structure):
    _fields_ = [
        ("OperatorLocationType", _E),
        ("ClassificationType", _E),
        ("OperatorLatitude", ctypes.c_double),
        ("OperatorLongitude", ctypes.c_double),
        ("AreaCount", ctypes.c_uint16),
        ("AreaRadius", ctypes.c_uint16),
        ("AreaCeiling", ctypes.c_float),
        ("AreaFloor", ctypes.c_float),
        ("CategoryEU", _E),
        ("ClassEU", _E),
        ("OperatorAltitudeGeo", ctypes.c_float),
        ("Timestamp", ctypes.c_uint32),
    ]


class _OperatorID(ctypes.Structure):
    _fields_ = [("OperatorIdType", _E), ("OperatorId", ctypes.c_char * 21)]


class _UasData(ctypes.Structure):
    """opendroneid.h ODID_UAS_Data, declared field by field as the header does."""

    _fields_ = [
        ("BasicID", _BasicID * 2),
        ("Location", _Location),
        ("Auth", _Auth * 16),
        ("SelfID", _SelfID),
        ("System", _System),
        ("OperatorID", _OperatorID),
        ("BasicIDValid", ctypes.c_uint8 * 2),
        ("LocationValid", ctypes.c_uint8),
        ("AuthValid", ctypes.c_uint8 * 16),
        ("SelfIDValid", ctypes.c_uint8),
        ("SystemValid", ctypes.c_uint8),
        ("OperatorIDValid", ctypes.c_uint8),
    ]


def test_struct_offsets_match_the_c_compilers_layout_of_opendroneid_h():
    assert ctypes.sizeof(_UasData) == 920
    assert _UasData.OperatorIDValid.offset + 1 == odid.UAS_DATA_MIN_BYTES
    offsets = {name: getattr(_UasData, name).offset for name, _ in _UasData._fields_}
    assert offsets["Location"] == 64 and offsets["Auth"] == 136 and offsets["SelfID"] == 776
    assert offsets["System"] == 808 and offsets["OperatorID"] == 864
    assert offsets["BasicIDValid"] == 892
    assert ctypes.sizeof(_Location) == odid._UAS_LOCATION.size
    assert ctypes.sizeof(_System) == odid._UAS_SYSTEM.size + 4  # trailing pad to 8
    assert ctypes.sizeof(_Auth) == odid._UAS_AUTH.size


def test_struct_built_with_ctypes_decodes_to_its_fields():
    data = _UasData()
    data.BasicID[1].UAType, data.BasicID[1].IDType = 2, 2
    data.BasicID[1].UASID = b"FIN-CAA-1"
    data.BasicIDValid[1] = 1
    loc = data.Location
    loc.Status, loc.Direction, loc.SpeedHorizontal, loc.SpeedVertical = 2, 215.5, 5.5, 63.0
    loc.Latitude, loc.Longitude, loc.AltitudeBaro, loc.AltitudeGeo = LAT, LON, -1000.0, 110.0
    loc.HorizAccuracy, loc.VertAccuracy, loc.TimeStamp = 11, 6, 360.5
    data.LocationValid = 1
    data.System.ClassificationType, data.System.CategoryEU, data.System.ClassEU = 1, 2, 4
    data.System.OperatorLatitude, data.System.OperatorLongitude = LAT, LON
    data.SystemValid = 1
    data.OperatorID.OperatorId = b"98765432100123456789"
    data.OperatorIDValid = 1
    uas = odid.decode_uas_data(bytes(data))
    assert [(b.id_type, b.uas_id) for b in uas.basic_ids] == [(2, "FIN-CAA-1")]
    assert uas.location is not None
    assert (uas.location.lat_deg, uas.location.lon_deg) == (LAT, LON)
    assert uas.location.direction_deg == 215.5 and uas.location.vertical_speed_mps is None
    assert uas.location.pressure_alt_m is None and uas.location.geodetic_alt_m == 110.0
    assert uas.location.horizontal_accuracy_m == 3.0 and uas.location.timestamp_s == 360.5
    assert uas.system is not None and (uas.system.eu_category, uas.system.eu_class) == (2, 3)
    assert uas.operator_id is not None and uas.operator_id.operator_id == "98765432100123456789"
    assert uas.self_id is None and uas.auth_pages == ()


def _dronescout_records(folder: Path) -> list[dict]:
    records = [json.loads(line) for line in (folder / "BLE-legacy.json").read_text().splitlines()]
    return records + json.loads((folder / "WiFi-NaN.json").read_text())


def test_dronescout_structs_are_plausible_and_agree_with_the_sensor_clock(shared_data):
    records = _dronescout_records(shared_data / "dronescout")
    assert len(records) == 22
    for rec in records:
        blob = base64.b64decode(rec["data"]["UASdata"])
        assert len(blob) == 921
        uas = odid.decode_uas_data(blob)
        assert [b.uas_id for b in uas.basic_ids] == ["1787F04BM24010011195"]
        assert uas.basic_ids[0].flags == ()
        loc, system = uas.location, uas.system
        assert loc is not None and system is not None
        # one drone standing still near San Francisco, its pilot a few metres away
        assert loc.lat_deg == pytest.approx(37.75998, abs=1e-4)
        assert loc.lon_deg == pytest.approx(-122.49773, abs=1e-4)
        assert system.operator_lat_deg == pytest.approx(loc.lat_deg, abs=1e-4)
        assert system.operator_lon_deg == pytest.approx(loc.lon_deg, abs=1e-4)
        assert (loc.geodetic_alt_m, loc.pressure_alt_m, loc.speed_mps) == (28.0, None, 0.0)
        assert loc.horizontal_accuracy_m == 1.0 and loc.vertical_accuracy_m == 3.0
        # the drone's time within the hour agrees with the receiver's ms timestamp
        t_sensor = rec["data"]["timestamp"] / 1000
        assert loc.timestamp_s is not None
        assert odid.location_time_unix(loc.timestamp_s, t_sensor) == pytest.approx(
            t_sensor, abs=2.0
        )
        assert system.timestamp_unix is not None
        assert 0 < t_sensor - system.timestamp_unix < 2 * 3600


# --- fuzzing ------------------------------------------------------------------------------

_FUZZ = settings(
    max_examples=400, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow]
)
_PACK = bytes([0xF2, 25, 7]) + b"".join(ALL)


def _decode_or_reject(data: bytes) -> None:
    try:
        messages = odid.decode_messages(data)
    except DecodeError:
        return
    assert messages and all(isinstance(m, odid.Message) for m in messages)


@_FUZZ
@given(st.binary(max_size=300))
def test_arbitrary_bytes_only_ever_raise_decode_error(data):
    _decode_or_reject(data)


@_FUZZ
@given(st.sampled_from([*ALL, _PACK]), st.data())
def test_mutated_messages_only_ever_raise_decode_error(seed, data):
    buf = bytearray(seed)
    for _ in range(data.draw(st.integers(1, 6))):
        at = data.draw(st.integers(0, len(buf) - 1))
        buf[at : at + data.draw(st.integers(0, 2))] = data.draw(st.binary(max_size=2))
    _decode_or_reject(bytes(buf))


@_FUZZ
@given(st.binary(min_size=900, max_size=1100), st.integers(0, 30))
def test_arbitrary_structs_only_ever_raise_decode_error(blob, ones):
    blob = bytearray(blob)
    blob[892 : 892 + ones] = b"\x01" * len(blob[892 : 892 + ones])  # mark parts valid
    try:
        uas = odid.decode_uas_data(bytes(blob))
    except DecodeError:
        return
    assert isinstance(uas, odid.UasData)
