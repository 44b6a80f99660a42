import threading

import pytest

from cuas.schema import AlertState, GeoPoint, Track, TrackStatus, ZoneLevel
from cuas.store.sqlite import AlertNotFound, AlertStateError, Store


def track(track_id="T1", t=100.0) -> Track:
    return Track(
        track_id=track_id,
        site_id="s",
        t_unix=t,
        status=TrackStatus.CONFIRMED,
        position=GeoPoint(lat_deg=42.0, lon_deg=74.0, alt_m=900.0),
        enu_m=(0.0, 0.0, 100.0),
        velocity_enu_mps=(1.0, 0.0, 0.0),
        position_std_m=3.0,
    )


def raise_one(store: Store, t=100.0, key="rid:X"):
    return store.raise_alert(
        site_id="s",
        zone_id="z",
        zone_level=ZoneLevel.CRITICAL,
        rule="drone_in_zone",
        object_key=key,
        track=track(t=t),
        t_unix=t,
        reason="inside",
    )


def test_life_cycle_is_audited_and_survives_reopening(tmp_path):
    path = tmp_path / "cuas.sqlite"
    store = Store(path)
    alert = raise_one(store)
    store.acknowledge(alert.alert_id, "ops-anna", "seen on camera", 101.0)
    store.clear(alert.alert_id, 130.0, "left the zone", None)
    store.close()

    reopened = Store(path)
    again = reopened.get(alert.alert_id)
    assert again.state is AlertState.CLEARED
    assert again.acknowledged_by == "ops-anna" and again.note == "seen on camera"
    assert again.track is not None and again.track.track_id == "T1"
    events = reopened.events(alert.alert_id)
    assert [(e.from_state, e.to_state, e.actor) for e in events] == [
        (None, AlertState.RAISED, "engine"),
        (AlertState.RAISED, AlertState.ACKNOWLEDGED, "ops-anna"),
        (AlertState.ACKNOWLEDGED, AlertState.CLEARED, "engine"),
    ]
    assert reopened.path.endswith("cuas.sqlite")


def test_only_a_raised_alert_can_be_acknowledged(tmp_path):
    store = Store(tmp_path / "s.sqlite")
    alert = raise_one(store)
    store.acknowledge(alert.alert_id, "a", None, 101.0)
    with pytest.raises(AlertStateError, match="acknowledged"):
        store.acknowledge(alert.alert_id, "b", None, 102.0)
    store.clear(alert.alert_id, 103.0, "gone", None)
    with pytest.raises(AlertStateError, match="cleared"):
        store.acknowledge(alert.alert_id, "b", None, 104.0)
    with pytest.raises(AlertNotFound):
        store.acknowledge(999, "b", None, 104.0)
    assert len(store.events(alert.alert_id)) == 3


def test_listing_filters_and_pages_newest_first(tmp_path):
    store = Store(tmp_path / "s.sqlite")
    ids = [raise_one(store, t=100.0 + i, key=f"k{i}").alert_id for i in range(5)]
    store.clear(ids[0], 200.0, "x", None)
    items, total = store.list_alerts([AlertState.RAISED], limit=2, offset=1)
    assert total == 4
    assert [a.alert_id for a in items] == [ids[3], ids[2]]
    assert {a.alert_id for a in store.open_alerts()} == set(ids[1:])


def test_two_connections_racing_ack_and_clear_leave_one_consistent_story(tmp_path):
    path = tmp_path / "race.sqlite"
    engine_side, api_side = Store(path), Store(path)
    ids = [raise_one(engine_side, t=float(i), key=f"k{i}").alert_id for i in range(40)]
    errors = []

    def ack_all():
        for i in ids:
            try:
                api_side.acknowledge(i, "op", None, 50.0)
            except AlertStateError:
                errors.append(i)

    thread = threading.Thread(target=ack_all)
    thread.start()
    for i in ids:
        engine_side.clear(i, 50.0, "gone", None)
    thread.join()
    for i in ids:
        story = [e.to_state for e in engine_side.events(i)]
        assert story[-1] is AlertState.CLEARED
        assert story in (
            [AlertState.RAISED, AlertState.CLEARED],
            [AlertState.RAISED, AlertState.ACKNOWLEDGED, AlertState.CLEARED],
        )
        assert (AlertState.ACKNOWLEDGED in story) == (i not in errors)


def test_track_history_and_persistent_counters(tmp_path):
    store = Store(tmp_path / "s.sqlite")
    store.add_track_points([track("T7", 1.0), track("T7", 2.0), track("T8", 1.5)])
    assert [p["t_unix"] for p in store.track_history("T7")] == [1.0, 2.0]
    assert store.reserve("track_id", 100) == 1
    assert store.reserve("track_id", 100) == 101
