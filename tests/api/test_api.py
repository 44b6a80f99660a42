"""The API against a real store file and a real bus publisher standing in for the engine."""

import time

import pytest
from fastapi.testclient import TestClient

from cuas.api.app import create_app
from cuas.bus import TOPIC_ALERTS, TOPIC_STATUS, TOPIC_TRACKS, Publisher
from cuas.config import load_config
from cuas.schema import (
    SensorState,
    SensorStatus,
    Track,
    TrackStatus,
    ZoneLevel,
)
from cuas.store.sqlite import Store

from support import DEMO_CONFIG, drone_track, free_port


def track(track_id="T1", status=TrackStatus.CONFIRMED, serial="SER1") -> Track:
    return drone_track(track_id, status, serial)


@pytest.fixture
def env(tmp_path):
    endpoint = f"tcp://127.0.0.1:{free_port()}"
    engine_pub = Publisher(endpoint, bind=True, src="engine")
    store = Store(tmp_path / "cuas.sqlite")
    app = create_app(load_config(DEMO_CONFIG), store, endpoint)
    with TestClient(app, base_url="http://127.0.0.1") as client:  # a loopback Host
        assert engine_pub.wait_for_subscriber(5.0), "API never subscribed to the engine output"
        yield client, engine_pub, store
    engine_pub.close()
    store.close()


def wait_for(fn, timeout_s=5.0):
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        value = fn()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError("condition not met in time")


def raise_alert(store, key="rid:SER1"):
    return store.raise_alert(
        site_id="dolen-omurzakov",
        zone_id="bowl",
        zone_level=ZoneLevel.CRITICAL,
        rule="drone_in_zone",
        object_key=key,
        track=track(),
        t_unix=time.time(),
        reason="in",
    )


def test_health_sites_and_openapi(env):
    client, _, _ = env
    health = client.get("/api/v1/health").json()  # no engine here: it may say so by now
    assert health["status"] == ("degraded" if health["problems"] else "ok")
    sites = client.get("/api/v1/sites").json()
    assert sites[0]["id"] == "dolen-omurzakov" and len(sites[0]["zones"]) == 2
    assert client.get("/api/v1/sites/nope").status_code == 404
    paths = client.get("/openapi.json").json()["paths"]
    for path in ("/api/v1/tracks", "/api/v1/alerts", "/api/v1/alerts/{alert_id}/ack"):
        assert path in paths


def test_tracks_and_sensors_come_from_the_engine_bus(env):
    client, pub, store = env
    assert client.get("/api/v1/sensors").json()[0]["state"] == "offline"  # not heard yet
    pub.publish(TOPIC_TRACKS, [track("T1"), track("T2", TrackStatus.TENTATIVE, "SER2")])
    status = SensorStatus(
        sensor_id="rid-1",
        t_unix=time.time(),
        state=SensorState.OK,
        driver="dragonsync",
        counters={"frames": 5},
    )
    pub.publish(TOPIC_STATUS, [status])
    tracks = wait_for(lambda: client.get("/api/v1/tracks").json())
    assert {t["track_id"] for t in tracks} == {"T1", "T2"}
    confirmed = client.get("/api/v1/tracks", params={"status": "confirmed"}).json()
    assert [t["track_id"] for t in confirmed] == ["T1"]
    wait_for(lambda: client.get("/api/v1/sensors").json()[0]["state"] == "ok")
    assert client.get("/api/v1/tracks/T1").json()["identity"]["rid_serial"] == "SER1"
    assert wait_for(lambda: client.get("/api/v1/tracks/T1/history").json())[0]["lat_deg"] > 42
    pub.publish(TOPIC_TRACKS, [track("T1", TrackStatus.DELETED)])
    wait_for(lambda: client.get("/api/v1/tracks/T1").status_code == 404)


def test_alert_listing_filters_and_pagination(env):
    client, _, store = env
    ids = [raise_alert(store, key=f"rid:{i}").alert_id for i in range(3)]
    store.clear(ids[0], time.time(), "gone", None)
    page = client.get("/api/v1/alerts", params={"state": "raised", "limit": 1}).json()
    assert page["total"] == 2 and len(page["items"]) == 1
    assert page["items"][0]["alert_id"] == ids[2]
    both = client.get("/api/v1/alerts", params=[("state", "raised"), ("state", "cleared")])
    assert both.json()["total"] == 3
    assert client.get("/api/v1/alerts", params={"state": "bogus"}).status_code == 422
    assert client.get("/api/v1/alerts", params={"limit": 0}).status_code == 422


def test_acknowledge_records_who_and_is_audited(env):
    client, _, store = env
    alert = raise_alert(store)
    r = client.post(f"/api/v1/alerts/{alert.alert_id}/ack", json={"operator": "anna", "note": "ok"})
    assert r.status_code == 200
    assert r.json()["state"] == "acknowledged" and r.json()["acknowledged_by"] == "anna"
    events = client.get(f"/api/v1/alerts/{alert.alert_id}/events").json()
    assert [e["to_state"] for e in events] == ["raised", "acknowledged"]
    assert events[1]["actor"] == "anna"
    again = client.post(f"/api/v1/alerts/{alert.alert_id}/ack", json={"operator": "bob"})
    assert again.status_code == 409 and "acknowledged" in again.json()["detail"]


@pytest.mark.parametrize(
    "path, body, code",
    [
        ("/api/v1/alerts/999/ack", {"operator": "anna"}, 404),
        ("/api/v1/alerts/1/ack", {"note": 5}, 422),
        ("/api/v1/alerts/1/ack", {"operator": ""}, 422),
        ("/api/v1/alerts/1/ack", {"operator": "x" * 65}, 422),
        ("/api/v1/alerts/1/ack", {"operator": "a", "extra": 1}, 422),
        ("/api/v1/alerts/abc/ack", {"operator": "a"}, 422),
    ],
)
def test_bad_acknowledgements_get_4xx_with_a_message(env, path, body, code):
    client, _, store = env
    raise_alert(store)
    r = client.post(path, json=body)
    assert r.status_code == code and r.json()["detail"]


def test_stream_sends_snapshot_then_live_changes(env):
    client, pub, store = env
    alert = raise_alert(store)
    pub.publish(TOPIC_TRACKS, [track("T1")])
    wait_for(lambda: client.get("/api/v1/tracks").json())
    with client.websocket_connect("ws://127.0.0.1/api/v1/stream") as ws:
        snap = ws.receive_json()
        assert snap["type"] == "snapshot"
        assert [a["alert_id"] for a in snap["alerts"]] == [alert.alert_id]
        assert [t["track_id"] for t in snap["tracks"]] == ["T1"]
        pub.publish(TOPIC_TRACKS, [track("T5", serial="S5")])
        msg = ws.receive_json()
        assert msg["type"] == "tracks" and msg["items"][0]["track_id"] == "T5"
        pub.publish(TOPIC_ALERTS, [store.get(alert.alert_id)])
        assert ws.receive_json()["type"] == "alerts"
        client.post(f"/api/v1/alerts/{alert.alert_id}/ack", json={"operator": "anna"})
        acked = ws.receive_json()
        assert acked["type"] == "alerts" and acked["items"][0]["state"] == "acknowledged"


def test_dashboard_is_served_with_its_assets(env):
    client, _, _ = env
    page = client.get("/")
    assert page.status_code == 200 and "/static/app.js" in page.text
    assert client.get("/static/app.js").status_code == 200
    assert client.get("/static/style.css").status_code == 200
