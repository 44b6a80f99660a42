"""Time to breach: when a point moving at constant velocity first comes within a margin of
a zone, vectorised over many moving points.

The path of each point is P(t) = p + v t (east-north metres, t in seconds from now) and
its margin r metres (a multiple of its position standard deviation). The zone grown by r
is the union of the zone and one capsule per polygon edge (the edge swept by a disc of
radius r), or a circle of radius R + r; the first entry time is the earliest start of the
time intervals in which P(t) is inside any of these pieces, over [0, horizon]. The height
must lie in the altitude band grown by r at that time.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

_EPS = 1e-12
Window = tuple[NDArray, NDArray]  # per point [from, to] seconds


def _interval_start(lo: NDArray, hi: NDArray, window: Window) -> NDArray:
    """Earliest time of [lo, hi] within the window; inf where they do not overlap."""
    w_lo, w_hi = window
    start = np.maximum(lo, w_lo)
    return np.where(start <= np.minimum(hi, w_hi), start, np.inf)


def _disc_interval(rel: NDArray, v: NDArray, radius: NDArray) -> tuple[NDArray, NDArray]:
    """Times when |rel + v t| <= radius, as [lo, hi] (empty: lo > hi), broadcasting.

    ``rel`` and ``v`` have a last axis of 2; ``radius`` broadcasts over the rest."""
    a = np.sum(v * v, axis=-1)
    b = 2.0 * np.sum(v * rel, axis=-1)
    c = np.sum(rel * rel, axis=-1) - radius**2
    disc = b * b - 4.0 * a * c
    moving = a > _EPS
    with np.errstate(divide="ignore", invalid="ignore"):
        root = np.sqrt(np.maximum(disc, 0.0))
        lo = np.where(moving, (-b - root) / (2.0 * a), np.where(c <= 0, -np.inf, np.inf))
        hi = np.where(moving, (-b + root) / (2.0 * a), np.where(c <= 0, np.inf, -np.inf))
    empty = moving & (disc < 0)
    return np.where(empty, np.inf, lo), np.where(empty, -np.inf, hi)


def _linear_interval(
    x0: NDArray, x1: NDArray, lo_v: NDArray, hi_v: NDArray
) -> tuple[NDArray, NDArray]:
    """Times when lo_v <= x0 + x1 t <= hi_v, as [lo, hi] (empty: lo > hi)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        ta = (lo_v - x0) / x1
        tb = (hi_v - x0) / x1
    static = np.abs(x1) <= _EPS
    inside_static = (x0 >= lo_v) & (x0 <= hi_v)
    lo = np.where(static, np.where(inside_static, -np.inf, np.inf), np.minimum(ta, tb))
    hi = np.where(static, np.where(inside_static, np.inf, -np.inf), np.maximum(ta, tb))
    return lo, hi


def polygon_entry_time(
    p_en: NDArray, v_en: NDArray, margin_m: NDArray, polygon_en: NDArray, window: Window
) -> NDArray:
    """Earliest t in the window (per point, e.g. [0, horizon] cut to the altitude band) at
    which P(t) is within ``margin_m`` of the polygon's boundary (its capsules), for (n,2)
    points, (n,2) velocities, (n,) margins and an (m,2) polygon; (n,) seconds, inf when
    never. A path already inside the polygon at the window's start needs a separate test:
    it meets a capsule only when it leaves."""
    a = polygon_en[None, :, :]  # (1, m, 2)
    d = np.roll(polygon_en, -1, axis=0)[None, :, :] - a
    length = np.linalg.norm(d, axis=-1)  # (1, m)
    unit = d / np.maximum(length, _EPS)[..., None]
    rel = p_en[:, None, :] - a  # (n, m, 2)
    v = v_en[:, None, :]
    r = margin_m[:, None]
    # The slab of the edge: signed distance to the edge's line |s| <= r and the foot of
    # the perpendicular within the edge, 0 <= u <= length.
    s0 = unit[..., 0] * rel[..., 1] - unit[..., 1] * rel[..., 0]
    s1 = unit[..., 0] * v[..., 1] - unit[..., 1] * v[..., 0]
    u0 = np.sum(unit * rel, axis=-1)
    u1 = np.sum(unit * v, axis=-1)
    s_lo, s_hi = _linear_interval(s0, s1, -r, r)
    u_lo, u_hi = _linear_interval(u0, u1, np.zeros_like(length), length)
    w = (window[0][:, None], window[1][:, None])
    slab = _interval_start(np.maximum(s_lo, u_lo), np.minimum(s_hi, u_hi), w)
    # The disc at the edge's first vertex (the next edge's covers its last).
    d_lo, d_hi = _disc_interval(rel, v, r)
    disc = _interval_start(d_lo, d_hi, w)
    return np.minimum(slab, disc).min(axis=1)


def circle_entry_time(
    p_en: NDArray,
    v_en: NDArray,
    margin_m: NDArray,
    centre_en: NDArray,
    radius_m: float,
    window: Window,
) -> NDArray:
    """Earliest t in the window at which P(t) is within ``radius_m + margin_m`` of the
    centre; (n,) seconds, inf when never."""
    lo, hi = _disc_interval(p_en - centre_en[None, :], v_en, radius_m + margin_m)
    return _interval_start(lo, hi, window)


def band_interval(
    height_m: NDArray, vz_mps: NDArray, floor_m: float, ceiling_m: float, margin_m: NDArray
) -> tuple[NDArray, NDArray]:
    """Times when the height is in [floor - margin, ceiling + margin], as [lo, hi]."""
    return _linear_interval(height_m, vz_mps, floor_m - margin_m, ceiling_m + margin_m)
