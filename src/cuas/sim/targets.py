"""Synthetic multi-target scenes in a local ENU frame: truth, detections and clutter.

Used to measure the tracker against truth and against Stone Soup on identical input.
Targets fly piecewise straight legs joined by coordinated turns and gentle climbs, at
drone speeds; each scan a target is detected with probability ``pd`` with Gaussian
position noise, and Poisson clutter is scattered uniformly over the surveillance volume.
Deterministic from the seed.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray


@dataclass(frozen=True)
class SceneConfig:
    n_targets: int = 10
    n_scans: int = 200
    scan_interval_s: float = 1.0
    pd: float = 0.9
    clutter_per_scan: float = 5.0
    noise_std_m: float = 5.0
    area_half_width_m: float = 4000.0  # targets and clutter stay within +-this east/north
    ceiling_m: float = 400.0
    seed: int = 1


@dataclass(frozen=True)
class Scan:
    t_s: float
    z_enu_m: NDArray  # (k,3) detections, targets and clutter shuffled together
    is_clutter: NDArray  # (k,) bool, for scoring only


@dataclass(frozen=True)
class Scene:
    config: SceneConfig
    truth_enu_m: NDArray  # (n_scans, n_targets, 3) positions at the scan times
    truth_vel_mps: NDArray  # (n_scans, n_targets, 3)
    scans: list[Scan]

    @property
    def measurement_cov_m2(self) -> NDArray:
        return np.eye(3) * self.config.noise_std_m**2


def _trajectories(cfg: SceneConfig, rng: np.random.Generator) -> tuple[NDArray, NDArray]:
    n, steps, dt = cfg.n_targets, cfg.n_scans, cfg.scan_interval_s
    half = cfg.area_half_width_m * 0.7
    pos = np.column_stack(
        [
            rng.uniform(-half, half, n),
            rng.uniform(-half, half, n),
            rng.uniform(40.0, cfg.ceiling_m * 0.7, n),
        ]
    )
    speed = rng.uniform(5.0, 25.0, n)  # m/s
    heading = rng.uniform(0.0, 2 * np.pi, n)  # rad, clockwise from north
    climb = np.zeros(n)
    turn_rate = np.zeros(n)  # rad/s
    manoeuvre_left = rng.uniform(10.0, 40.0, n)  # s until the current leg or turn ends
    turning = np.zeros(n, dtype=bool)
    out_pos = np.empty((steps, n, 3))
    out_vel = np.empty((steps, n, 3))
    substeps = 10
    h = dt / substeps
    for k in range(steps):
        vel = np.column_stack([speed * np.sin(heading), speed * np.cos(heading), climb])
        out_pos[k], out_vel[k] = pos, vel
        for _ in range(substeps):
            heading = heading + turn_rate * h
            vel = np.column_stack([speed * np.sin(heading), speed * np.cos(heading), climb])
            pos = pos + vel * h
        manoeuvre_left -= dt
        done = manoeuvre_left <= 0
        if done.any():
            turning[done] = ~turning[done]
            m = int(done.sum())
            rate = np.radians(rng.uniform(3.0, 12.0, m)) * rng.choice([-1.0, 1.0], m)
            turn_rate[done] = np.where(turning[done], rate, 0.0)
            climb[done] = np.where(turning[done], 0.0, rng.uniform(-1.5, 1.5, m))
            manoeuvre_left[done] = np.where(
                turning[done], rng.uniform(4.0, 12.0, m), rng.uniform(15.0, 45.0, m)
            )
        # keep targets in the box and above ground: head back towards the centre
        outside = (np.abs(pos[:, 0]) > half) | (np.abs(pos[:, 1]) > half)
        if outside.any() and not turning[outside].all():
            back = np.arctan2(-pos[outside, 0], -pos[outside, 1])
            heading[outside] = np.where(turning[outside], heading[outside], back)
        climb = np.where((pos[:, 2] < 30.0) | (pos[:, 2] > cfg.ceiling_m), -np.sign(climb), climb)
    return out_pos, out_vel


def make_scene(cfg: SceneConfig) -> Scene:
    rng = np.random.default_rng(cfg.seed)
    truth, vel = _trajectories(cfg, rng)
    scans = []
    lo = np.array([-cfg.area_half_width_m, -cfg.area_half_width_m, 0.0])
    hi = np.array([cfg.area_half_width_m, cfg.area_half_width_m, cfg.ceiling_m])
    for k in range(cfg.n_scans):
        seen = rng.random(cfg.n_targets) < cfg.pd
        z_true = truth[k, seen] + rng.normal(0.0, cfg.noise_std_m, (int(seen.sum()), 3))
        n_clutter = rng.poisson(cfg.clutter_per_scan)
        z_clutter = rng.uniform(lo, hi, (n_clutter, 3))
        z = np.vstack([z_true, z_clutter])
        flags = np.r_[np.zeros(len(z_true), bool), np.ones(n_clutter, bool)]
        order = rng.permutation(len(z))
        scans.append(Scan(k * cfg.scan_interval_s, z[order], flags[order]))
    return Scene(cfg, truth, vel, scans)
