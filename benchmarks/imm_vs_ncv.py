"""The IMM against plain NCV on straight legs and on manoeuvres (turns, then braking to a
near hover), GOSPA per target (c = 50 m, p = 1) after a 10-scan warm-up, same detections.

N drones 50-300 m up at 5-25 m/s, 3 m noise, Pd 0.9, 5 clutter per 1 s scan. "straight":
constant velocity. "manoeuvre": each drone cycles through 15 s legs of straight flight, a
0.25 rad/s turn, straight, and 0.5 m/s (braked to a near hover), phases staggered.
NCV runs with accel_std_mps2 = 3 (the tracker benchmark's setting); the IMM with its defaults.

    python benchmarks/imm_vs_ncv.py                 # seeds 3 and 4, 40 drones, 120 scans
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from cuas.score.gospa import gospa
from cuas.tracking import Tracker, TrackerConfig

NOISE_M = 3.0
LEG_SCANS = 15
TURN_RAD_S = 0.25
HOVER_MPS = 0.5


def scene(kind: str, n: int, scans: int, seed: int) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """Truth positions and shuffled detections (targets and clutter) per 1 s scan."""
    rng = np.random.default_rng(seed)
    half_m = 3000.0
    p = np.column_stack([rng.uniform(-half_m / 2, half_m / 2, (n, 2)), rng.uniform(50, 300, n)])
    heading = rng.uniform(0, 2 * np.pi, n)
    speed = rng.uniform(5, 25, n)
    v = np.column_stack([speed * np.cos(heading), speed * np.sin(heading), np.zeros(n)])
    turn_sign = np.sign(np.sin(np.arange(n) + 1.0))
    truth, dets = [], []
    for k in range(scans):
        if kind == "manoeuvre":
            phase = (k // LEG_SCANS + np.arange(n)) % 4  # straight, turn, straight, hover
            w = np.where(phase == 1, TURN_RAD_S * turn_sign, 0.0)
            c, s = np.cos(w), np.sin(w)
            v[:, 0], v[:, 1] = v[:, 0] * c - v[:, 1] * s, v[:, 0] * s + v[:, 1] * c
            unit = v[:, :2] / np.maximum(np.linalg.norm(v[:, :2], axis=1, keepdims=True), 1e-9)
            v[:, :2] = unit * np.where(phase == 3, HOVER_MPS, speed)[:, None]
        p = p + v
        truth.append(p.copy())
        seen = p[rng.random(n) < 0.9]
        seen = seen + rng.normal(0, NOISE_M, seen.shape)
        clutter = np.column_stack([rng.uniform(-half_m, half_m, (5, 2)), rng.uniform(0, 400, 5)])
        z = np.vstack([seen, clutter])
        dets.append(z[rng.permutation(len(z))])
    return truth, dets


def run(model: str, truth: list[np.ndarray], dets: list[np.ndarray]) -> tuple[float, float]:
    """Mean GOSPA per target (m) and seconds of tracker time."""
    cfg = TrackerConfig(
        motion_model=model, accel_std_mps2=3.0, confirm_hits=3, confirm_window=3,
        coast_after_s=5.0, delete_after_s=5.0, tentative_delete_after_s=5.0,
    )  # fmt: skip
    tracker = Tracker(cfg)
    per_target = []
    spent_s = 0.0
    for k, (p, z) in enumerate(zip(truth, dets, strict=True)):
        R = np.broadcast_to(np.eye(3) * NOISE_M**2, (len(z), 3, 3))
        t0 = time.perf_counter()
        tracker.process_scan(float(k), "radar", z, R, [None] * len(z))
        tracker.advance(float(k))
        spent_s += time.perf_counter() - t0
        _, status, x = tracker.estimates(float(k))
        est = x[(status == "confirmed") | (status == "coasting"), :3]
        if k >= 10:
            per_target.append(gospa(est, p, 50.0).distance / len(p))
    return float(np.mean(per_target)), spent_s


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=40)
    parser.add_argument("--scans", type=int, default=120)
    parser.add_argument("--seeds", type=int, nargs="+", default=[3, 4])
    args = parser.parse_args()
    for model in ("imm", "ncv"):  # load the compiled kernels before timing
        run(model, *scene("straight", 3, 12, 0))
    print(
        f"{'scene':>9} {'seed':>4} {'ncv GOSPA/target':>16} {'imm':>6} {'imm/ncv':>7} {'time':>6}"
    )
    for kind in ("straight", "manoeuvre"):
        for seed in args.seeds:
            truth, dets = scene(kind, args.n, args.scans, seed)
            g_ncv, s_ncv = run("ncv", truth, dets)
            g_imm, s_imm = run("imm", truth, dets)
            print(
                f"{kind:>9} {seed:>4} {g_ncv:>16.3f} {g_imm:>6.3f} {g_imm / g_ncv:>7.3f} "
                f"{s_imm / s_ncv:>5.2f}x"
            )


if __name__ == "__main__":
    main()
