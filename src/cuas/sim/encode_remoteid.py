"""Remote ID encoders: ASTM F3411 messages for ``odid_frames``, decoder JSON for ``dragonsync``.

The 25-byte messages follow F3411-22a §5.4.5 (layout and scalings as in opendroneid-core-c
``opendroneid.h``; all little-endian, protocol version 2 in the header's low nibble):

    Basic ID        b0 0x02 | b1 [7..4] ID type [3..0] UA type | b2-21 UAS ID | b22-24 0
    Location/Vector b0 0x12 | b1 [7..4] status [2] height type [1] E/W [0] speed mult.
                    b2 direction (0-179, +180 if E/W) | b3 speed | b4 vertical speed int8
                    b5-8 lat, b9-12 lon int32 x 1e-7 deg | b13-14 pressure, b15-16 geodetic
                    altitude, b17-18 height: uint16 (m + 1000) / 0.5 | b19 [7..4] vertical
                    [3..0] horizontal accuracy | b20 [7..4] baro [3..0] speed accuracy
                    b21-22 tenths of s since the UTC hour | b23 [3..0] time accuracy x 0.1 s
    System          b0 0x42 | b1 [4..2] classification [1..0] operator location type
                    b2-9 operator lat/lon | b10-11 area count | b12 radius x 10 m
                    b13-14 ceiling, b15-16 floor | b17 EU category/class | b18-19 operator
                    altitude | b20-23 s since 2019-01-01 UTC | b24 0
    Operator ID     b0 0x52 | b1 type (0) | b2-21 ID | b22-24 0
    Message Pack    b0 0xF2 | b1 25 | b2 count | count x 25 bytes

Fields the simulation does not know are sent as the standard's "unknown": pressure
altitude and height raw 0 (-1000 m), baro accuracy 0, EU classification undeclared. Values
are rounded to the nearest step of their field and clamped to its range.

``odid_frames`` frames are a 2-byte pcap link type and the packet: 147 (USER0) with the
bare pack, or 127 (radiotap + 802.11 Beacon) with the pack in the ASTM vendor IE
``DD len FA:0B:BC 0D counter pack``. ``dragonsync`` frames are what the WarDragon/DroneID
``zmq_decoder`` publishes: one decoded message per frame, a list of one block plus the MAC,
values carried as strings with units, quantised exactly as the F3411 fields were.

A receiver hears only broadcasters, and every broadcaster sends an ID: observations
without ``rid_serial`` are not encoded.
"""

from __future__ import annotations

import json
import math
import struct
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

from cuas.sim.encode_common import EncoderState, Observation, SensorSpec, clamp, due, stable_bits

if TYPE_CHECKING:
    from collections.abc import Sequence

MESSAGE_SIZE = 25
PROTOCOL_VERSION = 2  # F3411-22a
TYPE_BASIC_ID, TYPE_LOCATION, TYPE_SYSTEM, TYPE_OPERATOR_ID, TYPE_PACK = 0, 1, 4, 5, 0xF
ID_TYPE_SERIAL = 1  # ANSI/CTA-2063-A
UA_TYPE_MULTIROTOR = 2  # helicopter or multirotor
STATUS_AIRBORNE = 2
OPERATOR_LOCATION_LIVE_GNSS = 1
EPOCH_2019_UNIX = 1_546_300_800
LINKTYPE_IEEE802_11_RADIOTAP = 127
LINKTYPE_USER0 = 147
ASTM_OUI = b"\xfa\x0b\xbc"
ODID_APP_CODE = 0x0D
SPEED_STEP_LOW_MPS = 0.25  # multiplier 0
SPEED_STEP_HIGH_MPS = 0.75  # multiplier 1, above 255 x 0.25 = 63.75 m/s
SPEED_HIGH_BASE_MPS = 63.75
VERTICAL_STEP_MPS = 0.5
VERTICAL_MAX_MPS = 62.0
LATLON_STEP_DEG = 1e-7
ALT_STEP_M = 0.5
ALT_OFFSET_M = 1000.0
WIFI_CHANNEL_6_MHZ = 2437


@dataclass(frozen=True)
class LocationFields:
    """A Location/Vector message's fields as raw integers, and the values they stand for."""

    direction_raw: int  # degrees clockwise from true north, 0-359
    speed_raw: int
    speed_multiplier: int
    vertical_raw: int  # int8
    lat_raw: int
    lon_raw: int
    geodetic_alt_raw: int
    timestamp_raw: int  # tenths of a second since the UTC hour

    @property
    def speed_mps(self) -> float:
        if self.speed_multiplier:
            return self.speed_raw * SPEED_STEP_HIGH_MPS + SPEED_HIGH_BASE_MPS
        return self.speed_raw * SPEED_STEP_LOW_MPS

    @property
    def vertical_mps(self) -> float:
        return self.vertical_raw * VERTICAL_STEP_MPS

    @property
    def geodetic_alt_m(self) -> float:
        return self.geodetic_alt_raw * ALT_STEP_M - ALT_OFFSET_M


def altitude_raw(alt_m: float) -> int:
    """uint16 (m + 1000) / 0.5, kept above raw 0, which is F3411's 'invalid' (-1000 m)."""
    return clamp(round((alt_m + ALT_OFFSET_M) / ALT_STEP_M), 1, 0xFFFF)


def latlon_raw(deg: float) -> int:
    return round(deg / LATLON_STEP_DEG)


def location_fields(obs: Observation) -> LocationFields:
    """Quantise an observation to the Location/Vector fields (nearest step of each)."""
    east, north, up = obs.vel_enu_mps
    speed = math.hypot(east, north)
    direction = round(math.degrees(math.atan2(east, north)) % 360.0) % 360
    if speed < SPEED_HIGH_BASE_MPS - SPEED_STEP_LOW_MPS / 2:
        speed_raw, multiplier = round(speed / SPEED_STEP_LOW_MPS), 0
    else:  # 254 is the largest value; 255 means unknown
        speed_raw = clamp(round((speed - SPEED_HIGH_BASE_MPS) / SPEED_STEP_HIGH_MPS), 0, 254)
        multiplier = 1
    limit = round(VERTICAL_MAX_MPS / VERTICAL_STEP_MPS)
    return LocationFields(
        direction_raw=direction,
        speed_raw=speed_raw,
        speed_multiplier=multiplier,
        vertical_raw=clamp(round(up / VERTICAL_STEP_MPS), -limit, limit),
        lat_raw=latlon_raw(obs.lat_deg),
        lon_raw=latlon_raw(obs.lon_deg),
        geodetic_alt_raw=altitude_raw(obs.alt_m),
        timestamp_raw=hour_tenths(obs.t_unix),
    )


def hour_tenths(t_unix: float) -> int:
    """F3411 Location timestamp: tenths of a second since the full UTC hour, 0-35999; it
    rolls over to 0 at the hour (the receiver takes the hour from its own clock)."""
    return round(t_unix * 10) % 36_000


def _header(message_type: int) -> int:
    return message_type << 4 | PROTOCOL_VERSION


def _ascii20(text: str) -> bytes:
    return text.encode("ascii", "replace")[:20].ljust(20, b"\x00")


def basic_id_message(
    uas_id: str, id_type: int = ID_TYPE_SERIAL, ua_type: int = UA_TYPE_MULTIROTOR
) -> bytes:
    return struct.pack("<BB20s3x", _header(TYPE_BASIC_ID), id_type << 4 | ua_type, _ascii20(uas_id))


def location_message(
    loc: LocationFields,
    horizontal_accuracy: int = 10,  # < 10 m (F3411 Table 8 category)
    vertical_accuracy: int = 4,  # < 10 m
    speed_accuracy: int = 3,  # < 1 m/s
    timestamp_accuracy_tenths: int = 2,
) -> bytes:
    direction = loc.direction_raw
    east_west = direction >= 180
    flags = STATUS_AIRBORNE << 4 | east_west << 1 | loc.speed_multiplier
    return struct.pack(
        "<BBBBbiiHHHBBHBx",
        _header(TYPE_LOCATION),
        flags,  # height type 0 (over take-off), bit 3 reserved
        direction - 180 if east_west else direction,
        loc.speed_raw,
        loc.vertical_raw,
        loc.lat_raw,
        loc.lon_raw,
        0,  # pressure altitude: unknown
        loc.geodetic_alt_raw,
        0,  # height over take-off: unknown
        vertical_accuracy << 4 | horizontal_accuracy,
        speed_accuracy,  # baro accuracy (high nibble) unknown
        loc.timestamp_raw,
        timestamp_accuracy_tenths,
    )


def system_message(pilot_lat_deg: float, pilot_lon_deg: float, t_unix: float) -> bytes:
    """Live-GNSS operator position; classification undeclared; one area of radius 0."""
    return struct.pack(
        "<BBiiHBHHBHIx",
        _header(TYPE_SYSTEM),
        OPERATOR_LOCATION_LIVE_GNSS,  # classification type 0: undeclared
        latlon_raw(pilot_lat_deg),
        latlon_raw(pilot_lon_deg),
        1,  # area count
        0,  # area radius x 10 m
        0,  # area ceiling: unknown
        0,  # area floor: unknown
        0,  # EU category / class: undeclared
        0,  # operator altitude: unknown
        max(int(t_unix) - EPOCH_2019_UNIX, 0),
    )


def operator_id_message(operator_id: str) -> bytes:
    return struct.pack("<BB20s3x", _header(TYPE_OPERATOR_ID), 0, _ascii20(operator_id))


def message_pack(messages: Sequence[bytes]) -> bytes:
    if not 1 <= len(messages) <= 9 or any(len(m) != MESSAGE_SIZE for m in messages):
        raise ValueError("a message pack holds 1-9 messages of 25 bytes")
    return bytes([_header(TYPE_PACK), MESSAGE_SIZE, len(messages)]) + b"".join(messages)


def broadcaster_mac(serial: str) -> str:
    """A locally administered unicast MAC derived from the serial (stable across runs)."""
    octets = stable_bits(f"mac:{serial}", 48).to_bytes(6, "big")
    first = (octets[0] | 0x02) & 0xFE  # locally administered, unicast
    return ":".join(f"{b:02x}" for b in bytes([first]) + octets[1:])


def beacon_packet(mac: str, counter: int, pack: bytes, rssi_dbm: float | None) -> bytes:
    """Radiotap (channel, dBm signal) + 802.11 Beacon carrying the ASTM vendor IE."""
    signal = clamp(round(rssi_dbm if rssi_dbm is not None else -60.0), -128, 127)
    # radiotap v0: present bits 3 (channel: u16 MHz, u16 flags; 2-aligned) and 5 (int8 dBm)
    present = 1 << 3 | 1 << 5
    radiotap = struct.pack("<BBHIHHb", 0, 0, 13, present, WIFI_CHANNEL_6_MHZ, 0x00A0, signal)
    addr = bytes.fromhex(mac.replace(":", ""))
    header = b"\x80\x00\x00\x00" + b"\xff" * 6 + addr + addr + b"\x00\x00"  # FC, dur, A1-3, seq
    fixed = bytes(8) + struct.pack("<HH", 100, 0x0401)  # timestamp, 100 TU, ESS + short slot
    ssid = b"\x00\x00"  # hidden SSID element
    rates = b"\x01\x01\x82"  # supported rates: 1 Mb/s basic
    vendor = ASTM_OUI + bytes([ODID_APP_CODE, counter & 0xFF]) + pack
    return radiotap + header + fixed + ssid + rates + bytes([0xDD, len(vendor)]) + vendor


def _pack_for(obs: Observation, serial: str, accuracy: dict[str, int]) -> bytes:
    messages = [
        basic_id_message(serial, ID_TYPE_SERIAL, UA_TYPE_MULTIROTOR),
        location_message(location_fields(obs), **accuracy),
    ]
    if obs.pilot is not None:
        messages.append(system_message(*obs.pilot, obs.t_unix))
    if obs.operator_id:
        messages.append(operator_id_message(obs.operator_id))
    return message_pack(messages)


def encode_odid_frames(
    spec: SensorSpec,
    observations: list[Observation],
    state: EncoderState,
    *,
    transport: Literal["user0", "beacon"] = "user0",
    horizontal_accuracy: int = 10,
    vertical_accuracy: int = 4,
) -> list[bytes]:
    """One Message Pack per broadcaster per scan (Basic ID, Location, System, Operator ID)."""
    accuracy = {
        "horizontal_accuracy": horizontal_accuracy,
        "vertical_accuracy": vertical_accuracy,
    }
    frames = []
    counters: dict[str, int] = state.setdefault("odid_counters", {})
    for obs in observations:
        serial = obs.rid_serial
        if serial is None:
            continue
        pack = _pack_for(obs, serial, accuracy)
        if transport == "user0":
            frames.append(struct.pack(">H", LINKTYPE_USER0) + pack)
            continue
        counter = counters.get(serial, 0)
        counters[serial] = (counter + 1) & 0xFF
        packet = beacon_packet(broadcaster_mac(serial), counter, pack, obs.rssi_dbm)
        frames.append(struct.pack(">H", LINKTYPE_IEEE802_11_RADIOTAP) + packet)
    return frames


# --- DragonSync / DroneID zmq_decoder JSON -------------------------------------------------


def _with_unit(value: float, unit: str) -> str:
    return f"{value:.2f} {unit}"


def _location_block(loc: LocationFields) -> dict[str, Any]:
    t_hour_s = loc.timestamp_raw / 10.0
    direction = loc.direction_raw
    return {
        "Location/Vector Message": {
            "protocol_version": "F3411.22",
            "op_status": "Airborne",
            "height_type": "Above Takeoff",
            "ew_dir_segment": "East" if direction < 180 else "West",
            "speed_multiplier": "0.75" if loc.speed_multiplier else "0.25",
            "direction": direction,
            "speed": _with_unit(loc.speed_mps, "m/s"),
            "vert_speed": _with_unit(loc.vertical_mps, "m/s"),
            "latitude": f"{loc.lat_raw / 1e7:.7f}",
            "longitude": f"{loc.lon_raw / 1e7:.7f}",
            "pressure_altitude": "Undefined",
            "geodetic_altitude": _with_unit(loc.geodetic_alt_m, "m"),
            "height_agl": "Undefined",
            "vertical_accuracy": "<10 m",
            "horizontal_accuracy": "<10 m",
            "baro_accuracy": "Unknown",
            "speed_accuracy": "<1 m/s",
            "timestamp": f"{int(t_hour_s // 60)} min {t_hour_s % 60:.1f} s",
            "timestamp_accuracy": "0.2 s",
        }
    }


def _identity_blocks(obs: Observation, serial: str) -> list[dict[str, Any]]:
    blocks: list[dict[str, Any]] = [
        {
            "Basic ID": {
                "protocol_version": "F3411.22",
                "id_type": "Serial Number (ANSI/CTA-2063-A)",
                "ua_type": "Helicopter (or Multirotor)",
                "id": serial,
            }
        }
    ]
    if obs.operator_id:
        blocks.append(
            {
                "Operator ID Message": {
                    "protocol_version": "F3411.22",
                    "operator_id_type": "Operator ID",
                    "operator_id": obs.operator_id,
                }
            }
        )
    if obs.pilot is not None:
        blocks.append(
            {
                "System Message": {
                    "operator_location_type": "Live GNSS",
                    "classification_type": "Undeclared",
                    "latitude": latlon_raw(obs.pilot[0]) / 1e7,
                    "longitude": latlon_raw(obs.pilot[1]) / 1e7,
                    "area_count": 1,
                    "area_radius": 0,
                    "area_ceiling": "Undefined",
                    "area_floor": "Undefined",
                    "geodetic_altitude": "Undefined",
                }
            }
        )
    return blocks


def encode_dragonsync(
    spec: SensorSpec,
    observations: list[Observation],
    state: EncoderState,
    *,
    id_interval_s: float = 3.0,
) -> list[bytes]:
    """Location every scan; Basic ID, Operator ID and System every ``id_interval_s``."""
    frames = []
    id_sent: dict[str, float] = state.setdefault("id_sent_unix", {})
    for obs in observations:
        serial = obs.rid_serial
        if serial is None:
            continue
        mac = broadcaster_mac(serial)
        blocks = []
        if due(id_sent, serial, obs.t_unix, id_interval_s):
            blocks += _identity_blocks(obs, serial)  # identity first, as a receiver's burst arrives
        blocks.append(_location_block(location_fields(obs)))
        radio = {"MAC": mac} if obs.rssi_dbm is None else {"MAC": mac, "RSSI": round(obs.rssi_dbm)}
        frames += [json.dumps([{**block, **radio}]).encode() for block in blocks]
    return frames
