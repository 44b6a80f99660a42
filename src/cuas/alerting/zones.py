"""Zone geometry: which tracks are inside which zone, in the tracking frame's metres.

Zone polygons are configured in latitude/longitude and converted once to east-north
metres of the tracking frame; altitude bands are heights above the zone's own site
reference point. The inside test is vectorised over all tracks.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from cuas.geo import EnuFrame
from cuas.schema import Site, Zone


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


@dataclass(frozen=True)
class ZoneShape:
    site: Site
    zone: Zone
    polygon_en: NDArray  # (m,2) metres in the tracking frame

    def contains(self, points_en: NDArray, alt_m: NDArray) -> NDArray[np.bool_]:
        """Points (n,2) in the tracking frame, with WGS84 altitudes (n,) in metres."""
        if len(points_en) == 0:
            return np.zeros(0, dtype=bool)
        height = alt_m - (self.site.reference.alt_m or 0.0)
        in_band = (height >= self.zone.floor_m) & (height <= self.zone.ceiling_m)
        return in_band & points_in_polygon(points_en, self.polygon_en)


def build_zones(sites: list[Site], frame: EnuFrame) -> list[ZoneShape]:
    shapes = []
    for site in sites:
        for zone in site.zones:
            lat, lon = np.array(zone.polygon, dtype=float).T
            enu = frame.from_geodetic(lat, lon, np.full_like(lat, site.reference.alt_m or 0.0))
            shapes.append(ZoneShape(site, zone, enu[:, :2]))
    return shapes
