"""Zone rules and the alert life cycle on hand-made tracks around square zones (alert_scene.py)."""

import pytest
from alert_scene import FRAME, INNER, OUTER, REFERENCE, SITE, poly, trk

from cuas.alerting.engine import AlertEngine
from cuas.alerting.zones import build_zones
from cuas.config import AlertSection
from cuas.schema import (
    AlertState,
    Circle,
    GeoPoint,
    ObjectClass,
    Site,
    TrackStatus,
    Zone,
    ZoneLevel,
)
from cuas.store.sqlite import Store


@pytest.fixture
def store(tmp_path):
    return Store(tmp_path / "alerts.sqlite")


def engine(store, sites=(SITE,), **alerts):
    sites = list(sites)
    return AlertEngine(build_zones(sites, FRAME), store, AlertSection(**alerts), FRAME, sites=sites)


def states(store, alert_id):
    return [e.to_state for e in store.events(alert_id)]


def test_confirmed_drone_raises_one_alert_per_zone_and_no_repeats(store):
    eng = engine(store)
    raised = eng.evaluate(0.0, [trk("T1", 50, 0)], [])
    assert sorted((a.zone_id, a.zone_level, a.rule) for a in raised) == [
        ("inner", ZoneLevel.CRITICAL, "drone_in_zone"),
        ("outer", ZoneLevel.WARNING, "drone_in_zone"),
    ]
    for t in range(1, 10):
        assert eng.evaluate(float(t), [trk("T1", 50 + t, 0, t=t)], []) == []
    assert store.list_alerts()[1] == 2


@pytest.mark.parametrize(
    "status, cls",
    [
        (TrackStatus.TENTATIVE, ObjectClass.DRONE),
        (TrackStatus.CONFIRMED, ObjectClass.MANNED_AIRCRAFT),
        (TrackStatus.CONFIRMED, ObjectClass.BIRD),
        (TrackStatus.CONFIRMED, ObjectClass.UNKNOWN),
    ],
)
def test_tentative_tracks_and_non_drones_raise_nothing(store, status, cls):
    assert engine(store).evaluate(0.0, [trk("T1", 0, 0, status=status, cls=cls)], []) == []


def test_hysteresis_keeps_one_alert_on_a_boundary_and_clears_after_leaving(store):
    eng = engine(store, clear_after_s=5.0, breach_horizon_s=0.0)  # the zone rule alone
    eng.evaluate(0.0, [trk("T1", 99, 0)], [])
    # wobbling across the inner boundary every second: no clear, no new alert
    for t in range(1, 8):
        e = 101.0 if t % 2 else 99.0
        assert eng.evaluate(float(t), [trk("T1", e, 0, t=t)], []) == []
    # then stays outside the inner zone, beyond its hold distance (100 m), still inside
    # outer, for longer than clear_after_s
    changed = []
    for t in range(8, 16):
        changed += eng.evaluate(float(t), [trk("T1", 250, 0, t=t)], [])
    assert [(a.zone_id, a.state) for a in changed] == [("inner", AlertState.CLEARED)]
    assert changed[0].reason == "outside Inner and over 100 m from it for 5 s"
    # last held at t=7 (the wobble ends 1 m outside, within the hold distance): cleared once
    # 5 s have passed
    assert changed[0].updated_t_unix == pytest.approx(13.0)
    assert states(store, changed[0].alert_id) == [AlertState.RAISED, AlertState.CLEARED]


def test_a_hovering_drone_just_outside_the_boundary_holds_its_alert_by_its_margin(store):
    # 4 m outside, position sigma 3 m: within 2 sigma of the zone, so it may be inside
    eng = engine(store, clear_after_s=5.0)
    [inner] = [a for a in eng.evaluate(0.0, [trk("T1", 99, 0)], []) if a.zone_id == "inner"]
    for t in range(1, 30):
        assert eng.evaluate(float(t), [trk("T1", 104, 0, t=t)], []) == []
    assert store.get(inner.alert_id).state is AlertState.RAISED


def test_lost_track_clears_its_alerts_with_the_reason(store):
    eng = engine(store)
    eng.evaluate(0.0, [trk("T1", 0, 0)], [])
    gone = trk("T1", 0, 0, status=TrackStatus.DELETED)
    cleared = eng.evaluate(1.0, [], [gone])
    assert {a.state for a in cleared} == {AlertState.CLEARED} and len(cleared) == 2
    assert "lost" in store.events(cleared[0].alert_id)[-1].reason
    assert "lost" in cleared[0].reason


def test_alert_follows_the_object_id_across_track_ids(store):
    eng = engine(store)
    [first, _] = eng.evaluate(0.0, [trk("T1", 0, 0, key="rid:ABC")], [])
    # the track is re-formed under a new track id; same broadcast identity: same alert
    assert eng.evaluate(1.0, [trk("T9", 5, 0, t=1.0, key="rid:ABC")], []) == []
    assert len(store.open_alerts()) == 2


def test_acknowledged_alert_survives_an_engine_restart_and_is_adopted(store):
    eng = engine(store)
    alerts = eng.evaluate(0.0, [trk("T1", 0, 0, key="rid:ABC")], [])
    inner = next(a for a in alerts if a.zone_id == "inner")
    store.acknowledge(inner.alert_id, "op", None, 1.0)
    restarted = engine(store)
    # the drone is still there after the restart: no duplicate alert, ack kept
    assert restarted.evaluate(100.0, [trk("T20000", 1, 1, t=100.0, key="rid:ABC")], []) == []
    assert store.get(inner.alert_id).state is AlertState.ACKNOWLEDGED
    # an adopted alert whose object never comes back clears after the hysteresis time
    restarted2 = engine(store)
    changed = restarted2.evaluate(200.0, [], [])
    changed += restarted2.evaluate(206.0, [], [])
    assert {a.alert_id for a in changed} == {a.alert_id for a in alerts}


def test_an_alert_carries_class_source_ids_pilot_and_the_track(store):
    pilot = GeoPoint(lat_deg=42.001, lon_deg=74.002, alt_m=801.0)
    track = trk("T1", 0, 0, key="rid:ABC").model_copy(
        update={"class_source": "remote_id", "pilot": pilot}
    )
    [alert, _] = engine(store).evaluate(0.0, [track], [])
    for a in (alert, store.get(alert.alert_id)):  # as published, and as stored
        assert a.object_class is ObjectClass.DRONE and a.class_source == "remote_id"
        assert a.identity.rid_serial == "ABC" and a.pilot == pilot
        assert a.track is not None and a.track.track_id == "T1" and a.track_id == "T1"
        assert a.site_id == "site" and a.zone_id in ("inner", "outer")


# -- time to breach ---------------------------------------------------------------------
def test_time_to_breach_pre_alert_then_escalation_on_entry(store):
    """A drone 603 m east flying west at 10 m/s, position sigma 3 m (2-sigma margin 6 m)."""
    eng = engine(store, breach_horizon_s=30.0, breach_sigma=2.0, clear_after_s=5.0)
    raised = {}
    escalated = {}
    for k in range(0, 110):
        t = k * 0.5
        e = 603.0 - 10.0 * t
        for a in eng.evaluate(t, [trk("T1", e, 0, t=t, v=(-10, 0), key="rid:A")], []):
            if a.state is AlertState.RAISED:
                raised[a.zone_id] = (t, a)
            elif a.state is AlertState.ESCALATED:
                escalated[a.zone_id] = (t, a)
    t_outer, outer = raised["outer"]
    assert outer.rule == "time_to_breach" and outer.zone_level is ZoneLevel.WARNING
    assert t_outer == 0.0  # the margin reaches the 400 m edge in 19.7 s: within the horizon
    assert outer.time_to_breach_s == pytest.approx((603.0 - 406.0) / 10.0)
    point = outer.breach_point
    east, north, _ = FRAME.from_geodetic(point.lat_deg, point.lon_deg, point.alt_m).reshape(3)
    assert (east, north) == (pytest.approx(400.0, abs=0.01), pytest.approx(0.0, abs=0.01))
    # inner (100 m edge): the margin is 30 s away once e <= 406, first at t = 20 (e = 403)
    t_inner, inner = raised["inner"]
    assert t_inner == 20.0 and inner.time_to_breach_s == pytest.approx(29.7)
    # entry: each pre-alert escalates (the same alert) at the first step inside
    t_esc, esc = escalated["outer"]
    assert esc.alert_id == outer.alert_id and esc.rule == "drone_in_zone"
    assert t_esc == 20.5  # e = 398
    assert esc.time_to_breach_s == outer.time_to_breach_s  # the prediction is kept
    assert escalated["inner"][0] == 50.5  # e = 98
    assert states(store, outer.alert_id) == [AlertState.RAISED, AlertState.ESCALATED]
    assert "predicted 19.7 s" in store.events(outer.alert_id)[-1].reason
    assert store.list_alerts()[1] == 2


def test_pre_alert_of_a_drone_that_turns_away_clears_without_escalating(store):
    eng = engine(store, clear_after_s=5.0)
    [pre] = eng.evaluate(0.0, [trk("T1", 600, 0, v=(-10, 0))], [])
    assert pre.rule == "time_to_breach"
    changed = []
    for t in range(1, 20):
        changed += eng.evaluate(float(t), [trk("T1", 600.0 + 10 * t, 0, t=t, v=(10, 0))], [])
    assert [(a.alert_id, a.state) for a in changed] == [(pre.alert_id, AlertState.CLEARED)]
    assert changed[0].updated_t_unix == pytest.approx(6.0)  # predicted at t=0 only


def test_an_acknowledged_pre_alert_escalates_and_needs_a_new_acknowledgement(store):
    eng = engine(store, clear_after_s=5.0)
    [pre] = eng.evaluate(0.0, [trk("T1", 420, 0, v=(-10, 0))], [])
    store.acknowledge(pre.alert_id, "anna", "watching it", 0.5)
    changed = eng.evaluate(3.0, [trk("T1", 390, 0, t=3.0, v=(-10, 0))], [])
    [esc] = [a for a in changed if a.alert_id == pre.alert_id]
    assert esc.state is AlertState.ESCALATED and esc.acknowledged_by == "anna"
    store.acknowledge(pre.alert_id, "bob", "on it", 4.0)
    assert states(store, pre.alert_id) == [
        AlertState.RAISED,
        AlertState.ACKNOWLEDGED,
        AlertState.ESCALATED,
        AlertState.ACKNOWLEDGED,
    ]


def test_climbing_into_the_band_from_under_the_floor_is_a_breach(store):
    roof = Zone(
        id="air",
        name="Air",
        level=ZoneLevel.WATCH,
        polygon=poly(100.0),
        floor_m=100,
        ceiling_m=300,
    )
    site = Site(id="site", name="Site", reference=REFERENCE, zones=[roof])
    eng = engine(store, sites=[site])
    climbing = trk("T1", 0, 0, height=50.0).model_copy(update={"velocity_enu_mps": (0, 0, 5.0)})
    [pre] = eng.evaluate(0.0, [climbing], [])
    assert pre.rule == "time_to_breach"
    assert pre.time_to_breach_s == pytest.approx((100.0 - 6.0 - 50.0) / 5.0)
    assert pre.breach_point.alt_m == pytest.approx(800.0 + 100.0, abs=0.5)  # at the floor


def test_breach_horizon_zero_turns_pre_alerts_off(store):
    eng = engine(store, breach_horizon_s=0.0)
    assert eng.evaluate(0.0, [trk("T1", 410, 0, v=(-10, 0))], []) == []


# -- zone forms and sites ---------------------------------------------------------------
def test_ignore_zone_suppresses_every_alert_of_its_site(store):
    pad = Zone(id="pad", name="Helipad", level=ZoneLevel.IGNORE, polygon=poly(30.0, (50, 50)))
    site = SITE.model_copy(update={"zones": [INNER, OUTER, pad]})
    eng = engine(store, sites=[site])
    assert eng.evaluate(0.0, [trk("T1", 50, 50)], []) == []
    # leaving the pad (still inside inner and outer) raises both
    raised = eng.evaluate(1.0, [trk("T1", 0, 0, t=1.0)], [])
    assert sorted(a.zone_id for a in raised) == ["inner", "outer"]


def test_circle_zone_contains_and_predicts_entry(store):
    ring = Zone(
        id="ring",
        name="Ring",
        level=ZoneLevel.CRITICAL,
        circle=Circle(lat_deg=42.0, lon_deg=74.0, radius_m=150.0),
    )
    site = Site(id="site", name="Site", reference=REFERENCE, zones=[ring])
    eng = engine(store, sites=[site], breach_sigma=0.0)
    # (120, 80) is 144 m from the centre: inside the circle, outside its 150 m square
    [inside] = eng.evaluate(0.0, [trk("T1", 120, 80)], [])
    assert inside.rule == "drone_in_zone"
    [pre] = eng.evaluate(0.0, [trk("T2", 0, 400, v=(0, -10))], [])
    assert pre.time_to_breach_s == pytest.approx(25.0)


def test_each_zone_is_evaluated_with_its_own_site(store):
    # a second site 2 km east whose reference is 100 m higher; its zone band is 0-50 m
    lat, lon, _ = FRAME.to_geodetic([2000.0, 0.0, 0.0])
    ref_b = GeoPoint(lat_deg=float(lat), lon_deg=float(lon), alt_m=900.0)
    low = Zone(
        id="low", name="Low", level=ZoneLevel.WARNING, polygon=poly(100, (2000, 0)), ceiling_m=50
    )
    site_b = Site(id="b", name="B", reference=ref_b, zones=[low])
    eng = engine(store, sites=[SITE, site_b])
    # 130 m above site A's reference = 30 m above site B's: inside B's band
    [alert] = eng.evaluate(0.0, [trk("T1", 2000, 0, height=130.0)], [])
    assert (alert.site_id, alert.zone_id) == ("b", "low")
    assert eng.evaluate(1.0, [trk("T2", 2000, 0, height=60.0, key="rid:Z")], []) == []


def test_zone_needs_exactly_one_shape():
    with pytest.raises(ValueError, match="exactly one of polygon"):
        Zone(id="z", name="z", level=ZoneLevel.WATCH)
    with pytest.raises(ValueError, match="exactly one of polygon"):
        Zone(
            id="z",
            name="z",
            level=ZoneLevel.WATCH,
            polygon=poly(10),
            circle=Circle(lat_deg=1, lon_deg=2, radius_m=3),
        )


def test_a_partial_evaluation_raises_for_its_tracks_and_clears_no_other_by_time(store):
    """The engine's quick steps pass only the tracks just updated: another drone's open
    alert must not clear for want of its track; the next full evaluation decides."""
    eng = engine(store, clear_after_s=2.0, breach_horizon_s=0.0)
    (t1_inner, t1_outer) = eng.evaluate(0.0, [trk("T1", 50, 0, key="rid:A")], [])
    for t in (1.0, 3.0, 6.0):  # only T2 updates, long past T1's clear_after_s
        raised = eng.evaluate(t, [trk("T2", 300, 0, t=t, key="rid:B")], [], partial=True)
        assert [a.zone_id for a in raised] == (["outer"] if t == 1.0 else [])
    assert store.get(t1_inner.alert_id).state.value == "raised"
    # a full evaluation without T1 in a zone clears its alerts
    cleared = eng.evaluate(7.0, [trk("T2", 300, 0, t=7.0, key="rid:B")], [])
    assert {a.alert_id for a in cleared} == {t1_inner.alert_id, t1_outer.alert_id}


def test_a_track_carries_its_live_time_to_breach_per_zone(store):
    """The pre-alert keeps the first prediction; the track carries the current one, which
    counts down with the drone and changes when it slows."""
    eng = engine(store, breach_horizon_s=30.0, breach_sigma=2.0)
    track = trk("T1", 603.0, 0, v=(-10, 0), key="rid:A")
    eng.evaluate(0.0, [track], [])
    assert [(b.zone_id, b.time_to_breach_s) for b in track.breaches] == [
        ("outer", pytest.approx((603.0 - 406.0) / 10.0))  # inner is 50 s away: beyond 30 s
    ]
    slower = trk("T1", 503.0, 0, t=10.0, v=(-5, 0), key="rid:A")
    eng.evaluate(10.0, [slower], [])
    assert {b.zone_id: b.time_to_breach_s for b in slower.breaches} == {
        "outer": pytest.approx((503.0 - 406.0) / 5.0)
    }
    inside = trk("T1", 300.0, 0, t=20.0, v=(-5, 0), key="rid:A")
    eng.evaluate(20.0, [inside], [])
    assert [b.zone_id for b in inside.breaches] == []  # in outer; inner 40 s away
    far = trk("T2", 5000.0, 0, key="rid:B")
    eng.evaluate(21.0, [far], [])
    assert far.breaches == []
