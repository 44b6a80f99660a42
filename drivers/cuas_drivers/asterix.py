"""ASTERIX radar plots and tracks over UDP: CAT048 plots, CAT062 system tracks, CAT010 tracks.

One datagram is one frame and holds one or more data blocks (``asterix_common``). Blocks of
other categories (CAT034 sector messages, CAT065 SDPS status, ...) are counted and skipped.
Each record becomes one detection; how the units map:

    CAT048 I040 RHO (1/256 NM) -> range_m (x 1852), THETA (360/2^16 deg) -> azimuth_rad,
           RANGE_AZ_EL relative to the sensor; elevation_rad from the I110 3-D height (25 ft),
           else the I090 flight level, when the sensor position (with altitude) is declared,
           by the spherical-earth triangle
           sin(el) = ((R + h_t)^2 - (R + h_s)^2 - r^2) / (2 r (R + h_s)), else None
    CAT048 I200 GSP (2^-14 NM/s), HDG (360/2^16 deg) -> velocity_enu_mps (gs sin, gs cos, 0)
    CAT062 I105 LAT/LON (180/2^25 deg) -> POSITION; alt_m from I130 (6.25 ft) when I080 MRH
           says it is the more reliable height or there is no I136, else from I136 (1/4 FL)
    CAT062 I185 VX/VY (0.25 m/s) + I220 (6.25 ft/min) -> velocity_enu_mps
    CAT010 I041 LAT/LON (180/2^31 deg) -> POSITION; else I040 RHO (1 m) / THETA or I042
           X/Y (1 m, east/north of the radar) -> RANGE_AZ_EL; I202 VX/VY (0.0625 m/s)
    I161 / I040 track number -> identity.sensor_track_id "SAC/SIC:TRK";
    I220 / I380 ADR Mode S address -> identity.icao24 (and object_class manned_aircraft)

Time: I140 / I070 are seconds since UTC midnight; they are put on the UTC day that lands
them nearest the receive time, so a plot from 23:59:59 received at 00:00:01 keeps its date.
Covariances come from I500 where the frame states them, else from the sensor's declared noise.

CAT048 records are cut by our own reader (``asterix_cat048_fast``; the driver runs about
ten times faster with it); ``decoder = "libasterix"`` makes libasterix, the reference it
is tested against, decode them instead. CAT062 and CAT010 are always libasterix's.
"""

from __future__ import annotations

import math
import re
from typing import Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field, field_validator

from cuas.driver import (
    DecodeError,
    Detection,
    Driver,
    Framing,
    MeasurementKind,
    ObjectClass,
    RawRef,
)
from cuas.driver import construct as build
from cuas_drivers import asterix_cat048_fast
from cuas_drivers.asterix_cat010 import TARGET_REPORT, Cat010Report, decode_cat010
from cuas_drivers.asterix_cat048 import Cat048Plot, decode_cat048
from cuas_drivers.asterix_cat062 import Cat062Track, decode_cat062
from cuas_drivers.asterix_common import EDITIONS, split_datablocks

DAY_S = 86_400.0
EARTH_RADIUS_M = 6_371_008.8  # mean radius: geometric line of sight, no refraction model
UNKNOWN_ELEVATION_VAR = (math.pi / 2) ** 2  # anything from horizon to zenith
DEFAULT_EDITIONS = {10: "1.1", 48: "1.32", 62: "1.21"}
_SAC_SIC = re.compile(r"^(\d{1,3})/(\d{1,3})$")
_GEOMETRIC_GUESSES = {0, 4, 5, 6}  # I062/080 SRC: none, from coverage, look-up, default
Record = TypeVar("Record", Cat048Plot, Cat062Track, Cat010Report)


class AsterixOptions(BaseModel):
    """The radar's profile: which sources, which editions, which clock, which noise."""

    model_config = ConfigDict(extra="forbid")
    sources: list[str] | None = Field(
        None, description='accepted "SAC/SIC" pairs, e.g. ["25/201"]; others are counted, skipped'
    )
    editions: dict[int, str] = Field(
        default_factory=dict,
        description='category -> edition, e.g. {48 = "1.31"}; default 010 1.1, 048 1.32, 062 1.21',
    )
    time_source: Literal["asterix", "receive"] = Field(
        "asterix", description="ASTERIX time of day on the receive date, or the receive time"
    )
    north_offset_deg: float = Field(
        0.0, ge=-360, le=360, description="added to every azimuth whose zero is not true north"
    )
    geometric_altitude_std_m: float = Field(30.0, gt=0, description="1-sigma, I130 without I500")
    pressure_altitude_std_m: float = Field(
        150.0, gt=0, description="1-sigma of a flight level taken as an altitude"
    )
    unknown_altitude_std_m: float = Field(
        1000.0, gt=0, description="1-sigma vertical when the report has no height"
    )
    transponder_class: ObjectClass = Field(
        ObjectClass.MANNED_AIRCRAFT,
        description="class of a target that replies with a Mode S address",
    )
    decoder: Literal["fast", "libasterix"] = Field(
        "fast",
        description="CAT048 records: our own reader, or libasterix (the reference, ~10x slower)",
    )

    @field_validator("sources")
    @classmethod
    def _sources(cls, value: list[str] | None) -> list[str] | None:
        for text in value or []:
            match = _SAC_SIC.match(text)
            if match is None or max(int(match[1]), int(match[2])) > 255:
                raise ValueError(f'{text!r} is not "SAC/SIC" with both in 0..255')
        return value

    @field_validator("editions")
    @classmethod
    def _editions(cls, value: dict[int, str]) -> dict[int, str]:
        for cat, edition in value.items():
            if cat not in DEFAULT_EDITIONS:
                raise ValueError(f"category {cat} is not decoded (decoded: 10, 48, 62)")
            if edition not in EDITIONS[cat]:
                known = ", ".join(EDITIONS[cat])
                raise ValueError(f"CAT{cat:03d} edition {edition!r} unknown (known: {known})")
        return value


def time_from_time_of_day(tod_s: float, t_rx_unix: float) -> float:
    """UNIX time of a UTC time of day, on the day that puts it nearest the receive time
    (yesterday, today or tomorrow; on a tie, the earlier)."""
    t = math.floor(t_rx_unix / DAY_S) * DAY_S + tod_s
    if t - t_rx_unix >= DAY_S / 2:
        return t - DAY_S
    if t_rx_unix - t > DAY_S / 2:
        return t + DAY_S
    return t


def elevation_from_height(range_m: float, sensor_alt_m: float, target_alt_m: float) -> float | None:
    """Elevation of a target at a slant range and height, seen from a sensor, on a sphere."""
    rs, rt = EARTH_RADIUS_M + sensor_alt_m, EARTH_RADIUS_M + target_alt_m
    if range_m <= 0:
        return None
    sin_el = (rt * rt - rs * rs - range_m * range_m) / (2 * range_m * rs)
    return math.asin(sin_el) if -1.0 <= sin_el <= 1.0 else None


class AsterixDriver(Driver):
    """ASTERIX CAT048 / CAT062 / CAT010 datagrams from radars and trackers."""

    name = "asterix"
    framing = Framing.MESSAGE
    Options = AsterixOptions

    def decode(self, frame: bytes, t_rx_unix: float, frame_seq: int) -> list[Detection]:
        opts: AsterixOptions = self.options  # type: ignore[assignment]
        editions = {**DEFAULT_EDITIONS, **opts.editions}
        t_rx_unix = float(t_rx_unix)
        raw = build.raw_ref(sensor_id=self.sensor.sensor_id, frame_seq=frame_seq)
        detections: list[Detection | None] = []
        for block in split_datablocks(frame):
            if block.category == 48:
                plots = self._accepted(self._cat048(block.records, editions[48]))
                detections += [self._from_cat048(p, t_rx_unix, raw) for p in plots]
            elif block.category == 62:
                tracks = self._accepted(decode_cat062(block.records, editions[62]))
                detections += [self._from_cat062(t, t_rx_unix, raw) for t in tracks]
            elif block.category == 10:
                reports = self._accepted(decode_cat010(block.records, editions[10]))
                detections += [
                    self._from_cat010(r, t_rx_unix, raw)
                    for r in reports
                    if r.message_type == TARGET_REPORT
                ]
            else:
                self.counters[f"blocks_skipped_cat{block.category:03d}"] += 1
        return [d for d in detections if d is not None]

    def _cat048(self, records: bytes, edition: str) -> list[Cat048Plot]:
        if self.options.decoder == "fast" and edition in asterix_cat048_fast.EDITIONS:
            return asterix_cat048_fast.decode_records(records, edition)
        return decode_cat048(records, edition)

    def _accepted(self, records: list[Record]) -> list[Record]:
        allowed = self.options.sources
        out = []
        for rec in records:
            self.counters["records"] += 1
            if allowed is not None and (
                rec.source is None or f"{rec.source[0]}/{rec.source[1]}" not in allowed
            ):
                self.counters["records_other_source"] += 1
                continue
            out.append(rec)
        return out

    def _time(self, tod_s: float | None, t_rx_unix: float, flags: list[str]) -> float:
        if tod_s is not None and not 0.0 <= tod_s < DAY_S + 1.0:  # + 1 s: a leap second
            raise DecodeError(f"time of day {tod_s} s is not within a day (wrong edition?)")
        if self.options.time_source == "receive":
            return t_rx_unix
        if tod_s is None:
            flags.append("time_from_receive")
            return t_rx_unix
        return time_from_time_of_day(tod_s, t_rx_unix)

    def _common(
        self, rec: Cat048Plot | Cat062Track | Cat010Report, t_rx_unix: float, raw: RawRef
    ) -> dict:
        flags = list(rec.flags)
        t_unix = self._time(rec.time_of_day_s, t_rx_unix, flags)
        track_id = None
        if rec.track_number is not None:
            sac, sic = rec.source if rec.source is not None else ("?", "?")
            track_id = f"{sac}/{sic}:{rec.track_number}"
        identity = build.identity(sensor_track_id=track_id, icao24=rec.icao24)
        common: dict = dict(
            sensor_id=self.sensor.sensor_id, t_unix=t_unix, identity=identity, flags=flags, raw=raw
        )
        if rec.icao24 is not None and self.options.transponder_class is not ObjectClass.UNKNOWN:
            common.update(object_class=self.options.transponder_class, class_source="mode_s")
        return common

    def _azimuth(self, azimuth_rad: float) -> float:
        return (azimuth_rad + math.radians(self.options.north_offset_deg)) % (2 * math.pi)

    def _polar(
        self,
        range_m: float,
        azimuth_rad: float,
        altitude_m: float | None,
        common: dict,
        altitude_std_m: float | None = None,
    ) -> Detection:
        noise = self.sensor.noise
        elevation = elevation_var = None
        sensor_alt = self.sensor.position.alt_m if self.sensor.position else None
        if altitude_m is not None and sensor_alt is not None:
            elevation = elevation_from_height(range_m, sensor_alt, altitude_m)
            if elevation is None:
                common["flags"].append("height_inconsistent_with_range")
            else:
                std = (altitude_std_m or self.options.pressure_altitude_std_m) / (
                    range_m * max(math.cos(elevation), 0.1)
                )
                elevation_var = std * std
        covariance = [
            [noise.range_m**2, 0.0, 0.0],
            [0.0, math.radians(noise.azimuth_deg) ** 2, 0.0],
            [0.0, 0.0, elevation_var or UNKNOWN_ELEVATION_VAR],
        ]
        return build.detection(
            kind=MeasurementKind.RANGE_AZ_EL,
            range_m=range_m,
            azimuth_rad=self._azimuth(azimuth_rad),
            elevation_rad=elevation,
            covariance=covariance,
            **common,
        )

    def _position(
        self,
        lat_deg: float,
        lon_deg: float,
        alt_m: float | None,
        vertical_std_m: float,
        horizontal: tuple[tuple[float, float], float | None] | None,
        common: dict,
    ) -> Detection:
        if not (-90.0 <= lat_deg <= 90.0 and -180.0 <= lon_deg <= 180.0):
            raise DecodeError(f"position ({lat_deg}, {lon_deg}) is not on Earth (wrong edition?)")
        if horizontal is None:
            sx = sy = self.sensor.noise.position_m
            cov_xy = 0.0
        else:
            (sx, sy), cov = horizontal
            sx, sy = max(sx, 0.5), max(sy, 0.5)  # a stated 0 m would make a singular matrix
            cov_xy = max(-0.99 * sx * sy, min(0.99 * sx * sy, cov or 0.0))
        return build.detection(
            kind=MeasurementKind.POSITION,
            position=build.geo_point(lat_deg=lat_deg, lon_deg=lon_deg, alt_m=alt_m),
            covariance=[
                [sx * sx, cov_xy, 0.0],
                [cov_xy, sy * sy, 0.0],
                [0.0, 0.0, vertical_std_m**2],
            ],
            **common,
        )

    def _from_cat048(self, plot: Cat048Plot, t_rx_unix: float, raw: RawRef) -> Detection | None:
        common = self._common(plot, t_rx_unix, raw)
        if plot.range_m is None or plot.azimuth_rad is None:
            self.counters["records_without_position"] += 1
            return None
        if plot.ground_speed_mps is not None and plot.heading_rad is not None:
            hdg = self._azimuth(plot.heading_rad)
            gs = plot.ground_speed_mps
            common["velocity_enu_mps"] = (gs * math.sin(hdg), gs * math.cos(hdg), 0.0)
        if plot.height_3d_m is not None:  # a 3-D radar's own height beats a Mode C level
            return self._polar(
                plot.range_m, plot.azimuth_rad, plot.height_3d_m, common,
                self.options.geometric_altitude_std_m,
            )  # fmt: skip
        return self._polar(plot.range_m, plot.azimuth_rad, plot.pressure_altitude_m, common)

    def _from_cat062(self, track: Cat062Track, t_rx_unix: float, raw: RawRef) -> Detection | None:
        common = self._common(track, t_rx_unix, raw)
        if track.lat_deg is None or track.lon_deg is None:
            self.counters["records_without_position"] += 1
            return None
        opts: AsterixOptions = self.options  # type: ignore[assignment]
        geometric_ok = (
            track.geometric_altitude_m is not None
            and track.geometric_source not in _GEOMETRIC_GUESSES
        )
        if geometric_ok and (track.geometric_preferred or track.pressure_altitude_m is None):
            alt_m = track.geometric_altitude_m
            v_std = track.geometric_altitude_std_m or opts.geometric_altitude_std_m
        elif track.pressure_altitude_m is not None:
            alt_m = track.pressure_altitude_m
            v_std = max(track.pressure_altitude_std_m or 0.0, opts.pressure_altitude_std_m)
            common["flags"].append("altitude_from_flight_level")
        else:
            alt_m, v_std = None, opts.unknown_altitude_std_m
        if track.velocity_en_mps is not None:
            up = track.climb_rate_mps if track.climb_rate_mps is not None else 0.0
            common["velocity_enu_mps"] = (*track.velocity_en_mps, up)
        horizontal = (
            None
            if track.position_std_m is None
            else (track.position_std_m, track.position_cov_xy_m2)
        )
        return self._position(track.lat_deg, track.lon_deg, alt_m, v_std, horizontal, common)

    def _from_cat010(self, rep: Cat010Report, t_rx_unix: float, raw: RawRef) -> Detection | None:
        common = self._common(rep, t_rx_unix, raw)
        if rep.velocity_en_mps is not None:
            common["velocity_enu_mps"] = (*rep.velocity_en_mps, 0.0)
        if rep.lat_deg is not None and rep.lon_deg is not None:
            opts: AsterixOptions = self.options  # type: ignore[assignment]
            alt_m = rep.pressure_altitude_m
            v_std = opts.unknown_altitude_std_m if alt_m is None else opts.pressure_altitude_std_m
            horizontal = (
                None if rep.position_std_m is None else (rep.position_std_m, rep.position_cov_xy_m2)
            )
            return self._position(rep.lat_deg, rep.lon_deg, alt_m, v_std, horizontal, common)
        if rep.range_m is not None and rep.azimuth_rad is not None:
            return self._polar(rep.range_m, rep.azimuth_rad, rep.pressure_altitude_m, common)
        if rep.xy_m is not None:
            east, north = rep.xy_m  # a 2-D radar's plane: the projection of its slant range
            azimuth = math.atan2(east, north) % (2 * math.pi)
            return self._polar(math.hypot(east, north), azimuth, rep.pressure_altitude_m, common)
        self.counters["records_without_position"] += 1
        return None
