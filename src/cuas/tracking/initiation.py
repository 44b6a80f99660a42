"""Initiation: new tentative tracks from plots that joined none, and from crossing bearings.

A 3-D position or a radar plot (converted from range, azimuth and elevation; its radial
velocity seeds the velocity along the line of sight) starts a track at once. A bearing
alone says nothing about range: it waits in its picture's :class:`BearingPool` until a
bearing of another sensor crosses it (:mod:`cuas.tracking.triangulation`).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from cuas.tracking.config import TrackerConfig
from cuas.tracking.measurement import (
    BEARING_AZ_EL,
    RANGE_AZ_EL,
    RANGE_AZ_EL_RATE,
    polar_to_enu_batch,
)
from cuas.tracking.table import TrackTable
from cuas.tracking.triangulation import BearingPool, best_crossing


class PlotInitiator:
    """Starts a track at each position or radar plot it is given."""

    def __init__(self, init_velocity_std_mps: float, counters: dict[str, int]) -> None:
        self.init_velocity_std_mps = init_velocity_std_mps
        self.counters = counters

    def start(
        self,
        table: TrackTable,
        t_unix: float,
        dets: np.ndarray,
        codes: np.ndarray,
        z: np.ndarray,
        R: np.ndarray,
        sensor: np.ndarray,
        rot: np.ndarray,
        keys: Sequence[str | None],
        domain: int,
    ) -> np.ndarray:
        """New tracks at positions and radar plots dets; radial velocity seeds the velocity."""
        m = dets.size
        pos = z[dets, :3].copy()
        pos_cov = R[dets, :3, :3].copy()
        vel = np.zeros((m, 3))
        vel_cov = np.tile(np.eye(3) * self.init_velocity_std_mps**2, (m, 1, 1))
        polar = (codes[dets] == RANGE_AZ_EL) | (codes[dets] == RANGE_AZ_EL_RATE)
        if polar.any():
            pos[polar], pos_cov[polar] = polar_to_enu_batch(
                z[dets[polar]], R[dets[polar]], sensor, rot
            )
        for i, j in enumerate(dets):
            if codes[j] == RANGE_AZ_EL_RATE:
                los = (pos[i] - sensor) / np.linalg.norm(pos[i] - sensor)  # site ENU unit
                along = np.outer(los, los)
                vel[i] = z[j, 3] * los
                vel_cov[i] = vel_cov[i] @ (np.eye(3) - along) + R[j, 3, 3] * along
        self.counters["tracks_started"] += m
        return table.add(t_unix, pos, pos_cov, vel, vel_cov, [keys[j] for j in dets], domain)


class BearingInitiator:
    """Pools unassociated bearings per picture (live, exercise) and starts a track where
    bearings of different sensors cross."""

    def __init__(self, config: TrackerConfig, counters: dict[str, int]) -> None:
        self.config = config
        self.counters = counters
        self.pools = (BearingPool(config.bearing_window_s), BearingPool(config.bearing_window_s))

    def expire(self, t_unix: float) -> None:
        """Drop the bearings older than the window, counting them."""
        self.counters["bearings_expired"] += sum(pool.expire(t_unix) for pool in self.pools)

    def pool(
        self,
        table: TrackTable,
        t_unix: float,
        col: int,
        j: int,
        codes: np.ndarray,
        z: np.ndarray,
        R: np.ndarray,
        sensor: np.ndarray,
        rot: np.ndarray,
        keys: Sequence[str | None],
        domain: int,
    ) -> int:
        """Keep bearing j for crossing with bearings of its domain; start a track if it
        crosses pooled ones. Returns the new track row, or -1."""
        pool = self.pools[domain]
        has_el = codes[j] == BEARING_AZ_EL
        az_el = np.array([z[j, 0], z[j, 1] if has_el else np.nan])
        var = np.array([R[j, 0, 0], R[j, 1, 1] if has_el else np.nan])
        pool.add(t_unix, col, sensor, rot, az_el, var, keys[j])
        self.counters["bearings_pooled"] += 1
        cfg = self.config
        found = best_crossing(
            pool,
            len(pool) - 1,
            cfg.init_velocity_std_mps,
            min_angle_rad=math.radians(cfg.crossing_min_angle_deg),
            max_range_m=cfg.crossing_max_range_m,
            gate_probability=cfg.gate_probability,
            prior_height_m=cfg.crossing_height_m,
            prior_height_std_m=cfg.crossing_height_std_m,
        )
        if found is None:
            return -1
        crossing, used = found
        key = next((k for k in pool.key[used] if k is not None), None)
        used_cols = pool.sensor[used]
        pool.remove(used)
        self.counters["crossings"] += 1
        self.counters["tracks_started"] += 1
        vel_cov = np.eye(3)[None] * cfg.init_velocity_std_mps**2
        (row,) = table.add(
            t_unix,
            crossing.position_enu_m[None],
            crossing.covariance_m2[None],
            np.zeros((1, 3)),
            vel_cov,
            [key],
            domain,
        )
        # the other sensors whose bearings made the crossing updated the track too
        others = used_cols[used_cols != col]
        table.sensor_t[row, others] = t_unix
        table.chance_t[row, others] = t_unix
        return int(row)
