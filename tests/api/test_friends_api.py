"""The friend list over real HTTP: add, update, list, remove, audit, roles, bad input."""

import time

import httpx
import pytest

from cuas.alerting.engine import AlertEngine
from cuas.alerting.zones import build_zones
from cuas.api.auth import Role
from cuas.geo import EnuFrame
from cuas.schema import GeoPoint, Identity, ObjectClass, Track, TrackStatus
from cuas.store.sqlite import Store

SERIAL = "1581F5FJD239C00DW22E"


@pytest.fixture
def api(serve):
    served = serve(require_key_on_loopback=True)
    admin = {"X-API-Key": served.key(Role.ADMIN, "admin-anna")}
    viewer = {"X-API-Key": served.key(Role.VIEWER, "viewer-vic")}
    with httpx.Client(base_url=served.base + "/api/v1", timeout=10) as client:
        yield served, client, admin, viewer


def test_add_update_list_remove_and_the_audit_trail(api):
    _, client, admin, viewer = api
    body = {"kind": "rid_serial", "value": SERIAL, "label": "club", "operator": "anna"}
    created = client.post("/friends", json=body, headers=admin)
    assert created.status_code == 201
    entry = created.json()
    assert (entry["origin"], entry["added_by"], entry["expired"]) == ("api", "anna", False)
    expires = time.time() + 3600
    updated = client.post(
        "/friends", json={**body, "expires_t_unix": expires, "operator": "bob"}, headers=admin
    )
    assert updated.status_code == 200 and updated.json()["friend_id"] == entry["friend_id"]
    listed = client.get("/friends", headers=viewer).json()
    assert [f["value"] for f in listed] == [SERIAL]
    assert listed[0]["expires_t_unix"] == pytest.approx(expires, abs=1e-5)
    removed = client.delete(
        f"/friends/{entry['friend_id']}", params={"operator": "carol"}, headers=admin
    )
    assert removed.status_code == 200 and client.get("/friends", headers=viewer).json() == []
    assert (
        client.delete(
            f"/friends/{entry['friend_id']}", params={"operator": "carol"}, headers=admin
        ).status_code
        == 404
    )
    audit = client.get("/friends/events", headers=viewer).json()
    assert audit["total"] == 3
    assert [(e["action"], e["actor"]) for e in audit["items"]] == [
        ("removed", "carol"),
        ("updated", "bob"),
        ("added", "anna"),
    ]


def test_only_admins_change_the_list_and_a_key_is_needed_to_read_it(api):
    _, client, _, viewer = api
    body = {"kind": "mac", "value": "60:60:1f:a3:41:7c", "operator": "vic"}
    assert client.post("/friends", json=body, headers=viewer).status_code == 403
    assert (
        client.delete("/friends/1", params={"operator": "vic"}, headers=viewer).status_code == 403
    )
    assert client.get("/friends").status_code == 401


@pytest.mark.parametrize(
    "body, fragment",
    [
        ({"kind": "mac", "value": "60:60:1f", "operator": "a"}, "not a MAC address"),
        ({"kind": "icao24", "value": "4ca7b3x", "operator": "a"}, "not an ICAO"),
        ({"kind": "imei", "value": "1", "operator": "a"}, "kind"),
        ({"kind": "mac", "value": "60:60:1f:a3:41:7c"}, "operator"),
        ({"kind": "mac", "value": "60:60:1f:a3:41:7c", "operator": "a", "x": 1}, "x"),
        (
            {"kind": "mac", "value": "60:60:1f:a3:41:7c", "operator": "a", "expires_t_unix": 5.0},
            "in the past",
        ),
    ],
)
def test_bad_entries_get_422_naming_the_problem(api, body, fragment):
    _, client, admin, _ = api
    r = client.post("/friends", json=body, headers=admin)
    assert r.status_code == 422 and fragment in r.text


def test_an_entry_added_over_the_api_reaches_the_engine(api):
    served, client, admin, _ = api
    site = served.app.state.config.sites[0]
    ref = site.reference
    frame = EnuFrame(ref.lat_deg, ref.lon_deg, ref.alt_m)
    engine_store = Store(served.store.path)  # the engine process's own connection
    engine = AlertEngine(
        build_zones([site], frame), engine_store, served.app.state.config.alerts, frame
    )
    drone = Track(
        track_id="T1",
        site_id=site.id,
        t_unix=0.0,
        status=TrackStatus.CONFIRMED,
        position=GeoPoint(lat_deg=ref.lat_deg, lon_deg=ref.lon_deg, alt_m=ref.alt_m + 60),
        enu_m=(0.0, 0.0, 60.0),
        velocity_enu_mps=(0.0, 0.0, 0.0),
        position_std_m=3.0,
        object_class=ObjectClass.DRONE,
        identity=Identity(rid_serial=SERIAL),
        identity_key=f"rid:{SERIAL}",
    )
    body = {"kind": "rid_serial", "value": SERIAL.lower(), "operator": "anna"}
    assert client.post("/friends", json=body, headers=admin).status_code == 201
    t = time.time()
    assert engine.evaluate(t, [drone], []) == []
    assert SERIAL.lower() in engine.friendly["T1"]
    engine_store.close()
