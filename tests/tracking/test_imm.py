"""IMM kernels against FilterPy's IMMEstimator, and IMM behaviour on a turning target."""

import numpy as np
import pytest
from filterpy.kalman import IMMEstimator, KalmanFilter
from scipy.linalg import expm

from cuas.tracking import Tracker, TrackerConfig
from cuas.tracking.imm import (
    ct_transition,
    imm_combine,
    imm_predict,
    imm_predict_batch,
    imm_update_batch,
    mode_transition,
)
from cuas.tracking.kalman import cv_process_noise
from cuas.tracking.measurement import MeasurementBatch

H = np.hstack([np.eye(3), np.zeros((3, 3))])


def _scratch(n_modes: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Work arrays imm_predict needs: mixed states, mixed covariances, a 6x6 temporary."""
    return np.empty((n_modes, 6)), np.empty((n_modes, 6, 6)), np.empty((6, 6))


def random_spd(rng: np.random.Generator, dim: int, scale: float) -> np.ndarray:
    A = rng.normal(size=(dim, dim))
    return scale * (A @ A.T / dim + 0.1 * np.eye(dim))


@pytest.mark.parametrize("w", [0.0, 0.3, -0.15])
def test_turn_transition_is_the_exponential_of_the_turn_dynamics(w: float) -> None:
    A = np.zeros((6, 6))
    A[0:3, 3:6] = np.eye(3)
    A[3, 4], A[4, 3] = -w, w  # d(ve)/dt = -w vn, d(vn)/dt = w ve: counter-clockwise
    for dt in (0.0, 0.1, 1.3, 4.0):
        np.testing.assert_allclose(ct_transition(w, dt), expm(A * dt), atol=1e-12)


def test_mode_transition_is_a_continuous_time_chain() -> None:
    rate = 1.0 / 5.0
    G = np.full((3, 3), rate / 2)
    np.fill_diagonal(G, -rate)
    for dt in (0.0, 0.5, 3.0):
        np.testing.assert_allclose(mode_transition(dt, 3, 5.0), expm(G * dt), atol=1e-12)


def test_imm_step_matches_filterpy_imm_estimator() -> None:
    rng = np.random.default_rng(42)
    dt = 0.8
    turn = np.array([0.0, 0.25])
    accel = np.array([1.0, 4.0])
    Pi = mode_transition(dt, 2, 4.0)
    F = np.stack([ct_transition(w, dt) for w in turn])
    Q = np.stack([cv_process_noise(dt, a) for a in accel])
    xm = rng.normal(0.0, 50.0, (1, 2, 6))
    Pm = np.stack([random_spd(rng, 6, 40.0) for _ in range(2)])[None]
    mu = np.array([[0.7, 0.3]])
    filters = []
    for m in range(2):
        kf = KalmanFilter(dim_x=6, dim_z=3)
        kf.x, kf.P, kf.F, kf.Q, kf.H = xm[0, m].copy(), Pm[0, m].copy(), F[m], Q[m], H
        filters.append(kf)
    imm = IMMEstimator(filters, mu[0].copy(), Pi)
    x, P = np.zeros((1, 6)), np.zeros((1, 6, 6))
    for _ in range(8):
        imm_predict(xm[0], Pm[0], mu[0], Pi, F, Q, *_scratch(2))
        imm.predict()
        for m in range(2):
            np.testing.assert_allclose(xm[0, m], filters[m].x, rtol=1e-9, atol=1e-9)
            np.testing.assert_allclose(Pm[0, m], filters[m].P, rtol=1e-9, atol=1e-9)
        np.testing.assert_allclose(mu[0], imm.cbar, rtol=1e-12)  # predicted mode probabilities
        z = xm[0, 0, :3] + rng.normal(0.0, 15.0, 3)
        R = random_spd(rng, 3, 60.0)
        for kf in filters:
            kf.R = R
        imm.update(z)
        batch = MeasurementBatch.positions(z[None], R[None])
        imm_update_batch(
            xm,
            Pm,
            mu,
            x,
            P,
            np.array([0]),
            batch.codes,
            batch.z,
            batch.R,
            batch.sensor_enu_m,
            batch.rot_local,
        )
        np.testing.assert_allclose(mu[0], imm.mu, rtol=1e-9, atol=1e-12)
        np.testing.assert_allclose(x[0], imm.x, rtol=1e-9, atol=1e-9)
        np.testing.assert_allclose(P[0], imm.P, rtol=1e-9, atol=1e-9)


def test_batch_prediction_equals_explicit_matrices_and_combines() -> None:
    rng = np.random.default_rng(3)
    n, M = 4, 3
    turn = np.array([0.0, 0.2, -0.2])
    accel = np.array([1.0, 3.0, 3.0])
    xm = rng.normal(0.0, 30.0, (n, M, 6))
    Pm = np.stack([[random_spd(rng, 6, 20.0) for _ in range(M)] for _ in range(n)])
    mu = rng.dirichlet(np.ones(M), n)
    dt = np.array([0.0, 0.5, 1.0, 2.5])
    x, P = np.zeros((n, 6)), np.zeros((n, 6, 6))
    ref = (xm.copy(), Pm.copy(), mu.copy())
    imm_predict_batch(xm, Pm, mu, x, P, dt, turn, accel, 5.0)
    for k in range(n):
        rx, rP, rmu = ref[0][k], ref[1][k], ref[2][k]
        if dt[k] > 0:
            F = np.stack([ct_transition(w, dt[k]) for w in turn])
            Q = np.stack([cv_process_noise(dt[k], a) for a in accel])
            imm_predict(rx, rP, rmu, mode_transition(dt[k], M, 5.0), F, Q, *_scratch(M))
        np.testing.assert_allclose(xm[k], rx, rtol=1e-12, atol=1e-12)
        np.testing.assert_allclose(mu[k], rmu, rtol=1e-12)
        # combination, written out independently
        mean = np.einsum("m,ma->a", rmu, rx)
        cov = sum(rmu[m] * (rP[m] + np.outer(rx[m] - mean, rx[m] - mean)) for m in range(M))
        np.testing.assert_allclose(x[k], mean, rtol=1e-12, atol=1e-9)
        np.testing.assert_allclose(P[k], cov, rtol=1e-12, atol=1e-9)
        cx, cP = np.zeros(6), np.zeros((6, 6))
        imm_combine(xm[k], Pm[k], mu[k], cx, cP)
        np.testing.assert_allclose(cx, x[k], rtol=1e-12)


def orbit_scenario(rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Times, truth and noisy positions: straight 40 s east at 15 m/s, a 180 deg left turn
    at 0.2 rad/s (~16 s), straight west 40 s."""
    dt, speed, w = 0.5, 15.0, 0.2
    t_turn = np.pi / w
    times = np.arange(0.0, 40.0 + t_turn + 40.0, dt)
    pos = np.zeros((times.size, 3))
    p = np.array([-600.0, 0.0, 100.0])
    heading = 0.0  # radians counter-clockwise from east
    for i, t in enumerate(times):
        pos[i] = p
        omega = w if 40.0 <= t < 40.0 + t_turn else 0.0
        heading += omega * dt / 2
        p = p + speed * dt * np.array([np.cos(heading), np.sin(heading), 0.0])
        heading += omega * dt / 2
    return times, pos, pos + rng.normal(0.0, 5.0, pos.shape)


def run(tracker: Tracker, times: np.ndarray, z: np.ndarray) -> list:
    out = []
    R = np.eye(3)[None] * 25.0
    for t, zi in zip(times, z, strict=True):
        tracker.process_scan(float(t), "s1", zi[None], R, [None])
        (view,) = tracker.tracks()
        out.append(view)
    return out


def test_turn_mode_probability_rises_in_the_turn_and_falls_after() -> None:
    times, truth, z = orbit_scenario(np.random.default_rng(8))
    views = run(Tracker(), times, z)
    left = np.array([v.mode_probabilities["turn_left"] for v in views])
    cv = np.array([v.mode_probabilities["cv"] for v in views])
    t_end = 40.0 + np.pi / 0.2
    before = (times > 20.0) & (times < 40.0)
    during = (times > 45.0) & (times < t_end)
    after = times > t_end + 10.0
    assert left[before].mean() < 0.2 and cv[before].mean() > 0.6
    assert left[during].mean() > 0.6
    assert left[after].mean() < 0.2 and cv[after].mean() > 0.6


def test_imm_is_not_worse_than_ncv_on_a_straight_target_and_better_in_the_turn() -> None:
    times, truth, z = orbit_scenario(np.random.default_rng(9))
    errors = {}
    for model in ("imm", "ncv"):
        views = run(Tracker(TrackerConfig(motion_model=model)), times, z)
        errors[model] = np.linalg.norm(np.array([v.x[:3] for v in views]) - truth, axis=1)
        assert views[-1].mode_probabilities is None if model == "ncv" else True
    straight = (times > 10.0) & (times < 40.0)
    turn = (times > 40.0) & (times < 40.0 + np.pi / 0.2)

    def rms(e: np.ndarray) -> float:
        return float(np.sqrt(np.mean(e**2)))

    assert rms(errors["imm"][straight]) <= rms(errors["ncv"][straight])
    assert rms(errors["imm"][turn]) <= rms(errors["ncv"][turn])
