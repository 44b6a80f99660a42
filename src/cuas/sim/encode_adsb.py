"""ADS-B encoders: DF17 extended squitters in Beast frames (``beast``), SBS-1 lines (``sbs``).

DF17 (ICAO Annex 10 Vol IV §3.1.2; RTCA DO-260B §2.2.3.2), 112 bits:

    DF(5)=17 | CA(3)=5 airborne | AA(24) ICAO address | ME(56) | PI(24) CRC parity

    ME, TC 1-4 identification: TC(5) | category(3) | 8 x 6-bit characters (IA-5 subset)
    ME, TC 9-18 airborne position, barometric altitude:
        TC(5) | SS(2) | SAF(1) | ALT(12) | T(1) | F(1) CPR odd | LAT-CPR(17) | LON-CPR(17)
        ALT with Q = 1: 11-bit N in 25 ft steps from -1000 ft, the Q bit inserted as bit 8
    ME, TC 19 subtype 1 airborne velocity, ground speed:
        TC(5) | ST(3)=1 | IC(1) | IFR(1) | NACv(3) | S-EW(1) V-EW(10) | S-NS(1) V-NS(10) |
        VrSrc(1) S-Vr(1) Vr(9) | reserved(2) | S-Dif(1) Dif(7)
        V = |kt| + 1 (0: no information; S 1 = west / south), Vr = |ft/min| / 64 + 1

CPR encoding is DO-260B §A.1.7.3 with Nb = 17 and NZ = 15: dLat = 360 / (4 NZ - i),
YZ = floor(2^17 MOD(lat, dLat) / dLat + 1/2), Rlat = dLat (YZ / 2^17 + floor(lat / dLat)),
dLon = 360 / max(NL(Rlat) - i, 1), XZ likewise; i = 0 even, 1 odd. The parity is the
remainder of the first 88 bits times x^24 divided by the generator 0x1FFF409.

A Beast frame is ``0x33`` + 48-bit big-endian 12 MHz counter + signal level + the 14-byte
reply, as the ``beast`` driver records it (after un-escaping); :func:`beast_wire` gives the
TCP form (a leading 0x1A, every 0x1A inside doubled). Each scan sends, per aircraft,
identification every ``ident_interval_s``, a velocity, and an even and an odd position
(an aircraft squitters each twice a second), 0.1 ms apart.

SBS-1 lines are dump1090's, without the CRLF the host strips: MSG,1 (callsign), MSG,4
(ground speed kt, track, vertical rate ft/min), MSG,3 (altitude ft, lat/lon to 5
decimals), with 'generated' and 'logged' times in the driver's ``time_zone`` (UTC by
default). Their values are quantised as ADS-B carries them (25 ft, 1 kt per component,
64 ft/min), since dump1090 prints what it decoded.

Only observations with an ``icao24`` are encoded: ADS-B is the aircraft's own broadcast.
"""

from __future__ import annotations

import math
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from cuas.sim.encode_common import EncoderState, Observation, SensorSpec, clamp, due, scan_time

FT_M = 0.3048
KT_MPS = 1852.0 / 3600.0
FPM_MPS = FT_M / 60.0
CRC_GENERATOR = 0x1FFF409
CPR_BITS = 17
CPR_NZ = 15
ALT_STEP_FT = 25
ALT_MIN_FT = -1000
VRATE_STEP_FPM = 64
TC_IDENT = 4  # aircraft identification, emitter category set A
TC_POSITION = 11  # airborne position, barometric altitude, NUCp 7 / NIC 8
TC_VELOCITY = 19
CA_AIRBORNE = 5  # capability: level 2+ transponder, airborne
BEAST_MODE_S_LONG = 0x33
BEAST_ESCAPE = 0x1A
COUNTER_HZ = 12_000_000
FRAME_SPACING_S = 1e-4
_CHARSET = "#ABCDEFGHIJKLMNOPQRSTUVWXYZ##### ###############0123456789######"


# --- Mode S / ADS-B ----------------------------------------------------------------------


def crc24(bits88: int) -> int:
    """Parity of the first 88 bits of an extended squitter (generator 0x1FFF409)."""
    data = bits88 << 24
    for bit in range(111, 23, -1):
        if data >> bit & 1:
            data ^= CRC_GENERATOR << (bit - 24)
    return data & 0xFFFFFF


def df17(icao24: str, me: int) -> bytes:
    """A 14-byte DF17 reply: DF 17, CA 5, the address, ME and the parity."""
    head = (17 << 3 | CA_AIRBORNE) << 80 | int(icao24, 16) << 56 | me
    return (head << 24 | crc24(head)).to_bytes(14, "big")


def identification_me(callsign: str, category: int = 0) -> int:
    text = "".join(c if c.isascii() and c.isalnum() else " " for c in callsign.upper())
    me = TC_IDENT << 3 | category
    for char in text[:8].ljust(8):
        me = me << 6 | _CHARSET.index(char)
    return me


def altitude_code(alt_ft: float) -> int:
    """12-bit ALT, Q = 1: N = (ft + 1000) / 25 around the Q bit (-1000 .. 50175 ft)."""
    n = clamp(round((alt_ft - ALT_MIN_FT) / ALT_STEP_FT), 0, 0x7FF)
    return (n >> 4) << 5 | 1 << 4 | (n & 0xF)


def quantised_altitude_ft(alt_m: float) -> int:
    n = clamp(round((alt_m / FT_M - ALT_MIN_FT) / ALT_STEP_FT), 0, 0x7FF)
    return ALT_MIN_FT + ALT_STEP_FT * n


def cpr_nl(lat_deg: float) -> int:
    """Number of longitude zones at a latitude (DO-260B §A.1.7.2)."""
    lat = abs(lat_deg)
    if lat == 0.0:
        return 59
    if lat == 87.0:
        return 2
    if lat > 87.0:
        return 1
    a = 1 - math.cos(math.pi / (2 * CPR_NZ))
    b = math.cos(math.radians(lat)) ** 2
    return math.floor(2 * math.pi / math.acos(1 - a / b))


def cpr_encode(lat_deg: float, lon_deg: float, odd: bool) -> tuple[int, int]:
    """(YZ, XZ), the 17-bit airborne CPR latitude and longitude of a position."""
    i = 1 if odd else 0
    scale = 2**CPR_BITS
    dlat = 360.0 / (4 * CPR_NZ - i)
    yz = math.floor(scale * (lat_deg % dlat) / dlat + 0.5)
    rlat = dlat * (yz / scale + math.floor(lat_deg / dlat))
    dlon = 360.0 / max(cpr_nl(rlat) - i, 1)
    xz = math.floor(scale * (lon_deg % dlon) / dlon + 0.5)
    return yz % scale, xz % scale


def position_me(lat_deg: float, lon_deg: float, alt_ft: float, odd: bool) -> int:
    yz, xz = cpr_encode(lat_deg, lon_deg, odd)
    # SS 0 no condition, SAF 0, T 0 (not UTC-synchronised)
    me = TC_POSITION << 3
    me = me << 12 | altitude_code(alt_ft)
    me = me << 2 | int(odd)
    return (me << 17 | yz) << 17 | xz


def _component(value_kt: int) -> tuple[int, int]:
    """(sign, 10-bit magnitude + 1); 1023 means more than 1021.5 kt."""
    return int(value_kt < 0), min(abs(value_kt) + 1, 1023)


def velocity_components(vel_enu_mps: tuple[float, float, float]) -> tuple[int, int, int]:
    """(east kt, north kt, vertical ft/min) as TC 19 subtype 1 carries them."""
    east, north, up = vel_enu_mps
    vr = round(up / FPM_MPS / VRATE_STEP_FPM) * VRATE_STEP_FPM
    return round(east / KT_MPS), round(north / KT_MPS), clamp(vr, -32_640, 32_640)


def velocity_me(east_kt: int, north_kt: int, vrate_fpm: int) -> int:
    """TC 19 subtype 1; vertical rate from GNSS; NACv 1 (< 10 m/s); no baro difference."""
    s_ew, v_ew = _component(east_kt)
    s_ns, v_ns = _component(north_kt)
    s_vr, v_vr = int(vrate_fpm < 0), min(abs(vrate_fpm) // VRATE_STEP_FPM + 1, 511)
    me = TC_VELOCITY << 3 | 1  # subtype 1: ground speed, subsonic
    me = me << 5 | 1  # IC 0, IFR 0, NACv 1
    me = ((me << 1 | s_ew) << 10 | v_ew) << 1 | s_ns
    me = (me << 10 | v_ns) << 1  # VrSrc 0: GNSS
    me = ((me << 1 | s_vr) << 9 | v_vr) << 2  # reserved
    return me << 8  # S-Dif 0, Dif 0: no information


def ground_speed_track(east_kt: int, north_kt: int) -> tuple[float, float]:
    return math.hypot(east_kt, north_kt), math.degrees(math.atan2(east_kt, north_kt)) % 360.0


# --- Beast -------------------------------------------------------------------------------


def beast_frame(counter: int, signal: int, reply: bytes) -> bytes:
    """Type 0x33, 48-bit counter, signal level, reply: the frame as the driver records it."""
    return bytes([BEAST_MODE_S_LONG]) + counter.to_bytes(6, "big") + bytes([signal]) + reply


def beast_wire(frame: bytes) -> bytes:
    """The TCP form of a recorded frame: 0x1A, then the frame with each 0x1A doubled."""
    escape = bytes([BEAST_ESCAPE])
    return escape + frame.replace(escape, escape * 2)


def _signal_level(rssi_dbm: float | None) -> int:
    """Beast level 0-255, where 20 log10(level / 255) is the power in dBFS."""
    if rssi_dbm is None:
        return 0x80
    return clamp(round(255 * 10 ** (min(rssi_dbm, 0.0) / 20)), 1, 255)


def encode_beast(
    spec: SensorSpec,
    observations: list[Observation],
    state: EncoderState,
    *,
    ident_interval_s: float = 5.0,
) -> list[bytes]:
    """Per aircraft: identification when due, velocity, even and odd airborne position."""
    t_scan = scan_time(observations, state)
    if t_scan is None:
        return []
    t0 = state.setdefault("counter_origin_unix", t_scan - 1.0)  # the receiver started then
    idents: dict[str, float] = state.setdefault("ident_sent_unix", {})
    frames = []
    for obs in observations:
        if obs.icao24 is None:
            continue
        replies = []
        if obs.callsign and due(idents, obs.icao24, obs.t_unix, ident_interval_s):
            replies.append(df17(obs.icao24, identification_me(obs.callsign)))
        replies.append(df17(obs.icao24, velocity_me(*velocity_components(obs.vel_enu_mps))))
        alt_ft = obs.alt_m / FT_M
        for odd in (False, True):
            replies.append(df17(obs.icao24, position_me(obs.lat_deg, obs.lon_deg, alt_ft, odd)))
        signal = _signal_level(obs.rssi_dbm)
        for k, reply in enumerate(replies):
            ticks = round((obs.t_unix - t0 + k * FRAME_SPACING_S) * COUNTER_HZ)
            frames.append(beast_frame(max(ticks, 1) % 2**48, signal, reply))
    return frames


# --- SBS-1 BaseStation -------------------------------------------------------------------


def _sbs_line(
    ttype: int,
    icao24: str,
    when: str,
    *,
    callsign: str = "",
    altitude_ft: str = "",
    speed_kt: str = "",
    track_deg: str = "",
    lat_deg: str = "",
    lon_deg: str = "",
    vrate_fpm: str = "",
) -> bytes:
    """One MSG line, 22 columns; squawk empty, alert/emergency/SPI/on-ground 0."""
    columns = ["MSG", str(ttype), "1", "1", icao24.upper(), "1", when, when]
    columns += [callsign, altitude_ft, speed_kt, track_deg, lat_deg, lon_deg, vrate_fpm, ""]
    return ",".join(columns + ["0", "0", "0", "0"]).encode("ascii")


def _sbs_time(t_unix: float, zone: str) -> str:
    tz = UTC if zone in ("UTC", "receive") else ZoneInfo(zone)
    stamp = datetime.fromtimestamp(round(t_unix, 3), tz)
    return f"{stamp:%Y/%m/%d},{stamp:%H:%M:%S}.{stamp.microsecond // 1000:03d}"


def encode_sbs(
    spec: SensorSpec,
    observations: list[Observation],
    state: EncoderState,
    *,
    ident_interval_s: float = 5.0,
) -> list[bytes]:
    """Per aircraft: MSG,1 when due, MSG,4 velocity, MSG,3 position (dump1090's columns)."""
    zone = str(spec.options.get("time_zone", "UTC"))
    idents: dict[str, float] = state.setdefault("ident_sent_unix", {})
    lines = []
    for obs in observations:
        if obs.icao24 is None:
            continue
        when = _sbs_time(obs.t_unix, zone)
        if obs.callsign and due(idents, obs.icao24, obs.t_unix, ident_interval_s):
            lines.append(_sbs_line(1, obs.icao24, when, callsign=obs.callsign.upper()[:8]))
        east_kt, north_kt, vr_fpm = velocity_components(obs.vel_enu_mps)
        speed_kt, track_deg = ground_speed_track(east_kt, north_kt)
        speed, track = f"{speed_kt:.0f}", f"{track_deg:.0f}"
        lines.append(
            _sbs_line(4, obs.icao24, when, speed_kt=speed, track_deg=track, vrate_fpm=str(vr_fpm))
        )
        lines.append(
            _sbs_line(
                3,
                obs.icao24,
                when,
                altitude_ft=str(quantised_altitude_ft(obs.alt_m)),
                lat_deg=f"{obs.lat_deg:.5f}",
                lon_deg=f"{obs.lon_deg:.5f}",
            )
        )
    return lines
