"""ASTERIX encoder for simulated radars: CAT048 plots, or CAT062 system tracks (``asterix``).

Records are built with libasterix (MIT, generated from the asterix-specs definitions) for
the edition the sensor's driver options name (default CAT048 1.32, CAT062 1.21); every
field is handed over as its raw integer, rounded to the item's LSB and clamped to its
width here, so nothing wraps silently. Items, scalings (EUROCONTROL ASTERIX Part 4 CAT048,
Part 9 CAT062):

    CAT048  I010 SAC/SIC | I140 time of day 1/128 s | I020 TYP 1 single PSR (7 Mode S
            roll-call + PSR for a transponder) | I040 RHO 1/256 NM, THETA 360/2^16 deg
            from north | I110 3-D height 25 ft above mean sea level (a 3-D radar's height)
            | I090 flight level 1/4 FL (transponder Mode C) | I220 Mode S address |
            I161 track number (12 bits) | I170 CNF 0, RAD | I200 GSP 2^-14 NM/s, HDG
            360/2^16 deg (the last three for radar-local tracks only)
    CAT062  I010 | I070 time of track 1/128 s | I105 LAT/LON 180/2^25 deg | I185 VX/VY
            0.25 m/s | I040 track number | I080 MON 1, MRH 1, SRC 2 (3-D radar), CNF 0 |
            I130 geometric altitude 6.25 ft | I220 rate of climb 6.25 ft/min | I380 ADR

The height of a polar plot comes from its slant range and elevation on a spherical earth
of mean radius, h = sqrt(r^2 + R_s^2 + 2 r R_s sin(el)) - R with R_s = R + sensor height.
``height="i090"`` sends it as a flight level in I090 on every plot instead of I110, for a
radar profile whose decoder reads heights only there. Records go into one data block per
datagram, datagrams kept within one Ethernet frame (1472 octets of UDP payload).
"""

from __future__ import annotations

import math
from typing import Any, Literal

import asterix.generated as gen

from cuas.sim.encode_common import (
    EncoderState,
    Observation,
    SensorSpec,
    clamp,
    stable_bits,
)

EARTH_RADIUS_M = 6_371_008.8
NM_M = 1852.0
FT_M = 0.3048
DAY_S = 86_400
MAX_DATAGRAM_OCTETS = 1472  # UDP payload of a 1500-octet Ethernet frame
DEFAULT_EDITIONS = {48: "1.32", 62: "1.21"}
TYP_PSR = 1
TYP_MODE_S_ROLL_CALL_PSR = 7
RAD_COMBINED, RAD_PSR = 0, 1
SRC_3D_RADAR = 2
_EDITIONS: dict[int, dict[str, Any]] = {
    cat: {f"{c.cv_edition[0]}.{c.cv_edition[1]}": c for c in gen.manifest["CATS"][cat]}
    for cat in (48, 62)
}


def _unsigned(value: float, lsb: float, bits: int) -> int:
    return clamp(round(value / lsb), 0, (1 << bits) - 1)


def _signed(value: float, lsb: float, bits: int) -> int:
    """Two's complement of ``value / lsb`` rounded, clamped to the field's range."""
    half = 1 << (bits - 1)
    return clamp(round(value / lsb), -half, half - 1) & ((1 << bits) - 1)


def _angle(deg: float) -> int:
    """360/2^16 deg, wrapped into [0, 360)."""
    return round((deg % 360.0) / 360.0 * 65536) % 65536


def time_of_day(t_unix: float) -> int:
    """1/128 s since UTC midnight."""
    return round((t_unix % DAY_S) * 128) % (DAY_S * 128)


def height_from_polar(range_m: float, elevation_rad: float, sensor_alt_m: float) -> float:
    """Height of a target above the sphere, from slant range and elevation at the sensor."""
    rs = EARTH_RADIUS_M + sensor_alt_m
    return math.sqrt(range_m**2 + rs**2 + 2 * range_m * rs * math.sin(elevation_rad)) - (
        EARTH_RADIUS_M
    )


def _edition(spec: SensorSpec, category: int) -> Any:
    editions = spec.options.get("editions") or {}
    name = editions.get(category, editions.get(str(category), DEFAULT_EDITIONS[category]))
    return _EDITIONS[category][name]


def _source(spec: SensorSpec) -> tuple[int, int]:
    """SAC/SIC: the first of the driver's accepted ``sources``, else derived from the id."""
    sources = spec.options.get("sources")
    if sources:
        sac, sic = str(sources[0]).split("/")
        return int(sac), int(sic)
    return 0, stable_bits(f"sic:{spec.id}", 8)


def _cat048(
    obs: Observation, spec: SensorSpec, source: tuple[int, int], height: str
) -> dict[str, Any] | None:
    if obs.range_m is None or obs.azimuth_rad is None:
        return None
    north_offset_deg = float(spec.options.get("north_offset_deg", 0.0))
    transponder = obs.icao24 is not None
    typ = TYP_MODE_S_ROLL_CALL_PSR if transponder else TYP_PSR
    record: dict[str, Any] = {
        "010": (("SAC", source[0]), ("SIC", source[1])),
        "140": time_of_day(obs.t_unix),
        "020": ((("TYP", typ), ("SIM", 0), ("RDP", 0), ("SPI", 0), ("RAB", 0), None),),
        "040": (
            ("RHO", _unsigned(obs.range_m / NM_M, 1 / 256, 16)),
            ("THETA", _angle(math.degrees(obs.azimuth_rad) - north_offset_deg)),
        ),
    }
    height_m = None
    if obs.elevation_rad is not None and spec.position is not None:
        sensor_alt_m = spec.position.alt_m or 0.0
        height_m = height_from_polar(obs.range_m, obs.elevation_rad, sensor_alt_m)
    if height_m is not None and height == "i110":
        record["110"] = (0, ("3DH", _signed(height_m / FT_M, 25.0, 14)))
    flight_level_m = obs.alt_m if transponder else (height_m if height == "i090" else None)
    if flight_level_m is not None:
        fl = _signed(flight_level_m / FT_M / 100, 0.25, 14)
        record["090"] = (("V", 0), ("G", 0), ("FL", fl))
    if obs.icao24 is not None:
        record["220"] = int(obs.icao24, 16)
    if obs.sensor_track_id is not None:
        east, north, _ = obs.vel_enu_mps
        heading_deg = math.degrees(math.atan2(east, north)) - north_offset_deg
        rad = RAD_COMBINED if transponder else RAD_PSR
        record["161"] = (0, ("TRN", obs.sensor_track_id % 4096))
        record["170"] = ((("CNF", 0), ("RAD", rad), ("DOU", 0), ("MAH", 0), ("CDM", 0), None),)
        record["200"] = (
            ("GSP", _unsigned(math.hypot(east, north) / NM_M, 2**-14, 16)),
            ("HDG", _angle(heading_deg)),
        )
    return record


def _track_number(obs: Observation, state: EncoderState) -> int:
    """The sensor's track number, else one kept per object (clutter gets a new one)."""
    if obs.sensor_track_id is not None:
        return obs.sensor_track_id % 65536
    numbers: dict[str, int] = state.setdefault("track_numbers", {})
    next_number = state.get("next_track_number", 1)
    key = obs.object_id if obs.object_id is not None else f"clutter-{next_number}"
    if key not in numbers:
        numbers[key] = next_number
        state["next_track_number"] = next_number % 65535 + 1
    return numbers[key]


def _cat062(obs: Observation, state: EncoderState, source: tuple[int, int]) -> dict[str, Any]:
    east, north, up = obs.vel_enu_mps
    lsb_deg = 180 / 2**25
    record: dict[str, Any] = {
        "010": (("SAC", source[0]), ("SIC", source[1])),
        "070": time_of_day(obs.t_unix),
        "105": (
            ("LAT", _signed(obs.lat_deg, lsb_deg, 32)),
            ("LON", _signed(obs.lon_deg, lsb_deg, 32)),
        ),
        "185": (("VX", _signed(east, 0.25, 16)), ("VY", _signed(north, 0.25, 16))),
        "040": _track_number(obs, state),
        "080": ((("MON", 1), ("SPI", 0), ("MRH", 1), ("SRC", SRC_3D_RADAR), ("CNF", 0), None),),
        "130": _signed(obs.alt_m / FT_M, 6.25, 16),
        "220": _signed(up / FT_M * 60, 6.25, 16),
    }
    if obs.icao24 is not None:
        record["380"] = {"ADR": int(obs.icao24, 16)}
    return record


def _datagrams(cls: Any, records: list[Any]) -> list[bytes]:
    """Records into data blocks of at most one datagram each (3 octets CAT + LEN first)."""
    out: list[bytes] = []
    batch: list[Any] = []
    size = 3
    for record in records:
        octets = len(record.unparse().to_bytes())
        if batch and size + octets > MAX_DATAGRAM_OCTETS:
            out.append(cls.create(batch).unparse().to_bytes())
            batch, size = [], 3
        batch.append(record)
        size += octets
    if batch:
        out.append(cls.create(batch).unparse().to_bytes())
    return out


def encode_asterix(
    spec: SensorSpec,
    observations: list[Observation],
    state: EncoderState,
    *,
    category: Literal[48, 62] = 48,
    height: Literal["i110", "i090"] = "i110",
) -> list[bytes]:
    """One scan as CAT048 plots (polar observations) or CAT062 tracks, one block a datagram."""
    cls = _edition(spec, category)
    source = _source(spec)
    records = []
    for obs in observations:
        fields = (
            _cat048(obs, spec, source, height) if category == 48 else _cat062(obs, state, source)
        )
        if fields is not None:
            records.append(cls.cv_record.create(fields))
    return _datagrams(cls, records)
