"""Exercise marking, home points and friend list matches, from detections to tracks, alerts
and the SQLite store."""

import sqlite3
from pathlib import Path

import pymap3d
import pytest

from cuas.alerting.engine import AlertEngine
from cuas.alerting.zones import build_zones
from cuas.config import parse_config
from cuas.engine.fusion import FusionEngine
from cuas.geo import EnuFrame
from cuas.schema import (
    SOURCE_ENDED,
    Detection,
    GeoPoint,
    Identity,
    MeasurementKind,
    ObjectClass,
    SensorState,
    SensorStatus,
)
from cuas.store.sqlite import Store

REF = (42.8746, 74.6036, 780.0)
HOME = GeoPoint(lat_deg=42.8731, lon_deg=74.6012, alt_m=781.0)
FRIEND = "1668C7A92B004HFR1END"


def config():
    raw = {
        "sites": [
            {
                "id": "s",
                "name": "s",
                "reference": dict(zip(("lat_deg", "lon_deg", "alt_m"), REF, strict=True)),
                "zones": [
                    {
                        "id": "z",
                        "name": "zone",
                        "level": "warning",
                        "circle": {"lat_deg": REF[0], "lon_deg": REF[1], "radius_m": 400.0},
                    }
                ],
            }
        ],
        "sensors": [
            {"id": "rid-1", "driver": "dragonsync", "source": "udp://127.0.0.1:9"},
            {
                "id": "exercise-rid-1",
                "driver": "dragonsync",
                "source": "udp://127.0.0.1:9",
                "exercise": True,
            },
        ],
        "alerts": {"friends": [{"kind": "rid_serial", "value": FRIEND, "label": "police"}]},
    }
    return parse_config(raw, Path("test.toml"))


def rid(serial: str, enu: tuple[float, float, float], t: float, exercise: bool, **kw) -> Detection:
    lat, lon, alt = pymap3d.enu2geodetic(*enu, *REF)  # independent of cuas.geo
    return Detection(
        sensor_id="exercise-rid-1" if exercise else "rid-1",
        t_unix=t,
        kind=MeasurementKind.POSITION,
        position=GeoPoint(lat_deg=float(lat), lon_deg=float(lon), alt_m=float(alt)),
        identity=Identity(rid_serial=serial),
        object_class=ObjectClass.DRONE,
        class_source="remote_id",
        exercise=exercise,
        **kw,
    )


@pytest.fixture
def store(tmp_path):
    s = Store(tmp_path / "cuas.sqlite")
    yield s
    s.close()


def test_marking_home_and_friend_reach_tracks_alerts_and_the_store(store, tmp_path):
    engine = FusionEngine(config(), store)
    alerts = []
    for k in range(10):
        t = 100.0 + k
        dets = [
            rid("EXERCISE0000000001", (0.0, 0.0, 60.0), t, exercise=True),
            rid("LIVE00000000000001", (150.0, 80.0, 60.0), t, exercise=False, home=HOME),
            rid(FRIEND, (-150.0, -80.0, 60.0), t, exercise=False),
            rid("MIXED0000000000001", (-150.0, 150.0, 60.0), t, exercise=False),
        ]
        if k == 6:  # an exercise report of the same serial at the same place as a real one
            dets.append(rid("MIXED0000000000001", (-150.0, 150.0, 60.0), t, exercise=True))
        engine.ingest(dets)
        result = engine.step(t + 1.0)
        alerts += result.alerts
    tracks = {tr.identity.rid_serial: tr for tr in result.tracks if tr.hits > 1}
    assert {tr.status.value for tr in tracks.values()} == {"confirmed"}

    assert tracks["EXERCISE0000000001"].exercise is True
    # the exercise report neither joined nor marked the real drone's track: it made its own
    mixed = [tr for tr in result.tracks if tr.identity.rid_serial == "MIXED0000000000001"]
    assert sorted((tr.exercise, tr.hits) for tr in mixed) == [(False, 10), (True, 1)]
    live, friend = tracks["LIVE00000000000001"], tracks[FRIEND]
    assert live.exercise is False and friend.exercise is False
    assert live.home == HOME and friend.home is None
    assert live.friendly is None
    assert friend.friendly is not None and FRIEND in friend.friendly and "police" in friend.friendly
    assert result.friendly == {friend.track_id: friend.friendly}  # the rules agree

    by_track = {a.track_id: a for a in alerts}
    assert friend.track_id not in by_track  # friends raise nothing
    assert by_track[tracks["EXERCISE0000000001"].track_id].exercise is True
    assert by_track[live.track_id].exercise is False
    assert by_track[tracks["MIXED0000000000001"].track_id].exercise is False

    ex_id = by_track[tracks["EXERCISE0000000001"].track_id].alert_id
    listed, total = store.list_alerts(exercise=True)
    assert [a.alert_id for a in listed] == [ex_id] and total == 1
    assert ex_id not in [a.alert_id for a in store.list_alerts(exercise=False)[0]]
    with sqlite3.connect(tmp_path / "cuas.sqlite") as db:
        rows = dict(db.execute("SELECT alert_id, exercise FROM alerts").fetchall())
    assert rows[ex_id] == 1 and rows[by_track[live.track_id].alert_id] == 0


def test_coverage_alerts_of_exercise_sensors_are_exercise_and_clear_when_it_ends(store):
    cfg = config()
    frame = EnuFrame(*REF)
    rules = AlertEngine(
        build_zones(cfg.sites, frame),
        store,
        cfg.alerts,
        frame,
        sites=cfg.sites,
        sensors=cfg.sensors,
        watch_sensors=True,
    )

    def status(sensor_id: str, state: SensorState, **counters: int) -> SensorStatus:
        return SensorStatus(
            sensor_id=sensor_id, t_unix=0.0, state=state, driver="dragonsync", counters=counters
        )

    rules.on_status(10.0, [status("rid-1", SensorState.OK)])
    rules.on_status(10.0, [status("exercise-rid-1", SensorState.DEGRADED)])
    raised = {a.sensor_id: a for a in rules.evaluate(10.0, [], [])}
    assert set(raised) == {"exercise-rid-1"} and raised["exercise-rid-1"].exercise is True

    # the scenario played to its end: no coverage lost, even once it has been silent long
    ended = status("exercise-rid-1", SensorState.OFFLINE, **{SOURCE_ENDED: 1})
    rules.on_status(20.0, [ended, status("rid-1", SensorState.OK)])
    cleared = rules.evaluate(20.0, [], [])
    assert [(a.sensor_id, a.state.value) for a in cleared] == [("exercise-rid-1", "cleared")]
    assert "exercise finished" in cleared[0].reason
    later = {a.sensor_id: a for a in rules.evaluate(60.0, [], [])}
    assert set(later) == {"rid-1"}  # the live sensor went silent: a live coverage alert
    assert later["rid-1"].exercise is False


def test_an_older_store_file_gains_the_exercise_column_and_keeps_its_alerts(tmp_path):
    path = tmp_path / "old.sqlite"
    with sqlite3.connect(path) as db:  # the first release's alerts table
        db.execute(
            "CREATE TABLE alerts (alert_id INTEGER PRIMARY KEY AUTOINCREMENT, site_id TEXT NOT"
            " NULL, zone_id TEXT NOT NULL, zone_level TEXT NOT NULL, rule TEXT NOT NULL,"
            " object_key TEXT NOT NULL, track_id TEXT NOT NULL, state TEXT NOT NULL, raised_t"
            " REAL NOT NULL, updated_t REAL NOT NULL, acknowledged_by TEXT, acknowledged_t REAL,"
            " note TEXT, track_json TEXT)"
        )
        db.execute(
            "INSERT INTO alerts (site_id, zone_id, zone_level, rule, object_key, track_id, state,"
            " raised_t, updated_t) VALUES ('s', 'z', 'warning', 'drone_in_zone', 'rid:X', 'T1',"
            " 'raised', 1.0, 1.0)"
        )
    store = Store(path)
    try:
        (old,), _ = store.list_alerts()
        assert old.exercise is False and old.object_key == "rid:X"
        store.raise_alert(
            site_id="s",
            zone_id="z",
            zone_level=old.zone_level,
            rule="drone_in_zone",
            object_key="rid:Y",
            track=None,
            t_unix=2.0,
            reason="test",
            exercise=True,
        )
        assert [a.object_key for a in store.list_alerts(exercise=True)[0]] == ["rid:Y"]
        assert [a.object_key for a in store.list_alerts(exercise=False)[0]] == ["rid:X"]
    finally:
        store.close()
