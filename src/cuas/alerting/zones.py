"""Zone geometry: which tracks are inside which zone, and when they would enter one.

Zones are configured in latitude/longitude (a polygon, or a circle by centre and radius)
and converted once to east-north metres of the tracking frame; altitude bands are heights
above the zone's own site reference point, so each zone is evaluated with its own site.
The tests are vectorised over all tracks.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import numpy as np
from numpy.typing import NDArray

from cuas.alerting.breach import band_interval, circle_entry_time, polygon_entry_time
from cuas.geo import EnuFrame
from cuas.schema import Site, Zone, ZoneLevel


def points_in_polygon(points_en: NDArray, polygon_en: NDArray) -> NDArray[np.bool_]:
    """Even-odd ray casting: for (n,2) points and an (m,2) closed-or-open polygon, (n,) bool."""
    x, y = points_en[:, 0][:, None], points_en[:, 1][:, None]
    x0, y0 = polygon_en[:, 0][None, :], polygon_en[:, 1][None, :]
    x1, y1 = np.roll(polygon_en[:, 0], -1)[None, :], np.roll(polygon_en[:, 1], -1)[None, :]
    straddles = (y0 > y) != (y1 > y)
    with np.errstate(divide="ignore", invalid="ignore"):
        x_cross = x0 + (y - y0) * (x1 - x0) / (y1 - y0)
    crossings = straddles & (x < x_cross)
    return (np.count_nonzero(crossings, axis=1) % 2) == 1


CIRCLE_VERTICES = 72  # the polygon drawn and scored for a circle zone (0.1 % of r inside)


@dataclass(frozen=True)
class ZoneShape:
    site: Site
    zone: Zone
    polygon_en: NDArray  # (m,2) metres in the tracking frame; for a circle, its outline
    circle_en: tuple[float, float, float] | None = None  # circle: east_m, north_m, radius_m

    @property
    def ignore(self) -> bool:
        return self.zone.level is ZoneLevel.IGNORE

    @cached_property
    def bounding_circle_en(self) -> tuple[float, float, float]:
        """East, north and radius (m) of a circle holding the whole zone."""
        if self.circle_en is not None:
            return self.circle_en
        centre = self.polygon_en.mean(axis=0)
        radius = float(np.hypot(*(self.polygon_en - centre).T).max())
        return float(centre[0]), float(centre[1]), radius

    def heights_m(self, alt_m: NDArray) -> NDArray:
        """WGS84 altitudes to heights above the zone's site reference."""
        return alt_m - (self.site.reference.alt_m or 0.0)

    def contains(self, points_en: NDArray, alt_m: NDArray) -> NDArray[np.bool_]:
        """Points (n,2) in the tracking frame, with WGS84 altitudes (n,) in metres."""
        if len(points_en) == 0:
            return np.zeros(0, dtype=bool)
        height = self.heights_m(alt_m)
        in_band = (height >= self.zone.floor_m) & (height <= self.zone.ceiling_m)
        return in_band & self._contains_en(points_en)

    def _contains_en(self, points_en: NDArray) -> NDArray[np.bool_]:
        if self.circle_en is not None:
            e, n, radius = self.circle_en
            return np.hypot(points_en[:, 0] - e, points_en[:, 1] - n) <= radius
        return points_in_polygon(points_en, self.polygon_en)

    def entry_time_s(
        self,
        points_en: NDArray,
        velocity_en: NDArray,
        alt_m: NDArray,
        vz_mps: NDArray,
        margin_m: NDArray,
        horizon_s: float,
    ) -> NDArray:
        """Seconds until each constant-velocity path (n,) first comes within ``margin_m``
        of the zone, altitude band included, within ``horizon_s``; inf when it does not."""
        b_lo, b_hi = band_interval(
            self.heights_m(alt_m), vz_mps, self.zone.floor_m, self.zone.ceiling_m, margin_m
        )
        window = (np.maximum(b_lo, 0.0), np.minimum(b_hi, horizon_s))
        if self.circle_en is not None:
            e, n, radius = self.circle_en
            centre = np.array([e, n])
            return circle_entry_time(points_en, velocity_en, margin_m, centre, radius, window)
        t = polygon_entry_time(points_en, velocity_en, margin_m, self.polygon_en, window)
        # a path over the polygon when it enters the band (climbing or descending into it)
        opens = window[0] <= window[1]
        at_open = points_en + velocity_en * np.where(opens, window[0], 0.0)[:, None]
        inside = opens & points_in_polygon(at_open, self.polygon_en)
        return np.where(inside, np.minimum(t, window[0]), t)


def may_contact(
    shapes: list[ZoneShape],
    points_en: NDArray,
    velocity_en: NDArray,
    margin_m: NDArray,
    horizon_s: float,
) -> NDArray[np.bool_]:
    """(n,) False where a track can neither be in any alerting zone nor enter one within
    horizon_s on its constant-velocity path with its margin: a cheap necessary test on the
    zones' bounding circles, so the exact rules run only for tracks near a zone."""
    near = np.zeros(len(points_en), dtype=bool)
    reach = np.hypot(velocity_en[:, 0], velocity_en[:, 1]) * horizon_s + margin_m + 1.0
    for shape in shapes:
        if shape.ignore:
            continue
        e, n, radius = shape.bounding_circle_en
        near |= np.hypot(points_en[:, 0] - e, points_en[:, 1] - n) - radius <= reach
    return near


def build_zones(sites: list[Site], frame: EnuFrame) -> list[ZoneShape]:
    shapes = []
    for site in sites:
        ref_alt = site.reference.alt_m or 0.0
        for zone in site.zones:
            if zone.circle is not None:
                c = zone.circle
                e, n, _ = frame.from_geodetic(c.lat_deg, c.lon_deg, ref_alt).reshape(3)
                a = np.linspace(0.0, 2.0 * np.pi, CIRCLE_VERTICES, endpoint=False)
                outline = np.column_stack([e + c.radius_m * np.sin(a), n + c.radius_m * np.cos(a)])
                shapes.append(ZoneShape(site, zone, outline, (float(e), float(n), c.radius_m)))
                continue
            lat, lon = np.array(zone.polygon, dtype=float).T
            enu = frame.from_geodetic(lat, lon, np.full_like(lat, ref_alt))
            shapes.append(ZoneShape(site, zone, enu[:, :2]))
    return shapes
