"""ASTERIX CAT010, monosensor surface movement data: the category C-UAS radars use for tracks.

Navtech's radar software, for one, sends its tracks as CAT010 target reports. The items read,
with their FRN in the UAP (edition 1.1), octets and scaling:

    FRN  item   octets  field                          scale (Part 7, CAT010)
    1    I010   2       SAC | SIC                      data source
    2    I000   1       message type                   1 = target report (2-4: cycle, status)
    3    I020   1+      TYP(3) DCR CHN GBS CRT FX      target report descriptor; ext. 1: SIM TST
                                                       RAB LOP(2) TOT(2) FX; ext. 2: SPI spare FX
    4    I140   3       time of day                    1/128 s since UTC midnight
    5    I041   8       LAT (32) | LON (32)            180/2^31 deg, two's complement
    6    I040   4       RHO (16) | THETA (16)          1 m | 360/2^16 deg, from north
    7    I042   4       X (16) | Y (16)                1 m, two's complement, east | north of
                                                       the sensor
    8    I200   4       GSP (16) | TRA (16)            2^-14 NM/s | 360/2^16 deg
    9    I202   4       VX (16) | VY (16)              0.0625 m/s, two's complement
    10   I161   2       spare(4) TRK(12)               track number
    11   I170   1+      CNF TRE CST(2) MAH TCC STH FX  track status; ext. 1: TOM(2) DOU(3) MRS(2)
                                                       FX; ext. 2: GHO spare FX
    13   I220   3       target address                 24 bits
    17   I090   2       V G FL(14)                     1/4 FL
    22   I500   4       DEVX (8) | DEVY (8)            0.25 m, 1-sigma
                        COVXY (16)                     0.25 m^2, two's complement

Navtech's six-bit classification in the spare bits of I020's second extent is vendor-defined
and not published, so it is not read.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from cuas_drivers.asterix_common import (
    item,
    mode_c_altitude_m,
    parse_records,
    quantity,
    source_of,
    sub,
    uint,
)

CATEGORY = 10
NM_M = 1852.0
TARGET_REPORT = 1  # I000 message type


@dataclass(frozen=True)
class Cat010Report:
    source: tuple[int, int] | None  # (SAC, SIC), I010
    message_type: int | None  # I000
    time_of_day_s: float | None  # I140
    lat_deg: float | None  # I041
    lon_deg: float | None
    range_m: float | None  # I040 RHO
    azimuth_rad: float | None  # I040 THETA, clockwise from north
    xy_m: tuple[float, float] | None  # I042 (east, north) of the sensor
    velocity_en_mps: tuple[float, float] | None  # I202, else I200 (east, north)
    pressure_altitude_m: float | None  # I090, when validated and not garbled
    track_number: int | None  # I161
    icao24: str | None  # I220
    position_std_m: tuple[float, float] | None  # I500 DEVX, DEVY
    position_cov_xy_m2: float | None  # I500 COVXY
    flags: tuple[str, ...]  # from I020, I090, I170


def decode_cat010(records: bytes, edition: str = "1.1") -> list[Cat010Report]:
    """Every record of one CAT010 data block (the octets after CAT and LEN)."""
    return [_report(rec) for rec in parse_records(CATEGORY, edition, records)]


def _pair(a: float | None, b: float | None) -> tuple[float, float] | None:
    return None if a is None or b is None else (a, b)


def _report(rec: object) -> Cat010Report:
    flags: list[str] = []
    i020 = item(rec, "020")
    for name, flag in (("SIM", "simulated"), ("TST", "test_target"), ("RAB", "field_monitor")):
        if uint(i020, name) == 1:
            flags.append(flag)
    i170 = item(rec, "170")
    for name, flag in (("CNF", "tentative"), ("TRE", "track_ended"), ("GHO", "ghost")):
        if uint(i170, name) == 1:
            flags.append(flag)

    i040 = item(rec, "040")
    rho_m, theta_deg = quantity(i040, "RHO"), quantity(i040, "TH")

    velocity = _pair(quantity(item(rec, "202"), "VX"), quantity(item(rec, "202"), "VY"))
    if velocity is None:
        i200 = item(rec, "200")
        gsp_nm_s, tra_deg = quantity(i200, "GSP"), quantity(i200, "TRA")
        if gsp_nm_s is not None and tra_deg is not None:
            track = math.radians(tra_deg)
            speed = gsp_nm_s * NM_M
            velocity = (speed * math.sin(track), speed * math.cos(track))

    altitude_m = mode_c_altitude_m(item(rec, "090"), flags)

    address = uint(item(rec, "220"))
    i500 = item(rec, "500")
    i041, i042 = item(rec, "041"), item(rec, "042")
    return Cat010Report(
        source=source_of(rec),
        message_type=uint(item(rec, "000")),
        time_of_day_s=quantity(item(rec, "140")),
        lat_deg=quantity(i041, "LAT"),
        lon_deg=quantity(i041, "LON"),
        range_m=rho_m,
        azimuth_rad=None if theta_deg is None else math.radians(theta_deg),
        xy_m=_pair(quantity(i042, "X"), quantity(i042, "Y")),
        velocity_en_mps=velocity,
        pressure_altitude_m=altitude_m,
        track_number=uint(sub(item(rec, "161"), "TRK")),
        icao24=None if address is None else f"{address:06x}",
        position_std_m=_pair(quantity(i500, "DEVX"), quantity(i500, "DEVY")),
        position_cov_xy_m2=quantity(i500, "COVXY"),
        flags=tuple(flags),
    )
