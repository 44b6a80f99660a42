"""Time one NCV predict + update per track: our batched Numba kernels vs FilterPy objects.

Usage: python benchmarks/kernels.py
"""

import statistics
import time

import numpy as np
from filterpy.kalman import KalmanFilter

from cuas.tracking.kalman import cv_process_noise, cv_transition, predict_batch, update_batch

ACCEL_STD = 3.0  # m/s^2
DT = 1.0  # s
SIGMA = 10.0  # measurement std per ENU axis, m
REPEATS = 7


def make_states(n: int, rng: np.random.Generator) -> tuple[np.ndarray, ...]:
    x = rng.normal(0.0, 500.0, size=(n, 6))
    P = np.tile(np.diag([100.0, 100.0, 100.0, 625.0, 625.0, 625.0]), (n, 1, 1))  # m^2, (m/s)^2
    z = x[:, :3] + rng.normal(0.0, SIGMA, size=(n, 3))
    R = np.tile(np.eye(3) * SIGMA**2, (n, 1, 1))
    return x, P, z, R


def time_ours(n: int, rng: np.random.Generator) -> float:
    """Median seconds for predict_batch + update_batch over n tracks."""
    x0, P0, z, R = make_states(n, rng)
    dt = np.full(n, DT)
    idx = np.arange(n, dtype=np.int64)
    samples = []
    for _ in range(REPEATS + 1):  # the first call is the warm-up
        x, P = x0.copy(), P0.copy()
        start = time.perf_counter()
        predict_batch(x, P, dt, ACCEL_STD)
        update_batch(x, P, idx, z, R)
        samples.append(time.perf_counter() - start)
    return statistics.median(samples[1:])


def time_filterpy(n: int, rng: np.random.Generator) -> float:
    """Median seconds for kf.predict() + kf.update() over n FilterPy filters."""
    x0, P0, z, R = make_states(n, rng)
    F = cv_transition(DT)
    Q = cv_process_noise(DT, ACCEL_STD)
    H = np.hstack([np.eye(3), np.zeros((3, 3))])
    zs = [zi.reshape(3, 1) for zi in z]
    samples = []
    for _ in range(REPEATS + 1):
        filters = []
        for i in range(n):
            kf = KalmanFilter(dim_x=6, dim_z=3)
            kf.x, kf.P, kf.F, kf.Q, kf.H, kf.R = x0[i].reshape(6, 1), P0[i].copy(), F, Q, H, R[i]
            filters.append(kf)
        start = time.perf_counter()
        for kf, zi in zip(filters, zs, strict=True):
            kf.predict()
            kf.update(zi)
        samples.append(time.perf_counter() - start)
    return statistics.median(samples[1:])


def main() -> None:
    rng = np.random.default_rng(0)
    print(f"{'N':>6} {'ours us/track':>14} {'filterpy us/track':>18} {'ratio':>8}")
    for n in (1, 100, 1000):
        ours = time_ours(n, rng) / n * 1e6
        ref = time_filterpy(n, rng) / n * 1e6
        print(f"{n:>6} {ours:>14.3f} {ref:>18.2f} {ref / ours:>7.0f}x")


if __name__ == "__main__":
    main()
