"""Numba kernels for the nearly-constant-velocity (NCV) Kalman filter of the tracker.

They work on whole batches of tracks (struct-of-arrays: x (n, 6), P (n, 6, 6)) so the tracker
makes one compiled call per scan instead of one Python call per track. State is
[e, n, u, ve, vn, vu] in the local east-north-up frame, metres and m/s; measurements are ENU
positions in metres, H = [I3 0].
"""

import numba
import numpy as np


@numba.njit(cache=True)
def cv_transition(dt: float) -> np.ndarray:
    """F (6, 6) of the NCV model for a step of dt seconds."""
    F = np.eye(6)
    for a in range(3):
        F[a, a + 3] = dt
    return F


@numba.njit(cache=True)
def cv_process_noise(dt: float, accel_std_mps2: float) -> np.ndarray:
    """Q (6, 6), continuous white-noise acceleration of spectral density accel_std^2."""
    q = accel_std_mps2 * accel_std_mps2
    Q = np.zeros((6, 6))
    for a in range(3):
        Q[a, a] = q * dt**3 / 3.0  # m^2
        Q[a, a + 3] = q * dt**2 / 2.0  # m^2/s
        Q[a + 3, a] = q * dt**2 / 2.0
        Q[a + 3, a + 3] = q * dt  # m^2/s^2
    return Q


@numba.njit(cache=True)
def predict_batch(x: np.ndarray, P: np.ndarray, dt: np.ndarray, accel_std_mps2: float) -> None:
    """In place, per row k: x <- F x, P <- F P F' + Q with a step of dt[k] seconds."""
    for k in range(x.shape[0]):
        d = dt[k]
        for a in range(3):
            x[k, a] += d * x[k, a + 3]
        # F = [[I, d I], [0, I]]: F P adds d * velocity rows to position rows,
        # (F P) F' then adds d * velocity columns to position columns.
        for a in range(3):
            for b in range(6):
                P[k, a, b] += d * P[k, a + 3, b]
        for b in range(3):
            for a in range(6):
                P[k, a, b] += d * P[k, a, b + 3]
        P[k] += cv_process_noise(d, accel_std_mps2)


@numba.njit(cache=True)
def _inv3(S: np.ndarray, out: np.ndarray) -> None:
    """out <- inverse of the 3x3 matrix S, by cofactors."""
    c00 = S[1, 1] * S[2, 2] - S[1, 2] * S[2, 1]
    c01 = S[1, 2] * S[2, 0] - S[1, 0] * S[2, 2]
    c02 = S[1, 0] * S[2, 1] - S[1, 1] * S[2, 0]
    det = S[0, 0] * c00 + S[0, 1] * c01 + S[0, 2] * c02
    out[0, 0] = c00 / det
    out[1, 0] = c01 / det
    out[2, 0] = c02 / det
    out[0, 1] = (S[0, 2] * S[2, 1] - S[0, 1] * S[2, 2]) / det
    out[1, 1] = (S[0, 0] * S[2, 2] - S[0, 2] * S[2, 0]) / det
    out[2, 1] = (S[0, 1] * S[2, 0] - S[0, 0] * S[2, 1]) / det
    out[0, 2] = (S[0, 1] * S[1, 2] - S[0, 2] * S[1, 1]) / det
    out[1, 2] = (S[0, 2] * S[1, 0] - S[0, 0] * S[1, 2]) / det
    out[2, 2] = (S[0, 0] * S[1, 1] - S[0, 1] * S[1, 0]) / det


@numba.njit(cache=True)
def update_batch(
    x: np.ndarray, P: np.ndarray, idx: np.ndarray, z: np.ndarray, R: np.ndarray
) -> None:
    """In place: update track row idx[j] with position z[j] (m), covariance R[j] (m^2).

    Rows are processed in order, so a row repeated in idx gets sequential updates.
    """
    S = np.empty((3, 3))
    Si = np.empty((3, 3))
    K = np.empty((6, 3))
    A = np.empty((6, 6))
    for j in range(idx.shape[0]):
        k = idx[j]
        Pk = P[k]
        # S = H P H' + R, K = P H' S^-1
        for a in range(3):
            for b in range(3):
                S[a, b] = Pk[a, b] + R[j, a, b]
        _inv3(S, Si)
        for a in range(6):
            for b in range(3):
                K[a, b] = Pk[a, 0] * Si[0, b] + Pk[a, 1] * Si[1, b] + Pk[a, 2] * Si[2, b]
        y = z[j] - x[k, :3]
        x[k] += K @ y
        # Joseph form: P <- (I - K H) P (I - K H)' + K R K'
        A[:] = np.eye(6)
        A[:, :3] -= K
        P[k] = A @ Pk @ A.T + K @ R[j] @ K.T


@numba.njit(cache=True)
def mahalanobis_cost(x: np.ndarray, P: np.ndarray, z: np.ndarray, R: np.ndarray) -> np.ndarray:
    """d2 (n, m): squared Mahalanobis distance of detection j (z (m, 3), R (m, 3, 3)) to track i.

    d2 = y' S^-1 y with y = z - H x, S = H P H' + R; dimensionless.
    """
    n = x.shape[0]
    m = z.shape[0]
    d2 = np.empty((n, m))
    S = np.empty((3, 3))
    Si = np.empty((3, 3))
    y = np.empty(3)
    for i in range(n):
        for j in range(m):
            for a in range(3):
                y[a] = z[j, a] - x[i, a]
                for b in range(3):
                    S[a, b] = P[i, a, b] + R[j, a, b]
            _inv3(S, Si)
            acc = 0.0
            for a in range(3):
                for b in range(3):
                    acc += y[a] * Si[a, b] * y[b]
            d2[i, j] = acc
    return d2
