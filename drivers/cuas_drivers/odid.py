"""ASTM F3411 / ASD-STAN EN 4709-002 Remote ID: pure decoders for the 25-byte messages.

Bytes in, frozen records out, in the manner of pyModeS: no state, no I/O. Every message is
25 bytes, little-endian; byte 0 is the header (F3411-22a §5.4.5, opendroneid.h):

    byte 0   [7..4] message type      [3..0] protocol version (0 F3411-19, 1 F3411-20, 2 -22a)
             0 Basic ID, 1 Location/Vector, 2 Authentication, 3 Self-ID, 4 System,
             5 Operator ID, 0xF Message Pack

    Basic ID        b1 [7..4] ID type [3..0] UA type | b2-21 UAS ID, ASCII, NUL-padded | b22-24 -
    Location/Vector b1 [7..4] status [2] height type [1] E/W segment [0] speed multiplier
                    b2 direction | b3 speed | b4 vertical speed (int8) | b5-8 lat | b9-12 lon
                    (int32) | b13-14 pressure alt | b15-16 geodetic alt | b17-18 height (uint16)
                    b19 [7..4] vertical [3..0] horizontal accuracy | b20 [7..4] baro [3..0]
                    speed accuracy | b21-22 timestamp (uint16) | b23 [3..0] timestamp accuracy
    Authentication  b1 [7..4] auth type [3..0] page | page 0: b2 last page index, b3 length,
                    b4-7 timestamp (uint32), b8-24 17 data bytes | pages 1-15: b2-24 23 bytes
    Self-ID         b1 description type | b2-24 23 ASCII characters
    System          b1 [4..2] classification type [1..0] operator location type
                    b2-9 operator lat/lon (int32) | b10-11 area count | b12 area radius
                    b13-14 area ceiling | b15-16 area floor | b17 [7..4] EU category [3..0] EU
                    class | b18-19 operator geodetic alt | b20-23 timestamp (uint32) | b24 -
    Operator ID     b1 operator ID type | b2-21 operator ID, ASCII | b22-24 -
    Message Pack    b0 0xF? | b1 single-message size (25) | b2 count N (1-9) | N x 25 bytes

Scalings and "unknown" sentinels (F3411-22a Table 6/7, opendroneid.c encoders): lat/lon
raw x 1e-7 deg, 0/0 = unknown; altitudes raw x 0.5 - 1000 m, raw 0 (-1000 m) = unknown;
direction 0-179 (+180 if the E/W bit is set), 361 = unknown; speed raw x 0.25 m/s, or
raw x 0.75 + 63.75 m/s with the multiplier bit, 255 = unknown; vertical speed raw x 0.5 m/s,
63 m/s = unknown; timestamp tenths of a second since the full UTC hour, 0xFFFF = unknown;
Authentication and System timestamps are seconds since 2019-01-01 00:00 UTC, 0 = not given.

Values the standard calls unknown become None here. Problems in an otherwise usable message
(an invalid serial, a position out of range) are named in the record's ``flags``. A frame
that is not an F3411 message at all raises DecodeError.

The second decoder, :func:`decode_uas_data`, reads ``ODID_UAS_Data``: the C struct of
opendroneid-core-c that DroneScout-style receivers publish in base64. Its layout is drawn
beside it.
"""

from __future__ import annotations

import re
import struct
from dataclasses import dataclass
from enum import IntEnum

from cuas.driver import DecodeError

MESSAGE_SIZE = 25
PACK_MAX_MESSAGES = 9
EPOCH_2019_UNIX = 1_546_300_800  # 2019-01-01 00:00:00 UTC, origin of Auth/System timestamps
HOUR_S = 3600.0


class MessageType(IntEnum):
    BASIC_ID = 0
    LOCATION = 1
    AUTH = 2
    SELF_ID = 3
    SYSTEM = 4
    OPERATOR_ID = 5
    PACK = 0xF


class IdType(IntEnum):
    NONE = 0
    SERIAL_NUMBER = 1  # ANSI/CTA-2063-A
    CAA_REGISTRATION_ID = 2
    UTM_ASSIGNED_UUID = 3
    SPECIFIC_SESSION_ID = 4


class Status(IntEnum):
    UNDECLARED = 0
    GROUND = 1
    AIRBORNE = 2
    EMERGENCY = 3
    REMOTE_ID_SYSTEM_FAILURE = 4


class OperatorLocationType(IntEnum):
    TAKEOFF = 0
    LIVE_GNSS = 1
    FIXED = 2


# Accuracy categories as 95 % bounds (F3411-22a Table 8-10; opendroneid.h enums)
HORIZONTAL_ACCURACY_M = {
    1: 18_520.0,  # < 10 NM
    2: 7_408.0,  # < 4 NM
    3: 3_704.0,  # < 2 NM
    4: 1_852.0,  # < 1 NM
    5: 926.0,  # < 0.5 NM
    6: 555.6,  # < 0.3 NM
    7: 185.2,  # < 0.1 NM
    8: 92.6,  # < 0.05 NM
    9: 30.0,
    10: 10.0,
    11: 3.0,
    12: 1.0,
}
VERTICAL_ACCURACY_M = {1: 150.0, 2: 45.0, 3: 25.0, 4: 10.0, 5: 3.0, 6: 1.0}
SPEED_ACCURACY_MPS = {1: 10.0, 2: 3.0, 3: 1.0, 4: 0.3}

# ANSI/CTA-2063-A: 4-character manufacturer code, 1 length character (1-9, A-F = 10-15), then
# that many serial characters; digits and upper-case letters except O and I throughout.
_CTA_CHARS = "0-9A-HJ-NP-Z"
_CTA_SERIAL = re.compile(f"[{_CTA_CHARS}]{{4}}([1-9A-F])([{_CTA_CHARS}]+)")


@dataclass(frozen=True)
class BasicId:
    protocol_version: int | None  # None: the source does not say (ODID_UAS_Data)
    id_type: int
    ua_type: int
    uas_id: str | None
    flags: tuple[str, ...] = ()


@dataclass(frozen=True)
class Location:
    protocol_version: int | None
    status: int
    height_over_ground: bool  # False: height is over the take-off point
    direction_deg: float | None  # track over ground, clockwise from true north
    speed_mps: float | None
    vertical_speed_mps: float | None  # positive up
    lat_deg: float | None
    lon_deg: float | None
    pressure_alt_m: float | None
    geodetic_alt_m: float | None  # WGS84 height above the ellipsoid
    height_m: float | None
    horizontal_accuracy: int  # category, see HORIZONTAL_ACCURACY_M; 0 unknown
    vertical_accuracy: int
    baro_accuracy: int
    speed_accuracy: int
    timestamp_s: float | None  # seconds since the full UTC hour
    timestamp_accuracy_s: float | None
    flags: tuple[str, ...] = ()

    @property
    def horizontal_accuracy_m(self) -> float | None:
        return HORIZONTAL_ACCURACY_M.get(self.horizontal_accuracy)

    @property
    def vertical_accuracy_m(self) -> float | None:
        return VERTICAL_ACCURACY_M.get(self.vertical_accuracy)

    @property
    def baro_accuracy_m(self) -> float | None:
        return VERTICAL_ACCURACY_M.get(self.baro_accuracy)

    @property
    def speed_accuracy_mps(self) -> float | None:
        return SPEED_ACCURACY_MPS.get(self.speed_accuracy)


@dataclass(frozen=True)
class Auth:
    protocol_version: int | None
    auth_type: int
    page: int
    last_page_index: int | None  # page 0 only
    length: int | None  # page 0 only: bytes of authentication data over all pages
    timestamp_unix: float | None  # page 0 only
    data: bytes
    flags: tuple[str, ...] = ()


@dataclass(frozen=True)
class SelfId:
    protocol_version: int | None
    description_type: int  # 0 text, 1 emergency, 2 extended status
    description: str | None
    flags: tuple[str, ...] = ()


@dataclass(frozen=True)
class System:
    protocol_version: int | None
    operator_location_type: int
    classification_type: int  # 0 undeclared, 1 EU
    operator_lat_deg: float | None
    operator_lon_deg: float | None
    area_count: int
    area_radius_m: float
    area_ceiling_m: float | None
    area_floor_m: float | None
    eu_category: int | None  # 1 open, 2 specific, 3 certified; None unless EU classified
    eu_class: int | None  # 0..6 for class C0..C6; None unless EU classified and declared
    operator_alt_m: float | None
    timestamp_unix: float | None
    flags: tuple[str, ...] = ()


@dataclass(frozen=True)
class OperatorId:
    protocol_version: int | None
    operator_id_type: int
    operator_id: str | None
    flags: tuple[str, ...] = ()


@dataclass(frozen=True)
class Reserved:
    """A message of a type F3411 reserves (6-14): kept so one does not spoil a pack."""

    protocol_version: int | None
    message_type: int
    raw: bytes


Message = BasicId | Location | Auth | SelfId | System | OperatorId | Reserved


def is_cta2063_serial(serial: str) -> bool:
    """True if ``serial`` is a well-formed ANSI/CTA-2063-A serial number."""
    match = _CTA_SERIAL.fullmatch(serial)
    return match is not None and int(match.group(1), 16) == len(match.group(2))


def location_time_unix(timestamp_s: float, t_rx_unix: float) -> float:
    """The instant a Location timestamp (seconds past some UTC hour) names, nearest t_rx.

    F3411 sends only the time within the hour, so the hour comes from the receive time; the
    nearest candidate is taken, which is right whenever the clocks agree within 30 minutes.
    """
    hour_start = (t_rx_unix // HOUR_S) * HOUR_S
    candidates = (hour_start - HOUR_S, hour_start, hour_start + HOUR_S)
    return min((h + timestamp_s for h in candidates), key=lambda t: abs(t - t_rx_unix))


def _text(field: bytes, name: str) -> tuple[str | None, tuple[str, ...]]:
    """ASCII text, NUL padding removed; non-printable bytes become '?' and are flagged."""
    raw = field.split(b"\x00", 1)[0].rstrip(b" ")
    if not raw:
        return None, ()
    if all(0x20 <= b < 0x7F for b in raw):
        return raw.decode("ascii"), ()
    return "".join(chr(b) if 0x20 <= b < 0x7F else "?" for b in raw), (f"{name}_not_ascii",)


def _altitude_m(raw: int) -> float | None:
    """uint16 altitude: m = raw x 0.5 - 1000; raw 0 (-1000 m) means unknown."""
    return None if raw == 0 else raw * 0.5 - 1000.0


def _latlon(lat_raw: int, lon_raw: int, name: str) -> tuple[float | None, float | None, str | None]:
    """int32 x 1e-7 deg; 0/0 is unknown; out of range is flagged and dropped."""
    if lat_raw == 0 and lon_raw == 0:
        return None, None, None
    lat, lon = lat_raw / 1e7, lon_raw / 1e7  # division: the nearest double to the decimal
    if not (-90.0 <= lat <= 90.0 and -180.0 <= lon <= 180.0):
        return None, None, f"{name}_out_of_range"
    return lat, lon, None


def _timestamp_2019(raw: int) -> float | None:
    return None if raw == 0 else float(EPOCH_2019_UNIX + raw)


def _check(msg: bytes, expected: MessageType) -> int:
    if len(msg) != MESSAGE_SIZE:
        raise DecodeError(f"F3411 message is {len(msg)} bytes, expected {MESSAGE_SIZE}")
    if msg[0] >> 4 != expected:
        raise DecodeError(f"message type {msg[0] >> 4}, expected {expected.name}")
    return msg[0] & 0x0F


def decode_basic_id(msg: bytes) -> BasicId:
    version = _check(msg, MessageType.BASIC_ID)
    id_type, ua_type = msg[1] >> 4, msg[1] & 0x0F
    uas_id, flags = _text(msg[2:22], "uas_id")  # b2-21, 20 characters
    if id_type == IdType.SERIAL_NUMBER and uas_id is not None and not is_cta2063_serial(uas_id):
        flags += ("rid_serial_invalid",)
    return BasicId(version, id_type, ua_type, uas_id, flags)


def decode_location(msg: bytes) -> Location:
    version = _check(msg, MessageType.LOCATION)
    flags: list[str] = []
    b1 = msg[1]
    status, height_over_ground = b1 >> 4, bool(b1 & 0x04)
    east_west, multiplier = bool(b1 & 0x02), bool(b1 & 0x01)
    direction: float | None = msg[2] + (180 if east_west else 0)
    if direction == 361:
        direction = None
    elif direction >= 360:
        flags.append("direction_invalid")
        direction = None
    speed_raw = msg[3]
    if speed_raw == 255:
        speed = None
    elif multiplier:
        speed = speed_raw * 0.75 + 255 * 0.25  # above 63.75 m/s, in 0.75 m/s steps
    else:
        speed = speed_raw * 0.25
    vertical = struct.unpack_from("<b", msg, 4)[0] * 0.5
    if vertical == 63.0:
        vertical = None
    elif abs(vertical) > 62.0:
        flags.append("vertical_speed_invalid")
        vertical = None
    lat_raw, lon_raw, baro_raw, geo_raw, height_raw = struct.unpack_from("<iiHHH", msg, 5)
    lat, lon, bad = _latlon(lat_raw, lon_raw, "position")
    if bad:
        flags.append(bad)
    (ts_raw,) = struct.unpack_from("<H", msg, 21)
    timestamp: float | None = None
    if ts_raw != 0xFFFF:
        if ts_raw > 36_000:  # more than an hour of tenths: no time within an hour
            flags.append("timestamp_invalid")
        else:
            timestamp = ts_raw / 10.0
    ts_accuracy = msg[23] & 0x0F
    return Location(
        protocol_version=version,
        status=status,
        height_over_ground=height_over_ground,
        direction_deg=direction,
        speed_mps=speed,
        vertical_speed_mps=vertical,
        lat_deg=lat,
        lon_deg=lon,
        pressure_alt_m=_altitude_m(baro_raw),
        geodetic_alt_m=_altitude_m(geo_raw),
        height_m=_altitude_m(height_raw),
        horizontal_accuracy=msg[19] & 0x0F,
        vertical_accuracy=msg[19] >> 4,
        baro_accuracy=msg[20] >> 4,
        speed_accuracy=msg[20] & 0x0F,
        timestamp_s=timestamp,
        timestamp_accuracy_s=ts_accuracy * 0.1 if ts_accuracy else None,
        flags=tuple(flags),
    )


def decode_auth(msg: bytes) -> Auth:
    version = _check(msg, MessageType.AUTH)
    auth_type, page = msg[1] >> 4, msg[1] & 0x0F
    if page != 0:
        return Auth(version, auth_type, page, None, None, None, bytes(msg[2:25]))
    last_page, length, ts_raw = struct.unpack_from("<BBI", msg, 2)
    flags = ("auth_last_page_invalid",) if last_page > 15 else ()
    return Auth(
        version, auth_type, 0, last_page, length, _timestamp_2019(ts_raw), bytes(msg[8:25]), flags
    )


def decode_self_id(msg: bytes) -> SelfId:
    version = _check(msg, MessageType.SELF_ID)
    description, flags = _text(msg[2:25], "description")
    return SelfId(version, msg[1], description, flags)


def decode_system(msg: bytes) -> System:
    version = _check(msg, MessageType.SYSTEM)
    location_type, classification = msg[1] & 0x03, (msg[1] >> 2) & 0x07
    lat_raw, lon_raw, area_count, radius_raw, ceiling_raw, floor_raw = struct.unpack_from(
        "<iiHBHH", msg, 2
    )
    lat, lon, bad = _latlon(lat_raw, lon_raw, "operator_position")
    category = class_eu = None
    if classification == 1:  # EU: b17 high nibble category, low nibble class (1 = C0)
        category = (msg[17] >> 4) or None
        class_eu = (msg[17] & 0x0F) - 1 if msg[17] & 0x0F else None
    operator_alt_raw, ts_raw = struct.unpack_from("<HI", msg, 18)
    return System(
        protocol_version=version,
        operator_location_type=location_type,
        classification_type=classification,
        operator_lat_deg=lat,
        operator_lon_deg=lon,
        area_count=area_count,
        area_radius_m=radius_raw * 10.0,
        area_ceiling_m=_altitude_m(ceiling_raw),
        area_floor_m=_altitude_m(floor_raw),
        eu_category=category,
        eu_class=class_eu,
        operator_alt_m=_altitude_m(operator_alt_raw),
        # F3411-19 (version 0) left b20-23 reserved: zero, so None below
        timestamp_unix=_timestamp_2019(ts_raw),
        flags=(bad,) if bad else (),
    )


def decode_operator_id(msg: bytes) -> OperatorId:
    version = _check(msg, MessageType.OPERATOR_ID)
    operator_id, flags = _text(msg[2:22], "operator_id")
    return OperatorId(version, msg[1], operator_id, flags)


_DECODERS = {
    MessageType.BASIC_ID: decode_basic_id,
    MessageType.LOCATION: decode_location,
    MessageType.AUTH: decode_auth,
    MessageType.SELF_ID: decode_self_id,
    MessageType.SYSTEM: decode_system,
    MessageType.OPERATOR_ID: decode_operator_id,
}


def decode_message(msg: bytes) -> Message:
    """One 25-byte message of any single type (not a pack)."""
    if len(msg) != MESSAGE_SIZE:
        raise DecodeError(f"F3411 message is {len(msg)} bytes, expected {MESSAGE_SIZE}")
    kind = msg[0] >> 4
    if kind == MessageType.PACK:
        raise DecodeError("a message pack inside a message pack")
    decoder = _DECODERS.get(kind)
    if decoder is None:
        return Reserved(msg[0] & 0x0F, kind, bytes(msg))
    return decoder(msg)


def decode_message_pack(data: bytes) -> tuple[Message, ...]:
    """A Message Pack: header, single-message size 25, count 1-9, then the messages.

    Bytes after the declared messages (padding some transmitters add) are ignored.
    """
    if len(data) < 3:
        raise DecodeError(f"message pack of {len(data)} bytes has no header")
    if data[0] >> 4 != MessageType.PACK:
        raise DecodeError(f"message type {data[0] >> 4}, expected a message pack")
    size, count = data[1], data[2]
    if size != MESSAGE_SIZE:
        raise DecodeError(f"message pack single-message size {size}, expected {MESSAGE_SIZE}")
    if not 1 <= count <= PACK_MAX_MESSAGES:
        raise DecodeError(f"message pack count {count}, expected 1-{PACK_MAX_MESSAGES}")
    if len(data) < 3 + count * MESSAGE_SIZE:
        raise DecodeError(
            f"message pack of {count} messages needs {3 + count * MESSAGE_SIZE} bytes, "
            f"got {len(data)}"
        )
    return tuple(
        decode_message(data[3 + i * MESSAGE_SIZE : 3 + (i + 1) * MESSAGE_SIZE])
        for i in range(count)
    )


def decode_messages(data: bytes) -> tuple[Message, ...]:
    """A transport payload: one message, or a Message Pack (told apart by byte 0)."""
    if not data:
        raise DecodeError("empty F3411 payload")
    if data[0] >> 4 == MessageType.PACK:
        return decode_message_pack(data)
    if len(data) < MESSAGE_SIZE:
        raise DecodeError(f"F3411 message is {len(data)} bytes, expected {MESSAGE_SIZE}")
    return (decode_message(data[:MESSAGE_SIZE]),)


# --- ODID_UAS_Data: the C struct of opendroneid-core-c ---------------------------------
#
# opendroneid.h (BasicID[2], Auth[16], System with Timestamp), as compiled for a 64-bit or
# ARM EABI target: enums are int32, double is 8-aligned, natural padding. Offsets in bytes:
#
#   0 BasicID[2]  each 32: UAType i32 @0, IDType i32 @4, UASID char[21] @8, pad
#  64 Location    Status i32 @0, Direction f32 @4, SpeedHorizontal f32 @8, SpeedVertical
#                 f32 @12, Latitude f64 @16, Longitude f64 @24, AltitudeBaro f32 @32,
#                 AltitudeGeo f32 @36, HeightType i32 @40, Height f32 @44, HorizAccuracy @48,
#                 VertAccuracy @52, BaroAccuracy @56, SpeedAccuracy @60, TSAccuracy @64 (i32),
#                 TimeStamp f32 @68 (s since the hour); 72 bytes
# 136 Auth[16]    each 40: DataPage u8 @0, AuthType i32 @4, LastPageIndex u8 @8, Length u8 @9,
#                 Timestamp u32 @12, AuthData u8[24] @16
# 776 SelfID      DescType i32 @0, Desc char[24] @4; padded to 808
# 808 System      OperatorLocationType i32 @0, ClassificationType i32 @4, OperatorLatitude
#                 f64 @8, OperatorLongitude f64 @16, AreaCount u16 @24, AreaRadius u16 @26,
#                 AreaCeiling f32 @28, AreaFloor f32 @32, CategoryEU i32 @36, ClassEU i32 @40,
#                 OperatorAltitudeGeo f32 @44, Timestamp u32 @48; 56 bytes
# 864 OperatorID  OperatorIdType i32 @0, OperatorId char[21] @4; padded to 892
# 892 BasicIDValid u8[2], 894 LocationValid, 895 AuthValid u8[16], 911 SelfIDValid,
# 912 SystemValid, 913 OperatorIDValid; sizeof 920 (DroneScout sends 921: one extra byte)
#
# The fields hold decoded values in SI units with the same sentinels as the wire (361 deg,
# 255 m/s, 63 m/s, -1000 m, lat/lon 0, TimeStamp 0xFFFF).

UAS_DATA_MIN_BYTES = 914
UAS_DATA_MAX_BYTES = 1024
_UAS_BASIC = struct.Struct("<ii21s")
_UAS_LOCATION = struct.Struct("<ifffddffifiiiiif")
_UAS_AUTH = struct.Struct("<B3xiBBxxI24s")
_UAS_SELF_ID = struct.Struct("<i24s")
_UAS_SYSTEM = struct.Struct("<iiddHHffiifI")
_UAS_OPERATOR = struct.Struct("<i21s")
_OFF_BASIC, _OFF_LOCATION, _OFF_AUTH, _OFF_SELF_ID = 0, 64, 136, 776
_OFF_SYSTEM, _OFF_OPERATOR, _OFF_VALID = 808, 864, 892
_AUTH_PAGES = 16


@dataclass(frozen=True)
class UasData:
    """The messages an ``ODID_UAS_Data`` struct marks valid."""

    basic_ids: tuple[BasicId, ...]
    location: Location | None
    auth_pages: tuple[Auth, ...]
    self_id: SelfId | None
    system: System | None
    operator_id: OperatorId | None


def _enum(value: int, limit: int, name: str, flags: list[str]) -> int:
    if 0 <= value <= limit:
        return value
    flags.append(f"{name}_invalid")
    return 0


def _finite(value: float, low: float, high: float) -> float | None:
    """A struct float inside [low, high], else None (NaN, infinities and sentinels)."""
    return value if low <= value <= high else None


def _struct_latlon(lat: float, lon: float, name: str, flags: list[str]) -> tuple:
    if lat == 0.0 and lon == 0.0 or lat != lat or lon != lon:
        return None, None
    if not (-90.0 <= lat <= 90.0 and -180.0 <= lon <= 180.0):
        flags.append(f"{name}_out_of_range")
        return None, None
    return lat, lon


def _struct_alt(value: float) -> float | None:
    return _finite(value, -999.9, 31_767.5)  # -1000 m is F3411's "unknown"


def decode_uas_data(blob: bytes) -> UasData:
    """The valid parts of an opendroneid-core-c ``ODID_UAS_Data`` struct (layout above)."""
    if not UAS_DATA_MIN_BYTES <= len(blob) <= UAS_DATA_MAX_BYTES:
        raise DecodeError(
            f"ODID_UAS_Data is {len(blob)} bytes, expected {UAS_DATA_MIN_BYTES}-"
            f"{UAS_DATA_MAX_BYTES} (920 for opendroneid-core-c with 16 auth pages)"
        )
    valid = blob[_OFF_VALID:UAS_DATA_MIN_BYTES]
    basic_valid, location_valid, auth_valid = valid[0:2], valid[2], valid[3:19]
    self_id_valid, system_valid, operator_valid = valid[19], valid[20], valid[21]
    basic_ids = []
    for i in (0, 1):
        if not basic_valid[i]:
            continue
        ua_type, id_type, uas_id_raw = _UAS_BASIC.unpack_from(blob, _OFF_BASIC + 32 * i)
        flags: list[str] = []
        uas_id, text_flags = _text(uas_id_raw[:20], "uas_id")
        flags += text_flags
        id_type = _enum(id_type, 15, "id_type", flags)
        if id_type == IdType.SERIAL_NUMBER and uas_id and not is_cta2063_serial(uas_id):
            flags.append("rid_serial_invalid")
        basic_ids.append(
            BasicId(None, id_type, _enum(ua_type, 15, "ua_type", flags), uas_id, tuple(flags))
        )
    location = _struct_location(blob) if location_valid else None
    auth_pages = tuple(_struct_auth(blob, page) for page in range(_AUTH_PAGES) if auth_valid[page])
    self_id = None
    if self_id_valid:
        desc_type, desc_raw = _UAS_SELF_ID.unpack_from(blob, _OFF_SELF_ID)
        desc_flags: list[str] = []
        description, text_flags = _text(desc_raw[:23], "description")
        self_id = SelfId(
            None,
            _enum(desc_type, 255, "description_type", desc_flags),
            description,
            (*desc_flags, *text_flags),
        )
    system = _struct_system(blob) if system_valid else None
    operator_id = None
    if operator_valid:
        op_type, op_raw = _UAS_OPERATOR.unpack_from(blob, _OFF_OPERATOR)
        op_flags: list[str] = []
        op_id, text_flags = _text(op_raw[:20], "operator_id")
        operator_id = OperatorId(
            None, _enum(op_type, 255, "operator_id_type", op_flags), op_id, (*op_flags, *text_flags)
        )
    return UasData(tuple(basic_ids), location, auth_pages, self_id, system, operator_id)


def _struct_location(blob: bytes) -> Location:
    (
        status,
        direction,
        speed,
        vspeed,
        lat,
        lon,
        baro,
        geo,
        height_type,
        height,
        h_acc,
        v_acc,
        b_acc,
        s_acc,
        ts_acc,
        timestamp,
    ) = _UAS_LOCATION.unpack_from(blob, _OFF_LOCATION)
    flags: list[str] = []
    lat_deg, lon_deg = _struct_latlon(lat, lon, "position", flags)
    if not (0.0 <= timestamp <= HOUR_S or timestamp == 0xFFFF or timestamp != timestamp):
        flags.append("timestamp_invalid")
    return Location(
        protocol_version=None,
        status=_enum(status, 15, "status", flags),
        height_over_ground=height_type == 1,
        direction_deg=_finite(direction, 0.0, 359.999),
        speed_mps=_finite(speed, 0.0, 254.25),
        vertical_speed_mps=_finite(vspeed, -62.0, 62.0),
        lat_deg=lat_deg,
        lon_deg=lon_deg,
        pressure_alt_m=_struct_alt(baro),
        geodetic_alt_m=_struct_alt(geo),
        height_m=_struct_alt(height),
        horizontal_accuracy=_enum(h_acc, 15, "horizontal_accuracy", flags),
        vertical_accuracy=_enum(v_acc, 15, "vertical_accuracy", flags),
        baro_accuracy=_enum(b_acc, 15, "baro_accuracy", flags),
        speed_accuracy=_enum(s_acc, 15, "speed_accuracy", flags),
        timestamp_s=_finite(timestamp, 0.0, HOUR_S),
        timestamp_accuracy_s=ts_acc * 0.1 if 0 < ts_acc <= 15 else None,
        flags=tuple(flags),
    )


def _struct_auth(blob: bytes, page: int) -> Auth:
    data_page, auth_type, last_page, length, ts_raw, data = _UAS_AUTH.unpack_from(
        blob, _OFF_AUTH + 40 * page
    )
    flags: list[str] = []
    auth_type = _enum(auth_type, 15, "auth_type", flags)
    if data_page != 0:
        return Auth(None, auth_type, data_page & 0x0F, None, None, None, data[:23], tuple(flags))
    return Auth(
        None, auth_type, 0, last_page, length, _timestamp_2019(ts_raw), data[:17], tuple(flags)
    )


def _struct_system(blob: bytes) -> System:
    (
        location_type,
        classification,
        lat,
        lon,
        area_count,
        radius,
        ceiling,
        floor,
        category,
        class_eu,
        operator_alt,
        ts_raw,
    ) = _UAS_SYSTEM.unpack_from(blob, _OFF_SYSTEM)
    flags: list[str] = []
    lat_deg, lon_deg = _struct_latlon(lat, lon, "operator_position", flags)
    classification = _enum(classification, 7, "classification_type", flags)
    category = _enum(category, 15, "eu_category", flags)
    class_eu = _enum(class_eu, 15, "eu_class", flags)
    eu = classification == 1
    return System(
        protocol_version=None,
        operator_location_type=_enum(location_type, 3, "operator_location_type", flags),
        classification_type=classification,
        operator_lat_deg=lat_deg,
        operator_lon_deg=lon_deg,
        area_count=area_count,
        area_radius_m=float(radius),
        area_ceiling_m=_struct_alt(ceiling),
        area_floor_m=_struct_alt(floor),
        eu_category=(category or None) if eu else None,
        eu_class=(class_eu - 1 if class_eu else None) if eu else None,
        operator_alt_m=_struct_alt(operator_alt),
        timestamp_unix=_timestamp_2019(ts_raw),
        flags=tuple(flags),
    )
