"""The batched NCV kernels must reproduce FilterPy's Kalman filter, our reference."""

import numpy as np
import pytest
from filterpy.common import Q_continuous_white_noise
from filterpy.kalman import KalmanFilter

from cuas.tracking.kalman import (
    cv_process_noise,
    cv_transition,
    mahalanobis_cost,
    predict_batch,
    update_batch,
)

ACCEL_STD = 3.0  # m/s^2
H = np.hstack([np.eye(3), np.zeros((3, 3))])
# FilterPy's per-axis block layout [e, ve, n, vn, u, vu] -> ours [e, n, u, ve, vn, vu]
AXIS_TO_OURS = [0, 2, 4, 1, 3, 5]


def random_spd(rng: np.random.Generator, dim: int, scale: float) -> np.ndarray:
    A = rng.normal(size=(dim, dim))
    return scale * (A @ A.T / dim + 0.1 * np.eye(dim))


def reference_F(dt: float) -> np.ndarray:
    return np.eye(6) + dt * np.eye(6, k=3)


def reference_Q(dt: float) -> np.ndarray:
    Q = Q_continuous_white_noise(2, dt=dt, spectral_density=ACCEL_STD**2, block_size=3)
    return Q[np.ix_(AXIS_TO_OURS, AXIS_TO_OURS)]


@pytest.mark.parametrize("dt", [0.0, 0.02, 0.7, 3.5])
def test_transition_and_process_noise_match_filterpy(dt: float) -> None:
    np.testing.assert_array_equal(cv_transition(dt), reference_F(dt))
    np.testing.assert_allclose(
        cv_process_noise(dt, ACCEL_STD), reference_Q(dt), rtol=1e-12, atol=0.0
    )


def test_predict_and_update_match_filterpy_over_several_steps() -> None:
    rng = np.random.default_rng(20240601)
    n = 12
    x = rng.normal(0.0, 100.0, size=(n, 6))
    P = np.stack([random_spd(rng, 6, 50.0) for _ in range(n)])
    filters = []
    for i in range(n):
        kf = KalmanFilter(dim_x=6, dim_z=3)
        kf.x = x[i].reshape(6, 1).copy()
        kf.P = P[i].copy()
        kf.H = H.copy()
        filters.append(kf)

    for _ in range(6):
        dt = rng.uniform(0.0, 2.0, size=n)
        predict_batch(x, P, dt, ACCEL_STD)
        for i, kf in enumerate(filters):
            kf.predict(F=reference_F(dt[i]), Q=reference_Q(dt[i]))
        # a random subset of tracks, in random order, gets a measurement
        idx = rng.permutation(n)[: n // 2 + 1].astype(np.int64)
        z = x[idx, :3] + rng.normal(0.0, 20.0, size=(idx.size, 3))
        R = np.stack([random_spd(rng, 3, 30.0) for _ in idx])
        update_batch(x, P, idx, z, R)
        for j, i in enumerate(idx):
            filters[i].update(z[j].reshape(3, 1), R=R[j])
        for i, kf in enumerate(filters):
            np.testing.assert_allclose(x[i], kf.x.ravel(), rtol=1e-9, atol=1e-9)
            np.testing.assert_allclose(P[i], kf.P, rtol=1e-9, atol=1e-9)


def test_update_with_repeated_row_is_sequential() -> None:
    rng = np.random.default_rng(7)
    x = rng.normal(size=(1, 6))
    P = random_spd(rng, 6, 10.0)[None]
    z = rng.normal(size=(2, 3))
    R = np.stack([random_spd(rng, 3, 2.0) for _ in range(2)])
    kf = KalmanFilter(dim_x=6, dim_z=3)
    kf.x, kf.P, kf.H = x[0].reshape(6, 1).copy(), P[0].copy(), H.copy()
    update_batch(x, P, np.array([0, 0], np.int64), z, R)
    kf.update(z[0].reshape(3, 1), R=R[0])
    kf.update(z[1].reshape(3, 1), R=R[1])
    np.testing.assert_allclose(x[0], kf.x.ravel(), rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(P[0], kf.P, rtol=1e-9, atol=1e-12)


def test_mahalanobis_cost_matches_numpy() -> None:
    rng = np.random.default_rng(11)
    n, m = 7, 5
    x = rng.normal(0.0, 50.0, size=(n, 6))
    P = np.stack([random_spd(rng, 6, 40.0) for _ in range(n)])
    z = rng.normal(0.0, 50.0, size=(m, 3))
    R = np.stack([random_spd(rng, 3, 10.0) for _ in range(m)])
    expected = np.empty((n, m))
    for i in range(n):
        for j in range(m):
            y = z[j] - H @ x[i]
            S = H @ P[i] @ H.T + R[j]
            expected[i, j] = y @ np.linalg.solve(S, y)
    np.testing.assert_allclose(mahalanobis_cost(x, P, z, R), expected, rtol=1e-9)
