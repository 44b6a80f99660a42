"""ASTERIX CAT048, monoradar target reports: one plot (or radar-local track) per record.

The items read, with their FRN in the UAP (editions 1.27-1.32), octets and scaling:

    FRN  item   octets  field                          scale (Part 4, CAT048)
    1    I010   2       SAC | SIC                      data source (octet 1, octet 2)
    2    I140   3       time of day                    1/128 s since UTC midnight
    3    I020   1+      TYP(3) SIM RDP SPI RAB FX      report descriptor; ext. 1: TST ERR XPP ME
                                                       MI FOE/FRI(2) FX
    4    I040   4       RHO (16) | THETA (16)          1/256 NM | 360/2^16 deg, from north
    6    I090   2       V G FL(14, two's complement)   1/4 FL (FL = 100 ft, pressure altitude)
    7    I130   1+      radar plot characteristics     (skipped)
    8    I220   3       Mode S address                 24 bits
    11   I161   2       spare(4) TRN(12)               track number
    13   I200   4       GSP (16) | HDG (16)            2^-14 NM/s | 360/2^16 deg
    14   I170   1+      CNF RAD(2) DOU MAH CDM(2) FX   track status; ext. 1: TRE GHO SUP TCC
                                                       spare(3) FX
    20   I110   2       spare(2) 3DH(14, two's compl.) 25 ft, height of a 3-D radar (MSL)

FSPEC of the shared sample ``fd f7 02``: octet 1 = FRN 1-6 (FRN 7, I130, absent; FX set),
octet 2 = FRN 8-14 but 12 (I042; FX set), octet 3 = FRN 21 (I230). Items of other FRNs are
skipped by libasterix. Everything is returned in SI units: range m, angles rad, speeds m/s,
pressure altitude m (standard atmosphere, not geometric).
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

CATEGORY = 48
NM_M = 1852.0
FT_M = 0.3048


@dataclass(frozen=True)
class Cat048Plot:
    source: tuple[int, int] | None  # (SAC, SIC), I010
    time_of_day_s: float | None  # I140
    range_m: float | None  # I040 RHO, slant range
    azimuth_rad: float | None  # I040 THETA, clockwise from north
    pressure_altitude_m: float | None  # I090 FL, only when validated and not garbled
    height_3d_m: float | None  # I110, measured by a 3-D radar (above mean sea level)
    track_number: int | None  # I161
    icao24: str | None  # I220, lower-case hex
    ground_speed_mps: float | None  # I200 GSP
    heading_rad: float | None  # I200 HDG, clockwise from north
    flags: tuple[str, ...]  # from I020, I090, I170


def decode_cat048(records: bytes, edition: str = "1.32") -> list[Cat048Plot]:
    """Every record of one CAT048 data block (the octets after CAT and LEN)."""
    return [_plot(rec) for rec in parse_records(CATEGORY, edition, records)]


def _plot(rec: object) -> Cat048Plot:
    flags: list[str] = []
    i020 = item(rec, "020")
    if uint(i020, "SIM") == 1:
        flags.append("simulated")
    if uint(i020, "TST") == 1:
        flags.append("test_target")
    if uint(i020, "RAB") == 1:
        flags.append("field_monitor")  # a fixed transponder on the ground, not an aircraft

    i040 = item(rec, "040")
    rho_nm, theta_deg = quantity(i040, "RHO"), quantity(i040, "THETA")

    altitude_m = mode_c_altitude_m(item(rec, "090"), flags)

    address = uint(item(rec, "220"))
    height_ft = quantity(item(rec, "110"), "3DH")

    i200 = item(rec, "200")
    gsp_nm_s, hdg_deg = quantity(i200, "GSP"), quantity(i200, "HDG")

    i170 = item(rec, "170")
    if uint(i170, "CNF") == 1:
        flags.append("tentative")
    if uint(i170, "TRE") == 1:
        flags.append("track_ended")
    if uint(i170, "GHO") == 1:
        flags.append("ghost")

    return Cat048Plot(
        source=source_of(rec),
        time_of_day_s=quantity(item(rec, "140")),
        range_m=None if rho_nm is None else rho_nm * NM_M,
        azimuth_rad=None if theta_deg is None else math.radians(theta_deg),
        pressure_altitude_m=altitude_m,
        height_3d_m=None if height_ft is None else height_ft * FT_M,
        track_number=uint(sub(item(rec, "161"), "TRN")),
        icao24=None if address is None else f"{address:06x}",
        ground_speed_mps=None if gsp_nm_s is None else gsp_nm_s * NM_M,
        heading_rad=None if hdg_deg is None else math.radians(hdg_deg),
        flags=tuple(flags),
    )
