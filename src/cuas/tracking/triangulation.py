"""Starting tracks from bearing-only direction finding: crossing bearings of several sensors.

One bearing says nothing about range, so it never starts a track. Unassociated bearings
wait in a :class:`BearingPool` for a short window; a bearing from another sensor that
crosses one of them at a usable angle, in front of both sensors, starts a track at the
weighted least-squares intersection of the bearing lines in the horizontal plane, with
the covariance the geometry gives. Height comes from elevations when the sensors measure
them, otherwise from a broad prior. Bearings that expire uncrossed are counted, not lost
silently.
"""

from dataclasses import dataclass

import numpy as np
from scipy.special import gammaincinv  # chi2.ppf(p, k) is 2 gammaincinv(k/2, p); no scipy.stats


@dataclass(frozen=True)
class Crossing:
    position_enu_m: np.ndarray  # (3,)
    covariance_m2: np.ndarray  # (3, 3)
    min_angle_rad: float  # sharpest angle between two of the bearing lines used


def _directions(azimuth_rad: np.ndarray, rot_local: np.ndarray) -> np.ndarray:
    """Unit horizontal bearing directions (k, 2) in the site frame, east and north."""
    local = np.stack([np.sin(azimuth_rad), np.cos(azimuth_rad), np.zeros_like(azimuth_rad)], -1)
    site = np.einsum("kba,kb->ka", rot_local, local)  # rot_local' @ local, per bearing
    return site[:, :2] / np.linalg.norm(site[:, :2], axis=1, keepdims=True)


def triangulate(
    sensor_enu_m: np.ndarray,
    rot_local: np.ndarray,
    azimuth_rad: np.ndarray,
    azimuth_var_rad2: np.ndarray,
    elevation_rad: np.ndarray,
    elevation_var_rad2: np.ndarray,
    extra_var_m2: np.ndarray,
    *,
    min_angle_rad: float,
    max_range_m: float,
    gate_probability: float,
    prior_height_m: float,
    prior_height_std_m: float,
) -> Crossing | None:
    """Least-squares intersection of k >= 2 bearing lines, or None where the geometry is bad.

    Each line i through sensor i, direction u_i, constrains the point p by n_i . (p - s_i) = 0
    with n_i the horizontal normal; its error is the cross-range std r_i * sigma_az_i (plus
    extra_var_m2[i], e.g. the target's possible motion since an older bearing). Rejected:
    crossings sharper than min_angle_rad, behind a sensor, beyond max_range_m, and (k >= 3)
    lines that do not meet within the chi-square gate. NaN elevations are absent.
    """
    s = sensor_enu_m[:, :2]
    u = _directions(azimuth_rad, rot_local)
    n = np.stack([u[:, 1], -u[:, 0]], -1)
    cross = np.abs(u[:, None, 0] * u[None, :, 1] - u[:, None, 1] * u[None, :, 0])
    best_angle = float(np.arcsin(np.clip(cross.max(), 0.0, 1.0)))
    if best_angle < min_angle_rad:
        return None
    ranges = np.ones(len(s))
    for _ in range(3):  # weights depend on the ranges to the point they locate
        w = 1.0 / (azimuth_var_rad2 * ranges**2 + extra_var_m2)
        A = np.einsum("k,ka,kb->ab", w, n, n)
        b = np.einsum("k,ka,kb,kb->a", w, n, n, s)
        p = np.linalg.solve(A, b)
        along = np.einsum("ka,ka->k", p - s, u)
        if (along <= 0.0).any() or (along > max_range_m).any():
            return None
        ranges = along
    cov_h = np.linalg.inv(A)
    if len(s) >= 3:
        resid = np.einsum("ka,ka->k", n, p - s)
        if float(np.sum(w * resid**2)) > 2.0 * gammaincinv((len(s) - 2) / 2, gate_probability):
            return None
    has_el = ~np.isnan(elevation_rad)
    if has_el.any():
        tan_el = np.tan(elevation_rad[has_el])
        range_var = np.einsum("ka,ab,kb->k", u[has_el], cov_h, u[has_el])
        heights = sensor_enu_m[has_el, 2] + ranges[has_el] * tan_el
        var = (
            (ranges[has_el] / np.cos(elevation_rad[has_el]) ** 2) ** 2 * elevation_var_rad2[has_el]
            + tan_el**2 * range_var
            + extra_var_m2[has_el]
        )
        height_var = 1.0 / np.sum(1.0 / var)
        height = height_var * np.sum(heights / var)
    else:
        height, height_var = prior_height_m, prior_height_std_m**2
    cov = np.zeros((3, 3))
    cov[:2, :2] = cov_h
    cov[2, 2] = height_var
    return Crossing(np.array([p[0], p[1], height]), cov, best_angle)


class BearingPool:
    """Unassociated bearings of the last window_s seconds, struct-of-arrays, newest last."""

    def __init__(self, window_s: float) -> None:
        self.window_s = window_s
        self.t_unix = np.empty(0)
        self.sensor = np.empty(0, np.int64)  # sensor column
        self.sensor_enu_m = np.empty((0, 3))
        self.rot_local = np.empty((0, 3, 3))
        self.az_el_rad = np.empty((0, 2))  # elevation NaN when not measured
        self.var_rad2 = np.empty((0, 2))
        self.key = np.empty(0, object)  # identity key or None

    def __len__(self) -> int:
        return self.t_unix.size

    def expire(self, t_unix: float) -> int:
        """Drop bearings older than the window before t_unix; return how many."""
        keep = self.t_unix >= t_unix - self.window_s
        self._select(keep)
        return int(keep.size - keep.sum())

    def add(
        self,
        t_unix: float,
        sensor: int,
        sensor_enu_m: np.ndarray,
        rot_local: np.ndarray,
        az_el_rad: np.ndarray,
        var_rad2: np.ndarray,
        key: str | None,
    ) -> None:
        self.t_unix = np.append(self.t_unix, t_unix)
        self.sensor = np.append(self.sensor, sensor)
        self.sensor_enu_m = np.vstack([self.sensor_enu_m, sensor_enu_m[None]])
        self.rot_local = np.concatenate([self.rot_local, rot_local[None]])
        self.az_el_rad = np.vstack([self.az_el_rad, az_el_rad[None]])
        self.var_rad2 = np.vstack([self.var_rad2, var_rad2[None]])
        key_arr = np.empty(1, object)
        key_arr[0] = key
        self.key = np.concatenate([self.key, key_arr])

    def remove(self, rows: np.ndarray) -> None:
        keep = np.ones(len(self), bool)
        keep[rows] = False
        self._select(keep)

    def _select(self, keep: np.ndarray) -> None:
        for name in (
            "t_unix",
            "sensor",
            "sensor_enu_m",
            "rot_local",
            "az_el_rad",
            "var_rad2",
            "key",
        ):
            setattr(self, name, getattr(self, name)[keep])


def best_crossing(
    pool: BearingPool, row: int, speed_std_mps: float, **limits: float
) -> tuple[Crossing, np.ndarray] | None:
    """The best crossing of pool bearing ``row`` with bearings of other sensors, and the pool
    rows it used; None if there is none.

    Pairs with each key-compatible bearing of another sensor are tried; bearings of further
    sensors that meet the pair within the gate are added. Most sensors wins, then the
    smallest horizontal uncertainty. Older bearings count with the distance the target may
    have flown since (speed_std_mps times their age).
    """
    key = pool.key[row]
    compatible = np.array([k is None or key is None or k == key for k in pool.key], bool)
    compatible &= pool.sensor != pool.sensor[row]
    age_s = pool.t_unix[row] - pool.t_unix
    extra_var = (speed_std_mps * age_s) ** 2

    def cross(rows: np.ndarray) -> Crossing | None:
        return triangulate(
            pool.sensor_enu_m[rows],
            pool.rot_local[rows],
            pool.az_el_rad[rows, 0],
            pool.var_rad2[rows, 0],
            pool.az_el_rad[rows, 1],
            pool.var_rad2[rows, 1],
            extra_var[rows],
            **limits,
        )

    best: tuple[tuple[int, float], Crossing, np.ndarray] | None = None
    for other in np.flatnonzero(compatible)[::-1]:  # newest first
        rows = np.array([row, other])
        found = cross(rows)
        if found is None:
            continue
        for third in np.flatnonzero(compatible)[::-1]:
            keys = {k for k in pool.key[np.append(rows, third)] if k is not None}
            if pool.sensor[third] in pool.sensor[rows] or len(keys) > 1:
                continue
            wider = cross(np.append(rows, third))
            if wider is not None:
                rows, found = np.append(rows, third), wider
        score = (-len(rows), float(np.trace(found.covariance_m2[:2, :2])))
        if best is None or score < best[0]:
            best = (score, found, rows)
    return None if best is None else (best[1], best[2])
