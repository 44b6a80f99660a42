"""The alert life cycle in the store: escalate, resolve, site-level alerts, old files."""

import sqlite3

import pytest
from alert_scene import trk

from cuas.schema import AlertState, GeoPoint, Signature, ZoneLevel
from cuas.store.sqlite import AlertEvidence, AlertStateError, Store


def pre_alert(store):
    return store.raise_alert(
        site_id="s",
        zone_id="z",
        zone_level=ZoneLevel.CRITICAL,
        rule="time_to_breach",
        object_key="rid:A",
        track=trk("T1", 500, 0, key="rid:A"),
        t_unix=100.0,
        reason="predicted",
        evidence=AlertEvidence(
            time_to_breach_s=12.5, breach_point=GeoPoint(lat_deg=42.0, lon_deg=74.0)
        ),
    )


def test_raised_escalated_acknowledged_cleared_resolved_is_audited(tmp_path):
    store = Store(tmp_path / "s.sqlite")
    alert = pre_alert(store)
    assert alert.time_to_breach_s == 12.5 and alert.breach_point.lat_deg == 42.0
    esc = store.escalate(
        alert.alert_id, 112.0, rule="drone_in_zone", reason="entered", track=trk("T1", 90, 0)
    )
    assert esc.state is AlertState.ESCALATED and esc.rule == "drone_in_zone"
    assert esc.reason == "entered" and esc.track.enu_m[0] == 90
    store.acknowledge(alert.alert_id, "anna", "seen", 113.0)
    with pytest.raises(AlertStateError, match="only a cleared alert can be resolved"):
        store.resolve(alert.alert_id, "anna", "too early", 114.0)
    store.clear(alert.alert_id, 130.0, "left", None)
    done = store.resolve(alert.alert_id, "bob", "club drone, pilot spoken to", 140.0)
    assert (done.state, done.resolved_by, done.resolved_t_unix) == (
        AlertState.RESOLVED,
        "bob",
        140.0,
    )
    assert done.resolution_note == "club drone, pilot spoken to"
    # a resolved alert is closed for the engine: clear and escalate leave it as it is
    assert store.clear(alert.alert_id, 150.0, "again", None).state is AlertState.RESOLVED
    again = store.escalate(alert.alert_id, 150.0, rule="x", reason="x", track=None)
    assert again.state is AlertState.RESOLVED
    story = [(e.from_state, e.to_state, e.actor) for e in store.events(alert.alert_id)]
    assert story == [
        (None, AlertState.RAISED, "engine"),
        (AlertState.RAISED, AlertState.ESCALATED, "engine"),
        (AlertState.ESCALATED, AlertState.ACKNOWLEDGED, "anna"),
        (AlertState.ACKNOWLEDGED, AlertState.CLEARED, "engine"),
        (AlertState.CLEARED, AlertState.RESOLVED, "bob"),
    ]
    assert store.open_alerts() == []


def test_escalated_alerts_are_open_and_listed(tmp_path):
    store = Store(tmp_path / "s.sqlite")
    alert = pre_alert(store)
    store.escalate(alert.alert_id, 101.0, rule="drone_in_zone", reason="in", track=None)
    assert [a.alert_id for a in store.open_alerts()] == [alert.alert_id]
    items, total = store.list_alerts([AlertState.ESCALATED])
    assert total == 1 and items[0].track.track_id == "T1"  # the older snapshot is kept


def test_site_level_alert_has_no_zone_or_track(tmp_path):
    store = Store(tmp_path / "s.sqlite")
    alert = store.raise_alert(
        site_id="s",
        zone_id=None,
        zone_level=ZoneLevel.WARNING,
        rule="rf_presence",
        object_key="rf:ocusync/2.4GHz",
        track=None,
        t_unix=1.0,
        reason="heard",
        evidence=AlertEvidence(sensor_id="rf-1", signature=Signature(protocol="ocusync")),
    )
    again = store.get(alert.alert_id)
    assert again.zone_id is None and again.track_id is None and again.track is None
    assert again.sensor_id == "rf-1" and again.signature.protocol == "ocusync"


def test_a_file_from_before_the_new_columns_opens_and_keeps_its_alerts(tmp_path):
    path = tmp_path / "old.sqlite"
    track_json = trk("T1", 0, 0, key="rid:A").model_dump_json()
    with sqlite3.connect(path) as db:
        db.executescript(
            """
            CREATE TABLE alerts (
                alert_id INTEGER PRIMARY KEY AUTOINCREMENT, site_id TEXT NOT NULL,
                zone_id TEXT NOT NULL, zone_level TEXT NOT NULL, rule TEXT NOT NULL,
                object_key TEXT NOT NULL, track_id TEXT NOT NULL, state TEXT NOT NULL,
                raised_t REAL NOT NULL, updated_t REAL NOT NULL, acknowledged_by TEXT,
                acknowledged_t REAL, note TEXT, track_json TEXT);
            """
        )
        db.execute(
            "INSERT INTO alerts (site_id, zone_id, zone_level, rule, object_key, track_id, state,"
            " raised_t, updated_t, track_json) VALUES"
            " ('s', 'z', 'critical', 'drone_in_zone', 'rid:A', 'T1', 'acknowledged', 1, 2, ?)",
            (track_json,),
        )
    first, second = Store(path), Store(path)  # two processes opening the old file
    old = second.get(1)
    assert old.state is AlertState.ACKNOWLEDGED and old.zone_id == "z"
    assert old.identity.rid_serial == "A" and old.reason == ""  # evidence from its track
    first.clear(1, 3.0, "gone", None)
    assert second.resolve(1, "anna", None, 4.0).state is AlertState.RESOLVED
