"""Server-Sent Events on a real uvicorn server, read with httpx streaming beside a WebSocket."""

import asyncio
import json
import time
from collections.abc import AsyncIterator

import httpx
import websockets

from cuas.api.auth import Role
from cuas.api.live import CLIENT_QUEUE
from cuas.bus import TOPIC_ALERTS, TOPIC_TRACKS
from cuas.schema import ZoneLevel

from support import drone_track

SSE = "/api/v1/stream/sse"


async def events(response: httpx.Response) -> AsyncIterator[dict[str, str]]:
    """SSE blocks as dicts: field name -> value; a comment line is under ":"."""
    block: dict[str, str] = {}
    async for line in response.aiter_lines():
        if line == "":
            if block:
                yield block
            block = {}
        elif line.startswith(":"):
            block[":"] = line[1:].strip()
        else:
            name, _, value = line.partition(":")
            block[name] = value.removeprefix(" ")


def wait_for(fn, timeout_s: float = 5.0):
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        value = fn()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError("condition not met in time")


def test_sse_carries_the_websocket_messages_with_event_names_and_ids(serve):
    served = serve()
    alert = served.store.raise_alert(
        site_id="dolen-omurzakov",
        zone_id="bowl",
        zone_level=ZoneLevel.CRITICAL,
        rule="drone_in_zone",
        object_key="rid:ST1",
        track=drone_track("T1"),
        t_unix=time.time(),
        reason="in",
    )

    async def run() -> None:
        async with (
            httpx.AsyncClient(base_url=served.base, timeout=5) as http,
            http.stream("GET", SSE) as r,
            websockets.connect(served.ws_base + "/api/v1/stream") as ws,
        ):
            assert r.status_code == 200
            assert r.headers["content-type"].startswith("text/event-stream")
            stream = events(r)
            assert (await anext(stream)) == {"retry": "2000"}
            snap = await anext(stream)
            assert snap["event"] == "snapshot" and snap["id"] == "1"
            ws_snap = json.loads(await ws.recv())
            sse_snap = json.loads(snap["data"])
            assert sse_snap["type"] == "snapshot"
            assert [a["alert_id"] for a in sse_snap["alerts"]] == [alert.alert_id]
            assert sse_snap["alerts"] == ws_snap["alerts"]

            served.pub.publish(TOPIC_TRACKS, [drone_track("T7")])
            tracks = await asyncio.wait_for(anext(stream), 5)
            assert tracks["event"] == "tracks" and tracks["id"] == "2"
            assert tracks["data"] == await ws.recv()  # the very same message, byte for byte
            assert json.loads(tracks["data"])["items"][0]["track_id"] == "T7"

            served.pub.publish(TOPIC_ALERTS, [served.store.get(alert.alert_id)])
            alerts = await asyncio.wait_for(anext(stream), 5)
            assert alerts["event"] == "alerts" and alerts["id"] == "3"
            assert alerts["data"] == await ws.recv()

    asyncio.run(run())
    health = lambda: httpx.get(f"{served.base}/api/v1/health").json()  # noqa: E731
    wait_for(lambda: health()["stream_clients"] == 0)  # both gone once they disconnect


def test_sse_sends_a_heartbeat_comment_when_idle(serve):
    served = serve(stream_heartbeat_s=0.2)

    async def run() -> list[dict[str, str]]:
        seen = []
        async with (
            httpx.AsyncClient(base_url=served.base, timeout=5) as http,
            http.stream("GET", SSE) as r,
        ):
            stream = events(r)
            for _ in range(4):  # retry, snapshot, then two heartbeats
                seen.append(await asyncio.wait_for(anext(stream), 3))
        return seen

    seen = asyncio.run(run())
    assert seen[1]["event"] == "snapshot"
    assert seen[2] == {":": "heartbeat"} and seen[3] == {":": "heartbeat"}


def test_a_slow_sse_client_is_dropped_with_a_close_event(serve):
    served = serve()
    live = served.app.state.live
    message = [drone_track("T9")]

    def flood() -> None:  # runs on the server's loop: the stream task gets no turn between
        for _ in range(CLIENT_QUEUE + 1):
            live.broadcast("tracks", message)

    async def run() -> list[dict[str, str]]:
        async with (
            httpx.AsyncClient(base_url=served.base, timeout=5) as http,
            http.stream("GET", SSE) as r,
        ):
            stream = events(r)
            assert (await anext(stream))["retry"] and (await anext(stream))["event"] == "snapshot"
            served.loop.call_soon_threadsafe(flood)
            return [block async for block in stream]  # until the server ends the response

    rest = asyncio.run(run())
    assert rest[-1]["event"] == "close" and "too slow" in json.loads(rest[-1]["data"])["detail"]
    assert len(rest) <= 2  # nothing queued is sent after the drop
    health = httpx.get(f"{served.base}/api/v1/health").json()
    assert health["counters"]["slow_clients_dropped"] == 1 and health["stream_clients"] == 0


def test_sse_needs_a_viewer_key_where_keys_are_required(serve):
    served = serve(require_key_on_loopback=True)
    viewer = served.key(Role.VIEWER)

    async def first_event(**kwargs) -> tuple[int, str]:
        async with (
            httpx.AsyncClient(base_url=served.base, timeout=5) as http,
            http.stream("GET", SSE, **kwargs) as r,
        ):
            if r.status_code != 200:
                return r.status_code, json.loads(await r.aread())["detail"]
            stream = events(r)
            await anext(stream)
            return r.status_code, (await anext(stream))["event"]

    status, detail = asyncio.run(first_event())
    assert status == 401 and "API key needed" in detail
    assert asyncio.run(first_event(params={"api_key": "cuas_bad"}))[0] == 401
    assert asyncio.run(first_event(params={"api_key": viewer})) == (200, "snapshot")
    assert asyncio.run(first_event(headers={"X-API-Key": viewer})) == (200, "snapshot")
