"""Bearing crossings: geometry against closed-form intersections, and DF tracks in the tracker."""

import numpy as np
import pytest

from cuas.tracking import Tracker, TrackerConfig
from cuas.tracking.measurement import BEARING_AZ, BEARING_AZ_EL, MeasurementBatch
from cuas.tracking.triangulation import triangulate

LIMITS = dict(
    min_angle_rad=np.radians(10.0),
    max_range_m=15_000.0,
    gate_probability=0.9997,
    prior_height_m=50.0,
    prior_height_std_m=100.0,
)
SIGMA_AZ = np.radians(1.0)


def azimuth(s: np.ndarray, p: np.ndarray) -> float:
    return float(np.arctan2(p[0] - s[0], p[1] - s[1]))  # clockwise from north


def two_line_intersection(s: np.ndarray, az: np.ndarray) -> np.ndarray:
    """Closed form: s0 + a u0 = s1 + b u1 in the horizontal plane."""
    u = np.stack([np.sin(az), np.cos(az)], -1)
    a, _ = np.linalg.solve(np.column_stack([u[0], -u[1]]), s[1, :2] - s[0, :2])
    return s[0, :2] + a * u[0]


def cross(s: np.ndarray, az: np.ndarray, el: np.ndarray | None = None, **kw):
    k = len(az)
    el = np.full(k, np.nan) if el is None else el
    return triangulate(
        s,
        np.tile(np.eye(3), (k, 1, 1)),
        az,
        np.full(k, SIGMA_AZ**2),
        el,
        np.full(k, SIGMA_AZ**2),
        np.zeros(k),
        **{**LIMITS, **kw},
    )


def test_two_bearings_cross_at_the_target_with_the_geometric_covariance() -> None:
    s = np.array([[0.0, 0.0, 10.0], [2000.0, 0.0, 5.0]])
    p = np.array([800.0, 1500.0, 120.0])
    az = np.array([azimuth(si, p) for si in s])
    found = cross(s, az)
    np.testing.assert_allclose(found.position_enu_m[:2], p[:2], atol=1e-6)
    assert found.position_enu_m[2] == LIMITS["prior_height_m"]  # no elevation: the prior
    # covariance = J diag(sigma^2) J' with J the sensitivity of the closed-form intersection
    J = np.empty((2, 2))
    for i in range(2):
        e = np.zeros(2)
        e[i] = 1e-7
        J[:, i] = (two_line_intersection(s, az + e) - two_line_intersection(s, az - e)) / 2e-7
    np.testing.assert_allclose(found.covariance_m2[:2, :2], J @ J.T * SIGMA_AZ**2, rtol=1e-5)
    # with elevations the height comes from them
    el = np.array([np.arctan2(p[2] - si[2], np.linalg.norm(p[:2] - si[:2])) for si in s])
    assert cross(s, az, el).position_enu_m[2] == pytest.approx(p[2], abs=1e-6)


def test_bad_geometry_is_rejected() -> None:
    s = np.array([[0.0, 0.0, 0.0], [100.0, 0.0, 0.0]])
    far = np.array([300.0, 5000.0, 0.0])  # crossing angle ~1 deg
    assert cross(s, np.array([azimuth(si, far) for si in s])) is None
    behind = np.array([azimuth(s[0], [500.0, 500.0]), azimuth(s[1], [500.0, 500.0]) + np.pi])
    assert cross(s, behind) is None
    # a third bearing that misses the crossing by far more than its noise
    s3 = np.vstack([s, [[0.0, 1000.0, 0.0]]])
    p = np.array([50.0, 300.0, 0.0])
    az = np.array([azimuth(si, p) for si in s3])
    assert cross(s3, az) is not None
    az[2] += np.radians(20.0)
    assert cross(s3, az) is None


def bearing_scan(tracker, t, sensor_id, s, p, rng, key=None, el=False):
    az = azimuth(s, p) + rng.normal(0.0, SIGMA_AZ)
    z = np.zeros((1, 4))
    R = np.zeros((1, 4, 4))
    z[0, 0], R[0, 0, 0] = az, SIGMA_AZ**2
    code = BEARING_AZ
    if el:
        code = BEARING_AZ_EL
        z[0, 1] = np.arctan2(p[2] - s[2], np.linalg.norm(p[:2] - s[:2]))
        R[0, 1, 1] = SIGMA_AZ**2
    batch = MeasurementBatch(np.array([code]), z, R, s, np.eye(3))
    return tracker.process_measurements(t, sensor_id, batch, [key]).track_ids[0]


def test_df_sensors_cross_bearings_to_start_a_track_that_bearings_then_keep() -> None:
    rng = np.random.default_rng(12)
    tracker = Tracker()
    sensors = {"df-a": np.array([-1500.0, 0.0, 10.0]), "df-b": np.array([1500.0, 0.0, 10.0])}
    p0, v = np.array([-500.0, 2500.0, 80.0]), np.array([8.0, -4.0, 0.0])
    # one sensor alone never starts a track, however many bearings it hears
    for t in np.arange(0.0, 3.0, 0.5):
        assert bearing_scan(tracker, t, "df-a", sensors["df-a"], p0 + v * t, rng) == -1
    assert tracker.tracks() == [] and tracker.counters["bearings_pooled"] == 6
    ids = []
    for t in np.arange(3.0, 40.0, 0.5):
        for name, s in sensors.items():
            ids.append(bearing_scan(tracker, t, name, s, p0 + v * t, rng, el=True))
    (view,) = tracker.tracks()
    assert set(ids[1:]) == {view.track_id}  # the first df-a bearing of t = 3 only waited
    assert view.status == "confirmed" and set(view.sensors) == set(sensors)
    assert np.linalg.norm(view.x[:3] - (p0 + v * 39.5)) < 60.0
    assert tracker.counters["crossings"] == 1
    assert tracker.counters["bearings_expired"] >= 5  # the lone early ones, counted


def test_bearings_with_different_identities_never_cross() -> None:
    rng = np.random.default_rng(13)
    tracker = Tracker(TrackerConfig())
    p = np.array([0.0, 2000.0, 60.0])
    a, b = np.array([-1000.0, 0.0, 0.0]), np.array([1000.0, 0.0, 0.0])
    bearing_scan(tracker, 0.0, "df-a", a, p, rng, key="mac:1")
    assert bearing_scan(tracker, 0.1, "df-b", b, p, rng, key="mac:2") == -1
    tid = bearing_scan(tracker, 0.2, "df-b", b, p, rng, key="mac:1")
    assert tid > 0 and tracker.tracks()[0].identity_key == "mac:1"
