"""M-of-N over real opportunities: sensors modelled as they report, one object at a time.

A rotating radar times each plot when its beam crosses the target, so the plots of one
rotation reach the tracker as many one-plot scans at different times; RF nodes and Remote ID
receivers report each object on its own. None of that may count as a missed chance for the
other objects, while a real dropout inside the cover must.
"""

import math

import numpy as np
import pytest

from cuas.tracking import Tracker, TrackerConfig
from cuas.tracking.confirmation import (
    OpportunityConfirmation,
    RevisitLearner,
    missed_revisits,
)
from cuas.tracking.coverage import SensorSight

SIGMA_M = 5.0
ROTATION_S = 2.0
CFG = TrackerConfig(confirm_hits=3, confirm_window=5)


def swarm(n: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """n drones converging on the site from all round, 1-3 km out, 40-150 m up."""
    azimuth = np.sort(rng.uniform(0.0, 2 * np.pi, n))
    range_m = rng.uniform(1000.0, 3000.0, n)
    p0 = np.column_stack(
        [range_m * np.sin(azimuth), range_m * np.cos(azimuth), rng.uniform(40.0, 150.0, n)]
    )
    v = -p0 / np.linalg.norm(p0, axis=1, keepdims=True) * rng.uniform(8.0, 20.0, n)[:, None]
    v[:, 2] = 0.0
    return p0, v


def beam_time_s(rotation: int, position: np.ndarray) -> float:
    """When a radar turning clockwise from north, one turn per ROTATION_S, crosses position."""
    azimuth = math.atan2(position[0], position[1]) % (2 * math.pi)
    return rotation * ROTATION_S + ROTATION_S * azimuth / (2 * math.pi)


def plot(tracker: Tracker, t: float, sensor: str, p: np.ndarray, key: str | None = None) -> int:
    rng = np.random.default_rng(int(t * 1e6) % 2**32)
    z = p + rng.normal(0.0, SIGMA_M, 3)
    result = tracker.process_scan(t, sensor, z[None], np.eye(3)[None] * SIGMA_M**2, [key])
    assert not result.late
    return int(result.track_ids[0])


def radar_rotations(
    tracker: Tracker,
    p0: np.ndarray,
    v: np.ndarray,
    rotations: range,
    seen: np.ndarray | None = None,
) -> dict[int, int]:
    """Feed plots of each rotation, each at its own beam-crossing time, in time order.

    seen (rotations, targets) bool: which plots the radar makes. Returns target -> track id
    of its last plot."""
    events = []
    for k in rotations:
        for i in range(p0.shape[0]):
            if seen is None or seen[k - rotations.start, i]:
                t = beam_time_s(k, p0[i])
                events.append((t, i))
    owner = {}
    for t, i in sorted(events):
        owner[i] = plot(tracker, t, "radar", p0[i] + v[i] * t)
    return owner


def statuses(tracker: Tracker, ids: dict[int, int]) -> dict[int, str]:
    by_id = {view.track_id: view.status for view in tracker.tracks()}
    return {i: by_id.get(tid, "gone") for i, tid in ids.items()}


@pytest.mark.parametrize("declared", [True, False])
def test_rotating_radar_swarm_of_ten_all_confirm(declared: bool) -> None:
    """Plots of one rotation carry different times; each target is seen once per rotation
    with Pd 0.9. Every drone confirms within a few rotations, declared period or learned."""
    rng = np.random.default_rng(1)
    p0, v = swarm(10, rng)
    sensors = {"radar": SensorSight(revisit_s=ROTATION_S)} if declared else None
    tracker = Tracker(CFG, sensors=sensors)
    seen = rng.random((8, 10)) < 0.9
    ids = radar_rotations(tracker, p0, v, range(8), seen)
    assert statuses(tracker, ids) == dict.fromkeys(range(10), "confirmed")
    assert len(tracker.tracks()) == 10


def test_per_object_reporters_swarm_of_eight_all_confirm() -> None:
    """Two RF nodes and a Remote ID receiver each report every object on its own, once a
    second with jittered latency; reports interleave. All eight confirm from the RF nodes
    alone (unidentified plots) and the receiver's identified tracks confirm too."""
    rng = np.random.default_rng(2)
    p0, v = swarm(8, rng)
    tracker = Tracker(CFG)
    events = []
    for second in range(6):
        for i in range(8):
            for node in ("rf-1", "rf-2"):
                events.append((second + rng.uniform(0.0, 0.9), node, i))
    for t, node, i in sorted(events):
        plot(tracker, t, node, p0[i] + v[i] * t)
    rf_views = tracker.tracks()
    assert len(rf_views) == 8 and {view.status for view in rf_views} == {"confirmed"}

    rid = Tracker(CFG)
    events = sorted((s + rng.uniform(0.0, 0.3), i) for s in range(5) for i in range(8))
    ids = {i: plot(rid, t, "rid", p0[i] + v[i] * t, key=f"rid:{i}") for t, i in events}
    assert statuses(rid, ids) == dict.fromkeys(range(8), "confirmed")


def test_a_dropout_inside_the_cover_is_charged_once_per_rotation() -> None:
    """A target the radar stops seeing while it keeps reporting the others is charged one
    miss per rotation, not one per plot of the others: after H H M M M H it holds 2 of its
    last 5 chances, and confirms only after two more hits."""
    rng = np.random.default_rng(3)
    p0, v = swarm(6, rng)
    tracker = Tracker(CFG, sensors={"radar": SensorSight(revisit_s=ROTATION_S)})
    seen = np.ones((8, 6), bool)
    seen[2:5, 0] = False  # target 0 unseen for three rotations
    history = []
    for k in range(8):
        ids = radar_rotations(tracker, p0, v, range(k, k + 1), seen[k : k + 1])
        if 0 in ids:
            (view,) = [view for view in tracker.tracks() if view.track_id == ids[0]]
            history.append(view.status)
    # hits in rotations 0, 1, 5, 6, 7: H H M M M H -> tentative, H H -> 3 of 5 confirmed
    assert history == ["tentative", "tentative", "tentative", "tentative", "confirmed"]
    assert all(s == "confirmed" for s in statuses(tracker, ids).values())


def _overhead_plan(tracker: Tracker) -> list[str]:
    """Target 0 flies north at 20 m/s, 150 m up, straight over the radar; the radar (turning
    clockwise from north every 2 s) plots it only below 60 degrees of elevation: at t = 1
    and 3 s from the south, then from t = 14 s from the north. Four other drones are plotted
    every rotation. Statuses of target 0's track after each of its plots."""
    rng = np.random.default_rng(4)
    p0, v = swarm(4, rng)
    events = [(beam_time_s(k, p0[i]), i) for k in range(10) for i in range(4)]
    for t in np.arange(1.0, 20.0, 2.0):  # beam over the south until overhead, then north
        t = float(t) if t < 8.0 else float(t) + 1.0
        p = np.array([0.0, -160.0 + 20.0 * t, 150.0])
        if math.degrees(math.atan2(p[2], abs(p[1]))) <= 60.0:
            events.append((t, -1))
    history = []
    for t, i in sorted(events):
        if i >= 0:
            plot(tracker, t, "radar", p0[i] + v[i] * t)
            continue
        tid = plot(tracker, t, "radar", np.array([0.0, -160.0 + 20.0 * t, 150.0]))
        history.append({view.track_id: view.status for view in tracker.tracks()}[tid])
    return history


def test_target_in_the_cone_of_silence_is_not_charged() -> None:
    cone = SensorSight(np.zeros(3), range_m=5000.0, max_elevation_deg=60.0, revisit_s=ROTATION_S)
    config = TrackerConfig(confirm_hits=3, confirm_window=5, tentative_delete_after_s=20.0)
    # predicted above 60 degrees while unseen: no chance, so H H . . . . H confirms
    assert _overhead_plan(Tracker(config, sensors={"radar": cone}))[:3] == [
        "tentative", "tentative", "confirmed",
    ]  # fmt: skip
    # the same plan with no cone charges the five rotations: H H M M M M M H is 1 of 5
    everywhere = SensorSight(revisit_s=ROTATION_S)
    assert _overhead_plan(Tracker(config, sensors={"radar": everywhere}))[:4] == [
        "tentative", "tentative", "tentative", "tentative",
    ]  # fmt: skip


def test_track_outside_the_sector_or_beyond_range_is_not_charged() -> None:
    """A 90-degree sector looking east out to 3 km: of three tracks the sensor has hit,
    predicted east (inside), north (outside the sector) and 4 km east (beyond range), only
    the first is charged for the revisits that pass without a hit."""
    stage = OpportunityConfirmation(confirm_hits=3, confirm_window=5)
    sector = SensorSight(
        np.zeros(3), range_m=3000.0, yaw_deg=90.0, azimuth_width_deg=90.0, revisit_s=1.0
    )
    stage.declare(0, sector)
    x = np.zeros((3, 6))
    x[:, :3] = [[1500.0, 0.0, 100.0], [0.0, 1500.0, 100.0], [3800.0, 0.0, 100.0]]
    x[:, 3] = 20.0  # all flying east: the third leaves the range, none enters the sector
    x_t = np.zeros(3)
    window = np.zeros(3, np.int64)
    chance = np.full((3, 1), np.nan)
    last_hit = np.full(3, np.nan)
    rows = np.arange(3)
    stage.record(0.0, 0, rows, np.zeros(3), window, chance, last_hit, x, x_t)
    stage.record(5.2, 0, np.empty(0, np.int64), np.empty(0), window, chance, last_hit, x, x_t)
    assert [format(int(w), "05b") for w in window] == ["10000", "00001", "00001"]


def test_cover_geometry_range_sector_and_elevation() -> None:
    sight = SensorSight(
        np.array([100.0, 0.0, 0.0]),
        range_m=1000.0,
        min_range_m=50.0,
        yaw_deg=0.0,
        azimuth_width_deg=60.0,
        min_elevation_deg=-5.0,
        max_elevation_deg=45.0,
    )
    points = np.array(
        [
            [100.0, 500.0, 50.0],  # due north, low: inside
            [100.0 + 500.0 * math.sin(math.radians(29)), 500.0 * math.cos(math.radians(29)), 10],
            [100.0 + 500.0 * math.sin(math.radians(31)), 500.0 * math.cos(math.radians(31)), 10],
            [100.0, 1001.0, 0.0],  # beyond range
            [100.0, 30.0, 0.0],  # inside the minimum range
            [100.0, 300.0, 310.0],  # 46 degrees up: the cone of silence
            [100.0, -500.0, 50.0],  # behind
        ]
    )
    np.testing.assert_array_equal(
        sight.covers(points), [True, True, False, False, False, False, False]
    )
    assert SensorSight().covers(points).all()
    with pytest.raises(ValueError, match="revisit_s"):
        SensorSight(revisit_s=0.0)


def test_missed_revisits_counts_whole_periods_past_one_and_a_half() -> None:
    last = np.array([0.0, 0.0, 0.0, 0.0, np.nan])
    np.testing.assert_array_equal(
        missed_revisits(np.array([1.4, 1.5, 2.6, 10.0, 5.0]), last, 1.0), [0, 1, 2, 9, 0]
    )
    np.testing.assert_array_equal(missed_revisits(9.0, last, math.nan), [0] * 5)


def test_revisit_learned_from_hit_intervals_ignores_repeats_and_rare_misses() -> None:
    learner = RevisitLearner()
    learner.learn(0, np.array([2.0, 0.0, 4.0]))  # a repeat at once is no revisit
    assert math.isnan(learner.period_s(0))  # two intervals are not enough
    learner.learn(0, np.array([2.1, 1.9, 6.0, 2.0]))
    assert learner.period_s(0) == pytest.approx(2.0, abs=0.1)
    learner.declare(1, 0.5)
    learner.learn(1, np.array([3.0, 3.0, 3.0]))
    assert learner.period_s(1) == 0.5


def test_a_hit_charges_the_revisits_it_finds_missed_before_counting() -> None:
    stage = OpportunityConfirmation(confirm_hits=3, confirm_window=5)
    stage.declare(0, SensorSight(revisit_s=1.0))
    window = np.zeros(2, np.int64)
    chance = np.full((2, 1), np.nan)
    last_hit = np.full(2, np.nan)
    x, x_t = np.zeros((2, 6)), np.zeros(2)
    for t in (0.0, 1.0, 4.0):  # row 0 hit at 0, 1, then 4: revisits 2 and 3 missed
        stage.record(t, 0, np.array([0]), np.array([t]), window, chance, last_hit, x, x_t)
        last_hit[0] = t
    assert format(int(window[0]), "05b") == "11001"
    assert math.isnan(chance[1, 0])  # never hit by the sensor: never charged
    assert stage.confirmed(window).tolist() == [True, False]


def test_a_slow_radar_confirms_its_targets_although_its_revisit_exceeds_the_tentative_life() -> (
    None
):
    """One turn in 6 s, longer than tentative_delete_after_s (4 s): the tracker, advanced
    every second as the engine does, keeps each tentative track for its next plots."""
    rng = np.random.default_rng(5)
    p0, v = swarm(4, rng)
    revisit_s = 6.0
    tracker = Tracker(CFG, sensors={"radar": SensorSight(revisit_s=revisit_s)})
    events = sorted(
        (k * revisit_s + revisit_s * (math.atan2(p[0], p[1]) % (2 * math.pi)) / (2 * math.pi), i)
        for k in range(4)
        for i, p in enumerate(p0)
    )
    ids = {}
    t_next = 0.0
    for t, i in events:
        while t_next < t:
            tracker.advance(t_next)
            t_next += 1.0
        ids[i] = plot(tracker, t, "radar", p0[i] + v[i] * t)
    assert statuses(tracker, ids) == dict.fromkeys(range(4), "confirmed")
    assert tracker.counters["tracks_started"] == 4
