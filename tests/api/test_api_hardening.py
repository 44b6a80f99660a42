"""Smaller holes, each closed: absurd friend expiries, security headers on every answer,
and a /health that tells the truth without telling strangers about the picture.

Before: ``POST /friends`` with an expiry of 1e308 or NaN crashed the handler (500); only
the dashboard page had a CSP and nothing had ``nosniff``; an anonymous ``/health`` showed the
live track count; and ``/health`` said "ok" whatever the engine and sensors were doing.
"""

from __future__ import annotations

import json
import time

import httpx
import pytest

from cuas.api.auth import Role
from cuas.bus import TOPIC_STATUS, TOPIC_TRACKS
from cuas.schema import SensorState, SensorStatus

from support import drone_track

SERIAL = "1581F5FJD239C00DW22E"


@pytest.mark.parametrize("expiry", ["1e308", "NaN", "Infinity", "-1", "9e12"])
def test_an_absurd_friend_expiry_is_a_422_naming_the_field(serve, expiry):
    served = serve(require_key_on_loopback=True)
    admin = {"X-API-Key": served.key(Role.ADMIN, "admin-anna"), "Content-Type": "application/json"}
    body = (
        f'{{"kind": "rid_serial", "value": "{SERIAL}", "operator": "anna", '
        f'"expires_t_unix": {expiry}}}'
    )
    response = httpx.post(f"{served.base}/api/v1/friends", content=body, headers=admin)
    assert response.status_code == 422
    assert "expires_t_unix" in json.dumps(response.json()["detail"])


@pytest.mark.parametrize(
    "path", ["/", "/static/app.js", "/api/v1/health", "/openapi.json", "/docs", "/api/v1/nope"]
)
def test_every_answer_has_nosniff_and_a_content_security_policy(serve, path):
    served = serve()
    response = httpx.get(served.base + path)
    assert response.headers["x-content-type-options"] == "nosniff"
    csp = response.headers["content-security-policy"]
    assert "default-src" in csp and "frame-ancestors 'none'" in csp
    refused = httpx.get(served.base + path, headers={"Host": "evil.example"})
    assert refused.status_code == 403 and refused.headers["x-content-type-options"] == "nosniff"


def test_health_shows_the_track_count_only_to_those_who_may_view(serve):
    served = serve(require_key_on_loopback=True)
    served.pub.publish(TOPIC_TRACKS, [drone_track("T1")])
    viewer = {"X-API-Key": served.key(Role.VIEWER)}
    url = f"{served.base}/api/v1/health"
    deadline = time.monotonic() + 10
    while httpx.get(url, headers=viewer).json()["tracks"] != 1:
        assert time.monotonic() < deadline, "the track never arrived"
        time.sleep(0.05)
    assert httpx.get(url).json()["tracks"] is None
    assert httpx.get(url, headers={"X-API-Key": "cuas_wrong"}).json()["tracks"] is None


def test_health_is_degraded_while_a_sensor_is_not_ok_and_says_why(serve):
    served = serve()
    url = f"{served.base}/api/v1/health"

    def publish(state: SensorState, detail: str) -> None:
        status = SensorStatus(
            sensor_id="rid-1", t_unix=time.time(), state=state, driver="dragonsync", detail=detail
        )
        served.pub.publish(TOPIC_STATUS, [status])

    publish(SensorState.DEGRADED, "clock 3600 s ahead of ours; using receive times")
    deadline = time.monotonic() + 10
    while (health := httpx.get(url).json())["status"] == "ok":
        assert time.monotonic() < deadline, "health never noticed"
        time.sleep(0.05)
    assert health["status"] == "degraded"
    assert health["problems"] == [
        "sensor rid-1 degraded: clock 3600 s ahead of ours; using receive times"
    ]
    publish(SensorState.OK, "link up")
    deadline = time.monotonic() + 10
    while (health := httpx.get(url).json())["status"] != "ok":
        assert time.monotonic() < deadline, f"still degraded: {health['problems']}"
        time.sleep(0.05)
    assert health["problems"] == []


def test_health_says_when_the_engine_and_sensors_went_quiet(serve, monkeypatch):
    from cuas.api.routes import health as health_route

    served = serve()
    served.pub.publish(
        TOPIC_STATUS,
        [SensorStatus(sensor_id="rid-1", t_unix=time.time(), state="ok", driver="dragonsync")],
    )
    url = f"{served.base}/api/v1/health"
    deadline = time.monotonic() + 10
    while "rid-1" not in served.app.state.live.sensors:
        assert time.monotonic() < deadline
        time.sleep(0.05)
    assert httpx.get(url).json()["problems"] == []
    monkeypatch.setattr(health_route, "SILENT_S", 0.5)  # rather than wait 10 s of silence
    deadline = time.monotonic() + 10
    while len(problems := httpx.get(url).json()["problems"]) < 2:
        assert time.monotonic() < deadline
        time.sleep(0.05)
    assert problems[0].startswith("no word from the engine for ")
    assert problems[1].startswith("sensor rid-1: silent for ")
