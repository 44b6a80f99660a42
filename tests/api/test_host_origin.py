"""DNS rebinding and cross-site requests against the keyless loopback API.

Before: with ``Host: evil.example`` a POST acknowledged an alert, a WebSocket opened from
``Origin: http://evil.example`` got the full snapshot, and ``/api/v1/alerts/`` redirected to
``http://evil.example/...`` (the trailing-slash redirect built its URL from the Host
header). Now, keyless, Host must be a loopback name or an allowed one, an Origin must be
the server's own, and there is no slash redirect.
"""

from __future__ import annotations

import asyncio
import json

import httpx
import pytest
import websockets
from websockets.exceptions import InvalidStatus


def _port(served) -> int:
    return int(served.base.rsplit(":", 1)[1])


def test_a_foreign_host_header_is_refused_and_nothing_is_acknowledged(serve):
    served = serve()
    evil = {"Host": "evil.example"}
    # no alert 1 exists: before, the request reached the handler (404); now the guard answers
    ack = httpx.post(f"{served.base}/api/v1/alerts/1/ack", json={}, headers=evil)
    assert ack.status_code == 403 and "evil.example" in ack.json()["detail"]
    assert httpx.get(f"{served.base}/api/v1/alerts", headers=evil).status_code == 403
    rebound = {"Host": f"evil.example:{_port(served)}"}
    assert httpx.get(f"{served.base}/api/v1/alerts", headers=rebound).status_code == 403
    for host in (f"127.0.0.1:{_port(served)}", f"localhost:{_port(served)}", "127.0.0.1"):
        assert httpx.get(f"{served.base}/api/v1/alerts", headers={"Host": host}).is_success
    assert served.app.state.live.counters["refused_host"] == 3


def test_a_configured_name_is_accepted(serve):
    served = serve(allowed_hosts=["cuas.site.lan"])
    ok = httpx.get(f"{served.base}/api/v1/alerts", headers={"Host": "cuas.site.lan:8000"})
    assert ok.is_success
    other = httpx.get(f"{served.base}/api/v1/alerts", headers={"Host": "cuas.evil.lan"})
    assert other.status_code == 403


def test_the_trailing_slash_never_redirects_to_the_host_header(serve):
    served = serve()
    for host in ("evil.example", f"127.0.0.1:{_port(served)}"):
        response = httpx.get(f"{served.base}/api/v1/alerts/", headers={"Host": host})
        assert "location" not in response.headers
        assert response.status_code in (403, 404)


def test_a_cross_site_post_is_refused_and_a_same_origin_one_is_not(serve):
    served = serve()
    url = f"{served.base}/api/v1/alerts/999999/ack"
    cross = httpx.post(url, json={}, headers={"Origin": "http://evil.example"})
    assert cross.status_code == 403
    null = httpx.post(url, json={}, headers={"Origin": "null"})  # sandboxed frames send this
    assert null.status_code == 403
    same = httpx.post(url, json={}, headers={"Origin": served.base})
    assert same.status_code == 404  # reached the handler: no such alert


async def _first(url: str, **kwargs) -> dict:
    async with websockets.connect(url, open_timeout=5, **kwargs) as ws:
        return json.loads(await asyncio.wait_for(ws.recv(), 5))


def test_a_websocket_from_another_origin_gets_nothing(serve):
    served = serve()
    url = served.ws_base + "/api/v1/stream"
    with pytest.raises(InvalidStatus) as refused:
        asyncio.run(_first(url, origin="http://evil.example"))
    assert refused.value.response.status_code == 403
    assert asyncio.run(_first(url, origin=served.base))["type"] == "snapshot"
    assert asyncio.run(_first(url))["type"] == "snapshot"  # no Origin: not a browser page


def test_an_event_stream_from_another_origin_is_refused(serve):
    served = serve()
    url = f"{served.base}/api/v1/stream/sse"
    with httpx.stream("GET", url, headers={"Origin": "http://evil.example"}) as response:
        assert response.status_code == 403


def test_with_keys_required_the_key_is_the_guard(serve):
    served = serve(require_key_on_loopback=True)
    response = httpx.get(f"{served.base}/api/v1/alerts", headers={"Host": "evil.example"})
    assert response.status_code == 401  # not our 403: the host check is for keyless mode
