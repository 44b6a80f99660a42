"""An example radar that reports plots as text lines, one per line, over serial or TCP.

Wire format (one ASCII line, fields separated by single spaces):

    PLOT <t_unix> <range_m> <azimuth_deg> <elevation_deg> [<track_id>]

``azimuth_deg`` is clockwise from the radar's boresight (cuas adds the sensor's
``orientation.yaw_deg`` to make it true); ``elevation_deg`` is above the horizontal.
``t_unix`` is when the plot was measured. Any other first word is a line this radar sends
that is not a plot (e.g. ``HELLO``) and carries nothing to track.
"""

from __future__ import annotations

import math
import re

from pydantic import BaseModel, ConfigDict, Field

from cuas.driver import (
    DecodeError,
    Detection,
    Driver,
    Framing,
    Identity,
    MeasurementKind,
    RawRef,
)

_NUMBER = re.compile(r"^-?\d{1,10}(\.\d{1,9})?$")
_TRACK_ID = re.compile(r"^[A-Za-z0-9_-]{1,16}$")


class ExampleRadarOptions(BaseModel):
    """The ``[sensors.options]`` table of a sensor using this driver, validated at start."""

    model_config = ConfigDict(extra="forbid")
    min_range_m: float = Field(30.0, ge=0, description="plots closer than this are clutter")
    max_range_m: float = Field(5000.0, gt=0, description="the radar's instrumented range")


def _number(text: str, name: str) -> float:
    if not _NUMBER.match(text):
        raise DecodeError(f"{name}: not a decimal number ({text[:20]!r})")
    return float(text)


def parse_plot(line: bytes) -> tuple[float, float, float, float, str | None] | None:
    """(t_unix, range_m, azimuth_deg, elevation_deg, track_id) of a PLOT line; None otherwise."""
    try:
        words = line.decode("ascii").split(" ")
    except UnicodeDecodeError:
        raise DecodeError("not ASCII") from None
    if words[0] != "PLOT":
        if not words[0].isalpha():
            raise DecodeError(f"not a sentence: first word {words[0][:12]!r}")
        return None
    if len(words) not in (5, 6):
        raise DecodeError(f"PLOT: {len(words) - 1} fields, expected 4 or 5")
    t_unix = _number(words[1], "t_unix")
    range_m = _number(words[2], "range_m")
    azimuth_deg = _number(words[3], "azimuth_deg")
    elevation_deg = _number(words[4], "elevation_deg")
    if not (0 <= azimuth_deg <= 360 and -90 <= elevation_deg <= 90 and range_m >= 0):
        raise DecodeError("PLOT: range, azimuth or elevation out of bounds")
    track_id = words[5] if len(words) == 6 else None
    if track_id is not None and not _TRACK_ID.match(track_id):
        raise DecodeError(f"track_id: {track_id[:20]!r}")
    return t_unix, range_m, azimuth_deg, elevation_deg, track_id


class ExampleRadarDriver(Driver):
    """PLOT lines from the example radar, as RANGE_AZ_EL detections."""

    name = "example_radar"
    framing = Framing.LINE
    Options = ExampleRadarOptions
    max_frame_bytes = 128

    def decode(self, frame: bytes, t_rx_unix: float, frame_seq: int) -> list[Detection]:
        plot = parse_plot(frame)
        if plot is None:
            self.counters["other_lines"] += 1
            return []
        t_unix, range_m, azimuth_deg, elevation_deg, track_id = plot
        if not self.options.min_range_m <= range_m <= self.options.max_range_m:
            self.counters["out_of_range"] += 1
            return []
        noise = self.sensor.noise  # 1-sigma errors the deployment declares for this radar
        azimuth = math.radians((azimuth_deg + self.sensor.orientation.yaw_deg) % 360.0)
        return [
            Detection(
                sensor_id=self.sensor.sensor_id,
                t_unix=t_unix,
                kind=MeasurementKind.RANGE_AZ_EL,
                range_m=range_m,
                azimuth_rad=azimuth,
                elevation_rad=math.radians(elevation_deg),
                covariance=[
                    [noise.range_m**2, 0.0, 0.0],
                    [0.0, math.radians(noise.azimuth_deg) ** 2, 0.0],
                    [0.0, 0.0, math.radians(noise.elevation_deg) ** 2],
                ],
                identity=Identity(sensor_track_id=track_id),
                class_source="radar",
                raw=RawRef(sensor_id=self.sensor.sensor_id, frame_seq=frame_seq),
            )
        ]
