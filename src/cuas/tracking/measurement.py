"""Measurement models of the tracker: one Numba kernel set for every kind of detection.

A scan's detections are struct-of-arrays: a model code per detection, ``z`` (k, 4) and ``R``
(k, 4, 4) padded beyond the model's dimension, plus the pose of the scan's sensor (its
position in the site ENU frame and the rotation from site ENU into the sensor's own local
ENU). Components of ``z``:

===================  =============================================================
POSITION             e, n, u (m, site ENU)
RANGE_AZ_EL          range_m, azimuth_rad, elevation_rad
RANGE_AZ_EL_RATE     range_m, azimuth_rad, elevation_rad, range rate m/s (+ receding)
BEARING_AZ           azimuth_rad
BEARING_AZ_EL        azimuth_rad, elevation_rad
===================  =============================================================

Azimuth is clockwise from true north, elevation up from the sensor's horizontal plane, both
in the sensor's own local ENU frame. The rotation into it makes grid convergence and the
tilt of "up" between sensor and site reference exact (they are ~1e-4 rad per km).

Why an EKF in measurement space, not converted measurements: radial velocity and bearings
are not positions, so they cannot be converted without losing their meaning, and one update
serves radar and direction finding alike; gating in measurement space keeps each angle's
own error (with wrapping at +-pi) instead of a stretched Cartesian ellipse. At the ranges
and angular accuracies of counter-drone radars (km, ~1 deg) a track's prior is much tighter
than the polar banana, so the linearisation error of the EKF is negligible; only track
initiation converts a range/azimuth/elevation plot to ENU, with a Jacobian covariance.
"""

import math
from dataclasses import dataclass, field

import numba
import numpy as np

POSITION, RANGE_AZ_EL, RANGE_AZ_EL_RATE, BEARING_AZ, BEARING_AZ_EL = 0, 1, 2, 3, 4
#: measurement dimension per model code
MEASUREMENT_DIM = np.array([3, 3, 4, 1, 2], np.int64)
#: models whose detections may start a track on their own
SELF_STARTING = (POSITION, RANGE_AZ_EL, RANGE_AZ_EL_RATE)
#: bearing-only models: a track is started by crossing them (see triangulation)
BEARING_ONLY = (BEARING_AZ, BEARING_AZ_EL)
ZDIM_MAX = 4


@numba.njit(cache=True)
def wrap_angle(a_rad: float) -> float:
    """a in [-pi, pi)."""
    return (a_rad + math.pi) % (2.0 * math.pi) - math.pi


@numba.njit(cache=True)
def _is_angle(code: int, i: int) -> bool:
    if code in (RANGE_AZ_EL, RANGE_AZ_EL_RATE):
        return i == 1 or i == 2
    return code in (BEARING_AZ, BEARING_AZ_EL)


@numba.njit(cache=True)
def measure(
    code: int,
    x: np.ndarray,
    sensor_enu_m: np.ndarray,
    rot_local: np.ndarray,
    hx: np.ndarray,
    H: np.ndarray,
) -> int:
    """hx <- h(x), H[:dz] <- dh/dx at state x = [e, n, u, ve, vn, vu]; returns dz.

    rot_local (3, 3) takes a site-ENU vector into the sensor's local ENU frame.
    """
    dz = MEASUREMENT_DIM[code]
    H[:, :] = 0.0
    if code == POSITION:
        for a in range(3):
            hx[a] = x[a]
            H[a, a] = 1.0
        return dz
    d = np.empty(3)  # target relative to the sensor, sensor-local ENU, m
    for a in range(3):
        d[a] = (
            rot_local[a, 0] * (x[0] - sensor_enu_m[0])
            + rot_local[a, 1] * (x[1] - sensor_enu_m[1])
            + rot_local[a, 2] * (x[2] - sensor_enu_m[2])
        )
    rho2 = d[0] * d[0] + d[1] * d[1]
    rho = math.sqrt(rho2)
    r2 = rho2 + d[2] * d[2]
    r = math.sqrt(r2)
    J = np.zeros((4, 3))  # d(measurement)/d(d), rows in z order
    Jv = np.zeros(3)  # d(range rate)/d(local velocity)
    az = math.atan2(d[0], d[1])
    el = math.atan2(d[2], rho)
    daz = np.array([d[1] / rho2, -d[0] / rho2, 0.0])
    dele = np.array([-d[0] * d[2] / (r2 * rho), -d[1] * d[2] / (r2 * rho), rho / r2])
    if code in (BEARING_AZ, BEARING_AZ_EL):
        hx[0] = az
        J[0] = daz
        if code == BEARING_AZ_EL:
            hx[1] = el
            J[1] = dele
    else:
        hx[0] = r
        hx[1] = az
        hx[2] = el
        for a in range(3):
            J[0, a] = d[a] / r
        J[1] = daz
        J[2] = dele
        if code == RANGE_AZ_EL_RATE:
            v = np.empty(3)
            for a in range(3):
                v[a] = rot_local[a, 0] * x[3] + rot_local[a, 1] * x[4] + rot_local[a, 2] * x[5]
            rdot = (d[0] * v[0] + d[1] * v[1] + d[2] * v[2]) / r
            hx[3] = rdot
            for a in range(3):
                J[3, a] = v[a] / r - rdot * d[a] / r2
                Jv[a] = d[a] / r
    # chain rule through d = rot_local (p - s) and v_local = rot_local v
    for i in range(dz):
        for b in range(3):
            acc = 0.0
            for a in range(3):
                acc += J[i, a] * rot_local[a, b]
            H[i, b] = acc
    if code == RANGE_AZ_EL_RATE:
        for b in range(3):
            acc = 0.0
            for a in range(3):
                acc += Jv[a] * rot_local[a, b]
            H[3, 3 + b] = acc
    return dz


@numba.njit(cache=True)
def _cholesky_inverse(S: np.ndarray, dz: int, Si: np.ndarray) -> float:
    """Si[:dz, :dz] <- inverse of the SPD matrix S[:dz, :dz]; returns log det S."""
    L = np.zeros((dz, dz))
    logdet = 0.0
    for i in range(dz):
        for j in range(i + 1):
            acc = S[i, j]
            for k in range(j):
                acc -= L[i, k] * L[j, k]
            if i == j:
                L[i, i] = math.sqrt(acc)
                logdet += 2.0 * math.log(L[i, i])
            else:
                L[i, j] = acc / L[j, j]
    Linv = np.zeros((dz, dz))
    for i in range(dz):
        Linv[i, i] = 1.0 / L[i, i]
        for j in range(i):
            acc = 0.0
            for k in range(j, i):
                acc -= L[i, k] * Linv[k, j]
            Linv[i, j] = acc / L[i, i]
    for i in range(dz):
        for j in range(dz):
            acc = 0.0
            for k in range(max(i, j), dz):
                acc += Linv[k, i] * Linv[k, j]
            Si[i, j] = acc
    return logdet


@numba.njit(cache=True)
def _innovation(
    code: int,
    x: np.ndarray,
    P: np.ndarray,
    z: np.ndarray,
    R: np.ndarray,
    sensor_enu_m: np.ndarray,
    rot_local: np.ndarray,
    y: np.ndarray,
    H: np.ndarray,
    S: np.ndarray,
    Si: np.ndarray,
) -> tuple[int, float, float]:
    """y, H, S = H P H' + R and S^-1 for one state and detection; returns dz, d2, log det S."""
    hx = np.empty(ZDIM_MAX)
    dz = measure(code, x, sensor_enu_m, rot_local, hx, H)
    for i in range(dz):
        y[i] = z[i] - hx[i]
        if _is_angle(code, i):
            y[i] = wrap_angle(y[i])
    HP = np.empty((ZDIM_MAX, 6))
    for i in range(dz):
        for a in range(6):
            acc = 0.0
            for b in range(6):
                acc += H[i, b] * P[b, a]
            HP[i, a] = acc
    for i in range(dz):
        for j in range(dz):
            acc = R[i, j]
            for a in range(6):
                acc += HP[i, a] * H[j, a]
            S[i, j] = acc
    logdet = _cholesky_inverse(S, dz, Si)
    d2 = 0.0
    for i in range(dz):
        for j in range(dz):
            d2 += y[i] * Si[i, j] * y[j]
    return dz, d2, logdet


@numba.njit(cache=True)
def ekf_update(
    x: np.ndarray,
    P: np.ndarray,
    code: int,
    z: np.ndarray,
    R: np.ndarray,
    sensor_enu_m: np.ndarray,
    rot_local: np.ndarray,
) -> float:
    """In place EKF update of x (6,), P (6, 6) by one detection; returns its log-likelihood.

    Joseph form for P, so it stays symmetric positive definite after many updates.
    """
    y = np.empty(ZDIM_MAX)
    H = np.empty((ZDIM_MAX, 6))
    S = np.empty((ZDIM_MAX, ZDIM_MAX))
    Si = np.empty((ZDIM_MAX, ZDIM_MAX))
    dz, d2, logdet = _innovation(code, x, P, z, R, sensor_enu_m, rot_local, y, H, S, Si)
    # Explicit loops: at 6x6 a BLAS call costs more than its arithmetic.
    PHt = np.empty((6, ZDIM_MAX))  # P H'
    for a in range(6):
        for i in range(dz):
            acc = 0.0
            for b in range(6):
                acc += P[a, b] * H[i, b]
            PHt[a, i] = acc
    K = np.empty((6, ZDIM_MAX))  # gain P H' S^-1
    for a in range(6):
        for i in range(dz):
            acc = 0.0
            for j in range(dz):
                acc += PHt[a, j] * Si[j, i]
            K[a, i] = acc
    for a in range(6):
        acc = 0.0
        for i in range(dz):
            acc += K[a, i] * y[i]
        x[a] += acc
    A = np.empty((6, 6))  # I - K H
    for a in range(6):
        for b in range(6):
            acc = 1.0 if a == b else 0.0
            for i in range(dz):
                acc -= K[a, i] * H[i, b]
            A[a, b] = acc
    AP = np.empty((6, 6))
    for a in range(6):
        for b in range(6):
            acc = 0.0
            for c in range(6):
                acc += A[a, c] * P[c, b]
            AP[a, b] = acc
    KR = np.empty((6, ZDIM_MAX))
    for a in range(6):
        for i in range(dz):
            acc = 0.0
            for j in range(dz):
                acc += K[a, j] * R[j, i]
            KR[a, i] = acc
    for a in range(6):
        for b in range(6):
            acc = 0.0
            for c in range(6):
                acc += AP[a, c] * A[b, c]
            for i in range(dz):
                acc += KR[a, i] * K[b, i]
            P[a, b] = acc
    return -0.5 * (d2 + logdet + dz * math.log(2.0 * math.pi))


@numba.njit(cache=True)
def measurement_cost(
    x: np.ndarray,
    P: np.ndarray,
    codes: np.ndarray,
    z: np.ndarray,
    R: np.ndarray,
    sensor_enu_m: np.ndarray,
    rot_local: np.ndarray,
) -> np.ndarray:
    """d2 (n, m): squared Mahalanobis distance of detection j to track i, in measurement space.

    Angles are wrapped, so a track at azimuth 359 deg gates a plot at 1 deg.
    """
    n = x.shape[0]
    m = codes.shape[0]
    d2 = np.empty((n, m))
    y = np.empty(ZDIM_MAX)
    H = np.empty((ZDIM_MAX, 6))
    S = np.empty((ZDIM_MAX, ZDIM_MAX))
    Si = np.empty((ZDIM_MAX, ZDIM_MAX))
    for i in range(n):
        for j in range(m):
            d2[i, j] = _innovation(
                codes[j], x[i], P[i], z[j], R[j], sensor_enu_m, rot_local, y, H, S, Si
            )[1]
    return d2


@numba.njit(cache=True)
def measurement_cost_pairs(
    x: np.ndarray,
    P: np.ndarray,
    codes: np.ndarray,
    z: np.ndarray,
    R: np.ndarray,
    sensor_enu_m: np.ndarray,
    rot_local: np.ndarray,
    ti: np.ndarray,
    dj: np.ndarray,
) -> np.ndarray:
    """d2 of the listed (track ti[p], detection dj[p]) pairs only, as measurement_cost.

    With a coarse pre-gate choosing the pairs, the cost grows with the number of plausible
    pairs instead of tracks x detections.
    """
    out = np.empty(ti.shape[0])
    y = np.empty(ZDIM_MAX)
    H = np.empty((ZDIM_MAX, 6))
    S = np.empty((ZDIM_MAX, ZDIM_MAX))
    Si = np.empty((ZDIM_MAX, ZDIM_MAX))
    for p in range(ti.shape[0]):
        i, j = ti[p], dj[p]
        out[p] = _innovation(
            codes[j], x[i], P[i], z[j], R[j], sensor_enu_m, rot_local, y, H, S, Si
        )[1]
    return out


def polar_to_enu_batch(
    z: np.ndarray, R: np.ndarray, sensor_enu_m: np.ndarray, rot_local: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Range/azimuth/elevation plots z (k, >=3) with covariances R (k, >=3, >=3) as site-ENU
    positions (k, 3) and covariances (k, 3, 3), m: the Jacobian transform of R's first 3x3
    block. For starting tracks, and for pre-gating plots in space."""
    r, az, el = z[:, 0], z[:, 1], z[:, 2]
    ce, se, ca, sa = np.cos(el), np.sin(el), np.cos(az), np.sin(az)
    d_local = r[:, None] * np.column_stack([ce * sa, ce * ca, se])
    J = np.empty((z.shape[0], 3, 3))
    J[:, 0] = np.column_stack([ce * sa, r * ce * ca, -r * se * sa])
    J[:, 1] = np.column_stack([ce * ca, -r * ce * sa, -r * se * ca])
    J[:, 2] = np.column_stack([se, np.zeros_like(r), r * ce])
    cov_local = J @ R[:, :3, :3] @ J.transpose(0, 2, 1)
    pos = sensor_enu_m + d_local @ rot_local
    return pos, rot_local.T @ cov_local @ rot_local


def polar_to_enu(
    z: np.ndarray, R: np.ndarray, sensor_enu_m: np.ndarray, rot_local: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """One plot (see polar_to_enu_batch): a site-ENU position (3,) and covariance (3, 3), m."""
    pos, cov = polar_to_enu_batch(z[None], R[None], sensor_enu_m, rot_local)
    return pos[0], cov[0]


@dataclass(frozen=True)
class MeasurementBatch:
    """One scan's detections for the tracker: struct-of-arrays, one sensor pose."""

    codes: np.ndarray  # (k,) int64 model codes
    z: np.ndarray  # (k, 4) components in the model's order, zero-padded
    R: np.ndarray  # (k, 4, 4) covariance in the model's units, zero-padded
    sensor_enu_m: np.ndarray = field(default_factory=lambda: np.zeros(3))
    rot_local: np.ndarray = field(default_factory=lambda: np.eye(3))  # site ENU -> sensor ENU

    @classmethod
    def positions(cls, z_enu_m: np.ndarray, R_m2: np.ndarray) -> "MeasurementBatch":
        """A batch of 3-D ENU positions (k, 3) with covariances (k, 3, 3)."""
        z_enu_m = np.asarray(z_enu_m, dtype=np.float64).reshape(-1, 3)
        R_m2 = np.asarray(R_m2, dtype=np.float64).reshape(-1, 3, 3)
        k = z_enu_m.shape[0]
        z = np.zeros((k, ZDIM_MAX))
        R = np.zeros((R_m2.shape[0], ZDIM_MAX, ZDIM_MAX))
        z[:, :3] = z_enu_m
        R[:, :3, :3] = R_m2
        return cls(np.full(k, POSITION, np.int64), z, R)

    def __len__(self) -> int:
        return self.codes.shape[0]
