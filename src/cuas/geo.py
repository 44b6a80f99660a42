"""WGS84 geodetic <-> ECEF <-> local east-north-up (ENU), vectorised over numpy arrays.

The tracker and the zone tests work in metres in a flat local frame around a site's
reference point; sensors speak latitude/longitude. These functions are the only place
that crosses between the two. They are checked against pymap3d in the tests.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray

# WGS84 ellipsoid
WGS84_A_M = 6378137.0
WGS84_F = 1.0 / 298.257223563
WGS84_B_M = WGS84_A_M * (1.0 - WGS84_F)
WGS84_E2 = WGS84_F * (2.0 - WGS84_F)
_EP2 = (WGS84_A_M**2 - WGS84_B_M**2) / WGS84_B_M**2


def geodetic_to_ecef(
    lat_deg: ArrayLike, lon_deg: ArrayLike, alt_m: ArrayLike
) -> tuple[NDArray, NDArray, NDArray]:
    """Geodetic (degrees, metres above the ellipsoid) to ECEF metres."""
    lat = np.radians(np.asarray(lat_deg, dtype=float))
    lon = np.radians(np.asarray(lon_deg, dtype=float))
    alt = np.asarray(alt_m, dtype=float)
    sin_lat = np.sin(lat)
    n = WGS84_A_M / np.sqrt(1.0 - WGS84_E2 * sin_lat**2)  # prime vertical radius
    x = (n + alt) * np.cos(lat) * np.cos(lon)
    y = (n + alt) * np.cos(lat) * np.sin(lon)
    z = (n * (1.0 - WGS84_E2) + alt) * sin_lat
    return x, y, z


def ecef_to_geodetic(x: ArrayLike, y: ArrayLike, z: ArrayLike) -> tuple[NDArray, NDArray, NDArray]:
    """ECEF metres to geodetic (degrees, metres), Bowring's method with two refinements.

    Sub-millimetre for points from the Earth's centre out to geostationary altitude.
    """
    x = np.asarray(x, dtype=float)
    y = np.asarray(y, dtype=float)
    z = np.asarray(z, dtype=float)
    lon = np.arctan2(y, x)
    p = np.hypot(x, y)
    beta = np.arctan2(z * WGS84_A_M, p * WGS84_B_M)  # parametric latitude, first guess
    for _ in range(3):
        lat = np.arctan2(
            z + _EP2 * WGS84_B_M * np.sin(beta) ** 3,
            p - WGS84_E2 * WGS84_A_M * np.cos(beta) ** 3,
        )
        beta = np.arctan2(WGS84_B_M * np.sin(lat), WGS84_A_M * np.cos(lat))
    sin_lat = np.sin(lat)
    n = WGS84_A_M / np.sqrt(1.0 - WGS84_E2 * sin_lat**2)
    cos_lat = np.cos(lat)
    # Near the poles p/cos(lat) is ill-conditioned; use the z form there.
    alt = np.where(
        np.abs(cos_lat) > 1e-3,
        p / np.where(np.abs(cos_lat) > 1e-3, cos_lat, 1.0) - n,
        z / np.where(np.abs(sin_lat) > 1e-12, sin_lat, 1.0) - n * (1.0 - WGS84_E2),
    )
    return np.degrees(lat), np.degrees(lon), alt


@dataclass(frozen=True)
class EnuFrame:
    """A local east-north-up frame tangent to the ellipsoid at a reference point."""

    lat0_deg: float
    lon0_deg: float
    alt0_m: float = 0.0

    def __post_init__(self) -> None:
        lat0, lon0 = np.radians(self.lat0_deg), np.radians(self.lon0_deg)
        sl, cl, so, co = np.sin(lat0), np.cos(lat0), np.sin(lon0), np.cos(lon0)
        # Rows: east, north, up unit vectors expressed in ECEF.
        rot = np.array([[-so, co, 0.0], [-sl * co, -sl * so, cl], [cl * co, cl * so, sl]])
        object.__setattr__(self, "_rot", rot)
        object.__setattr__(
            self, "_origin", np.array(geodetic_to_ecef(self.lat0_deg, self.lon0_deg, self.alt0_m))
        )

    def from_geodetic(self, lat_deg: ArrayLike, lon_deg: ArrayLike, alt_m: ArrayLike) -> NDArray:
        """Geodetic points to ENU metres; returns shape (..., 3)."""
        ecef = np.stack(geodetic_to_ecef(lat_deg, lon_deg, alt_m), axis=-1)
        return (ecef - self._origin) @ self._rot.T

    def to_geodetic(self, enu_m: ArrayLike) -> tuple[NDArray, NDArray, NDArray]:
        """ENU metres of shape (..., 3) to (lat_deg, lon_deg, alt_m)."""
        ecef = np.asarray(enu_m, dtype=float) @ self._rot + self._origin
        return ecef_to_geodetic(ecef[..., 0], ecef[..., 1], ecef[..., 2])

    def rotate_to_enu(self, vec_ecef: ArrayLike) -> NDArray:
        """Rotate an ECEF vector (velocity, covariance axis) into this frame."""
        return np.asarray(vec_ecef, dtype=float) @ self._rot.T
