"""JPDA association: marginals against brute force, the PDA update against the textbook
formulas and the plain Kalman filter, fallback to GNN, and accuracy in dense clutter."""

import itertools

import numpy as np
import pytest
from pydantic import ValidationError
from scipy.stats import multivariate_normal

from cuas.config import TrackerSection
from cuas.score.stonesoup_ref import run_cuas
from cuas.sim.targets import SceneConfig, make_scene
from cuas.tracking import Tracker, TrackerConfig
from cuas.tracking.jpda import association_probabilities, pair_log_likelihoods, pda_update_batch
from cuas.tracking.kalman import update_batch
from cuas.tracking.measurement import POSITION, RANGE_AZ_EL, MeasurementBatch

PG = 0.9997  # gate probability
WARMUP = 5


def random_spd(rng: np.random.Generator, dim: int, scale: float) -> np.ndarray:
    A = rng.normal(size=(dim, dim))
    return scale * (A @ A.T / dim + 0.1 * np.eye(dim))


def padded(z3: np.ndarray, R3: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Positions (k, 3) and covariances (k, 3, 3) as MeasurementBatch's (k, 4), (k, 4, 4)."""
    z = np.zeros((len(z3), 4))
    R = np.zeros((len(z3), 4, 4))
    z[:, :3], R[:, :3, :3] = z3, R3
    return z, R


def one_mode(x: np.ndarray, P: np.ndarray) -> tuple[np.ndarray, ...]:
    """NCV tracks in the IMM layout: xm (n, 1, 6), Pm (n, 1, 6, 6), mu (n, 1)."""
    return x[:, None].copy(), P[:, None].copy(), np.ones((len(x), 1))


def test_pair_log_likelihood_is_the_gaussian_density_of_the_innovation() -> None:
    rng = np.random.default_rng(10)
    x = rng.normal(0.0, 100.0, (2, 6))
    P = np.stack([random_spd(rng, 6, 50.0) for _ in range(2)])
    z, R = padded(rng.normal(0.0, 100.0, (3, 3)), np.stack([random_spd(rng, 3, 20.0)] * 3))
    ti, dj = np.array([0, 0, 1, 1]), np.array([0, 2, 1, 2])
    got = pair_log_likelihoods(x, P, z, R, ti, dj)
    want = [
        multivariate_normal.logpdf(z[j, :3], x[i, :3], P[i, :3, :3] + R[j, :3, :3])
        for i, j in zip(ti, dj, strict=True)
    ]
    np.testing.assert_allclose(got, want, rtol=1e-12)


def test_two_tracks_three_detections_marginals_match_brute_force() -> None:
    rng = np.random.default_rng(11)
    pd, lam = 0.8, 2e-5  # per m^3
    x = np.zeros((2, 6))
    x[:, :3] = [[0.0, 0.0, 100.0], [25.0, 5.0, 100.0]]
    P = np.stack([random_spd(rng, 6, 60.0) for _ in range(2)])
    z3 = np.array([[3.0, -4.0, 98.0], [15.0, 2.0, 104.0], [31.0, 9.0, 97.0]])
    R3 = np.stack([np.eye(3) * 100.0, np.eye(3) * 64.0, np.eye(3) * 144.0])
    z, R = padded(z3, R3)
    # track 1 does not gate detection 0
    gated = [(0, 0), (0, 1), (0, 2), (1, 1), (1, 2)]
    ti, dj = (np.array(c) for c in zip(*gated, strict=True))
    log_lik = pair_log_likelihoods(x, P, z, R, ti, dj)
    got = association_probabilities(log_lik, ti, dj, np.zeros(len(ti), np.int64), 2, pd, PG, lam)

    def lik(t: int, j: int) -> float:
        return multivariate_normal.pdf(z3[j], x[t, :3], P[t, :3, :3] + R3[j])

    # every joint event: each track takes one gated detection or none (-1), none shared
    options = [[-1] + [j for t2, j in gated if t2 == t] for t in range(2)]
    beta = np.zeros((2, 3))
    beta_miss = np.zeros(2)
    total = 0.0
    for event in itertools.product(*options):
        taken = [j for j in event if j >= 0]
        if len(taken) != len(set(taken)):
            continue
        p = np.prod([pd * lik(t, j) / lam if j >= 0 else 1 - pd * PG for t, j in enumerate(event)])
        total += p
        for t, j in enumerate(event):
            if j >= 0:
                beta[t, j] += p
            else:
                beta_miss[t] += p
    beta, beta_miss = beta / total, beta_miss / total
    assert got.solved.all() and got.n_unsolved == 0
    np.testing.assert_allclose(got.beta, beta[ti, dj], rtol=1e-10)
    np.testing.assert_allclose(got.beta_miss, beta_miss, rtol=1e-10)
    assert beta_miss.min() > 0.05 and beta.max() < 0.95  # a case where the weights matter


def test_cluster_with_more_joint_events_than_the_cap_is_left_unsolved() -> None:
    # 2 tracks x 3 detections, all gated: 1 + 6 single + 6 double assignments = 13 events
    ti, dj = np.repeat([0, 1], 3), np.tile([0, 1, 2], 2)
    log_lik = np.full(6, -12.0)
    labels = np.zeros(6, np.int64)
    for cap, solved in ((13, True), (12, False)):
        got = association_probabilities(log_lik, ti, dj, labels, 2, 0.9, PG, 1e-6, cap)
        assert got.solved.tolist() == [solved] * 6
        assert got.n_unsolved == (0 if solved else 1)


def test_pda_update_equals_the_textbook_combined_innovation_form() -> None:
    rng = np.random.default_rng(12)
    x = rng.normal(0.0, 50.0, (1, 6))
    P = random_spd(rng, 6, 80.0)[None]
    R3 = np.eye(3) * 49.0
    z3 = x[0, :3] + rng.normal(0.0, 12.0, (3, 3))
    z, R = padded(z3, np.stack([R3] * 3))
    beta = np.array([0.5, 0.2, 0.1])
    beta_miss = np.array([0.2])
    dets = np.arange(3)
    log_lik = pair_log_likelihoods(x, P, z, R, np.zeros(3, np.int64), dets)
    xm, Pm, mu = one_mode(x, P)
    xo, Po = x.copy(), P.copy()
    pda_update_batch(
        xm, Pm, mu, xo, Po, np.array([0]), np.array([0, 3]), dets, beta, beta_miss, log_lik, z, R
    )
    # Bar-Shalom's PDAF: x + K nu, P = b0 P + (1 - b0) Pc + K (sum b y y' - nu nu') K'
    H = np.hstack([np.eye(3), np.zeros((3, 3))])
    S = H @ P[0] @ H.T + R3
    K = P[0] @ H.T @ np.linalg.inv(S)
    y = z3 - x[0, :3]
    nu = beta @ y
    spread = K @ ((y.T * beta) @ y - np.outer(nu, nu)) @ K.T
    Pc = P[0] - K @ S @ K.T
    np.testing.assert_allclose(xo[0], x[0] + K @ nu, rtol=0, atol=1e-9)
    np.testing.assert_allclose(
        Po[0], beta_miss[0] * P[0] + (1 - beta_miss[0]) * Pc + spread, rtol=0, atol=1e-9
    )


def test_certain_lone_detection_is_the_plain_kalman_update() -> None:
    rng = np.random.default_rng(13)
    x = rng.normal(0.0, 200.0, (1, 6))
    P = random_spd(rng, 6, 40.0)[None]
    z3 = x[:, :3] + rng.normal(0.0, 8.0, (1, 3))
    R3 = random_spd(rng, 3, 30.0)[None]
    z, R = padded(z3, R3)
    ti = dj = np.array([0])
    log_lik = pair_log_likelihoods(x, P, z, R, ti, dj)
    marg = association_probabilities(log_lik, ti, dj, np.zeros(1, np.int64), 1, 1.0, PG, 1e-20)
    xm, Pm, mu = one_mode(x, P)
    xo, Po = x.copy(), P.copy()
    pda_update_batch(
        xm, Pm, mu, xo, Po, ti, np.array([0, 1]), dj, marg.beta, marg.beta_miss, log_lik, z, R
    )
    xk, Pk = x.copy(), P.copy()
    update_batch(xk, Pk, np.array([0]), z3, R3)
    np.testing.assert_allclose(xo, xk, rtol=0, atol=1e-9)
    np.testing.assert_allclose(Po, Pk, rtol=0, atol=1e-9)


def test_jpda_tracker_with_certain_detections_follows_the_gnn_tracker() -> None:
    """Pd = 1 and no clutter: every IMM mode, mode probability and count as under GNN."""
    rng = np.random.default_rng(14)
    common = dict(jpda_pd=1.0, jpda_clutter_density=1e-20)
    gnn = Tracker(TrackerConfig(**common))
    jpda = Tracker(TrackerConfig(association="jpda", **common))
    p0, v = np.array([100.0, -300.0, 80.0]), np.array([9.0, 4.0, 0.5])
    R = np.eye(3)[None] * 100.0
    for t in np.arange(0.0, 20.0, 1.0):
        z = p0 + v * t + rng.normal(0.0, 10.0, 3)
        ids = [tr.process_scan(float(t), "s1", z[None], R, [None]).track_ids for tr in (gnn, jpda)]
        np.testing.assert_array_equal(ids[0], ids[1])
    (a,), (b,) = gnn.tracks(), jpda.tracks()
    assert (a.status, a.hits) == (b.status, b.hits) == ("confirmed", 20)
    np.testing.assert_allclose(b.x, a.x, rtol=0, atol=1e-9)
    np.testing.assert_allclose(b.P, a.P, rtol=0, atol=1e-9)
    for mode, p in a.mode_probabilities.items():
        assert b.mode_probabilities[mode] == pytest.approx(p, abs=1e-9)
    assert jpda.counters["jpda_fallback"] == 0


def test_cluster_too_large_to_enumerate_is_associated_by_gnn() -> None:
    tracker = Tracker(TrackerConfig(association="jpda", confirm_hits=3, confirm_window=3))
    # 8 targets 2 m apart in a 10 m noise: one cluster of 8 tracks x 8 detections, far more
    # than MAX_JOINT_EVENTS joint events
    z = np.column_stack([np.arange(8) * 2.0, np.zeros(8), np.full(8, 100.0)])
    R = np.broadcast_to(np.eye(3) * 100.0, (8, 3, 3))
    for t in range(3):
        ids = tracker.process_scan(float(t), "s1", z, R, [None] * 8).track_ids
    assert {v.status for v in tracker.tracks()} == {"confirmed"}
    assert tracker.counters["jpda_fallback"] == 0
    ids = tracker.process_scan(3.0, "s1", z, R, [None] * 8).track_ids
    assert tracker.counters["jpda_fallback"] == 1
    assert sorted(ids) == sorted(v.track_id for v in tracker.tracks())  # one each, as GNN
    assert tracker.counters["tracks_started"] == 8


def test_radar_plot_keeps_gnn_beside_jpda_positions() -> None:
    tracker = Tracker(TrackerConfig(association="jpda"))
    p = np.array([0.0, 1000.0, 100.0])
    z3 = np.eye(3)[None] * 100.0
    for t in range(3):
        tracker.process_scan(float(t), "s1", p[None], z3, [None])
    (tid,) = (v.track_id for v in tracker.tracks())
    r = float(np.linalg.norm(p))
    el = float(np.arcsin(p[2] / r))
    z = np.array([[*p, 0.0], [r, 0.0, el, 0.0]])
    R = np.zeros((2, 4, 4))
    R[0, :3, :3] = z3[0]
    R[1, :3, :3] = np.diag([100.0, 1e-4, 1e-4])
    batch = MeasurementBatch(np.array([POSITION, RANGE_AZ_EL]), z, R)
    ids = tracker.process_measurements(3.0, "s1", batch, [None, None]).track_ids
    np.testing.assert_array_equal(ids, [tid, tid])
    (view,) = tracker.tracks()
    assert view.hits == 5  # three scans to confirm, then the position and the plot


@pytest.mark.parametrize("motion_model", ["imm", "ncv"])
def test_jpda_gospa_no_worse_than_gnn_in_dense_clutter(motion_model: str) -> None:
    cfg = SceneConfig(
        n_targets=10,
        n_scans=60,
        clutter_per_scan=200.0,
        noise_std_m=10.0,
        area_half_width_m=1000.0,
        seed=1,
    )
    scene = make_scene(cfg)
    gnn = run_cuas(scene, motion_model).gospa_per_scan(scene)[WARMUP:].mean()
    jpda = run_cuas(scene, motion_model, "jpda").gospa_per_scan(scene)[WARMUP:].mean()
    assert jpda <= gnn, f"GOSPA jpda {jpda:.1f} > gnn {gnn:.1f}"


def test_association_is_validated_in_config_and_tracker() -> None:
    assert TrackerSection(association="jpda").association == "jpda"
    assert TrackerSection().association == "gnn"
    with pytest.raises(ValidationError):
        TrackerSection(association="pda")
    with pytest.raises(ValueError):
        TrackerConfig(association="pda")  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        TrackerConfig(jpda_clutter_density=0.0)
    with pytest.raises(ValueError):
        TrackerConfig(jpda_pd=1.5)
