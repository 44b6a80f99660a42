"""ASTERIX CAT062, SDPS system tracks: one fused track per record, in WGS84.

The items read, with their FRN in the UAP (editions 1.16-1.21), octets and scaling:

    FRN  item   octets  field                          scale (Part 9, CAT062)
    1    I010   2       SAC | SIC                      data source
    4    I070   3       time of track information      1/128 s since UTC midnight
    5    I105   8       LAT (32) | LON (32)            180/2^25 deg, two's complement
    7    I185   4       VX (16) | VY (16)              0.25 m/s, two's complement, east | north
    11   I380   1+      compound; subfield ADR         24-bit target (Mode S) address
    12   I040   2       track number                   16 bits
    13   I080   1+      MON SPI MRH SRC(3) CNF FX      track status; ext. 1: SIM TSE TSB FPC AFF
                                                       STP KOS FX. MRH 1 = geometric altitude
                                                       more reliable than Mode C; SRC = source
                                                       of I130 (0 none, 1 GNSS, 2 3-D radar,
                                                       3 triangulation, 4 height from coverage,
                                                       5 speed look-up, 6 default height)
    17   I136   2       measured flight level          1/4 FL, two's complement
    18   I130   2       geometric altitude             6.25 ft, two's complement (above the
                                                       WGS84 ellipsoid)
    20   I220   2       rate of climb/descent          6.25 ft/min, two's complement
    24   I500   1+      compound: APC X|Y (16|16)      0.5 m, 1-sigma in the system plane
                        COV (16)                       0.5 m, sign(cov_xy) * sqrt(|cov_xy|)
                        AGA (8)                        6.25 ft, 1-sigma of I130
                        ABA (8)                        1/4 FL, 1-sigma of I136

Pre-standard CAT062 (0.x, e.g. the 2008 Croatia Control capture) lays I105 out in six octets
at another FRN; libasterix has no such edition, so those records fail here or read as
impossible values, which the driver rejects.
"""

from __future__ import annotations

from dataclasses import dataclass

from cuas_drivers.asterix_common import (
    FL_M,
    item,
    parse_records,
    quantity,
    source_of,
    sub,
    uint,
)

CATEGORY = 62
FT_M = 0.3048
FT_PER_MIN_MPS = FT_M / 60


@dataclass(frozen=True)
class Cat062Track:
    source: tuple[int, int] | None  # (SAC, SIC), I010
    time_of_day_s: float | None  # I070
    lat_deg: float | None  # I105
    lon_deg: float | None
    geometric_altitude_m: float | None  # I130
    pressure_altitude_m: float | None  # I136
    velocity_en_mps: tuple[float, float] | None  # I185 (east, north)
    climb_rate_mps: float | None  # I220
    track_number: int | None  # I040
    icao24: str | None  # I380 ADR
    position_std_m: tuple[float, float] | None  # I500 APC (x, y)
    position_cov_xy_m2: float | None  # I500 COV
    geometric_altitude_std_m: float | None  # I500 AGA
    pressure_altitude_std_m: float | None  # I500 ABA
    geometric_preferred: bool  # I080 MRH = 1
    geometric_source: int | None  # I080 SRC
    flags: tuple[str, ...]  # from I080


def decode_cat062(records: bytes, edition: str = "1.21") -> list[Cat062Track]:
    """Every record of one CAT062 data block (the octets after CAT and LEN)."""
    return [_track(rec) for rec in parse_records(CATEGORY, edition, records)]


def _scaled(value: float | None, factor: float) -> float | None:
    return None if value is None else value * factor


def _track(rec: object) -> Cat062Track:
    flags: list[str] = []
    i080 = item(rec, "080")
    if uint(i080, "SIM") == 1:
        flags.append("simulated")
    if uint(i080, "CNF") == 1:
        flags.append("tentative")
    if uint(i080, "TSE") == 1:
        flags.append("track_ended")
    if uint(i080, "PFT") == 1:  # editions 1.17 on
        flags.append("potential_false_track")

    i105 = item(rec, "105")
    i185 = item(rec, "185")
    vx, vy = quantity(i185, "VX"), quantity(i185, "VY")
    address = uint(item(rec, "380"), "ADR")
    i500 = item(rec, "500")
    apc_x, apc_y = quantity(i500, "APC", "X"), quantity(i500, "APC", "Y")
    cov = quantity(i500, "COV")  # sign(cov) * sqrt(|cov|), in metres
    fl_std = quantity(i500, "ABA")

    return Cat062Track(
        source=source_of(rec),
        time_of_day_s=quantity(item(rec, "070")),
        lat_deg=quantity(i105, "LAT"),
        lon_deg=quantity(i105, "LON"),
        geometric_altitude_m=_scaled(quantity(item(rec, "130")), FT_M),
        pressure_altitude_m=_scaled(quantity(item(rec, "136")), FL_M),
        velocity_en_mps=None if vx is None or vy is None else (vx, vy),
        climb_rate_mps=_scaled(quantity(item(rec, "220")), FT_PER_MIN_MPS),
        track_number=uint(sub(item(rec, "040"))),
        icao24=None if address is None else f"{address:06x}",
        position_std_m=None if apc_x is None or apc_y is None else (apc_x, apc_y),
        position_cov_xy_m2=None if cov is None else (1.0 if cov >= 0 else -1.0) * cov * cov,
        geometric_altitude_std_m=_scaled(quantity(i500, "AGA"), FT_M),
        pressure_altitude_std_m=_scaled(fl_std, FL_M),
        geometric_preferred=uint(i080, "MRH") == 1,
        geometric_source=uint(i080, "SRC"),
        flags=tuple(flags),
    )
