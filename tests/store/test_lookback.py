"""The picture at a past time, rebuilt from a real store file written at known times."""

import sqlite3

import pytest

from cuas.schema import AlertState, GeoPoint, ObjectClass, Track, TrackStatus, ZoneLevel
from cuas.store.lookback import alerts_at, history_span, tracks_at
from cuas.store.sqlite import Store

T0 = 1_764_403_200.0
LAT0, LON0 = 42.8746, 74.6036
STEP_DEG = 1e-5  # northward per second, about 1.1 m


def point(track_id: str, t: float, status=TrackStatus.CONFIRMED, cls=ObjectClass.DRONE) -> Track:
    """A track at T0 + ``t``, a known distance north of the reference for that time."""
    return Track(
        track_id=track_id,
        site_id="s",
        t_unix=T0 + t,
        status=status,
        position=GeoPoint(lat_deg=LAT0 + t * STEP_DEG, lon_deg=LON0, alt_m=800.0 + t),
        enu_m=(0.0, 0.0, 0.0),
        velocity_enu_mps=(0.0, 1.1, 0.0),
        position_std_m=2.0,
        object_class=cls,
    )


@pytest.fixture
def history(tmp_path):
    """Written as the API process writes it, one point per track a second: T1 from 0 to 60 s
    (tentative for its first 3 s), a bird B2 from 20 s, last heard at 25 s; and an alert on
    T1 raised at 10 s, acknowledged at 20 s, cleared at 30 s; another raised at 40 s, open."""
    store = Store(tmp_path / "cuas.sqlite")
    for s in range(61):
        batch = [point("T1", s, TrackStatus.TENTATIVE if s < 3 else TrackStatus.CONFIRMED)]
        if 20 <= s <= 25:
            batch.append(point("B2", s, cls=ObjectClass.BIRD))
        store.add_track_points(batch)
    first = raise_alert(store, 10.0, "rid:A")
    store.acknowledge(first.alert_id, "ops-anna", "on camera", T0 + 20.0)
    store.clear(first.alert_id, T0 + 30.0, "left the zone", None)
    second = raise_alert(store, 40.0, "rid:B")
    yield store, first.alert_id, second.alert_id
    store.close()


def raise_alert(store: Store, t: float, key: str):
    return store.raise_alert(
        site_id="s",
        zone_id="bowl",
        zone_level=ZoneLevel.CRITICAL,
        rule="drone_in_zone",
        object_key=key,
        track=point("T1", t),
        t_unix=T0 + t,
        reason="inside",
    )


def test_each_alert_is_shown_in_its_state_at_the_time_looked_at(history):
    store, first, second = history

    def states(t: float) -> dict[int, AlertState]:
        return {a.alert_id: a.state for a in alerts_at(store, T0 + t)}

    assert states(5) == {}
    assert states(10) == {first: AlertState.RAISED}  # a transition at t counts
    assert states(19.9) == {first: AlertState.RAISED}
    assert states(20) == {first: AlertState.ACKNOWLEDGED}
    assert states(29.9) == {first: AlertState.ACKNOWLEDGED}
    assert states(30) == {}  # cleared: no longer open
    assert states(45) == {second: AlertState.RAISED}
    assert states(1e6) == {second: AlertState.RAISED}  # still open now

    acked = alerts_at(store, T0 + 25)[0]
    assert acked.acknowledged_by == "ops-anna" and acked.note == "on camera"
    raised = alerts_at(store, T0 + 15)[0]
    assert raised.acknowledged_by is None  # as it stood then, not as it is now
    assert raised.track is not None and raised.track.track_id == "T1"


def test_tracks_are_where_they_were_with_their_trail_before_then(history):
    store, _, _ = history
    at = {tr.track_id: tr for tr in tracks_at(store, T0 + 22.5, window_s=5, trail_s=10)}
    assert set(at) == {"T1", "B2"}
    t1 = at["T1"]
    assert t1.t_unix == T0 + 22  # the latest point at or before the time
    assert t1.lat_deg == pytest.approx(LAT0 + 22 * STEP_DEG) and t1.alt_m == 822.0
    assert (t1.status, t1.object_class) == ("confirmed", "drone")
    assert [p[0] - T0 for p in t1.trail] == list(range(13, 23))  # 10 s back, oldest first
    assert t1.trail[-1] == (t1.t_unix, t1.lat_deg, t1.lon_deg, t1.alt_m)
    assert [p[0] - T0 for p in at["B2"].trail] == [20, 21, 22]  # no points before it began
    assert at["B2"].object_class == "bird"

    early = {tr.track_id: tr for tr in tracks_at(store, T0 + 1, window_s=5, trail_s=30)}
    assert set(early) == {"T1"} and early["T1"].status == "tentative"


def test_a_track_unheard_for_longer_than_the_window_is_gone(history):
    store, _, _ = history
    assert {tr.track_id for tr in tracks_at(store, T0 + 30, 5, 10)} == {"T1", "B2"}  # 25 + 5
    assert {tr.track_id for tr in tracks_at(store, T0 + 30.5, 5, 10)} == {"T1"}
    assert tracks_at(store, T0 + 70, 5, 10) == []  # T1 last heard at 60
    assert [p[0] - T0 for p in tracks_at(store, T0 + 40, 5, 0)[0].trail] == [40]  # no trail


def test_history_span_covers_track_points_and_alert_transitions(history, tmp_path):
    store, _, _ = history
    span = history_span(store)
    assert (span.oldest_t_unix, span.newest_t_unix) == (T0, T0 + 60)
    empty = Store(tmp_path / "empty.sqlite")
    assert history_span(empty) is None
    empty.close()


# The tables as the first release wrote them: no index on time, no alert snapshot per event.
OLD_SCHEMA = """
CREATE TABLE alerts (
    alert_id INTEGER PRIMARY KEY AUTOINCREMENT, site_id TEXT NOT NULL, zone_id TEXT NOT NULL,
    zone_level TEXT NOT NULL, rule TEXT NOT NULL, object_key TEXT NOT NULL,
    track_id TEXT NOT NULL, state TEXT NOT NULL, raised_t REAL NOT NULL,
    updated_t REAL NOT NULL, acknowledged_by TEXT, acknowledged_t REAL, note TEXT,
    track_json TEXT);
CREATE TABLE alert_events (
    event_id INTEGER PRIMARY KEY AUTOINCREMENT, alert_id INTEGER NOT NULL, t REAL NOT NULL,
    from_state TEXT, to_state TEXT NOT NULL, actor TEXT NOT NULL,
    reason TEXT NOT NULL DEFAULT '');
CREATE TABLE track_history (
    track_id TEXT NOT NULL, t REAL NOT NULL, lat_deg REAL NOT NULL, lon_deg REAL NOT NULL,
    alt_m REAL, status TEXT NOT NULL, object_class TEXT NOT NULL);
CREATE INDEX track_history_track ON track_history(track_id, t);
"""


def test_a_file_from_before_look_back_gets_its_indexes_and_answers(tmp_path):
    path = tmp_path / "old.sqlite"
    with sqlite3.connect(path) as db:
        db.executescript(OLD_SCHEMA)
        db.execute(
            "INSERT INTO alerts VALUES (1,'s','bowl','critical','drone_in_zone','rid:A','T1',"
            "'acknowledged',?,?,'ops-ben',?,NULL,NULL)",
            (T0 + 1, T0 + 3, T0 + 3),
        )
        db.executemany(
            "INSERT INTO alert_events (alert_id, t, from_state, to_state, actor)"
            " VALUES (?,?,?,?,?)",
            [(1, T0 + 1, None, "raised", "engine"), (1, T0 + 3, "raised", "acknowledged", "b")],
        )
        db.executemany(
            "INSERT INTO track_history VALUES ('T1', ?, ?, ?, 800.0, 'confirmed', 'drone')",
            [(T0 + s, LAT0, LON0) for s in range(5)],
        )

    store = Store(path)
    with store.read() as db:
        indexes = {r[1] for r in db.execute("PRAGMA index_list(track_history)")}
        indexes |= {r[1] for r in db.execute("PRAGMA index_list(alert_events)")}
        plan = " ".join(
            str(r[3])
            for r in db.execute(
                "EXPLAIN QUERY PLAN SELECT track_id FROM track_history WHERE t >= 1 AND t <= 2"
            )
        )
    assert {"track_history_t", "alert_events_t"} <= indexes
    assert "track_history_t" in plan
    # No stored snapshot: the alert as it is now, in the state it had then.
    assert [a.state for a in alerts_at(store, T0 + 2)] == [AlertState.RAISED]
    assert [a.state for a in alerts_at(store, T0 + 4)] == [AlertState.ACKNOWLEDGED]
    assert [tr.track_id for tr in tracks_at(store, T0 + 4, 5, 30)] == ["T1"]
    store.close()
