"""The radar and bearing measurement models against independent numpy and FilterPy code."""

import numpy as np
import pytest
from filterpy.kalman import ExtendedKalmanFilter
from scipy.spatial.transform import Rotation
from scipy.stats import multivariate_normal

from cuas.tracking.measurement import (
    BEARING_AZ,
    BEARING_AZ_EL,
    MEASUREMENT_DIM,
    POSITION,
    RANGE_AZ_EL,
    RANGE_AZ_EL_RATE,
    ekf_update,
    measure,
    measurement_cost,
    polar_to_enu,
)

CODES = [POSITION, RANGE_AZ_EL, RANGE_AZ_EL_RATE, BEARING_AZ, BEARING_AZ_EL]
ANGLES = {
    POSITION: [],
    RANGE_AZ_EL: [1, 2],
    RANGE_AZ_EL_RATE: [1, 2],
    BEARING_AZ: [0],
    BEARING_AZ_EL: [0, 1],
}


def reference_h(x: np.ndarray, code: int, s: np.ndarray, rot: np.ndarray) -> np.ndarray:
    """Independent h(x): azimuth clockwise from north, elevation from the horizontal."""
    if code == POSITION:
        return x[:3].copy()
    d = rot @ (x[:3] - s)
    v = rot @ x[3:]
    r = np.linalg.norm(d)
    az = np.arctan2(d[0], d[1])
    el = np.arcsin(d[2] / r)
    return {
        RANGE_AZ_EL: np.array([r, az, el]),
        RANGE_AZ_EL_RATE: np.array([r, az, el, d @ v / r]),
        BEARING_AZ: np.array([az]),
        BEARING_AZ_EL: np.array([az, el]),
    }[code]


def wrap(y: np.ndarray, code: int) -> np.ndarray:
    y = y.copy()
    for i in ANGLES[code]:
        y[i] = (y[i] + np.pi) % (2 * np.pi) - np.pi
    return y


def random_case(rng: np.random.Generator) -> tuple[np.ndarray, ...]:
    x = np.concatenate([rng.uniform(-3000, 3000, 2), rng.uniform(20, 400, 1), rng.normal(0, 15, 3)])
    s = np.concatenate([rng.uniform(-1000, 1000, 2), rng.uniform(0, 30, 1)])
    rot = Rotation.from_rotvec(rng.normal(0, 2e-3, 3)).as_matrix()  # convergence-sized tilt
    A = rng.normal(size=(6, 6))
    P = A @ A.T + np.diag([400.0, 400, 400, 25, 25, 25])
    return x, s, rot, P


def kernel_h(code: int, x: np.ndarray, s: np.ndarray, rot: np.ndarray) -> tuple[np.ndarray, ...]:
    hx = np.zeros(4)
    H = np.zeros((4, 6))
    dz = measure(code, x, s, rot, hx, H)
    return hx[:dz], H[:dz]


def random_R(rng: np.random.Generator, code: int) -> np.ndarray:
    sig = {
        POSITION: [10.0, 10, 10],
        RANGE_AZ_EL: [5.0, 0.01, 0.015],
        RANGE_AZ_EL_RATE: [5.0, 0.01, 0.015, 0.4],
        BEARING_AZ: [0.02],
        BEARING_AZ_EL: [0.02, 0.03],
    }[code]
    C = np.diag(np.square(sig))
    dz = len(sig)
    corr = rng.uniform(-0.3, 0.3, (dz, dz))
    corr = (corr + corr.T) / 2
    np.fill_diagonal(corr, 1.0)
    return np.sqrt(C) @ (corr @ corr.T / dz + 0.5 * np.eye(dz)) @ np.sqrt(C)


@pytest.mark.parametrize("code", CODES)
def test_h_matches_numpy_and_jacobian_matches_finite_differences(code: int) -> None:
    rng = np.random.default_rng(100 + code)
    for _ in range(20):
        x, s, rot, _ = random_case(rng)
        hx, H = kernel_h(code, x, s, rot)
        np.testing.assert_allclose(hx, reference_h(x, code, s, rot), rtol=1e-12, atol=1e-12)
        num = np.empty_like(H)
        for a in range(6):
            step = 1e-3 if a < 3 else 1e-4  # m, m/s
            e = np.zeros(6)
            e[a] = step
            up = reference_h(x + e, code, s, rot)
            down = reference_h(x - e, code, s, rot)
            num[:, a] = wrap(up - down, code) / (2 * step)
        np.testing.assert_allclose(H, num, rtol=1e-6, atol=1e-10)


@pytest.mark.parametrize("code", CODES)
def test_ekf_update_matches_filterpy(code: int) -> None:
    rng = np.random.default_rng(200 + code)
    for _ in range(10):
        x, s, rot, P = random_case(rng)
        dz = int(MEASUREMENT_DIM[code])
        R = random_R(rng, code)
        z = reference_h(x + rng.normal(0, [20, 20, 10, 3, 3, 1]), code, s, rot)
        if code in (BEARING_AZ, BEARING_AZ_EL):
            z[0] = (z[0] + np.pi) % (2 * np.pi) - np.pi  # as sensors report, maybe across +-pi
        ekf = ExtendedKalmanFilter(dim_x=6, dim_z=dz)
        ekf.x, ekf.P = x.copy(), P.copy()
        ekf.update(
            z,
            HJacobian=kernel_jacobian_reference,
            Hx=reference_h,
            R=R,
            residual=lambda a, b, c=code: wrap(a - b, c),
            args=(code, s, rot),
            hx_args=(code, s, rot),
        )
        zp = np.zeros(4)
        zp[:dz] = z
        Rp = np.zeros((4, 4))
        Rp[:dz, :dz] = R
        xk, Pk = x.copy(), P.copy()
        loglik = ekf_update(xk, Pk, code, zp, Rp, s, rot)
        np.testing.assert_allclose(xk, ekf.x, rtol=1e-9, atol=1e-9)
        np.testing.assert_allclose(Pk, ekf.P, rtol=1e-9, atol=1e-9)
        y = wrap(z - reference_h(x, code, s, rot), code)
        expected = multivariate_normal.logpdf(y, cov=ekf.S)
        # A log-likelihood is a log: an absolute error of 1e-9 is a likelihood within a factor
        # 1 +- 1e-9, whatever its size. Near zero a relative tolerance alone means nothing.
        assert loglik == pytest.approx(expected, rel=1e-9, abs=1e-9)


def kernel_jacobian_reference(x: np.ndarray, code: int, s: np.ndarray, rot: np.ndarray):
    """Analytic Jacobian written out in numpy, independent of the kernel."""
    if code == POSITION:
        return np.hstack([np.eye(3), np.zeros((3, 3))])
    d = rot @ (x[:3] - s)
    v = rot @ x[3:]
    r = np.linalg.norm(d)
    rho = np.hypot(d[0], d[1])
    dr = d / r
    daz = np.array([d[1], -d[0], 0.0]) / rho**2
    delv = np.array([-d[0] * d[2] / rho, -d[1] * d[2] / rho, rho]) / r**2
    rows = {
        RANGE_AZ_EL: [dr, daz, delv],
        RANGE_AZ_EL_RATE: [dr, daz, delv],
        BEARING_AZ: [daz],
        BEARING_AZ_EL: [daz, delv],
    }[code]
    H = np.hstack([np.array(rows) @ rot, np.zeros((len(rows), 3))])
    if code == RANGE_AZ_EL_RATE:
        rdot = d @ v / r
        H = np.vstack([H, np.concatenate([(v / r - rdot * d / r**2) @ rot, dr @ rot])])
    return H


def test_gating_cost_wraps_azimuth_across_north() -> None:
    s = np.zeros(3)
    rot = np.eye(3)
    # a track just west of north (azimuth 359 deg) at 2 km
    az_track = np.radians(359.0)
    x = np.array([[2000 * np.sin(az_track), 2000 * np.cos(az_track), 100.0, 0, 0, 0]])
    P = np.diag([100.0, 100, 100, 25, 25, 25])[None]
    z = np.zeros((2, 4))
    R = np.zeros((2, 4, 4))
    z[0, 0] = np.radians(1.0)  # 2 deg east of the track, across north
    z[1, 0] = np.radians(5.0)
    R[:, 0, 0] = np.radians(1.0) ** 2
    d2 = measurement_cost(x, P, np.array([BEARING_AZ, BEARING_AZ]), z, R, s, rot)
    # independent: y = 2 deg; S = H P H' + R, H from the reference Jacobian
    H = kernel_jacobian_reference(x[0], BEARING_AZ, s, rot)
    S = H @ P[0] @ H.T + R[0, :1, :1]
    expected = [np.radians(2.0) ** 2 / S[0, 0], np.radians(6.0) ** 2 / S[0, 0]]
    np.testing.assert_allclose(d2[0], expected, rtol=1e-9)
    assert d2[0, 0] < 9.0 < d2[0, 1]


def test_polar_plot_converts_back_to_itself() -> None:
    rng = np.random.default_rng(5)
    x, s, rot, _ = random_case(rng)
    z = np.zeros(4)
    z[:3] = reference_h(x, RANGE_AZ_EL, s, rot)
    R = np.diag([25.0, 1e-4, 2e-4, 0.0])
    pos, cov = polar_to_enu(z, R, s, rot)
    np.testing.assert_allclose(pos, x[:3], atol=1e-6)
    # covariance = G R G' with G the inverse of the position Jacobian
    _, H = kernel_h(RANGE_AZ_EL, np.concatenate([pos, np.zeros(3)]), s, rot)
    G = np.linalg.inv(H[:, :3])
    np.testing.assert_allclose(cov, G @ R[:3, :3] @ G.T, rtol=1e-6)
