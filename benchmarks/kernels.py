"""Time our batched Numba kernels per track against FilterPy objects doing the same work.

Three tables: NCV predict + position update (vs KalmanFilter), radar range/azimuth/elevation
EKF update (vs ExtendedKalmanFilter), and a 3-mode IMM predict + position update (vs
IMMEstimator).

Usage: python benchmarks/kernels.py
"""

import statistics
import time

import numpy as np
from filterpy.kalman import ExtendedKalmanFilter, IMMEstimator, KalmanFilter

from cuas.tracking.imm import ct_transition, imm_predict_batch, imm_update_batch, mode_transition
from cuas.tracking.kalman import cv_process_noise, cv_transition, predict_batch, update_batch
from cuas.tracking.measurement import RANGE_AZ_EL, MeasurementBatch

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


SENSOR = np.array([0.0, -3000.0, 0.0])  # radar position, site ENU m
RAE_SIGMA = np.array([10.0, np.radians(1.0), np.radians(1.0)])  # m, rad, rad
TURN = np.array([0.0, 0.2, -0.2])  # IMM modes: rad/s
MODE_ACCEL = np.array([1.0, ACCEL_STD, ACCEL_STD])  # m/s^2
SOJOURN = 5.0  # s


def rae(x: np.ndarray) -> np.ndarray:
    d = x[:3] - SENSOR
    rho = np.hypot(d[0], d[1])
    return np.array([np.linalg.norm(d), np.arctan2(d[0], d[1]), np.arctan2(d[2], rho)])


def rae_jacobian(x: np.ndarray) -> np.ndarray:
    d = x[:3] - SENSOR
    r, rho = np.linalg.norm(d), np.hypot(d[0], d[1])
    H = np.zeros((3, 6))
    H[0, :3] = d / r
    H[1, :3] = [d[1] / rho**2, -d[0] / rho**2, 0.0]
    H[2, :3] = [-d[0] * d[2] / (r**2 * rho), -d[1] * d[2] / (r**2 * rho), rho / r**2]
    return H


def rae_residual(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    y = a - b
    y[1:] = (y[1:] + np.pi) % (2 * np.pi) - np.pi
    return y


def rae_scan(x: np.ndarray, rng: np.random.Generator) -> MeasurementBatch:
    n = x.shape[0]
    z = np.zeros((n, 4))
    R = np.zeros((n, 4, 4))
    for i in range(n):
        z[i, :3] = rae(x[i]) + rng.normal(0.0, RAE_SIGMA)
        R[i, :3, :3] = np.diag(RAE_SIGMA**2)
    return MeasurementBatch(np.full(n, RANGE_AZ_EL, np.int64), z, R, SENSOR, np.eye(3))


def time_ours_rae(n: int, rng: np.random.Generator) -> float:
    """Median seconds for one EKF range/azimuth/elevation update of n NCV tracks."""
    x0, P0, _, _ = make_states(n, rng)
    x0[:, 2] = np.abs(x0[:, 2]) + 50.0
    b = rae_scan(x0, rng)
    idx = np.arange(n, dtype=np.int64)
    samples = []
    for _ in range(REPEATS + 1):
        x, P = x0.copy(), P0.copy()
        xm, Pm, mu = x[:, None].copy(), P[:, None].copy(), np.ones((n, 1))
        start = time.perf_counter()
        imm_update_batch(xm, Pm, mu, x, P, idx, b.codes, b.z, b.R, b.sensor_enu_m, b.rot_local)
        samples.append(time.perf_counter() - start)
    return statistics.median(samples[1:])


def time_filterpy_rae(n: int, rng: np.random.Generator) -> float:
    """Median seconds for ExtendedKalmanFilter.update over n filters."""
    x0, P0, _, _ = make_states(n, rng)
    x0[:, 2] = np.abs(x0[:, 2]) + 50.0
    b = rae_scan(x0, rng)
    R = np.diag(RAE_SIGMA**2)
    samples = []
    for _ in range(REPEATS + 1):
        filters = []
        for i in range(n):
            ekf = ExtendedKalmanFilter(dim_x=6, dim_z=3)
            ekf.x, ekf.P, ekf.R = x0[i].copy(), P0[i].copy(), R
            filters.append(ekf)
        start = time.perf_counter()
        for ekf, zi in zip(filters, b.z[:, :3], strict=True):
            ekf.update(zi, rae_jacobian, rae, residual=rae_residual)
        samples.append(time.perf_counter() - start)
    return statistics.median(samples[1:])


def time_ours_imm(n: int, rng: np.random.Generator) -> float:
    """Median seconds for a 3-mode IMM predict + position update over n tracks."""
    x0, P0, z, R = make_states(n, rng)
    b = MeasurementBatch.positions(z, R)
    dt = np.full(n, DT)
    idx = np.arange(n, dtype=np.int64)
    samples = []
    for _ in range(REPEATS + 1):
        x, P = x0.copy(), P0.copy()
        xm = np.repeat(x[:, None], 3, axis=1)
        Pm = np.repeat(P[:, None], 3, axis=1)
        mu = np.full((n, 3), 1.0 / 3.0)
        start = time.perf_counter()
        imm_predict_batch(xm, Pm, mu, x, P, dt, TURN, MODE_ACCEL, SOJOURN)
        imm_update_batch(xm, Pm, mu, x, P, idx, b.codes, b.z, b.R, b.sensor_enu_m, b.rot_local)
        samples.append(time.perf_counter() - start)
    return statistics.median(samples[1:])


def time_filterpy_imm(n: int, rng: np.random.Generator) -> float:
    """Median seconds for IMMEstimator.predict() + update(z) over n estimators."""
    x0, P0, z, R = make_states(n, rng)
    H = np.hstack([np.eye(3), np.zeros((3, 3))])
    Pi = mode_transition(DT, 3, SOJOURN)
    samples = []
    for _ in range(REPEATS + 1):
        imms = []
        for i in range(n):
            modes = []
            for w, a in zip(TURN, MODE_ACCEL, strict=True):
                kf = KalmanFilter(dim_x=6, dim_z=3)
                kf.x, kf.P, kf.H, kf.R = x0[i].copy(), P0[i].copy(), H, R[i]
                kf.F, kf.Q = ct_transition(w, DT), cv_process_noise(DT, a)
                modes.append(kf)
            imms.append(IMMEstimator(modes, np.full(3, 1.0 / 3.0), Pi))
        start = time.perf_counter()
        for imm, zi in zip(imms, z, strict=True):
            imm.predict()
            imm.update(zi)
        samples.append(time.perf_counter() - start)
    return statistics.median(samples[1:])


def table(title: str, ours_fn, ref_fn, rng: np.random.Generator) -> None:
    print(title)
    print(f"{'N':>6} {'ours us/track':>14} {'filterpy us/track':>18} {'ratio':>8}")
    for n in (1, 100, 1000):
        ours = ours_fn(n, rng) / n * 1e6
        ref = ref_fn(n, rng) / n * 1e6
        print(f"{n:>6} {ours:>14.3f} {ref:>18.2f} {ref / ours:>7.0f}x")


def main() -> None:
    rng = np.random.default_rng(0)
    table("NCV predict + position update (KalmanFilter)", time_ours, time_filterpy, rng)
    table(
        "range/azimuth/elevation EKF update (ExtendedKalmanFilter)",
        time_ours_rae,
        time_filterpy_rae,
        rng,
    )
    table(
        "IMM, 3 modes: predict + position update (IMMEstimator)",
        time_ours_imm,
        time_filterpy_imm,
        rng,
    )


if __name__ == "__main__":
    main()
