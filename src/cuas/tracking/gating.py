"""Gating: which (track, detection) pairs may belong together, cheaply first, then exactly.

The pre-gate bounds, without predicting any track, where each track can be at the scan
time and keeps the detections inside that ball (a k-d tree when the scan is large); the
chi-square gate then tests the predicted tracks' Mahalanobis distances d2 against the
measurement dimension's threshold, and forbids pairing two different identity keys.
"""

from __future__ import annotations

import math

import numba
import numpy as np
from scipy.special import gammaincinv  # chi2.ppf(p, k) is 2 gammaincinv(k/2, p); no scipy.stats

from cuas.tracking.measurement import (
    MEASUREMENT_DIM,
    POSITION,
    RANGE_AZ_EL,
    RANGE_AZ_EL_RATE,
    polar_to_enu_batch,
)
from cuas.tracking.table import TrackTable

# Below this many track x detection pairs, a dense distance matrix beats building a k-d tree.
_BRUTE_FORCE_PAIRS = 40_000
# The spatial pre-gate's radius for radar plots, over the first-order bound: the converted
# covariance is the polar cell's linearisation (checked against the exact gate in the tests).
_POLAR_GATE_MARGIN = 1.25


@numba.njit(cache=True)
def pairs_within(
    xp: np.ndarray, radius_m: np.ndarray, zp: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """All (track i, detection j) with |xp[i] - zp[j]| <= radius_m[i], by brute force."""
    nt, nd = xp.shape[0], zp.shape[0]
    ti = np.empty(nt * nd, np.int64)
    dj = np.empty(nt * nd, np.int64)
    n = 0
    for i in range(nt):
        r2 = radius_m[i] * radius_m[i]
        for j in range(nd):
            d0 = xp[i, 0] - zp[j, 0]
            d1 = xp[i, 1] - zp[j, 1]
            d2 = xp[i, 2] - zp[j, 2]
            if d0 * d0 + d1 * d1 + d2 * d2 <= r2:
                ti[n] = i
                dj[n] = j
                n += 1
    return ti[:n], dj[:n]


@numba.njit(cache=True)
def reach_bounds(
    x: np.ndarray,
    P: np.ndarray,
    t: np.ndarray,
    t_now: float,
    turn_rate_max: float,
    accel_std_max: float,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Where each track can be at t_now without predicting it: the straight-line
    extrapolation c (n, 3) m of the combined state, a bound on the distance from c to the
    IMM-predicted mean (n,) m, and a bound on the predicted position variance (n,) m^2.

    Treat the prediction as p' = p + A v + w, with (p, v) the track's mixture (mean x,
    covariance P: mixing preserves both), A the position-from-velocity block of the mode's
    transition and w the process noise. Every mode's A is the integral of a rotation at
    most turn_rate_max over dt, so |A| <= dt and |(A - dt I) v| <= |v_h| min(w dt^2 / 2,
    2 dt). By Minkowski, sqrt(E|p' - w - c|^2) <= s_p + dt s_v + dev, with s_p, s_v the
    root traces of P's position and velocity blocks; the mean moves from c by at most
    dt s_v + dev; the variance is at most that square plus trace(Q) = accel^2 dt^3.
    """
    n = x.shape[0]
    centre = np.empty((n, 3))
    offset = np.empty(n)
    var = np.empty(n)
    for k in range(n):
        dt = max(0.0, t_now - t[k])
        for a in range(3):
            centre[k, a] = x[k, a] + dt * x[k, 3 + a]
        s_p = math.sqrt(P[k, 0, 0] + P[k, 1, 1] + P[k, 2, 2])
        s_v = math.sqrt(P[k, 3, 3] + P[k, 4, 4] + P[k, 5, 5])
        dev = math.hypot(x[k, 3], x[k, 4]) * dt * min(turn_rate_max * dt / 2.0, 2.0)
        offset[k] = dt * s_v + dev
        spread = s_p + offset[k]
        var[k] = spread * spread + accel_std_max * accel_std_max * dt * dt * dt
    return centre, offset, var


class Gate:
    """The chi-square gate of one probability, per measurement dimension 1..4, and the
    spatial pre-gate for a motion model whose modes turn at most turn_rate_max rad/s with
    process noise at most accel_max m/s^2."""

    def __init__(self, gate_probability: float, turn_rate_max: float, accel_max: float) -> None:
        self.thresholds = 2.0 * gammaincinv(np.arange(1, 5) / 2, gate_probability)
        self._turn_rate_max = turn_rate_max
        self._accel_max = accel_max

    def passes(
        self, d2: np.ndarray, codes: np.ndarray, track_keyed: np.ndarray, det_keyed: np.ndarray
    ) -> np.ndarray:
        """Which pairs (distances d2, detection model codes) pass: within the gate of their
        dimension, and not a keyed detection on a track holding another key."""
        return (d2 <= self.thresholds[MEASUREMENT_DIM[codes] - 1]) & ~(track_keyed & det_keyed)

    def candidate_pairs(
        self,
        table: TrackTable,
        t_unix: float,
        track_rows: np.ndarray,
        det_idx: np.ndarray,
        codes: np.ndarray,
        z: np.ndarray,
        R: np.ndarray,
        sensor: np.ndarray,
        rot: np.ndarray,
    ) -> tuple[np.ndarray, np.ndarray]:
        """(track, detection) index pairs that may pass the gate, as positions into the args.

        Positions and radar plots are pre-gated in space, from the tracks' unpredicted
        states: d2 <= g implies |z - m|^2 <= g * trace(S) for the predicted mean m, and
        :func:`reach_bounds` bounds m and trace(S) around a straight-line extrapolation, so
        a ball of that radius around it keeps every pair that can pass. A radar plot takes
        part as its converted position and covariance (the same bound to first order; the
        radius is widened by _POLAR_GATE_MARGIN for the curvature of the polar cell).
        Bearings are paired with every track (they are few per scan).
        """
        nt = track_rows.size
        dc = codes[det_idx]
        is_polar = (dc == RANGE_AZ_EL) | (dc == RANGE_AZ_EL_RATE)
        spatial = np.flatnonzero((dc == POSITION) | is_polar)
        parts_t: list[np.ndarray] = []
        parts_d: list[np.ndarray] = []
        if spatial.size:
            dets = det_idx[spatial]
            zp = z[dets, :3].copy()
            cov = R[dets, :3, :3].copy()
            polar = is_polar[spatial]
            if polar.any():
                zp[polar], cov[polar] = polar_to_enu_batch(
                    z[dets[polar]], R[dets[polar]], sensor, rot
                )
            r_var = np.trace(cov, axis1=1, axis2=2).max()
            gate = self.thresholds[MEASUREMENT_DIM[dc[spatial]].max() - 1]
            margin = _POLAR_GATE_MARGIN if polar.any() else 1.0
            xp, offset_m, p_var = reach_bounds(
                table.x[track_rows], table.P[track_rows], table.t[track_rows], t_unix,
                self._turn_rate_max, self._accel_max,
            )  # fmt: skip
            radius = margin * np.sqrt(gate * (p_var + r_var)) + offset_m  # m
            if nt * spatial.size <= _BRUTE_FORCE_PAIRS:
                ti, dj = pairs_within(xp, radius, zp)
                parts_t.append(ti)
                parts_d.append(spatial[dj])
            else:
                from scipy.spatial import cKDTree  # first use: start-up stays short

                hits = cKDTree(zp).query_ball_point(xp, radius)
                counts = np.fromiter((len(h) for h in hits), np.int64, nt)
                if counts.sum():
                    parts_t.append(np.repeat(np.arange(nt), counts))
                    parts_d.append(spatial[np.concatenate(hits).astype(np.int64)])
        other = np.flatnonzero(~((dc == POSITION) | is_polar))
        if other.size:
            parts_t.append(np.repeat(np.arange(nt), other.size))
            parts_d.append(np.tile(other, nt))
        if not parts_t:
            return np.empty(0, np.int64), np.empty(0, np.int64)
        return np.concatenate(parts_t), np.concatenate(parts_d)
