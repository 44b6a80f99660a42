"""CLEAR MOT matching (ID switches, fragmentations, MOTA, MOTP): hand-worked scenes, and
agreement with py-motmetrics on the same sampled steps.

motmetrics is fed the plain Euclidean distance with NaN beyond the threshold (its
"do not pair"), which is our rule: a pair is valid when d <= c, the assignment minimises
the sum of d (not d^2), and MOTP is a mean distance in metres. Its own
``norm2squared_matrix(max_d2=c**2)`` gates the same pairs but would minimise the sum of d^2
and give MOTP in square metres. Object and track ids become integers for it (its event
table holds ids as floats).
"""

from __future__ import annotations

import numpy as np
import pytest

from cuas.geo import EnuFrame
from cuas.replay.format import Truth
from cuas.schema import ObjectClass
from cuas.score.metrics import (
    ClearMotMatcher,
    TrackRecords,
    TrackScore,
    sample,
    score_tracks,
    time_grid,
    truth_paths,
)

FRAME = EnuFrame(52.0, 4.0, 10.0)
T0 = 1_800_000_000.0
HEIGHT_M = 60.0


class Scene:
    """Truth records and track publications at whole seconds, ENU metres at 60 m up."""

    def __init__(self) -> None:
        self.truth: list[Truth] = []
        self.tracks = TrackRecords()

    def obj(self, object_id: str, t_s: float, e_m: float, n_m: float) -> None:
        lat, lon, alt = FRAME.to_geodetic(np.array([e_m, n_m, HEIGHT_M]))
        rec = Truth(T0 + t_s, object_id, ObjectClass.DRONE, float(lat), float(lon), float(alt))
        self.truth.append(rec)

    def track(self, track_id: str, t_s: float, e_m: float, n_m: float) -> None:
        self.tracks.add(
            {
                "track_id": track_id,
                "t_unix": T0 + t_s,
                "status": "confirmed",
                "enu_m": [e_m, n_m, HEIGHT_M],
                "velocity_enu_mps": [0.0, 0.0, 0.0],
            }
        )

    def score(self, c_m: float) -> TrackScore:
        return score_tracks(truth_paths(self.truth, FRAME), self.tracks, c_m=c_m, step_s=1.0)


# --- hand-worked -------------------------------------------------------------------------


def test_near_equidistant_tracks_keep_their_objects():
    """Two hovering drones 2 m apart; each track sits 0.4 m from its own drone on even steps
    and 1.6 m from it (0.4 m from the other) on odd steps. A fresh optimal assignment every
    step would swap them on every odd and even step (19 changes each); CLEAR MOT keeps both
    correspondences, all within the 20 m threshold: no switch, every object matched."""
    s = Scene()
    for k in range(20):
        s.obj("a", k, 0.0, 0.0)
        s.obj("b", k, 0.0, 2.0)
        near = 0.4 if k % 2 == 0 else 1.6
        s.track("A", k, 0.0, near)
        s.track("B", k, 0.0, 2.0 - near)
    score = s.score(c_m=20.0)
    assert (score.id_switches, score.fragmentations, score.unassigned_tracks) == (0, 0, [])
    assert [o.tracks for o in score.objects] == [["A"], ["B"]]
    mot = score.clear_mot
    assert (mot.matches, mot.misses, mot.false_tracks, mot.switches) == (40, 0, 0, 0)
    assert mot.mota == 1.0
    assert mot.motp_m == pytest.approx((0.4 + 1.6) / 2)


def test_a_swap_counts_one_switch_for_each_object():
    """Drones 100 m apart; from 5 s on, track A is on 'b' and B on 'a' (0.5 m off)."""
    s = Scene()
    for k in range(10):
        s.obj("a", k, 0.0, 0.0)
        s.obj("b", k, 100.0, 0.0)
        on_a, on_b = ("A", "B") if k < 5 else ("B", "A")
        s.track(on_a, k, 0.5, 0.0)
        s.track(on_b, k, 100.5, 0.0)
    score = s.score(c_m=20.0)
    assert [(o.id_switches, o.fragmentations) for o in score.objects] == [(1, 0), (1, 0)]
    assert score.switches.tolist() == [0] * 5 + [2] + [0] * 4
    assert score.clear_mot.mota == pytest.approx(1 - 2 / 20)
    assert score.clear_mot.motp_m == pytest.approx(0.5)


@pytest.mark.parametrize(("resumed_as", "switches"), [("A", 0), ("C", 1)])
def test_a_track_dropped_and_resumed(resumed_as, switches):
    """'a' is tracked by A, lost for 3 s (4, 5, 6), then tracked again by A (no switch) or
    by a new track C (a switch); either way one fragmentation and three misses. 'far' is
    tracked throughout, so publications go on while A is gone."""
    s = Scene()
    for k in range(12):
        s.obj("a", k, 10.0 * k, 0.0)
        s.obj("far", k, 0.0, 500.0)
        s.track("F", k, 1.0, 500.0)
        if k < 4:
            s.track("A", k, 10.0 * k, 2.0)
        elif k > 6:
            s.track(resumed_as, k, 10.0 * k, 2.0)
    score = s.score(c_m=20.0)
    a = score.objects[0]
    assert (a.id_switches, a.fragmentations, a.covered_steps, a.steps) == (switches, 1, 9, 12)
    assert a.tracks == (["A"] if resumed_as == "A" else ["A", "C"])
    mot = score.clear_mot
    assert (mot.misses, mot.false_tracks, mot.switches) == (3, 0, switches)
    assert mot.mota == pytest.approx(1 - (3 + switches) / 24)
    assert mot.motp_m == pytest.approx((9 * 2.0 + 12 * 1.0) / 21)


def test_a_track_that_strays_beyond_the_threshold_is_given_up():
    """A stays on 'a' at 5 m, then drifts to 30 m off (beyond c = 20 m) from 4 s on while B
    sits 8 m from 'a': the kept correspondence ends, B takes 'a' (one switch), and A, on no
    object, is a false track at those steps."""
    s = Scene()
    for k in range(8):
        s.obj("a", k, 0.0, 0.0)
        s.track("A", k, 0.0, 5.0 if k < 4 else 30.0)
        s.track("B", k, 8.0, 0.0)
    score = s.score(c_m=20.0)
    assert score.objects[0].tracks == ["A", "B"]
    mot = score.clear_mot
    assert (mot.matches, mot.misses, mot.false_tracks, mot.switches) == (8, 0, 8, 1)
    assert mot.mota == pytest.approx(1 - (8 + 1) / 8)  # negative: more errors than objects


def test_matcher_pairs_as_many_as_it_can_before_it_minimises_distance():
    """a-A 1 m, a-B 9 m, b-A 9 m, b-B too far: the cheapest assignment (a-A, 1 m) pairs one
    object; two pairs (a-B, b-A, 18 m) is what CLEAR MOT wants (fewer misses and false
    tracks)."""
    d = np.array([[1.0, 9.0], [9.0, 25.0]])
    assert sorted(ClearMotMatcher(10.0).match([0, 1], ["A", "B"], d)) == [(0, 1), (1, 0)]


def test_matcher_keeps_a_correspondence_through_a_miss_and_while_within_threshold():
    m = ClearMotMatcher(10.0)
    assert m.match([0, 1], ["A", "B"], np.array([[1.0, 5.0], [5.0, 1.0]])) == [(0, 0), (1, 1)]
    assert m.match([0, 1], ["B"], np.array([[6.0], [1.0]])) == [(1, 0)]  # 0 missed
    # a cheaper swap exists (2 + 2 < 9 + 9), but both old pairs are still within 10 m
    kept = m.match([0, 1], ["B", "A"], np.array([[2.0, 9.0], [9.0, 2.0]]))
    assert sorted(kept) == [(0, 1), (1, 0)]
    assert m.last_track == {0: "A", 1: "B"}


# --- against py-motmetrics ---------------------------------------------------------------

mm = pytest.importorskip("motmetrics", reason="motmetrics (test extra) not installed")


def motmetrics_summary(scene: Scene, c_m: float) -> dict[str, float]:
    """motmetrics on the same grid our scorer samples (positions at each step)."""
    paths = truth_paths(scene.truth, FRAME)
    grid = sample(paths, scene.tracks, time_grid(paths, 1.0))
    hid_of: dict[str, int] = {}
    acc = mm.MOTAccumulator(auto_id=True)
    for k in range(len(grid.t_unix)):
        hids = [hid_of.setdefault(t, len(hid_of)) for t in grid.track_ids[k]]
        y, x = grid.truth_enu_m[k], grid.track_enu_m[k]
        d = np.linalg.norm(y[:, None, :] - x[None, :, :], axis=-1)
        acc.update(grid.truth_idx[k].tolist(), hids, np.where(d <= c_m, d, np.nan))
    names = ["num_switches", "num_fragmentations", "mota", "motp", "num_misses"]
    names += ["num_false_positives", "num_detections", "num_objects"]
    row = mm.metrics.create().compute(acc, metrics=names, name="run")
    return {name: float(row[name].iloc[0]) for name in names}


def assert_agrees(score: TrackScore, ref: dict[str, float]) -> None:
    mot = score.clear_mot
    assert score.id_switches == mot.switches == int(score.switches.sum())
    assert mot.switches == ref["num_switches"]
    assert score.fragmentations == ref["num_fragmentations"]
    assert (mot.misses, mot.false_tracks) == (ref["num_misses"], ref["num_false_positives"])
    assert (mot.matches, mot.truths) == (ref["num_detections"], ref["num_objects"])
    assert mot.mota == pytest.approx(ref["mota"], rel=1e-12, abs=1e-12)
    assert mot.motp_m == pytest.approx(ref["motp"], rel=1e-9)


def random_scene(rng: np.random.Generator, steps: int = 40) -> Scene:
    """Drones wandering in a 60 m square; each has a track 3 m (sigma) off that now and then
    drops out for a step or two, comes back as a new track, or trades places with another
    drone's track; some drones arrive late or leave early; false tracks come and go."""
    s = Scene()
    n = int(rng.integers(2, 7))
    pos = rng.uniform(0.0, 60.0, (n, 2))
    life = [
        sorted(rng.integers(0, steps, 2)) if rng.random() < 0.4 else (0, steps - 1)
        for _ in range(n)
    ]
    track_of = [f"T{i}" for i in range(n)]
    fresh = n
    dropped = np.zeros(n, dtype=int)
    for k in range(steps):
        pos += rng.normal(0.0, 2.0, pos.shape)
        if rng.random() < 0.08:
            i, j = rng.choice(n, 2, replace=False)
            track_of[i], track_of[j] = track_of[j], track_of[i]
        for i in range(n):
            if not life[i][0] <= k <= life[i][1]:
                continue
            s.obj(f"o{i}", k, *pos[i])
            if rng.random() < 0.05:
                track_of[i], fresh = f"T{fresh}", fresh + 1
            if dropped[i] == 0 and rng.random() < 0.1:
                dropped[i] = int(rng.integers(1, 3))
            if dropped[i]:
                dropped[i] -= 1
                continue
            s.track(track_of[i], k, *(pos[i] + rng.normal(0.0, 3.0, 2)))
        for f in range(int(rng.poisson(0.5))):
            s.track(f"F{k}.{f}", k, *rng.uniform(0.0, 60.0, 2))
    return s


@pytest.mark.parametrize("seed", range(12))
def test_agrees_with_motmetrics_on_random_scenes(seed):
    scene = random_scene(np.random.default_rng(seed))
    score = scene.score(c_m=12.0)
    assert_agrees(score, motmetrics_summary(scene, 12.0))


def test_random_scenes_exercise_switches_fragmentations_and_misses():
    """The random scenes above are not trivially easy: together they have all the events."""
    totals = np.zeros(3)
    for seed in range(12):
        mot = random_scene(np.random.default_rng(seed)).score(c_m=12.0)
        totals += (mot.id_switches, mot.fragmentations, mot.clear_mot.misses)
    assert (totals > 10).all(), totals


def test_agrees_with_motmetrics_on_the_hand_worked_scenes():
    s = Scene()  # the swap, the drop-and-resume and the near-equidistant pair in one scene
    for k in range(12):
        s.obj("a", k, 0.0, 0.0)
        s.obj("b", k, 100.0, 0.0)
        s.track("A" if k < 5 else "B", k, 0.5, 0.0)
        s.track("B" if k < 5 else "A", k, 100.5, 0.0)
        s.obj("c", k, 10.0 * k, 300.0)
        if not 4 <= k <= 6:
            s.track("C" if k < 4 else "D", k, 10.0 * k, 302.0)
        s.obj("d", k, 0.0, 600.0)
        s.obj("e", k, 0.0, 602.0)
        near = 0.4 if k % 2 == 0 else 1.6
        s.track("E", k, 0.0, 600.0 + near)
        s.track("G", k, 0.0, 602.0 - near)
    score = s.score(c_m=20.0)
    assert (score.id_switches, score.fragmentations) == (3, 1)
    assert_agrees(score, motmetrics_summary(s, 20.0))
