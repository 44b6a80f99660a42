"""Tracker behaviour on simulated scans: association, confirmation, life cycle, late data."""

import numpy as np
import pytest

from cuas.tracking import Tracker, TrackerConfig, TrackView
from cuas.tracking.coverage import SensorSight

SIGMA_M = 10.0  # measurement noise std per ENU axis, m
R1 = np.eye(3) * SIGMA_M**2  # m^2


def noisy(rng: np.random.Generator, truth: np.ndarray, sigma: float = SIGMA_M) -> np.ndarray:
    return truth + rng.normal(0.0, sigma, size=truth.shape)


def scan(
    tracker: Tracker,
    t: float,
    z: np.ndarray,
    keys: list[str | None] | None = None,
    sensor: str = "s1",
    sigma: float = SIGMA_M,
) -> np.ndarray:
    z = np.asarray(z, float).reshape(-1, 3)
    R = np.broadcast_to(np.eye(3) * sigma**2, (len(z), 3, 3))
    result = tracker.process_scan(t, sensor, z, R, keys or [None] * len(z))
    assert not result.late
    return result.track_ids


def by_id(views: list[TrackView]) -> dict[int, TrackView]:
    return {v.track_id: v for v in views}


def test_crossing_keyed_targets_never_swap() -> None:
    rng = np.random.default_rng(1)
    tracker = Tracker()
    # Both fly through (0, 0, 100) at t = 10 s, A eastward, B northward.
    start = {"rid:A": np.array([-150.0, 0.0, 100.0]), "rid:B": np.array([0.0, -150.0, 100.0])}
    vel = {"rid:A": np.array([15.0, 0.0, 0.0]), "rid:B": np.array([0.0, 15.0, 0.0])}
    ids: dict[str, set[int]] = {"rid:A": set(), "rid:B": set()}
    for t in np.arange(0.0, 21.0, 1.0):
        keys = list(rng.permutation(["rid:A", "rid:B"]))
        z = np.array([noisy(rng, start[k] + vel[k] * t, 20.0) for k in keys])
        track_ids = scan(tracker, float(t), z, keys, sigma=20.0)
        for key, tid in zip(keys, track_ids, strict=True):
            ids[key].add(int(tid))
    assert len(ids["rid:A"]) == 1 and len(ids["rid:B"]) == 1
    assert ids["rid:A"] != ids["rid:B"]
    views = by_id(tracker.tracks())
    assert len(views) == 2
    for key in ("rid:A", "rid:B"):
        view = views[ids[key].pop()]
        assert view.identity_key == key
        assert view.status == "confirmed"
        assert np.linalg.norm(view.x[:3] - (start[key] + vel[key] * 20.0)) < 60.0
        assert np.linalg.norm(view.x[3:] - vel[key]) < 10.0


def test_keyed_detection_never_joins_track_with_other_key_and_unkeyed_track_adopts() -> None:
    tracker = Tracker()
    p = np.array([100.0, 200.0, 50.0])
    q = np.array([5000.0, 0.0, 50.0])
    (a,) = scan(tracker, 0.0, [p], ["rid:A"])
    (radar,) = scan(tracker, 0.0, [q], [None], sensor="radar")
    # exactly on track A, but another drone's key: must start its own track
    (b,) = scan(tracker, 1.0, [p], ["rid:B"])
    assert b not in (a, radar)
    # near the unkeyed radar track: joins it and lends it the key
    (c,) = scan(tracker, 1.0, [q + 5.0], ["rid:C"])
    assert c == radar
    keys = {v.track_id: v.identity_key for v in tracker.tracks()}
    assert keys == {a: "rid:A", radar: "rid:C", b: "rid:B"}
    assert by_id(tracker.tracks())[radar].sensors == {"radar": 0.0, "s1": 1.0}
    # key repeated within one scan: both detections go to the same track
    ids = scan(tracker, 2.0, [[9000.0, 0, 0], [9001.0, 0, 0]], ["rid:D", "rid:D"])
    assert ids[0] == ids[1]
    assert tracker.counters["tracks_started"] == 4
    assert by_id(tracker.tracks())[int(ids[0])].hits == 2


def test_single_noisy_target_confirms_after_m_of_n_and_tracks_accurately() -> None:
    rng = np.random.default_rng(2)
    cfg = TrackerConfig()
    tracker = Tracker(cfg, first_track_id=100)
    p0 = np.array([100.0, 200.0, 50.0])
    v = np.array([12.0, -5.0, 1.0])
    statuses = []
    pos_err = []
    vel_err = []
    for t in np.arange(0.0, 60.0, 1.0):
        (tid,) = scan(tracker, float(t), [noisy(rng, p0 + v * t)])
        assert tid == 100
        (view,) = tracker.tracks()
        statuses.append(view.status)
        if t >= 20.0:
            pos_err.append(view.x[:3] - (p0 + v * t))
            vel_err.append(view.x[3:] - v)
    assert statuses[: cfg.confirm_hits - 1] == ["tentative"] * (cfg.confirm_hits - 1)
    assert set(statuses[cfg.confirm_hits - 1 :]) == {"confirmed"}
    rms_pos = np.sqrt(np.mean(np.sum(np.square(pos_err), axis=1)))
    rms_vel = np.sqrt(np.mean(np.sum(np.square(vel_err), axis=1)))
    # raw measurements have a 3-D RMS error of sigma * sqrt(3) = 17.3 m; the filter must do
    # clearly better, and its velocity error must stay within its own claimed std
    assert rms_pos < 0.8 * SIGMA_M * np.sqrt(3.0)
    assert rms_vel < np.sqrt(np.trace(view.P[3:, 3:]))
    assert tracker.counters["tracks_confirmed"] == 1


def test_m_of_n_counts_misses_only_from_sensors_that_updated_the_track() -> None:
    p = np.array([0.0, 0.0, 100.0])
    nothing = np.empty((0, 3))
    every_second = {s: SensorSight(revisit_s=1.0) for s in ("s1", "s2")}

    def status_after(plan: list[tuple[float, str, bool]]) -> list[str]:
        tracker = Tracker(TrackerConfig(confirm_hits=3, confirm_window=4), sensors=every_second)
        out = []
        for t, sensor, seen in plan:
            scan(tracker, t, [p] if seen else nothing, sensor=sensor)
            out.append(tracker.tracks()[0].status)
        return out

    # s1 misses push the early hit out of the window: H M M M H H -> 2 of 4, then H -> 3 of 4
    plan = [(0.0, "s1", True)] + [(t, "s1", False) for t in (1.0, 2.0, 3.0)]
    plan += [(t, "s1", True) for t in (4.0, 5.0, 6.0)]
    assert status_after(plan) == ["tentative"] * 6 + ["confirmed"]
    # empty scans of a sensor that never saw the track are not opportunities: H M H H
    plan = [(0.0, "s1", True), (1.0, "s1", False), (2.0, "s1", True)]
    plan += [(2.3, "s2", False), (2.6, "s2", False), (3.0, "s1", True)]
    assert status_after(plan) == ["tentative"] * 5 + ["confirmed"]


def test_lost_target_goes_coasting_then_deleted_on_time() -> None:
    rng = np.random.default_rng(3)
    cfg = TrackerConfig()
    tracker = Tracker(cfg)
    p0 = np.array([0.0, 0.0, 80.0])
    v = np.array([5.0, 5.0, 0.0])
    for t in np.arange(0.0, 10.0, 1.0):
        scan(tracker, float(t), [noisy(rng, p0 + v * t)])
        assert tracker.advance(float(t)) == []
    last = 9.0
    (tid,) = (view.track_id for view in tracker.tracks())
    for t in np.arange(10.0, 30.0, 0.25):
        scan(tracker, float(t), np.empty((0, 3)))  # the sensor keeps scanning, target unseen
        deleted = tracker.advance(float(t))
        age = t - last
        if age <= cfg.coast_after_s:
            assert [v.status for v in tracker.tracks()] == ["confirmed"]
        elif age <= cfg.delete_after_s:
            assert deleted == []
            assert [v.status for v in tracker.tracks()] == ["coasting"]
        else:
            break
    assert age == pytest.approx(cfg.delete_after_s + 0.25)
    assert [(v.track_id, v.status, v.last_update_t) for v in deleted] == [(tid, "deleted", last)]
    assert tracker.tracks() == []
    assert tracker.counters["tracks_deleted"] == 1
    # ids are never reused
    (new_id,) = scan(tracker, 30.0, [p0])
    assert new_id == tid + 1


def test_coasting_track_is_confirmed_again_by_an_update() -> None:
    tracker = Tracker()
    p = np.array([0.0, 0.0, 100.0])
    for t in range(4):
        scan(tracker, float(t), [p])
    tracker.advance(8.0)
    assert tracker.tracks()[0].status == "coasting"
    (tid,) = scan(tracker, 8.0, [p])
    (view,) = tracker.tracks()
    assert (view.track_id, view.status, view.hits) == (tid, "confirmed", 5)


def test_tentative_track_deleted_after_its_own_timeout() -> None:
    cfg = TrackerConfig()
    tracker = Tracker(cfg)
    scan(tracker, 100.0, [[1.0, 2.0, 3.0]])
    assert tracker.advance(100.0 + cfg.tentative_delete_after_s - 0.01) == []
    (gone,) = tracker.advance(100.0 + cfg.tentative_delete_after_s + 0.01)
    assert gone.status == "deleted" and gone.hits == 1
    assert tracker.tracks() == []


def test_late_scan_is_counted_and_changes_nothing() -> None:
    rng = np.random.default_rng(4)
    cfg = TrackerConfig()
    tracker = Tracker(cfg)
    truth = np.array([[0.0, 0.0, 50.0], [800.0, 0.0, 50.0]])
    for t in np.arange(0.0, 101.0, 1.0):
        scan(tracker, float(t), noisy(rng, truth))
    before = tracker.tracks()
    counters = dict(tracker.counters)
    late_t = 100.0 - cfg.late_tolerance_s - 0.1
    result = tracker.process_scan(
        late_t, "s2", noisy(rng, truth), np.stack([R1, R1]), ["rid:X", None]
    )
    assert result.late
    np.testing.assert_array_equal(result.track_ids, [-1, -1])
    assert result.track_ids.dtype == np.int64
    after = tracker.tracks()
    assert len(after) == len(before) == 2
    for b, a in zip(before, after, strict=True):
        np.testing.assert_array_equal(a.x, b.x)
        np.testing.assert_array_equal(a.P, b.P)
        assert (a.track_id, a.status, a.hits, a.t_unix, a.identity_key, a.sensors) == (
            b.track_id,
            b.status,
            b.hits,
            b.t_unix,
            b.identity_key,
            b.sensors,
        )
    assert tracker.clock == 100.0
    assert tracker.counters == {**counters, "late_scans": 1, "late_detections": 2}
    # within the tolerance: accepted, applied without predicting backwards
    ids = scan(tracker, 100.0 - cfg.late_tolerance_s + 0.1, noisy(rng, truth))
    assert sorted(ids) == sorted(v.track_id for v in before)
    assert all(v.t_unix == 100.0 for v in tracker.tracks())


def test_unkeyed_separated_targets_keep_their_tracks() -> None:
    rng = np.random.default_rng(5)
    tracker = Tracker()
    p0 = np.array([[0.0, 0.0, 100.0], [1000.0, 0.0, 100.0]])
    v = np.array([[10.0, 3.0, 0.0], [-10.0, 3.0, 0.0]])
    owner: dict[int, set[int]] = {0: set(), 1: set()}
    for t in np.arange(0.0, 30.0, 1.0):
        order = rng.permutation(2)
        ids = scan(tracker, float(t), noisy(rng, (p0 + v * t)[order]))
        for target, tid in zip(order, ids, strict=True):
            owner[int(target)].add(int(tid))
    assert len(owner[0]) == len(owner[1]) == 1 and owner[0] != owner[1]
    assert sorted(v.status for v in tracker.tracks()) == ["confirmed", "confirmed"]


def test_gnn_prefers_the_global_optimum_over_greedy_nearest() -> None:
    tracker = Tracker()
    # two fresh tracks with position covariance I m^2; d2 = distance^2 / 2 at dt = 0
    t1, t2 = scan(tracker, 0.0, [[0.0, 0, 0], [4.0, 0, 0]], sigma=1.0)
    # greedy would give d1 to t2 (d2 = 0.98) and leave d2 outside t1's gate (d2 = 21.8);
    # the global optimum pairs t1-d1 and t2-d2 (3.38 each)
    ids = scan(tracker, 0.0, [[2.6, 0, 0], [6.6, 0, 0]], sigma=1.0)
    np.testing.assert_array_equal(ids, [t1, t2])
    assert tracker.counters["tracks_started"] == 2


def test_two_hundred_targets_with_clutter() -> None:
    rng = np.random.default_rng(6)
    n_targets = 200
    p0 = np.column_stack(
        [rng.uniform(-10_000, 10_000, (n_targets, 2)), rng.uniform(50, 500, n_targets)]
    )
    heading = rng.uniform(0, 2 * np.pi, n_targets)
    speed = rng.uniform(5, 25, n_targets)
    v = np.column_stack(
        [speed * np.cos(heading), speed * np.sin(heading), rng.normal(0, 1, n_targets)]
    )
    tracker = Tracker()
    for t in np.arange(0.0, 15.0, 1.0):
        truth = p0 + v * t
        seen = truth[rng.random(n_targets) < 0.9]  # detection probability 0.9
        clutter = np.column_stack([rng.uniform(-10_000, 10_000, (20, 2)), rng.uniform(0, 600, 20)])
        z = noisy(rng, np.vstack([seen, clutter]))
        scan(tracker, float(t), z[rng.permutation(len(z))])
        tracker.advance(float(t))
    confirmed = [view for view in tracker.tracks(14.0) if view.status == "confirmed"]
    assert 195 <= len(confirmed) <= 205
    est = np.array([view.x[:3] for view in confirmed])
    dist = np.linalg.norm(est[:, None, :] - (p0 + v * 14.0)[None, :, :], axis=2)
    nearest = dist.argmin(axis=1)
    assert np.all(dist.min(axis=1) < 5 * SIGMA_M)  # every confirmed track is on a target
    assert len(set(nearest)) >= 195  # and almost every target has its own


def test_tracks_prediction_does_not_change_the_tracker() -> None:
    tracker = Tracker()
    scan(tracker, 0.0, [[0.0, 0, 0]])
    scan(tracker, 1.0, [[10.0, 0, 0]])
    (now,) = tracker.tracks()
    (later,) = tracker.tracks(5.0)
    assert later.t_unix == 5.0 and now.t_unix == 1.0
    assert later.x[0] > now.x[0] and np.trace(later.P) > np.trace(now.P)
    (again,) = tracker.tracks()
    np.testing.assert_array_equal(again.x, now.x)
    assert again.t_unix == 1.0


def test_mismatched_scan_arrays_are_rejected() -> None:
    tracker = Tracker()
    with pytest.raises(ValueError):
        tracker.process_scan(0.0, "s1", np.zeros((2, 3)), np.stack([R1, R1]), [None])
    with pytest.raises(ValueError):
        tracker.process_scan(0.0, "s1", np.full((1, 3), np.nan), R1[None], [None])
    assert tracker.tracks() == [] and tracker.counters["scans"] == 0


def test_drones_sharing_one_remote_id_receiver_all_confirm():
    """One message per drone per second from one receiver: a message about drone A is no
    missed chance for drone B, so every drone confirms after M of its own messages."""
    tracker = Tracker(TrackerConfig(confirm_hits=3, confirm_window=5))
    R = np.eye(3)[None] * 25.0
    positions = np.array([[0.0, 0.0, 50.0], [800.0, 0.0, 60.0], [0.0, 900.0, 70.0]])
    for k in range(3):
        for j, pos in enumerate(positions):
            tracker.process_scan(k + 0.1 * j, "rid-1", pos[None], R, [f"rid:SER{j}"])
    statuses = {v.identity_key: v.status for v in tracker.tracks()}
    assert statuses == {f"rid:SER{j}": "confirmed" for j in range(3)}


def _manoeuvring_tracker(rng: np.random.Generator, n: int) -> Tracker:
    """n IMM tracks that have turned, climbed and missed scans: mode spread, velocity
    uncertainty and cross-covariance all non-trivial."""
    tracker = Tracker()
    p0 = rng.uniform(-2000, 2000, (n, 3))
    v0 = rng.normal(0, 15, (n, 3))
    for t in np.arange(0.0, 8.0, 0.5):
        turn = 0.3 * np.sin(0.4 * t)  # rad/s, changing sign
        c, s = np.cos(turn * 0.5), np.sin(turn * 0.5)
        v0[:, :2] = v0[:, :2] @ np.array([[c, s], [-s, c]])
        p0 += v0 * 0.5
        seen = rng.random(n) < 0.8
        keys = [f"k{i}" for i in np.flatnonzero(seen)]
        scan(tracker, float(t), noisy(rng, p0[seen]), keys)
    return tracker


def _predicted_exactly(tracker: Tracker, t_now: float) -> tuple[np.ndarray, np.ndarray]:
    """Every live track's x and P predicted to t_now by the IMM kernel (copies)."""
    from cuas.tracking.imm import imm_predict_batch

    n = tracker.table.n
    x, P, mu = tracker.table.x[:n].copy(), tracker.table.P[:n].copy(), tracker.table.mu[:n].copy()
    imm_predict_batch(
        tracker.table.xm[:n].copy(), tracker.table.Pm[:n].copy(), mu, x, P,
        t_now - tracker.table.t[:n], tracker.motion.turn_rate, tracker.motion.mode_accel,
        tracker.config.imm_sojourn_s,
    )  # fmt: skip
    return x, P


def test_pre_gate_from_unpredicted_states_keeps_every_pair_the_exact_gate_passes() -> None:
    """reach_bounds is a proof-carrying shortcut: compare it with predicting every track
    exactly (FilterPy-checked kernels) and gating every pair."""
    from cuas.tracking.gating import reach_bounds
    from cuas.tracking.measurement import POSITION, measurement_cost_pairs

    rng = np.random.default_rng(11)
    tracker = _manoeuvring_tracker(rng, 60)
    n = tracker.table.n
    gate = tracker.gate.thresholds[2]
    passing = 0
    for dt in (0.0, 0.3, 2.0, 9.0):
        t_now = float(tracker.table.t[:n].max()) + dt
        x, P = _predicted_exactly(tracker, t_now)
        # detections spread around the predicted means, many at the gate's edge
        spread = np.sqrt(np.trace(P[:, :3, :3], axis1=1, axis2=2))[:, None]
        z3 = x[:, :3] + rng.normal(0, 1, (n, 3)) * spread * rng.uniform(0.2, 3.0, (n, 1))
        k = z3.shape[0]
        z = np.zeros((k, 4))
        z[:, :3] = z3
        R = np.zeros((k, 4, 4))
        R[:, :3, :3] = np.eye(3) * SIGMA_M**2
        ti, dj = np.repeat(np.arange(n), k), np.tile(np.arange(k), n)
        codes = np.full(k, POSITION, np.int64)
        d2 = measurement_cost_pairs(x, P, codes, z, R, np.zeros(3), np.eye(3), ti, dj)
        centre, offset, var = reach_bounds(
            tracker.table.x[:n], tracker.table.P[:n], tracker.table.t[:n], t_now,
            float(np.abs(tracker.motion.turn_rate).max()), float(tracker.motion.mode_accel.max()),
        )  # fmt: skip
        radius = np.sqrt(gate * (var + 3 * SIGMA_M**2)) + offset
        ok = d2 <= gate
        dist = np.linalg.norm(z3[dj[ok]] - centre[ti[ok]], axis=1)
        assert np.all(dist <= radius[ti[ok]])
        passing += int(ok.sum())
    assert passing > 100  # the comparison saw many gated pairs, not an empty set


def test_pre_gate_keeps_every_radar_plot_pair_the_exact_gate_passes() -> None:
    """Radar plots are pre-gated as converted positions: every (track, plot) pair the exact
    measurement-space gate passes is among the candidates, for plots near and far, with
    and without range rate, from a sensor off the site origin and rotated."""
    from cuas.tracking.measurement import (
        RANGE_AZ_EL,
        RANGE_AZ_EL_RATE,
        measure,
        measurement_cost_pairs,
    )

    rng = np.random.default_rng(12)
    tracker = _manoeuvring_tracker(rng, 60)
    n = tracker.table.n
    sensor = np.array([150.0, -80.0, 10.0])
    yaw = 0.3
    rot = np.array([[np.cos(yaw), -np.sin(yaw), 0.0], [np.sin(yaw), np.cos(yaw), 0.0], [0, 0, 1]])
    passing = 0
    for dt, code in ((0.0, RANGE_AZ_EL), (0.5, RANGE_AZ_EL_RATE), (3.0, RANGE_AZ_EL)):
        t_now = float(tracker.table.t[:n].max()) + dt
        x, P = _predicted_exactly(tracker, t_now)
        dim = 4 if code == RANGE_AZ_EL_RATE else 3
        std = np.array([5.0, np.radians(1.0), np.radians(1.5), 0.5])[:dim]
        z = np.zeros((n, 4))
        R = np.zeros((n, 4, 4))
        hx, H = np.zeros(4), np.zeros((4, 6))
        for i in range(n):  # a plot around each predicted track, many at the gate's edge
            measure(code, x[i], sensor, rot, hx, H)
            z[i, :dim] = hx[:dim] + rng.normal(0, 1, dim) * std * rng.uniform(0.5, 6.0)
            R[i, :dim, :dim] = np.diag(std**2)
        codes = np.full(n, code, np.int64)
        ti, dj = np.repeat(np.arange(n), n), np.tile(np.arange(n), n)
        d2 = measurement_cost_pairs(x, P, codes, z, R, sensor, rot, ti, dj)
        ok = d2 <= tracker.gate.thresholds[dim - 1]
        rows, dets = np.arange(n), np.arange(n)
        ci, cj = tracker.gate.candidate_pairs(
            tracker.table, t_now, rows, dets, codes, z, R, sensor, rot
        )
        kept = set(zip(ci.tolist(), cj.tolist(), strict=True))
        assert set(zip(ti[ok].tolist(), dj[ok].tolist(), strict=True)) <= kept
        assert len(kept) < n * n / 4  # and it does prune
        passing += int(ok.sum())
    assert passing > 60  # the comparison saw many gated pairs


def test_unrelated_traffic_does_not_change_a_track() -> None:
    """Only the tracks a scan can touch are predicted, so drone A's estimate is the same
    whether or not far-away drones report between its messages."""
    rng = np.random.default_rng(3)
    alone, busy = Tracker(), Tracker()
    far = rng.uniform(5000, 8000, (20, 3))
    for t in np.arange(0.0, 6.0, 0.5):
        z = noisy(rng, np.array([[10.0 * t, 5.0 * t, 80.0]]))
        scan(alone, float(t), z, ["A"])
        scan(busy, float(t), z, ["A"])
        for j, p in enumerate(far):  # keyed and unkeyed traffic from other sensors
            scan(busy, float(t) + 0.01 * (j + 1), noisy(rng, p[None]), [f"F{j}"], sensor="s2")
            scan(busy, float(t) + 0.01 * (j + 1) + 0.005, noisy(rng, -p[None]), sensor="s3")
    (a,) = [v for v in alone.tracks(6.0) if v.identity_key == "A"]
    (b,) = [v for v in busy.tracks(6.0) if v.identity_key == "A"]
    np.testing.assert_allclose(b.x, a.x, rtol=0, atol=1e-9)
    np.testing.assert_allclose(b.P, a.P, rtol=0, atol=1e-9)


def test_a_burst_of_reports_equals_one_scan_per_report() -> None:
    """process_reports is a shortcut for identified one-object messages: the same tracks,
    hits and times as feeding each as its own scan, late ones included."""
    from cuas.tracking.measurement import MeasurementBatch

    rng = np.random.default_rng(9)
    one_by_one, batched = Tracker(), Tracker()
    p0 = rng.uniform(-1000, 1000, (8, 3))
    v = rng.normal(0, 12, (8, 3))
    for t in (0.0, 0.5, 1.0):  # both start the same tracks the ordinary way
        z = noisy(rng, p0 + v * t)
        keys = [f"rid:{i}" for i in range(8)]
        scan(one_by_one, t, z, keys, sensor="rx")
        scan(batched, t, z, keys, sensor="rx")
    times = np.sort(rng.uniform(1.1, 3.0, 8))
    times[5] = 0.2  # older than the clock by more than the late tolerance
    order = rng.permutation(8)
    z = noisy(rng, p0[order] + v[order] * times[:, None])
    R = np.broadcast_to(R1, (8, 3, 3))
    keys = [f"rid:{i}" for i in order]
    expected = [
        one_by_one.process_scan(float(t), "rx", z[j : j + 1], R[j : j + 1], [keys[j]]).track_ids[0]
        for j, t in enumerate(times)
    ]
    got = batched.process_reports(times, "rx", MeasurementBatch.positions(z, R), keys)
    np.testing.assert_array_equal(got.track_ids, expected)
    assert got.track_ids[5] == -1 and batched.counters == one_by_one.counters
    for a, b in zip(one_by_one.tracks(4.0), batched.tracks(4.0), strict=True):
        assert (a.track_id, a.hits, a.status, a.last_update_t) == (
            b.track_id, b.hits, b.status, b.last_update_t,
        )  # fmt: skip
        np.testing.assert_allclose(b.x, a.x, rtol=0, atol=1e-9)
        np.testing.assert_allclose(b.P, a.P, rtol=0, atol=1e-9)


def test_reports_need_distinct_keys_of_live_tracks() -> None:
    from cuas.tracking.measurement import MeasurementBatch

    tracker = Tracker()
    scan(tracker, 0.0, [[0.0, 0, 50]], ["rid:A"])
    z = np.zeros((2, 3))
    R = np.broadcast_to(R1, (2, 3, 3))
    for keys in (["rid:A", "rid:A"], ["rid:A", "rid:B"]):
        with pytest.raises(ValueError, match="distinct identity keys"):
            tracker.process_reports(
                np.array([1.0, 1.1]), "s1", MeasurementBatch.positions(z, R), keys
            )
    assert tracker.counters["scans"] == 1
