"""ADS-B from SBS-1 BaseStation text, as dump1090/readsb serve it on TCP port 30003.

Known manned aircraft must not be alerted as drones, so this feed tells the tracker where
they are. One CSV line per Mode S message (CRLF):

    MSG,3,1,1,4249B5,1,2018/04/03,19:03:28.991,2018/04/03,19:03:28.991,,7000,,,59.7,30.5,,,,,,0
     1  2 3 4   5    6     7          8           9         10      11  12 ..14 15  16 17..21 22

     1 message type     MSG (BaseStation also sends SEL, ID, AIR, STA, CLK: no positions)
     2 transmission     1 ident (callsign)   2 surface position   3 airborne position
                        4 airborne velocity  5 surveillance alt   6 surveillance squawk
                        7 air-to-air         8 all-call reply
     5 hex ICAO         24-bit address; readsb prefixes '~' for a non-ICAO (TIS-B) address
     7/8 generated      date yyyy/mm/dd, time hh:mm:ss[.fff], in NO stated time zone
    11 callsign         12 altitude, ft, pressure altitude (FL x 100), not geometric
    13 ground speed kt  14 track, degrees clockwise from true north
    15/16 lat/lon deg   17 vertical rate ft/min   18 squawk (4 octal digits)
    19 alert  20 emergency  21 SPI  22 on ground: '-1' true, '0' false

Positions come from MSG,3 (airborne) and MSG,2 (surface, flagged). Velocity (MSG,4), callsign
(MSG,1), altitude (MSG,5/7) and squawk (MSG,6) arrive in other lines, so they are kept per
ICAO, bounded (least recently heard forgotten first), and attached to later positions.
A line repeated but for its 'logged' columns is one message sent twice (the recording in
shared/data holds every line twice) and is dropped. The callsign goes into
``identity.sensor_track_id``; a squawk is kept only as a flag when it is an emergency code
(7500, 7600, 7700).
"""

from __future__ import annotations

import math
from datetime import UTC, datetime
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, field_validator

from cuas.driver import (
    DecodeError,
    Detection,
    Driver,
    Framing,
    GeoPoint,
    Identity,
    MeasurementKind,
    ObjectClass,
    RawRef,
    SensorInfo,
)
from cuas.driver.memory import RecentMap, RecentSet

FT_TO_M = 0.3048
KT_TO_MPS = 1852.0 / 3600.0
FPM_TO_MPS = FT_TO_M / 60.0
_N_FIELDS = 22
_OTHER_TYPES = {"SEL", "ID", "AIR", "STA", "CLK"}  # real BaseStation: no kinematics
_EMERGENCY_SQUAWKS = {"7500", "7600", "7700"}
_ALT_FT = (-1_500.0, 130_000.0)  # Mode S altitude codes span -1,000 to 126,700 ft
_SPEED_KT = (0.0, 4_000.0)
_VRATE_FPM = (-70_000.0, 70_000.0)
_RECENT_LINES = 256  # messages remembered to drop repeats
_RECENT_LINES = 256  # messages remembered to drop repeats
_ALTITUDE_UNKNOWN_STD_M = 3_000.0  # no altitude at all: the aircraft is somewhere in the sky


class SbsOptions(BaseModel):
    model_config = ConfigDict(extra="forbid")
    time_zone: str = Field(
        "UTC",
        description="zone of the SBS date/time columns: 'UTC', an IANA name such as "
        "'Europe/Berlin' (builds that write local time), or 'receive' to use receive time",
    )
    max_aircraft: int = Field(2048, ge=1, description="aircraft whose state is remembered")
    state_max_age_s: float = Field(
        30.0, gt=0, description="oldest velocity/altitude attached to a position"
    )
    baro_vertical_std_m: float = Field(
        200.0, gt=0, description="1-sigma of pressure altitude taken as height above WGS84"
    )
    max_time_skew_s: float = Field(
        300.0, gt=0, description="message time this far from receive time is flagged"
    )

    @field_validator("time_zone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        if value not in {"UTC", "receive"}:
            try:
                ZoneInfo(value)
            except (ZoneInfoNotFoundError, ValueError):
                raise ValueError(
                    f"unknown time zone {value!r}: use 'UTC', 'receive' or an IANA name "
                    "such as 'Europe/Berlin'"
                ) from None
        return value


class _Aircraft:
    """What has been heard from one ICAO address so far."""

    __slots__ = ("callsign", "squawk", "velocity", "altitude")

    def __init__(self) -> None:
        self.callsign: str | None = None
        self.squawk: str | None = None
        self.velocity: tuple[float, tuple[float, float, float]] | None = None  # (t, ENU m/s)
        self.altitude: tuple[float, float] | None = None  # (t, pressure altitude m)


def _number(text: str, name: str, lo: float, hi: float) -> float | None:
    """A float from a CSV field, None when empty; out of [lo, hi] is malformed."""
    if not text:
        return None
    try:
        value = float(text)
    except ValueError:
        raise DecodeError(f"{name}: not a number ({text[:20]!r})") from None
    if not (math.isfinite(value) and lo <= value <= hi):
        raise DecodeError(f"{name}: {text[:20]!r} outside {lo:g}..{hi:g}")
    return value


def _flag(text: str) -> bool:
    return text.strip() not in {"", "0"}  # dump1090 writes -1 for true, some builds 1


def enu_velocity(
    speed_kt: float, track_deg: float, vrate_fpm: float | None
) -> tuple[float, float, float]:
    """Ground speed, track (clockwise from true north) and climb rate to east/north/up m/s."""
    speed_mps = speed_kt * KT_TO_MPS
    track = math.radians(track_deg)
    up = 0.0 if vrate_fpm is None else vrate_fpm * FPM_TO_MPS
    return (speed_mps * math.sin(track), speed_mps * math.cos(track), up)


class SbsDriver(Driver):
    """SBS-1 BaseStation CSV from dump1090/readsb (TCP 30003): aircraft positions."""

    name = "sbs"
    framing = Framing.LINE
    Options = SbsOptions
    max_frame_bytes = 1024

    def __init__(self, sensor: SensorInfo, options: BaseModel) -> None:
        super().__init__(sensor, options)
        zone = self.options.time_zone
        self._zone = None if zone == "receive" else (UTC if zone == "UTC" else ZoneInfo(zone))
        self._aircraft: RecentMap[str, _Aircraft] = RecentMap(self.options.max_aircraft)
        self._recent: RecentSet[str] = RecentSet(_RECENT_LINES)

    def decode(self, frame: bytes, t_rx_unix: float, frame_seq: int) -> list[Detection]:
        try:
            line = frame.decode("ascii").strip()
        except UnicodeDecodeError:
            raise DecodeError("not ASCII text") from None
        fields = line.split(",")
        kind = fields[0]
        if kind in _OTHER_TYPES:
            return []
        if kind != "MSG":
            raise DecodeError(f"not an SBS line: starts with {kind[:10]!r}")
        if len(fields) < _N_FIELDS:
            raise DecodeError(f"MSG line has {len(fields)} fields, expected {_N_FIELDS}")
        ttype = fields[1].strip()
        if ttype not in {"1", "2", "3", "4", "5", "6", "7", "8"}:
            raise DecodeError(f"transmission type {ttype[:10]!r} is not 1..8")
        address = fields[4].strip().lower()
        flags: list[str] = []
        if address.startswith("~"):  # readsb: TIS-B/ADS-R non-ICAO address
            address = address[1:]
            flags.append("adsb_non_icao_address")
        if len(address) != 6 or any(c not in "0123456789abcdef" for c in address):
            raise DecodeError(f"hex ICAO {fields[4][:10]!r} is not 6 hex digits")
        if self._repeated(fields):
            self.counters["duplicates"] += 1
            return []
        t_unix = self._time(fields[6].strip(), fields[7].strip(), t_rx_unix, flags)
        return self._message(int(ttype), address, fields, t_unix, flags, frame_seq)

    def _repeated(self, fields: list[str]) -> bool:
        """The same message with the same generated time: one message sent twice."""
        if not fields[7].strip():
            return False  # without a time a repeat may be a new message
        key = ",".join(fields[:8] + fields[10:])  # all but the 'logged' date and time
        return self._recent.seen_before(key)

    def _time(self, date: str, clock: str, t_rx_unix: float, flags: list[str]) -> float:
        """The 'generated' time in the configured zone; receive time if unset or missing."""
        if self._zone is None:
            return t_rx_unix
        if not date or not clock:
            flags.append("sbs_time_missing")
            return t_rx_unix
        fmt = "%Y/%m/%d %H:%M:%S.%f" if "." in clock else "%Y/%m/%d %H:%M:%S"
        try:
            naive = datetime.strptime(f"{date} {clock}", fmt)
        except ValueError:
            raise DecodeError(f"date/time {date[:12]!r} {clock[:14]!r} unreadable") from None
        t_unix = naive.replace(tzinfo=self._zone).timestamp()
        if abs(t_unix - t_rx_unix) > self.options.max_time_skew_s:
            flags.append("sbs_time_skew")  # often a build writing local time: set time_zone
        return t_unix

    def _state(self, address: str) -> _Aircraft:
        return self._aircraft.touch(address, _Aircraft)

    def _message(
        self,
        ttype: int,
        address: str,
        f: list[str],
        t_unix: float,
        flags: list[str],
        frame_seq: int,
    ) -> list[Detection]:
        altitude_ft = _number(f[11].strip(), "altitude", *_ALT_FT)
        speed_kt = _number(f[12].strip(), "ground speed", *_SPEED_KT)
        track_deg = _number(f[13].strip(), "track", 0.0, 360.0)
        lat_deg = _number(f[14].strip(), "latitude", -90.0, 90.0)
        lon_deg = _number(f[15].strip(), "longitude", -180.0, 180.0)
        vrate_fpm = _number(f[16].strip(), "vertical rate", *_VRATE_FPM)
        squawk = f[17].strip()
        if squawk and (len(squawk) != 4 or any(c not in "01234567" for c in squawk)):
            raise DecodeError(f"squawk {squawk[:10]!r} is not 4 octal digits")
        state = self._state(address)
        callsign = f[10].strip()
        if callsign:
            state.callsign = callsign[:8]
        if squawk:
            state.squawk = squawk
        if altitude_ft is not None and ttype != 2:
            state.altitude = (t_unix, altitude_ft * FT_TO_M)
        velocity = None
        if speed_kt is not None and track_deg is not None:
            velocity = enu_velocity(speed_kt, track_deg, None if ttype == 2 else vrate_fpm)
            if ttype == 4:
                state.velocity = (t_unix, velocity)
        if ttype not in (2, 3) or lat_deg is None or lon_deg is None:
            return []
        if lat_deg == 0.0 and lon_deg == 0.0:
            raise DecodeError("position 0/0 (no position)")
        if state.squawk in _EMERGENCY_SQUAWKS:
            flags.append(f"squawk_{state.squawk}")
        if _flag(f[19]):
            flags.append("emergency")
        if ttype == 2 or _flag(f[21]):
            flags.append("on_ground")
        alt_m, vertical_std_m = self._altitude(ttype, altitude_ft, state, t_unix, flags)
        if velocity is None and ttype == 3 and state.velocity is not None:
            t_velocity, enu = state.velocity
            if abs(t_unix - t_velocity) <= self.options.state_max_age_s:
                velocity = enu
        h_std = self.sensor.noise.position_m
        return [
            Detection(
                sensor_id=self.sensor.sensor_id,
                t_unix=t_unix,
                kind=MeasurementKind.POSITION,
                position=GeoPoint(lat_deg=lat_deg, lon_deg=lon_deg, alt_m=alt_m),
                velocity_enu_mps=velocity,
                covariance=[
                    [h_std**2, 0.0, 0.0],
                    [0.0, h_std**2, 0.0],
                    [0.0, 0.0, vertical_std_m**2],
                ],
                identity=Identity(icao24=address, sensor_track_id=state.callsign),
                object_class=ObjectClass.MANNED_AIRCRAFT,
                class_source="adsb",
                flags=flags,
                raw=RawRef(sensor_id=self.sensor.sensor_id, frame_seq=frame_seq),
            )
        ]

    def _altitude(
        self,
        ttype: int,
        altitude_ft: float | None,
        state: _Aircraft,
        t_unix: float,
        flags: list[str],
    ) -> tuple[float | None, float]:
        """Height (m) and its 1-sigma: SBS has only pressure altitude, so it is widened."""
        baro_std = self.options.baro_vertical_std_m
        if ttype == 2:
            return None, baro_std  # on the surface: about the ground height near the receiver
        if altitude_ft is not None:
            flags.append("altitude_barometric")
            return altitude_ft * FT_TO_M, baro_std
        if state.altitude is not None:
            t_alt, alt_m = state.altitude
            if abs(t_unix - t_alt) <= self.options.state_max_age_s:
                flags += ["altitude_barometric", "altitude_from_earlier_message"]
                return alt_m, baro_std
        flags.append("altitude_unknown")
        return None, _ALTITUDE_UNKNOWN_STD_M
