"""The store's alert transitions read back in order, on a real SQLite file shared by two
connections (as the engine, the API and the outbound process share it)."""

import sqlite3

from cuas.schema import AlertState, ZoneLevel
from cuas.store.alert_stream import AlertStream, OperatorTransitions, last_event_id
from cuas.store.sqlite import Store

from support import drone_track


def raise_one(store: Store, t_unix: float = 1000.0, serial: str = "S1"):
    track = drone_track("T1", serial=serial)
    return store.raise_alert(
        site_id="dolen-omurzakov",
        zone_id="bowl",
        zone_level=ZoneLevel.CRITICAL,
        rule="drone_in_zone",
        object_key=f"rid:{serial}",
        track=track,
        t_unix=t_unix,
        reason="inside the bowl",
    )


def test_every_transition_comes_back_once_in_order_with_the_alert_as_it_was_then(tmp_path):
    path = tmp_path / "cuas.sqlite"
    engine, api, reader = Store(path), Store(path), Store(path)
    stream = AlertStream(reader, last_event_id(reader))
    alert = raise_one(engine)
    expected = [alert]
    expected.append(api.acknowledge(alert.alert_id, "ops-1", "on camera 3", 1001.0))
    expected.append(engine.clear(alert.alert_id, 1002.0, "left the zone", None))
    expected.append(api.resolve(alert.alert_id, "ops-2", "a delivery drone", 1003.0))

    got = stream.poll(limit=3) + stream.poll()  # the cursor has not moved: read again
    assert [tr.event_id for tr in got[:3]] == [tr.event_id for tr in got[3:6]]
    stream.advance(got[2].event_id)
    got = got[:3] + stream.poll()
    stream.advance(got[-1].event_id)

    assert [tr.alert for tr in got] == expected  # the resolved alert now, each state then
    assert [(tr.event.to_state, tr.event.actor, tr.event.reason) for tr in got] == [
        (AlertState.RAISED, "engine", "inside the bowl"),
        (AlertState.ACKNOWLEDGED, "ops-1", "on camera 3"),
        (AlertState.CLEARED, "engine", "left the zone"),
        (AlertState.RESOLVED, "ops-2", "a delivery drone"),
    ]
    assert got[1].alert.acknowledged_by == "ops-1" and got[1].alert.note == "on camera 3"
    assert got[1].alert.acknowledged_t_unix == 1001.0
    assert [tr.event_id for tr in got] == sorted({tr.event_id for tr in got})
    assert stream.poll() == []


def test_a_poll_after_an_idle_one_sees_what_another_connection_committed(tmp_path):
    path = tmp_path / "cuas.sqlite"
    writer, reader = Store(path), Store(path)
    stream = AlertStream(reader, last_event_id(reader))
    assert stream.poll() == [] and stream.poll() == []
    alert = raise_one(writer)
    (tr,) = stream.poll()
    assert tr.alert.alert_id == alert.alert_id


def test_a_store_from_before_snapshots_gets_the_column_and_old_rows_fall_back(tmp_path):
    path = tmp_path / "cuas.sqlite"
    old = Store(path)
    alert = raise_one(old)
    old.acknowledge(alert.alert_id, "ops-1", "seen", 1001.0)
    old.close()
    with sqlite3.connect(path) as db:  # what a file written before snapshots holds
        db.execute("ALTER TABLE alert_events DROP COLUMN alert_json")
        db.execute("PRAGMA user_version = 1")  # migration 2 adds the column back

    store = Store(path)
    with store.read() as db:
        columns = {row[1] for row in db.execute("PRAGMA table_info(alert_events)")}
    assert "alert_json" in columns
    raised, acked = AlertStream(store, 0).poll()
    # no snapshot: the alert as it is now, in the state of the transition
    assert raised.alert.state is AlertState.RAISED and raised.alert.updated_t_unix == 1000.0
    assert acked.alert.acknowledged_by == "ops-1"
    store.clear(alert.alert_id, 1002.0, "gone", None)
    (cleared,) = AlertStream(store, acked.event_id).poll()
    assert cleared.alert == store.get(alert.alert_id)


def test_the_engine_gets_only_operator_transitions_made_after_it_started(tmp_path):
    path = tmp_path / "cuas.sqlite"
    engine, api = Store(path), Store(path)
    before = raise_one(engine, serial="OLD")
    api.acknowledge(before.alert_id, "ops-1", None, 1001.0)
    feed = OperatorTransitions(engine, poll_s=0.0)
    assert feed.due() == []
    alert = raise_one(engine, serial="NEW")
    api.acknowledge(alert.alert_id, "ops-2", "tracking it", 1002.0)
    engine.clear(alert.alert_id, 1003.0, "left", None)
    api.resolve(alert.alert_id, "ops-2", "hobbyist", 1004.0)
    got = feed.due()
    assert [(a.alert_id, a.state) for a in got] == [
        (alert.alert_id, AlertState.ACKNOWLEDGED),
        (alert.alert_id, AlertState.RESOLVED),
    ]
    assert got[0].note == "tracking it" and got[1].resolution_note == "hobbyist"
    assert feed.due() == []
