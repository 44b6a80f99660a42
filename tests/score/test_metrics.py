"""Track and alert metrics on hand-made truth and tracks whose answers are worked out by hand,
and our OSPA against Stone Soup's OSPAMetric."""

from datetime import datetime

import numpy as np
import pytest

from cuas.alerting.zones import build_zones
from cuas.geo import EnuFrame
from cuas.replay.format import Truth
from cuas.schema import (
    Alert,
    AlertState,
    GeoPoint,
    ObjectClass,
    Site,
    Track,
    TrackStatus,
    Zone,
    ZoneLevel,
)
from cuas.score.alerts import first_alerts, score_alerts
from cuas.score.metrics import (
    TrackRecords,
    TruthPath,
    continuity,
    ospa,
    score_tracks,
    truth_paths,
)

FRAME = EnuFrame(52.0, 4.0, 10.0)
T0 = 1_800_000_000.0


def _truth(object_id: str, times_s, enu_of_t, object_class=ObjectClass.DRONE) -> list[Truth]:
    out = []
    for t in times_s:
        lat, lon, alt = FRAME.to_geodetic(np.asarray(enu_of_t(t), dtype=float))
        out.append(Truth(T0 + t, object_id, object_class, float(lat), float(lon), float(alt)))
    return out


def _track(track_id: str, t_s: float, enu, vel=(0.0, 0.0, 0.0), status="confirmed") -> Track:
    lat, lon, alt = FRAME.to_geodetic(np.asarray(enu, dtype=float))
    return Track(
        track_id=track_id,
        site_id="s",
        t_unix=T0 + t_s,
        status=TrackStatus(status),
        position=GeoPoint(lat_deg=float(lat), lon_deg=float(lon), alt_m=float(alt)),
        enu_m=tuple(float(v) for v in enu),
        velocity_enu_mps=tuple(float(v) for v in vel),
        position_std_m=1.0,
        object_class=ObjectClass.DRONE,
    )


# --- OSPA --------------------------------------------------------------------------------

ospametric = pytest.importorskip(
    "stonesoup.metricgenerator.ospametric", reason="stonesoup (test extra) not installed"
)


@pytest.mark.parametrize("p", [1.0, 2.0])
def test_ospa_matches_stone_soup_on_random_sets(p):
    # Stone Soup assigns on min(d, c) rather than min(d, c)^p; for p = 2 the two optimal
    # assignments coincide on these seeded sets (ours is never larger where they differ).
    from stonesoup.measures import Euclidean
    from stonesoup.types.groundtruth import GroundTruthState
    from stonesoup.types.state import State

    rng = np.random.default_rng(23)
    t = datetime(2026, 1, 1)
    metric = ospametric.OSPAMetric(c=20.0, p=p, measure=Euclidean())
    checked = 0
    for _ in range(60):
        x = rng.uniform(0, 60, (int(rng.integers(0, 7)), 3))
        y = rng.uniform(0, 60, (int(rng.integers(0, 7)), 3))
        if len(x) + len(y) == 0:
            continue  # Stone Soup needs at least one state to know the time
        ref = metric.compute_OSPA_distance(
            [State(v.reshape(-1, 1), timestamp=t) for v in x],
            [GroundTruthState(v.reshape(-1, 1), timestamp=t) for v in y],
        ).value
        assert ospa(x, y, 20.0, p) == pytest.approx(ref, rel=1e-9, abs=1e-9)
        checked += 1
    assert checked > 50


def test_ospa_on_hand_worked_sets():
    assert ospa(np.zeros((0, 3)), np.zeros((0, 3)), 10.0) == 0.0
    assert ospa(np.zeros((2, 3)), np.zeros((0, 3)), 10.0) == 10.0  # all cardinality error
    x = np.array([[3.0, 4.0, 0.0]])
    y = np.array([[0.0, 0.0, 0.0], [100.0, 0.0, 0.0]])
    assert ospa(x, y, 10.0, 1.0) == pytest.approx((5.0 + 10.0) / 2)
    assert ospa(x, y, 10.0, 2.0) == pytest.approx(np.sqrt((25.0 + 100.0) / 2))


# --- continuity, switches, fragmentation -------------------------------------------------


def test_continuity_counts_a_switch_and_a_gap():
    path = TruthPath("a", ObjectClass.DRONE, np.array([0.0, 4.0]), np.zeros((2, 3)), np.zeros(2))
    c = continuity(path, [None, "A", "A", None, None, "A", "B", "B", None])
    assert c.tracks == ["A", "B"]
    assert (c.id_switches, c.fragmentations) == (1, 1)  # A -> B; the gap between two A runs
    assert c.coverage == pytest.approx(5 / 9)


def test_track_scene_with_a_gap_two_switches_and_a_false_track():
    """Truth 'a' flies east at 10 m/s for 20 s; 'b' hovers far away. Tracks sit 3 m north of
    the truth: T1 on 'a' for 0..8 s, nothing at 9..10 s, T2 for 11..15 s, T3 for 16..20 s;
    T9 on 'b' throughout; T5 on nothing (2..4 s); a tentative track on 'a' is not scored."""
    times = np.arange(0.0, 21.0)
    truth = _truth("a", times, lambda t: (10.0 * t, 0.0, 50.0))
    truth += _truth("b", times, lambda t: (1000.0, 0.0, 50.0))
    tracks = TrackRecords()
    owner = {**dict.fromkeys(range(0, 9), "T1"), **dict.fromkeys(range(11, 16), "T2")}
    owner |= dict.fromkeys(range(16, 21), "T3")
    for k in range(21):
        t = float(k)
        tracks.add(_track("T9", t, (1000.0, 3.0, 50.0)))
        tracks.add(_track("T0", t, (10.0 * t, 0.0, 50.0), status="tentative"))
        if k in owner:
            tracks.add(_track(owner[k], t, (10.0 * t, 3.0, 50.0), (10.0, 0.0, 0.0)))
        if 2 <= k <= 4:
            tracks.add(_track("T5", t, (500.0, 500.0, 50.0)))
    score = score_tracks(truth_paths(truth, FRAME), tracks, c_m=50.0, p=1.0, step_s=0.5)

    a, b = score.objects
    assert (a.object_id, b.object_id) == ("a", "b")
    assert a.tracks == ["T1", "T2", "T3"]
    assert (a.id_switches, a.fragmentations) == (2, 1)
    # grid 0, 0.5 .. 20 (41 steps); a publication holds until the next one, so T1 covers
    # 0..8.5 (18 steps), nothing 9..10.5 (4), T2 11..15.5 (10), T3 16..20 (9)
    assert (a.steps, a.covered_steps) == (41, 37)
    assert (b.tracks, b.id_switches, b.fragmentations, b.coverage) == (["T9"], 0, 0, 1.0)
    assert score.unassigned_tracks == ["T5"]
    assert (score.id_switches, score.fragmentations) == (2, 1)

    def at(t_s: float) -> int:
        return int(np.argmin(np.abs(score.t_unix - (T0 + t_s))))

    # p = 1, c = 50: 3 m per tracked object, c/2 = 25 per miss or false track
    assert score.gospa_m[at(6.5)] == pytest.approx(6.0, abs=1e-6)  # T1 extrapolated 0.5 s
    assert score.gospa_m[at(9.5)] == pytest.approx(3.0 + 25.0, abs=1e-6)
    assert score.gospa_m[at(3.0)] == pytest.approx(6.0 + 25.0, abs=1e-6)  # T5 is false
    assert (score.gospa_missed[at(9.5)], score.gospa_false[at(3.0)]) == (1, 1)
    assert score.ospa_m[at(9.5)] == pytest.approx((3.0 + 50.0) / 2, abs=1e-6)


# --- alerts ------------------------------------------------------------------------------


def _square(half_m: float) -> list[tuple[float, float]]:
    corners = [(-half_m, -half_m), (half_m, -half_m), (half_m, half_m), (-half_m, half_m)]
    out = []
    for e, n in corners:
        lat, lon, _ = FRAME.to_geodetic(np.array([e, n, 0.0]))
        out.append((float(lat), float(lon)))
    return out


SITE = Site(
    id="s",
    name="s",
    reference=GeoPoint(lat_deg=52.0, lon_deg=4.0, alt_m=10.0),
    zones=[
        Zone(id="inner", name="inner", level=ZoneLevel.CRITICAL, polygon=_square(100.0)),
        Zone(id="outer", name="outer", level=ZoneLevel.WARNING, polygon=_square(300.0)),
    ],
    # heights 0..10,000 m above the reference (the Zone default band)
)


def _alert(alert_id: int, zone: str, t_s: float, enu, state=AlertState.RAISED) -> Alert:
    level = ZoneLevel.CRITICAL if zone == "inner" else ZoneLevel.WARNING
    return Alert(
        alert_id=alert_id,
        site_id="s",
        zone_id=zone,
        zone_level=level,
        rule="drone_in_zone",
        object_key=f"track:T{alert_id}",
        track_id=f"T{alert_id}",
        state=state,
        raised_t_unix=T0 + 0.0 + t_s,
        updated_t_unix=T0 + t_s,
        track=_track(f"T{alert_id}", t_s, enu),
    )


def test_alert_scene_with_negative_warning_a_miss_and_false_alerts():
    """Drones fly east at 10 m/s from x = -403 m at 50 m height (t = 0..80 s):
    'late' along y = 0: enters outer at 10.3 s, inner at 30.3 s; first alert at 32 s;
    'early' along y = 200: enters only outer, at 10.3 s; alerted at 7 s, 33 m before it;
    'quiet' along y = -50: enters both, never alerted;
    'gull', a bird along y = 20, enters both, and is alerted: false (not an alerting class);
    'far' hovers at 1,500 m east and is alerted: false (never near the zone);
    and one alert has no object near its track: false."""
    times = np.arange(0.0, 81.0)
    truth = _truth("late", times, lambda t: (-403.0 + 10 * t, 0.0, 50.0))
    truth += _truth("early", times, lambda t: (-403.0 + 10 * t, 200.0, 50.0))
    truth += _truth("quiet", times, lambda t: (-403.0 + 10 * t, -50.0, 50.0))
    truth += _truth("gull", times, lambda t: (-403.0 + 10 * t, 20.0, 30.0), ObjectClass.BIRD)
    truth += _truth("far", times, lambda t: (1500.0, 0.0, 50.0))
    alerts = [
        _alert(1, "inner", 32.0, (-83.0 + 2.0, 5.0, 50.0)),  # late, 2 m off in x
        _alert(2, "outer", 7.0, (-333.0, 198.0, 50.0)),  # early, 2 m off
        _alert(3, "inner", 40.0, (-3.0, 21.0, 30.0)),  # the gull
        _alert(4, "inner", 20.0, (1500.0, 1.0, 50.0)),  # far
        _alert(5, "outer", 20.0, (-1200.0, -900.0, 50.0)),  # nothing there
        _alert(1, "inner", 45.0, (60.0, 0.0, 50.0), AlertState.CLEARED),  # alert 1 again
        Alert(  # a site-level alert: no zone, no track, so counted but not judged
            alert_id=6,
            site_id="s",
            zone_level=ZoneLevel.WARNING,
            rule="rf_presence",
            object_key="rf:DJI-O3/2.4G",
            state=AlertState.RAISED,
            raised_t_unix=T0 + 5.0,
            updated_t_unix=T0 + 5.0,
        ),
    ]
    zones = build_zones([SITE], FRAME)
    score = score_alerts(
        truth_paths(truth, FRAME), first_alerts(alerts), zones, ["drone"], c_m=30.0
    )
    result = score.as_dict()
    assert (result["alerts"], result["site_alerts"]) == (5, {"rf_presence": 1})
    by_object = {o["object"]: o for o in result["objects"]}
    assert sorted(by_object) == ["early", "late", "quiet"]
    late = by_object["late"]
    assert late["most_critical_zone"] == "inner"
    assert late["breach_t_unix"] - T0 == pytest.approx(30.3, abs=0.1)
    assert late["warning_s"] == pytest.approx(30.3 - 32.0, abs=0.1)  # negative: alert late
    assert late["zones_breached_without_alert"] == ["outer"]
    early = by_object["early"]
    assert early["most_critical_zone"] == "outer"
    assert early["warning_s"] == pytest.approx(10.3 - 7.0, abs=0.1)
    assert by_object["quiet"]["alert_ids"] == [] and by_object["quiet"]["warning_s"] is None
    assert (result["missed"], result["missed_objects"]) == (1, ["quiet"])
    assert sorted(f["alert_id"] for f in result["false_alerts"]) == [3, 4, 5]
    reasons = {f["alert_id"]: f["reason"] for f in result["false_alerts"]}
    assert "bird" in reasons[3] and "never comes within" in reasons[4]
    assert "no truth object within 30 m" in reasons[5]
    assert result["warning_s_min"] == pytest.approx(-1.7, abs=0.1)


def test_an_alert_for_an_object_that_only_approaches_is_not_false():
    truth = _truth("skirt", np.arange(0.0, 41.0), lambda t: (-400.0 + 20 * t, 340.0, 50.0))
    alerts = [_alert(1, "outer", 20.0, (0.0, 345.0, 50.0))]  # 40 m outside the outer zone
    zones = build_zones([SITE], FRAME)
    score = score_alerts(truth_paths(truth, FRAME), alerts, zones, ["drone"], approach_m=50.0)
    assert (score.as_dict()["false"], score.approach_alerts, score.breaching) == (0, 1, [])
    strict = score_alerts(truth_paths(truth, FRAME), alerts, zones, ["drone"], approach_m=20.0)
    assert strict.as_dict()["false"] == 1
