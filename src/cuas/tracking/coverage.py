"""Where and how often a sensor can see: the facts M-of-N needs to know a miss from no chance.

A track outside a sensor's cover (beyond its range, outside its azimuth sector, below its
lowest elevation or above its highest one, the cone of silence of a radar overhead) is never
charged a miss by that sensor; a track inside it is charged at most once per revisit (a
rotating radar's rotation, a receiver's broadcast or report interval). Positions are in the
site's local ENU frame, metres; azimuths clockwise from north in the sensor's own local ENU.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np


@dataclass(frozen=True)
class SensorSight:
    """A sensor's cover and revisit period as the tracker uses them; every field optional.

    position_enu_m None: the cover cannot be placed, so every track counts as inside it.
    rot_local: site ENU -> the sensor's local ENU (north of a distant sensor is not the
    site's). revisit_s None: the tracker learns the period from the sensor's hits.
    """

    position_enu_m: np.ndarray | None = None
    rot_local: np.ndarray = field(default_factory=lambda: np.eye(3))
    range_m: float = math.inf
    min_range_m: float = 0.0
    yaw_deg: float = 0.0  # centre of the azimuth sector, clockwise from north
    azimuth_width_deg: float = 360.0
    min_elevation_deg: float = -90.0
    max_elevation_deg: float = 90.0  # above this: the cone of silence overhead
    revisit_s: float | None = None

    def __post_init__(self) -> None:
        if self.revisit_s is not None and not (
            math.isfinite(self.revisit_s) and self.revisit_s > 0
        ):
            raise ValueError(f"revisit_s must be a positive time in s, not {self.revisit_s}")
        if not 0.0 <= self.min_range_m < self.range_m:
            raise ValueError(
                f"need 0 <= min_range_m ({self.min_range_m}) < range_m ({self.range_m})"
            )
        if not self.min_elevation_deg < self.max_elevation_deg:
            raise ValueError("min_elevation_deg must be below max_elevation_deg")

    @property
    def bounded(self) -> bool:
        """Whether the cover excludes anything at all (else covers() is all True)."""
        return self.position_enu_m is not None and (
            self.range_m < math.inf
            or self.min_range_m > 0.0
            or self.azimuth_width_deg < 360.0
            or self.min_elevation_deg > -90.0
            or self.max_elevation_deg < 90.0
        )

    def covers(self, points_enu_m: np.ndarray) -> np.ndarray:
        """(n,) bool: which of points (n, 3) m in the site frame lie inside the cover."""
        points = np.asarray(points_enu_m, np.float64).reshape(-1, 3)
        if not self.bounded:
            return np.ones(points.shape[0], bool)
        rel = (points - self.position_enu_m) @ self.rot_local.T  # the sensor's local ENU
        horiz = np.hypot(rel[:, 0], rel[:, 1])
        range_m = np.hypot(horiz, rel[:, 2])
        inside = (range_m >= self.min_range_m) & (range_m <= self.range_m)
        elevation_deg = np.degrees(np.arctan2(rel[:, 2], horiz))
        inside &= (elevation_deg >= self.min_elevation_deg) & (
            elevation_deg <= self.max_elevation_deg
        )
        if self.azimuth_width_deg < 360.0:
            azimuth_deg = np.degrees(np.arctan2(rel[:, 0], rel[:, 1]))
            off_deg = (azimuth_deg - self.yaw_deg + 180.0) % 360.0 - 180.0
            inside &= np.abs(off_deg) <= self.azimuth_width_deg / 2.0
        return inside
