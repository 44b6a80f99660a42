"""Interacting multiple model (IMM) kernels: constant velocity plus coordinated turns.

Drones cruise, then orbit or swing round a point of interest. The modes are a quiet
nearly-constant-velocity model and coordinated turns at a fixed rate to the left and to
the right (each with more process noise, which also absorbs dives, stops and turns at
other rates). Fixed-rate turns keep every mode linear in the same 6-D state
[e, n, u, ve, vn, vu], so mixing is exact (no state augmentation with a turn rate, no
mode with another dimension) and each mode is a plain Kalman/EKF filter, checked against
FilterPy's ``IMMEstimator``. One mode with zero turn rate is exactly the NCV filter, so the
tracker runs NCV through the same kernels.

Struct-of-arrays per track row k: mode states xm (n, M, 6), covariances Pm (n, M, 6, 6),
mode probabilities mu (n, M), and the moment-matched combination x (n, 6), P (n, 6, 6) that
gating and the outside world see. Mode switches are a continuous-time Markov chain: a mode
is left at rate 1/sojourn_s, to any other mode alike, so scans at any interval mix right.
"""

import math

import numba
import numpy as np

from cuas.tracking.kalman import cv_process_noise
from cuas.tracking.measurement import ekf_update

_MU_FLOOR = 1e-15  # keeps every mode reachable after a very unlikely measurement


@numba.njit(cache=True)
def ct_transition(turn_rate_rad_s: float, dt: float) -> np.ndarray:
    """F (6, 6): horizontal coordinated turn at a fixed rate (+ = counter-clockwise, left),
    constant vertical velocity. A zero rate is the NCV transition."""
    F = np.eye(6)
    F[2, 5] = dt
    w = turn_rate_rad_s
    if abs(w * dt) < 1e-9:
        F[0, 3] = dt
        F[1, 4] = dt
        return F
    s, c = math.sin(w * dt), math.cos(w * dt)
    F[0, 3] = s / w
    F[0, 4] = -(1.0 - c) / w
    F[1, 3] = (1.0 - c) / w
    F[1, 4] = s / w
    F[3, 3] = c
    F[3, 4] = -s
    F[4, 3] = s
    F[4, 4] = c
    return F


@numba.njit(cache=True)
def mode_transition(dt: float, n_modes: int, sojourn_s: float) -> np.ndarray:
    """Pi (M, M), Pi[i, j] = P(mode j after dt | mode i now)."""
    Pi = np.empty((n_modes, n_modes))
    if n_modes == 1:
        Pi[0, 0] = 1.0
        return Pi
    # generator: leave at rate 1/sojourn_s, to each other mode alike; its exponential is
    # 1/M + (delta_ij - 1/M) exp(-M/(M-1) dt/sojourn_s)
    decay = math.exp(-n_modes / (n_modes - 1) * dt / sojourn_s)
    for i in range(n_modes):
        for j in range(n_modes):
            Pi[i, j] = 1.0 / n_modes + ((1.0 if i == j else 0.0) - 1.0 / n_modes) * decay
    return Pi


@numba.njit(cache=True)
def imm_combine(xm: np.ndarray, Pm: np.ndarray, mu: np.ndarray, x: np.ndarray, P: np.ndarray):
    """x, P <- moment-matched mixture of the mode estimates of one track."""
    M = mu.shape[0]
    for a in range(6):
        acc = 0.0
        for m in range(M):
            acc += mu[m] * xm[m, a]
        x[a] = acc
    for a in range(6):
        for b in range(6):
            acc = 0.0
            for m in range(M):
                acc += mu[m] * (Pm[m, a, b] + (xm[m, a] - x[a]) * (xm[m, b] - x[b]))
            P[a, b] = acc


@numba.njit(cache=True)
def reweigh_modes(mu: np.ndarray, log_lik: np.ndarray) -> None:
    """In place for one track: mode probabilities mu <- mu * exp(log_lik), normalised, none
    below _MU_FLOOR (log-likelihoods shifted by their maximum, so none underflows alone)."""
    top = log_lik.max()
    total = 0.0
    for m in range(mu.shape[0]):
        mu[m] *= math.exp(log_lik[m] - top)
        total += mu[m]
    for m in range(mu.shape[0]):
        mu[m] = max(mu[m] / total, _MU_FLOOR)
    mu /= mu.sum()


@numba.njit(cache=True)
def _propagate(F: np.ndarray, P0: np.ndarray, Q: np.ndarray, out: np.ndarray, tmp: np.ndarray):
    """out <- F P0 F' + Q for 6x6 matrices, by explicit loops (BLAS calls cost more than
    the arithmetic at this size)."""
    for a in range(6):
        for b in range(6):
            acc = 0.0
            for c in range(6):
                acc += F[a, c] * P0[c, b]
            tmp[a, b] = acc
    for a in range(6):
        for b in range(6):
            acc = Q[a, b]
            for c in range(6):
                acc += tmp[a, c] * F[b, c]
            out[a, b] = acc


@numba.njit(cache=True)
def imm_predict(
    xm: np.ndarray,
    Pm: np.ndarray,
    mu: np.ndarray,
    Pi: np.ndarray,
    F: np.ndarray,
    Q: np.ndarray,
    x0: np.ndarray,
    P0: np.ndarray,
    tmp: np.ndarray,
) -> None:
    """In place for one track: mix with the mode transition Pi, predict mode m with F[m], Q[m],
    and set mu to the predicted mode probabilities. x0 (M, 6), P0 (M, 6, 6) and tmp (6, 6)
    are scratch space."""
    M = mu.shape[0]
    cbar = np.zeros(M)
    for j in range(M):
        for i in range(M):
            cbar[j] += mu[i] * Pi[i, j]
    for j in range(M):
        for a in range(6):
            acc = 0.0
            for i in range(M):
                acc += (Pi[i, j] * mu[i] / cbar[j]) * xm[i, a]
            x0[j, a] = acc
        for a in range(6):
            for b in range(6):
                acc = 0.0
                for i in range(M):
                    w = Pi[i, j] * mu[i] / cbar[j]
                    acc += w * (Pm[i, a, b] + (xm[i, a] - x0[j, a]) * (xm[i, b] - x0[j, b]))
                P0[j, a, b] = acc
    for j in range(M):
        for a in range(6):
            acc = 0.0
            for c in range(6):
                acc += F[j, a, c] * x0[j, c]
            xm[j, a] = acc
        _propagate(F[j], P0[j], Q[j], Pm[j], tmp)
    mu[:] = cbar


@numba.njit(cache=True)
def imm_predict_batch(
    xm: np.ndarray,
    Pm: np.ndarray,
    mu: np.ndarray,
    x: np.ndarray,
    P: np.ndarray,
    dt: np.ndarray,
    turn_rate_rad_s: np.ndarray,
    accel_std_mps2: np.ndarray,
    sojourn_s: float,
) -> None:
    """In place, per row k: an IMM prediction by dt[k] seconds, then the combined x[k], P[k]."""
    rows = np.arange(xm.shape[0])
    imm_predict_rows(xm, Pm, mu, x, P, rows, dt, turn_rate_rad_s, accel_std_mps2, sojourn_s)


@numba.njit(cache=True)
def imm_predict_rows(
    xm: np.ndarray,
    Pm: np.ndarray,
    mu: np.ndarray,
    x: np.ndarray,
    P: np.ndarray,
    rows: np.ndarray,
    dt: np.ndarray,
    turn_rate_rad_s: np.ndarray,
    accel_std_mps2: np.ndarray,
    sojourn_s: float,
) -> None:
    """In place, for each rows[i]: an IMM prediction by dt[i] seconds, then its combined x, P
    (the tracker predicts only the tracks a scan can touch, without copying them out).

    Rows of one scan mostly share dt, so the model matrices are rebuilt only when it changes.
    """
    M = turn_rate_rad_s.shape[0]
    F = np.empty((M, 6, 6))
    Q = np.empty((M, 6, 6))
    Pi = np.empty((M, M))
    x0 = np.empty((M, 6))
    P0 = np.empty((M, 6, 6))
    tmp = np.empty((6, 6))
    built_for = -1.0
    for i in range(rows.shape[0]):
        k = rows[i]
        d = dt[i]
        if d > 0.0:
            if d != built_for:
                for m in range(M):
                    F[m] = ct_transition(turn_rate_rad_s[m], d)
                    Q[m] = cv_process_noise(d, accel_std_mps2[m])
                Pi[:, :] = mode_transition(d, M, sojourn_s)
                built_for = d
            imm_predict(xm[k], Pm[k], mu[k], Pi, F, Q, x0, P0, tmp)
        imm_combine(xm[k], Pm[k], mu[k], x[k], P[k])


@numba.njit(cache=True)
def imm_update_batch(
    xm: np.ndarray,
    Pm: np.ndarray,
    mu: np.ndarray,
    x: np.ndarray,
    P: np.ndarray,
    idx: np.ndarray,
    codes: np.ndarray,
    z: np.ndarray,
    R: np.ndarray,
    sensor_enu_m: np.ndarray,
    rot_local: np.ndarray,
) -> None:
    """In place: update row idx[j] with detection j in every mode, reweight the modes by their
    likelihoods, recombine. A row repeated in idx gets sequential updates."""
    M = mu.shape[1]
    loglik = np.empty(M)
    for j in range(idx.shape[0]):
        k = idx[j]
        for m in range(M):
            loglik[m] = ekf_update(
                xm[k, m], Pm[k, m], codes[j], z[j], R[j], sensor_enu_m, rot_local
            )
        reweigh_modes(mu[k], loglik)
        imm_combine(xm[k], Pm[k], mu[k], x[k], P[k])
