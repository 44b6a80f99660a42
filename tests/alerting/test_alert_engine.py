"""Alert rules on hand-made tracks around a 200 m square zone."""

import pytest

from cuas.alerting.engine import AlertEngine
from cuas.alerting.zones import build_zones
from cuas.config import AlertSection
from cuas.geo import EnuFrame
from cuas.schema import (
    AlertState,
    GeoPoint,
    Identity,
    ObjectClass,
    Site,
    Track,
    TrackStatus,
    Zone,
    ZoneLevel,
)
from cuas.store.sqlite import Store

FRAME = EnuFrame(42.0, 74.0, 800.0)


def _poly(half_m: float):
    pts = [(-half_m, -half_m), (half_m, -half_m), (half_m, half_m), (-half_m, half_m)]
    return [tuple(float(v) for v in FRAME.to_geodetic([e, n, 0.0])[:2]) for e, n in pts]


SITE = Site(
    id="site",
    name="Site",
    reference=GeoPoint(lat_deg=42.0, lon_deg=74.0, alt_m=800.0),
    zones=[
        Zone(id="inner", name="Inner", level=ZoneLevel.CRITICAL, polygon=_poly(100.0)),
        Zone(id="outer", name="Outer", level=ZoneLevel.WARNING, polygon=_poly(400.0)),
    ],
)


def trk(track_id, e, n, *, t=0.0, status=TrackStatus.CONFIRMED, cls=ObjectClass.DRONE, key=None):
    lat, lon, alt = FRAME.to_geodetic([e, n, 60.0])
    return Track(
        track_id=track_id,
        site_id="site",
        t_unix=t,
        status=status,
        position=GeoPoint(lat_deg=float(lat), lon_deg=float(lon), alt_m=float(alt)),
        enu_m=(e, n, 60.0),
        velocity_enu_mps=(0.0, 0.0, 0.0),
        position_std_m=3.0,
        object_class=cls,
        identity=Identity(rid_serial=key[4:] if key else None),
        identity_key=key,
    )


@pytest.fixture
def store(tmp_path):
    return Store(tmp_path / "alerts.sqlite")


def engine(store, clear_after_s=5.0):
    return AlertEngine(build_zones([SITE], FRAME), store, AlertSection(clear_after_s=clear_after_s))


def test_confirmed_drone_raises_one_alert_per_zone_and_no_repeats(store):
    eng = engine(store)
    raised = eng.evaluate(0.0, [trk("T1", 50, 0)], [])
    assert sorted(a.zone_id for a in raised) == ["inner", "outer"]
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
    eng = engine(store, clear_after_s=5.0)
    eng.evaluate(0.0, [trk("T1", 99, 0)], [])
    # wobbling across the inner boundary every second: no clear, no new alert
    for t in range(1, 8):
        e = 101.0 if t % 2 else 99.0
        assert [a for a in eng.evaluate(float(t), [trk("T1", e, 0, t=t)], [])] == []
    # then stays outside the inner zone (still inside outer) for longer than clear_after_s
    changed = []
    for t in range(8, 16):
        changed += eng.evaluate(float(t), [trk("T1", 150, 0, t=t)], [])
    assert [(a.zone_id, a.state) for a in changed] == [("inner", AlertState.CLEARED)]
    # last inside at t=6 (the wobble ends outside at t=7): cleared once 5 s have passed
    assert changed[0].updated_t_unix == pytest.approx(12.0)


def test_lost_track_clears_its_alerts_with_the_reason(store):
    eng = engine(store)
    eng.evaluate(0.0, [trk("T1", 0, 0)], [])
    gone = trk("T1", 0, 0, status=TrackStatus.DELETED)
    cleared = eng.evaluate(1.0, [], [gone])
    assert {a.state for a in cleared} == {AlertState.CLEARED} and len(cleared) == 2
    assert "lost" in store.events(cleared[0].alert_id)[-1].reason


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
