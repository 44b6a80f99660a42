"""CAT048 records cut and read straight from the octets: the fast path beside libasterix.

libasterix builds an object per field and costs about 0.5 ms a plot; a radar sends
thousands of plots a second. Here a record is walked once: FSPEC, then every item the
FSPEC announces is skipped by its octet layout, and the items the driver reads are taken
at their offsets. The layouts of all 28 FRNs of editions 1.27-1.32 (EUROCONTROL Part 4
CAT048, as generated from the asterix-specs definitions) are written out below; they
differ only in how many extents I020 may have and in whether I090's flight level is
signed. The result is the same :class:`Cat048Plot` libasterix gives, and the same
records are refused: ``tests/drivers/test_asterix_cat048_fast.py`` derives these layouts
from libasterix's generated specs and compares both decoders on real, simulated and
fuzzed bytes. An edition not listed here is decoded by libasterix (``decode_cat048``).

Item layouts (octets), FRN 1-28 in UAP order:

    010 2 | 140 3 | 020 1+ (extents, FX) | 040 4 | 070 2 | 090 2 | 130 compound, 1-octet
    FSPEC, 7 one-octet subfields | 220 3 | 240 6 | 250 REP (1) x 8 | 161 2 | 042 4 |
    200 4 | 170 1+ (2 extents) | 210 4 | 030 1+ (FX-repeated) | 080 2 | 100 4 | 110 2 |
    120 compound, 1-octet FSPEC: CAL 2, RDS REP (1) x 6 | 230 2 | 260 7 | 055 1 |
    050 2 | 065 1 | 060 2 | SP, RE explicit (a length octet counting itself, then data)

Bits read (octet 1 bit 8 first): I010 SAC, SIC | I140 24-bit unsigned, 1/128 s |
I020 SIM 0x10, RAB 0x02; first extent TST 0x80 | I040 RHO, THETA 16-bit unsigned,
1/256 NM and 360/2^16 deg | I090 V 0x8000, G 0x4000, FL 14 bits x 1/4 (two's complement
from 1.32 on, unsigned before, as the specs have it) | I220 24-bit address | I161 TRN,
low 12 bits | I200 GSP 2^-14 NM/s, HDG 360/2^16 deg | I170 CNF 0x80; first extent
TRE 0x80, GHO 0x40 | I110 3DH, low 14 bits two's complement, 25 ft.
"""

from __future__ import annotations

import math
from typing import NamedTuple

from cuas.driver import DecodeError
from cuas_drivers.asterix_cat048 import NM_M, Cat048Plot
from cuas_drivers.asterix_common import FL_M

FT_M = 0.3048
FSPEC_MAX_OCTETS = 4
# LSBs exactly as asterix-specs states them, multiplied the same way libasterix does
LSB_TOD_S = 7.8125e-3
LSB_RHO_NM = 3.90625e-3
LSB_ANGLE_DEG = 5.4931640625e-3
LSB_GSP_NM_S = 6.103515625e-05
LSB_FL = 0.25
LSB_3DH_FT = 25.0

# item layout kinds
FIXED, EXTENDED, REPEAT, REPEAT_FX, EXPLICIT, COMPOUND = range(6)
Layout = tuple  # (kind, ...) as below


class Edition(NamedTuple):
    layouts: tuple[Layout, ...]  # FRN 1..28
    fl_signed: bool  # I090 FL: two's complement


def _uap(i020_extents: int) -> tuple[Layout, ...]:
    one = (FIXED, 1)
    return (
        (FIXED, 2),  # 1 I010 data source
        (FIXED, 3),  # 2 I140 time of day
        (EXTENDED, i020_extents),  # 3 I020 target report descriptor
        (FIXED, 4),  # 4 I040 polar position
        (FIXED, 2),  # 5 I070 Mode-3/A
        (FIXED, 2),  # 6 I090 flight level
        (COMPOUND, (one,) * 7),  # 7 I130 radar plot characteristics
        (FIXED, 3),  # 8 I220 aircraft address
        (FIXED, 6),  # 9 I240 aircraft identification
        (REPEAT, 8),  # 10 I250 BDS register data
        (FIXED, 2),  # 11 I161 track number
        (FIXED, 4),  # 12 I042 cartesian position
        (FIXED, 4),  # 13 I200 polar velocity
        (EXTENDED, 2),  # 14 I170 track status
        (FIXED, 4),  # 15 I210 track quality
        (REPEAT_FX, 1),  # 16 I030 warning/error conditions
        (FIXED, 2),  # 17 I080 Mode-3/A confidence
        (FIXED, 4),  # 18 I100 Mode-C code and confidence
        (FIXED, 2),  # 19 I110 height measured by a 3-D radar
        (COMPOUND, ((FIXED, 2), (REPEAT, 6))),  # 20 I120 radial Doppler speed
        (FIXED, 2),  # 21 I230 communications / ACAS capability
        (FIXED, 7),  # 22 I260 ACAS resolution advisory
        (FIXED, 1),  # 23 I055 Mode-1 code
        (FIXED, 2),  # 24 I050 Mode-2 code
        (FIXED, 1),  # 25 I065 Mode-1 confidence
        (FIXED, 2),  # 26 I060 Mode-2 confidence
        (EXPLICIT,),  # 27 SP special purpose field
        (EXPLICIT,),  # 28 RE reserved expansion field
    )


EDITIONS: dict[str, Edition] = {
    **{ed: Edition(_uap(2), False) for ed in ("1.27", "1.28", "1.29", "1.30")},
    "1.31": Edition(_uap(3), False),
    "1.32": Edition(_uap(6), True),
}
# FRN -> index in the per-record offsets the reader fills (the items the driver reads)
_READ = {1: 0, 2: 1, 3: 2, 4: 3, 6: 4, 8: 5, 11: 6, 13: 7, 14: 8, 19: 9}
_PLAN_CACHE_MAX = 4096  # distinct FSPECs remembered; a fuzzer's stream must not grow it


def decode_records(records: bytes, edition: str) -> list[Cat048Plot]:
    """Every record of one CAT048 data block (the octets after CAT and LEN).

    Raises KeyError for an edition this module does not know (the caller falls back to
    libasterix) and DecodeError for a malformed record.
    """
    ed = EDITIONS[edition]
    plans = _PLANS.setdefault(edition, {})
    data = bytes(records)
    end = len(data)
    out: list[Cat048Plot] = []
    pos = 0
    while pos < end:
        start = pos
        while data[pos] & 1:  # FX: another FSPEC octet follows
            pos += 1
            if pos >= end or pos - start >= FSPEC_MAX_OCTETS:
                raise DecodeError(f"CAT048 record at octet {start}: FSPEC runs on or off")
        pos += 1
        fspec = data[start:pos]
        plan = plans.get(fspec)
        if plan is None:
            plan = _plan(fspec, ed)
            if len(plans) >= _PLAN_CACHE_MAX:
                plans.clear()
            plans[fspec] = plan
        at = [-1] * 10
        for frn, layout, slot in plan:
            if slot >= 0:
                at[slot] = pos
            if layout[0] == FIXED:
                pos += layout[1]
            else:
                pos = _skip(layout, data, pos, end, frn)
            if pos > end:
                raise DecodeError(f"CAT048 record at octet {start}: FRN {frn} runs off the block")
        out.append(_plot(data, at, ed.fl_signed))
    return out


_PLANS: dict[str, dict[bytes, tuple[tuple[int, Layout, int], ...]]] = {}


def _plan(fspec: bytes, ed: Edition) -> tuple[tuple[int, Layout, int], ...]:
    """(FRN, layout, read slot or -1) for every item an FSPEC announces, in UAP order."""
    plan = []
    for i, octet in enumerate(fspec):
        for bit in range(7):
            if octet & (0x80 >> bit):
                frn = i * 7 + bit + 1
                plan.append((frn, ed.layouts[frn - 1], _READ.get(frn, -1)))
    return tuple(plan)


def _skip(layout: Layout, data: bytes, pos: int, end: int, frn: int) -> int:
    """The offset after a variable-length item starting at ``pos``."""
    kind = layout[0]
    if kind == EXTENDED:
        for _ in range(layout[1]):
            if pos >= end:
                break  # reported by the caller as running off
            pos += 1
            if not data[pos - 1] & 1:
                return pos
        else:
            raise DecodeError(f"CAT048 FRN {frn}: FX set on the last extent")
        return end + 1
    if kind == REPEAT:
        if pos >= end:
            return end + 1
        return pos + 1 + data[pos] * layout[1]
    if kind == REPEAT_FX:
        while pos < end:
            pos += layout[1]
            if pos > end or not data[pos - 1] & 1:
                return pos
        return end + 1
    if kind == EXPLICIT:
        if pos >= end:
            return end + 1
        if data[pos] == 0:
            raise DecodeError(f"CAT048 FRN {frn}: explicit item of length 0")
        return pos + data[pos]
    # COMPOUND: a one-octet FSPEC (FX must be clear), then the subfields it announces
    if pos >= end:
        return end + 1
    sub_fspec = data[pos]
    pos += 1
    if sub_fspec & 1:
        raise DecodeError(f"CAT048 FRN {frn}: compound FSPEC longer than one octet")
    subfields = layout[1]
    for bit in range(7):
        if sub_fspec & (0x80 >> bit):
            if bit >= len(subfields):
                raise DecodeError(f"CAT048 FRN {frn}: subfield {bit + 1} is not defined")
            sub = subfields[bit]
            pos = pos + sub[1] if sub[0] == FIXED else _skip(sub, data, pos, end, frn)
            if pos > end:
                return pos
    return pos


def _u16(data: bytes, i: int) -> int:
    return data[i] << 8 | data[i + 1]


def _plot(data: bytes, at: list[int], fl_signed: bool) -> Cat048Plot:
    """Cat048Plot from the offsets of I010, I140, I020, I040, I090, I220, I161, I200, I170, I110."""
    i010, i140, i020, i040, i090, i220, i161, i200, i170, i110 = at
    flags: list[str] = []
    if i020 >= 0:
        if data[i020] & 0x10:
            flags.append("simulated")
        if data[i020] & 1 and data[i020 + 1] & 0x80:
            flags.append("test_target")
        if data[i020] & 0x02:
            flags.append("field_monitor")  # a fixed transponder on the ground
    altitude_m = None
    if i090 >= 0:
        code = _u16(data, i090)
        if code & 0x8000:
            flags.append("mode_c_not_validated")
        elif code & 0x4000:
            flags.append("mode_c_garbled")
        else:
            fl_raw = code & 0x3FFF
            if fl_signed and fl_raw & 0x2000:
                fl_raw -= 0x4000
            altitude_m = float(fl_raw * LSB_FL) * FL_M
    if i170 >= 0:
        if data[i170] & 0x80:
            flags.append("tentative")
        if data[i170] & 1:
            ext = data[i170 + 1]
            if ext & 0x80:
                flags.append("track_ended")
            if ext & 0x40:
                flags.append("ghost")
    height_m = None
    if i110 >= 0:
        raw = _u16(data, i110) & 0x3FFF
        if raw & 0x2000:
            raw -= 0x4000
        height_m = float(raw * LSB_3DH_FT) * FT_M
    range_m = azimuth_rad = None
    if i040 >= 0:
        range_m = float(_u16(data, i040) * LSB_RHO_NM) * NM_M
        azimuth_rad = math.radians(_u16(data, i040 + 2) * LSB_ANGLE_DEG)
    speed_mps = heading_rad = None
    if i200 >= 0:
        speed_mps = float(_u16(data, i200) * LSB_GSP_NM_S) * NM_M
        heading_rad = math.radians(_u16(data, i200 + 2) * LSB_ANGLE_DEG)
    return Cat048Plot(
        source=None if i010 < 0 else (data[i010], data[i010 + 1]),
        time_of_day_s=(
            None
            if i140 < 0
            else float((data[i140] << 16 | data[i140 + 1] << 8 | data[i140 + 2]) * LSB_TOD_S)
        ),
        range_m=range_m,
        azimuth_rad=azimuth_rad,
        pressure_altitude_m=altitude_m,
        height_3d_m=height_m,
        track_number=None if i161 < 0 else _u16(data, i161) & 0x0FFF,
        icao24=(
            None if i220 < 0 else f"{data[i220] << 16 | data[i220 + 1] << 8 | data[i220 + 2]:06x}"
        ),
        ground_speed_mps=speed_mps,
        heading_rad=heading_rad,
        flags=tuple(flags),
    )
