"""Site-level rules: RF presence and sensor coverage, with sensors assigned to sites."""

import pytest

from cuas.alerting.engine import AlertEngine
from cuas.alerting.rules import emitter_key
from cuas.alerting.zones import build_zones
from cuas.config import AlertSection, SensorConfig
from cuas.geo import EnuFrame
from cuas.schema import (
    AlertState,
    Detection,
    GeoPoint,
    Identity,
    MeasurementKind,
    ObjectClass,
    SensorState,
    SensorStatus,
    Signature,
    Site,
    ZoneLevel,
)
from cuas.store.sqlite import Store

FRAME = EnuFrame(42.0, 74.0, 800.0)


def _at(e, n):
    lat, lon, _ = FRAME.to_geodetic([e, n, 0.0])
    return GeoPoint(lat_deg=float(lat), lon_deg=float(lon), alt_m=800.0)


SITE_A = Site(id="a", name="A", reference=_at(0, 0))
SITE_B = Site(id="b", name="B", reference=_at(5000, 0))
SENSORS = [
    SensorConfig(id="rf-a", driver="rfserial", source="x", position=_at(100, 0)),
    SensorConfig(id="rf-b", driver="rfserial", source="x", position=_at(4800, 200)),
    SensorConfig(id="rid-x", driver="dragonsync", source="x"),  # no position: first site
]


@pytest.fixture
def store(tmp_path):
    return Store(tmp_path / "s.sqlite")


def engine(store, watch=False, **alerts):
    return AlertEngine(
        build_zones([SITE_A, SITE_B], FRAME),
        store,
        AlertSection(**alerts),
        FRAME,
        sites=[SITE_A, SITE_B],
        sensors=SENSORS,
        watch_sensors=watch,
    )


def heard(sensor_id, t, band="2.4GHz", protocol="ocusync", cls=ObjectClass.DRONE, mac=None):
    return Detection(
        sensor_id=sensor_id,
        t_unix=t,
        kind=MeasurementKind.PRESENCE,
        object_class=cls,
        class_source="rf",
        identity=Identity(mac=mac),
        signature=Signature(band=band, protocol=protocol, rssi_dbm=-70.0),
    )


def test_presence_raises_one_alert_per_emitter_at_the_sensors_site_and_clears_when_quiet(store):
    eng = engine(store, presence_clear_after_s=10.0, presence_level="critical")
    [alert] = eng.evaluate(0.0, [], [], [heard("rf-b", 0.0)])
    assert (alert.rule, alert.site_id, alert.zone_id, alert.track_id) == (
        "rf_presence",
        "b",
        None,
        None,
    )
    assert alert.zone_level is ZoneLevel.CRITICAL and alert.sensor_id == "rf-b"
    assert alert.signature.protocol == "ocusync" and alert.object_class is ObjectClass.DRONE
    # heard again (by either sensor at that site or not): the same alert, no repeat
    for t in range(1, 6):
        assert eng.evaluate(float(t), [], [], [heard("rf-b", float(t))]) == []
    # another emitter at site a: its own alert
    [other] = eng.evaluate(6.0, [], [], [heard("rf-a", 6.0, band="5.8GHz")])
    assert other.site_id == "a" and other.object_key != alert.object_key
    cleared = eng.evaluate(15.5, [], [], [])
    assert [(a.alert_id, a.state) for a in cleared] == [(alert.alert_id, AlertState.CLEARED)]
    assert "not heard for 10 s" in cleared[0].reason
    assert store.get(other.alert_id).state is AlertState.RAISED


def test_presence_of_non_drones_manned_aircraft_and_friends_raises_nothing(store):
    from cuas.alerting.friends import FriendSpec

    eng = engine(store, friends=[FriendSpec(kind="mac", value="60-60-1F-A3-41-7C")])
    quiet = [
        heard("rf-a", 0.0, cls=ObjectClass.UNKNOWN),
        heard("rf-a", 0.0, cls=ObjectClass.MANNED_AIRCRAFT),
        heard("rf-a", 0.0, mac="60:60:1f:a3:41:7c"),
    ]
    assert eng.evaluate(0.0, [], [], quiet) == []


def test_emitter_key_prefers_ids_then_signature_then_sensor():
    assert emitter_key(heard("s", 0, mac="AA:bb:cc:dd:ee:ff")) == "mac:aa:bb:cc:dd:ee:ff"
    assert emitter_key(heard("s", 0)) == "rf:ocusync/2.4GHz"
    freq = Detection(sensor_id="s", t_unix=0, kind="presence", signature=Signature(freq_mhz=2437.2))
    assert emitter_key(freq) == "rf:2437MHz"
    assert emitter_key(Detection(sensor_id="s", t_unix=0, kind="presence")) == "rf:s"


def status(sensor_id, state=SensorState.OK, detail="link up"):
    return SensorStatus(sensor_id=sensor_id, t_unix=0.0, state=state, driver="x", detail=detail)


def test_coverage_alert_for_a_silent_sensor_clears_when_it_reports_ok(store):
    eng = engine(store, watch=True, sensor_silent_after_s=10.0, coverage_level="watch")
    eng.on_status(0.0, [status("rf-a"), status("rf-b"), status("rid-x")])
    assert eng.evaluate(0.0, [], []) == []
    eng.on_status(8.0, [status("rf-a"), status("rf-b")])  # rid-x falls silent after t=0
    assert eng.evaluate(9.0, [], []) == []
    [silent] = eng.evaluate(10.5, [], [])
    assert (silent.rule, silent.object_key, silent.sensor_id) == (
        "sensor_coverage",
        "sensor:rid-x",
        "rid-x",
    )
    assert silent.site_id == "a" and silent.zone_level is ZoneLevel.WATCH
    assert "no status" in silent.reason
    assert eng.evaluate(12.0, [], []) == []  # one alert per sensor, no repeat
    eng.on_status(13.0, [status("rid-x")])
    [back] = eng.evaluate(13.0, [], [])
    assert back.alert_id == silent.alert_id and back.state is AlertState.CLEARED


def test_coverage_alert_for_a_degraded_sensor_and_for_one_never_heard(store):
    eng = engine(store, watch=True, sensor_silent_after_s=10.0)
    eng.on_status(0.0, [status("rf-a", SensorState.DEGRADED, "no CURS status sentence")])
    eng.on_status(0.0, [status("rf-b")])
    [degraded] = eng.evaluate(0.0, [], [])
    assert degraded.sensor_id == "rf-a" and "degraded: no CURS status sentence" in degraded.reason
    eng.on_status(9.0, [status("rf-b")])
    never = eng.evaluate(11.0, [], [])  # rid-x never reported since the first step
    assert [a.sensor_id for a in never] == ["rid-x"]


def test_no_coverage_alerts_without_sensor_status_watching(store):
    eng = engine(store, watch=False, sensor_silent_after_s=1.0)
    assert eng.evaluate(0.0, [], []) == [] and eng.evaluate(100.0, [], []) == []
