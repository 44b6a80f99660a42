"""Resolving a cleared alert over real HTTP, and the states the API shows on the way."""

import time

import httpx
import pytest

from cuas.api.auth import Role
from cuas.schema import ZoneLevel
from cuas.store.sqlite import AlertEvidence

from support import drone_track


@pytest.fixture
def api(serve):
    served = serve(require_key_on_loopback=True)
    operator = {"X-API-Key": served.key(Role.OPERATOR, "op")}
    viewer = {"X-API-Key": served.key(Role.VIEWER, "view")}
    with httpx.Client(base_url=served.base + "/api/v1", timeout=10) as client:
        yield served.store, client, operator, viewer


def test_escalate_ack_clear_then_resolve_with_who_and_note(api):
    store, client, operator, viewer = api
    alert = store.raise_alert(
        site_id="dolen-omurzakov",
        zone_id="bowl",
        zone_level=ZoneLevel.CRITICAL,
        rule="time_to_breach",
        object_key="rid:X",
        track=drone_track(),
        t_unix=time.time(),
        reason="predicted",
        evidence=AlertEvidence(time_to_breach_s=21.5),
    )
    path = f"/alerts/{alert.alert_id}"
    store.escalate(alert.alert_id, time.time(), rule="drone_in_zone", reason="in", track=None)
    shown = client.get(path, headers=viewer).json()
    assert (shown["state"], shown["rule"], shown["time_to_breach_s"]) == (
        "escalated",
        "drone_in_zone",
        21.5,
    )
    listed = client.get("/alerts", params={"state": "escalated"}, headers=viewer).json()
    assert [a["alert_id"] for a in listed["items"]] == [alert.alert_id]
    assert client.post(f"{path}/ack", json={"operator": "anna"}, headers=operator).is_success
    early = client.post(f"{path}/resolve", json={"operator": "anna"}, headers=operator)
    assert early.status_code == 409 and "only a cleared alert" in early.json()["detail"]
    store.clear(alert.alert_id, time.time(), "left the zone", None)
    body = {"operator": "anna", "note": "club drone, pilot spoken to"}
    assert client.post(f"{path}/resolve", json=body, headers=viewer).status_code == 403
    done = client.post(f"{path}/resolve", json=body, headers=operator)
    assert done.status_code == 200
    assert (done.json()["state"], done.json()["resolved_by"]) == (
        "resolved",
        "op",
    )  # the key's name, not the claim
    events = client.get(f"{path}/events", headers=viewer).json()
    assert [e["to_state"] for e in events] == [
        "raised",
        "escalated",
        "acknowledged",
        "cleared",
        "resolved",
    ]
    assert events[-1]["reason"] == "club drone, pilot spoken to"
    missing = client.post("/alerts/999/resolve", json={"operator": "anna"}, headers=operator)
    assert missing.status_code == 404
