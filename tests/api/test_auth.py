"""API keys and roles on a real server: who gets in, who may acknowledge, what reaches logs."""

import asyncio
import hashlib
import json
import logging
import shutil
import subprocess
import sys
import time

import httpx
import pytest
import websockets
from fastapi.testclient import TestClient
from websockets.exceptions import ConnectionClosedError

from cuas.api.app import create_app
from cuas.api.auth import ApiKeyError, ApiKeyStore, Role
from cuas.config import is_loopback_host, load_config
from cuas.schema import GeoPoint, Identity, ObjectClass, Track, TrackStatus, ZoneLevel
from cuas.store.sqlite import Store

from support import DEMO_CONFIG, DEMO_RECORDING, demo_config_text

READ_PATHS = [
    "/api/v1/sites",
    "/api/v1/sites/dolen-omurzakov",
    "/api/v1/sensors",
    "/api/v1/tracks",
    "/api/v1/tracks/T1/history",
    "/api/v1/alerts",
    "/api/v1/alerts/1",
    "/api/v1/alerts/1/events",
]


def raise_alert(store: Store) -> int:
    track = Track(
        track_id="T1",
        site_id="dolen-omurzakov",
        t_unix=time.time(),
        status=TrackStatus.CONFIRMED,
        position=GeoPoint(lat_deg=42.8746, lon_deg=74.6036, alt_m=850.0),
        enu_m=(0.0, 0.0, 70.0),
        velocity_enu_mps=(0.0, 0.0, 0.0),
        position_std_m=2.0,
        object_class=ObjectClass.DRONE,
        identity=Identity(rid_serial="SER1"),
        identity_key="rid:SER1",
    )
    alert = store.raise_alert(
        site_id="dolen-omurzakov",
        zone_id="bowl",
        zone_level=ZoneLevel.CRITICAL,
        rule="drone_in_zone",
        object_key=f"rid:{time.monotonic_ns()}",
        track=track,
        t_unix=time.time(),
        reason="in",
    )
    return alert.alert_id


def cuas(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "cuas", *args], capture_output=True, text=True, timeout=60
    )


def test_a_key_is_stored_only_as_its_sha256(tmp_path):
    keys = ApiKeyStore(tmp_path / "cuas.sqlite")
    key, secret = keys.create("anna", Role.OPERATOR)
    assert secret.startswith("cuas_") and len(secret) >= 45  # 32 random bytes, base64
    with keys.read() as db:
        row = db.execute("SELECT * FROM api_keys").fetchone()
    assert hashlib.sha256(secret.encode()).hexdigest() in row
    raw = b"".join(p.read_bytes() for p in tmp_path.iterdir())  # the file, its WAL and index
    assert secret.encode() not in raw and secret[5:].encode() not in raw
    assert keys.verify(secret).name == "anna"
    assert keys.verify(secret + "x") is None and keys.verify("x" * 10_000) is None
    with pytest.raises(ApiKeyError, match="already named 'anna'"):
        keys.create("anna", Role.VIEWER)
    with pytest.raises(ApiKeyError, match="letters, digits"):
        keys.create("anna smith; DROP TABLE", Role.VIEWER)
    keys.revoke("anna")
    assert keys.verify(secret) is None
    assert keys.create("anna", Role.VIEWER)[0].key_id == key.key_id + 1  # the name is free again
    keys.close()


def test_server_that_requires_keys_answers_401_403_with_messages(serve):
    served = serve(require_key_on_loopback=True)
    viewer, operator = served.key(Role.VIEWER), served.key(Role.OPERATOR)
    alert_id = raise_alert(served.store)
    with httpx.Client(base_url=served.base, timeout=5) as http:
        assert http.get("/api/v1/health").status_code == 200  # the only keyless answer
        for path in READ_PATHS:
            r = http.get(path)
            assert r.status_code == 401, path
            assert "cuas apikey create" in r.json()["detail"]
            assert r.headers["www-authenticate"] == "Bearer"
        for bad in ("cuas_" + "A" * 43, "", "x" * 5000):
            r = http.get("/api/v1/sites", headers={"X-API-Key": bad})
            assert r.status_code == 401 and r.json()["detail"], repr(bad[:10])
        r = http.get("/api/v1/sites", headers={"Authorization": "Bearer cuas_wrong"})
        assert r.status_code == 401 and "not recognised" in r.json()["detail"]

        as_viewer = {"Authorization": f"Bearer {viewer}"}
        for path in READ_PATHS:
            assert http.get(path, headers=as_viewer).status_code in (200, 404), path
        ack = {"operator": "anna"}
        r = http.post(f"/api/v1/alerts/{alert_id}/ack", json=ack, headers=as_viewer)
        assert r.status_code == 403
        assert "role viewer" in r.json()["detail"] and "operator" in r.json()["detail"]
        r = http.post(f"/api/v1/alerts/{alert_id}/ack", json=ack)
        assert r.status_code == 401

        # the key's holder acts: a request naming someone else is recorded as the key's name
        as_operator = {"X-API-Key": operator}
        r = http.post(f"/api/v1/alerts/{alert_id}/ack", json=ack, headers=as_operator)
        assert r.status_code == 200 and r.json()["state"] == "acknowledged"
        key_name = next(k.name for k in served.keys.list_keys() if k.role is Role.OPERATOR)
        assert key_name != "anna" and r.json()["acknowledged_by"] == key_name
        events = http.get(f"/api/v1/alerts/{alert_id}/events", headers=as_viewer).json()
        assert events[-1]["actor"] == key_name
        health = http.get("/api/v1/health").json()
        assert health["counters"]["auth_rejected"] >= len(READ_PATHS) + 4


def test_keys_made_and_revoked_with_the_cli_work_at_once_on_a_running_server(serve, tmp_path):
    served = serve(require_key_on_loopback=True)
    config = tmp_path / "deploy.toml"
    config.write_text(demo_config_text(served.data_dir, DEMO_RECORDING))
    made = cuas("apikey", "create", "--config", str(config), "--name", "anna", "--role", "viewer")
    assert made.returncode == 0, made.stderr
    secret = made.stdout.strip()
    assert secret.startswith("cuas_") and "\n" not in secret  # stdout is the key alone
    assert "shown only now" in made.stderr

    with httpx.Client(base_url=served.base, timeout=5, headers={"X-API-Key": secret}) as http:
        assert http.get("/api/v1/sites").status_code == 200
        listed = cuas("apikey", "list", "--config", str(config))
        assert "anna" in listed.stdout and "viewer" in listed.stdout and "active" in listed.stdout
        assert secret not in listed.stdout + listed.stderr

        revoked = cuas("apikey", "revoke", "--config", str(config), "anna")
        assert revoked.returncode == 0 and "revoked API key" in revoked.stdout
        assert http.get("/api/v1/sites").status_code == 401
        missing = cuas("apikey", "revoke", "--config", str(config), "anna")
        assert missing.returncode == 2 and "no active key" in missing.stderr


def test_loopback_demo_needs_no_key_but_checks_one_that_is_given(serve):
    served = serve()  # the defaults: 127.0.0.1, require_key_on_loopback = false
    viewer = served.key(Role.VIEWER)
    alert_id = raise_alert(served.store)
    with httpx.Client(base_url=served.base, timeout=5) as http:
        assert http.get("/api/v1/sites").status_code == 200
        assert http.get("/api/v1/sites", headers={"X-API-Key": "cuas_wrong"}).status_code == 401
        r = http.post(
            f"/api/v1/alerts/{alert_id}/ack", json={"operator": "v"}, headers={"X-API-Key": viewer}
        )
        assert r.status_code == 403
        keyless = http.post(f"/api/v1/alerts/{alert_id}/ack", json={"operator": "demo"})
        assert keyless.status_code == 200 and keyless.json()["acknowledged_by"] == "demo"


def test_a_non_loopback_host_always_requires_keys(tmp_path):
    config = load_config(DEMO_CONFIG)
    config.api.host = "0.0.0.0"  # only the flag below is false: keys are still required
    config.api.require_key_on_loopback = False
    store = Store(tmp_path / "cuas.sqlite")
    with TestClient(create_app(config, store, None)) as client:  # in-process: binds nothing
        assert client.get("/api/v1/health").status_code == 200
        assert client.get("/api/v1/tracks").status_code == 401
    store.close()


@pytest.mark.parametrize(
    "host, loopback",
    [
        ("127.0.0.1", True),
        ("127.8.9.10", True),
        ("::1", True),
        ("[::1]", True),
        ("localhost", True),
        ("0.0.0.0", False),
        ("::", False),
        ("192.168.1.20", False),
        ("cuas.example.org", False),
    ],
)
def test_loopback_hosts(host, loopback):
    assert is_loopback_host(host) is loopback


async def _ws_first(url: str, **kwargs) -> tuple[str | None, dict]:
    async with websockets.connect(url, open_timeout=5, **kwargs) as ws:
        return ws.subprotocol, json.loads(await asyncio.wait_for(ws.recv(), 5))


def test_websocket_takes_a_key_by_subprotocol_header_or_query(serve):
    served = serve(require_key_on_loopback=True)
    viewer = served.key(Role.VIEWER)
    url = served.ws_base + "/api/v1/stream"
    with pytest.raises(ConnectionClosedError) as denied:  # closed before any message
        asyncio.run(_ws_first(url))
    assert denied.value.rcvd.code == 4401 and "cuas apikey create" in denied.value.rcvd.reason
    with pytest.raises(ConnectionClosedError) as bad:
        asyncio.run(_ws_first(url, subprotocols=["cuas.v1", "cuas.key.cuas_nope"]))
    assert bad.value.rcvd.code == 4401 and "not recognised" in bad.value.rcvd.reason

    proto, snap = asyncio.run(_ws_first(url, subprotocols=["cuas.v1", f"cuas.key.{viewer}"]))
    assert proto == "cuas.v1" and snap["type"] == "snapshot"
    _, snap = asyncio.run(_ws_first(url, additional_headers={"X-API-Key": viewer}))
    assert snap["type"] == "snapshot"
    _, snap = asyncio.run(_ws_first(f"{url}?api_key={viewer}"))
    assert snap["type"] == "snapshot"


def test_request_bodies_are_bounded(serve):
    served = serve(max_body_bytes=4096)
    alert_id = raise_alert(served.store)
    url = f"{served.base}/api/v1/alerts/{alert_id}/ack"
    big = json.dumps({"operator": "anna", "note": "x" * 5000}).encode()
    r = httpx.post(url, content=big, headers={"Content-Type": "application/json"})
    assert r.status_code == 413 and "max_body_bytes" in r.json()["detail"]

    def chunks():  # no Content-Length: counted as it arrives
        yield b'{"operator": "anna", "note": "'
        for _ in range(10):
            yield b"y" * 1000
        yield b'"}'

    r = httpx.post(url, content=chunks(), headers={"Content-Type": "application/json"})
    assert r.status_code == 413 and "max_body_bytes" in r.json()["detail"]
    small = httpx.post(url, json={"operator": "anna", "note": "fits"})
    assert small.status_code == 200  # the limit, not something else, refused the others


async def _sse_first_event(url: str) -> str:
    async with (
        httpx.AsyncClient(timeout=5) as http,
        http.stream("GET", url) as r,
    ):
        assert r.status_code == 200
        async for line in r.aiter_lines():
            if line.startswith("data:"):
                return line


def test_keys_never_reach_the_logs(serve, caplog):
    caplog.set_level(logging.DEBUG)
    served = serve(require_key_on_loopback=True)
    admin = served.key(Role.ADMIN)
    wrong = "cuas_" + "Z" * 43
    with httpx.Client(base_url=served.base, timeout=5) as http:
        assert http.get("/api/v1/tracks", headers={"X-API-Key": admin}).status_code == 200
        assert http.get("/api/v1/alerts", headers={"Authorization": f"Bearer {wrong}"}).is_error
        assert http.get(f"/api/v1/sites?api_key={admin}").status_code == 401  # REST: header only
    asyncio.run(_sse_first_event(f"{served.base}/api/v1/stream/sse?api_key={admin}"))
    ws_url = served.ws_base + "/api/v1/stream"
    asyncio.run(_ws_first(ws_url, subprotocols=["cuas.v1", f"cuas.key.{admin}"]))
    asyncio.run(_ws_first(f"{ws_url}?api_key={admin}"))
    with pytest.raises(ConnectionClosedError):
        asyncio.run(_ws_first(f"{ws_url}?api_key={wrong}"))
    time.sleep(0.2)  # uvicorn logs a request as it completes

    clients = ("httpx", "httpcore", "websockets.client")  # this test's own, not the server's
    lines = [r.getMessage() for r in caplog.records if not r.name.startswith(clients)]
    text = "\n".join(lines)
    assert "GET /api/v1/stream/sse?api_key=*** HTTP/1.1" in text, "access log not captured"
    assert "/api/v1/stream?api_key=***" in text
    assert "refused a request" in text
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]
    for secret in (admin, wrong, admin[5:], wrong[5:]):
        assert secret not in text


def test_dashboard_takes_a_key_from_the_url_fragment_or_asks_for_one(serve):
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if chromium is None:
        pytest.skip("no chromium on PATH (Debian package 'chromium'; .ci/run installs it)")
    browser_api = pytest.importorskip("playwright.sync_api", reason="playwright not installed")
    served = serve(require_key_on_loopback=True)
    viewer = served.key(Role.VIEWER)
    with browser_api.sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=chromium, args=["--no-sandbox"])
        page = browser.new_page()  # a context of its own: empty sessionStorage
        page.goto(f"{served.base}/#key={viewer}")
        browser_api.expect(page.locator("#conn-state")).to_have_text("live", timeout=20_000)
        assert "key=" not in page.url  # taken out of the address bar and history

        asked: list[str] = []
        fresh = browser.new_page()
        fresh.on("dialog", lambda d: (asked.append(d.message), d.accept(viewer)))
        fresh.goto(f"{served.base}/")
        browser_api.expect(fresh.locator("#conn-state")).to_have_text("live", timeout=20_000)
        assert len(asked) == 1 and "API key needed" in asked[0]
        browser.close()
