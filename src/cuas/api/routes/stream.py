"""The live stream, as a WebSocket and as Server-Sent Events: the same messages on both."""

from __future__ import annotations

import asyncio
import contextlib
import re
from collections.abc import AsyncIterator

from fastapi import APIRouter, Request, WebSocket, WebSocketDisconnect
from fastapi.responses import StreamingResponse

from cuas.api.auth import WS_SUBPROTOCOL, AuthError, Role, websocket_principal
from cuas.api.deps import AUTH_RESPONSES, LiveDep, RequireStreamViewer
from cuas.api.live import LiveState

router = APIRouter(tags=["stream"])

SSE_RETRY_MS = 2000  # how long an EventSource waits before it reconnects
SLOW_CLIENT = "client too slow; reconnect"
_TYPE = re.compile(r'^\{"type":"([a-z_]+)"')  # LiveState writes "type" first, compactly


@router.websocket("/stream")
async def stream(ws: WebSocket) -> None:
    """Live tracks, alerts and sensor status: a snapshot first, then every change.

    Messages: {"type": "snapshot", "tracks": [...], "alerts": [...], "sensors": [...]},
    then {"type": "tracks" | "alerts" | "sensors", "items": [...]}. A track whose status
    is "deleted" is gone. A client too slow to keep up is closed (code 1013) and should
    reconnect for a fresh snapshot. Needs a viewer key where keys are required: a header,
    the subprotocols ["cuas.v1", "cuas.key.<key>"] (browsers), or ``?api_key=``; without
    one the socket is closed at once with code 4401 (or 4403: role too low) and the reason.
    """
    offered = ws.scope.get("subprotocols", [])
    subprotocol = WS_SUBPROTOCOL if WS_SUBPROTOCOL in offered else None
    try:
        websocket_principal(ws, Role.VIEWER)
    except AuthError as exc:
        await _deny(ws, subprotocol, exc)
        return
    live = ws.app.state.live
    await ws.accept(subprotocol=subprotocol)
    queue = live.add_client()
    try:
        await ws.send_text(await asyncio.to_thread(live.snapshot))
        receiver = asyncio.create_task(_drain(ws))
        while True:
            getter = asyncio.create_task(queue.get())
            done, _ = await asyncio.wait({getter, receiver}, return_when=asyncio.FIRST_COMPLETED)
            if receiver in done:
                getter.cancel()
                return
            text = getter.result()
            if text is None:
                await ws.close(code=1013, reason=SLOW_CLIENT)
                return
            await ws.send_text(text)
    except (WebSocketDisconnect, RuntimeError):
        return
    finally:
        live.remove_client(queue)
        with contextlib.suppress(Exception):
            receiver.cancel()


async def _deny(ws: WebSocket, subprotocol: str | None, exc: AuthError) -> None:
    """Accept, then close with 4000 + the HTTP status and the reason.

    A browser sees neither the status nor the body of a refused handshake, but it sees a
    close code and reason, so the dashboard can ask for a key.
    """
    await ws.accept(subprotocol=subprotocol)
    reason = exc.detail.encode()[:123].decode(errors="ignore")  # RFC 6455: 123 bytes at most
    await ws.close(code=4000 + exc.status, reason=reason)


async def _drain(ws: WebSocket) -> None:
    """Reads and ignores client messages, so a closed socket is noticed at once."""
    with contextlib.suppress(WebSocketDisconnect, RuntimeError):
        while True:
            await ws.receive_text()


@router.get(
    "/stream/sse",
    response_class=StreamingResponse,
    dependencies=[RequireStreamViewer],
    responses={
        **AUTH_RESPONSES,
        200: {
            "description": "an endless text/event-stream",
            "content": {"text/event-stream": {"schema": {"type": "string"}}},
        },
    },
)
async def stream_sse(request: Request, live: LiveDep) -> StreamingResponse:
    """The live stream as Server-Sent Events, for clients that prefer plain HTTP.

    The same messages as the WebSocket, each as ``event: <type>`` (snapshot, tracks, alerts,
    sensors), ``id: <n>`` (counting this connection's events) and ``data: <JSON>``; a
    ``: heartbeat`` comment when nothing else was sent for ``[api] stream_heartbeat_s``.
    A client too slow to keep up gets ``event: close`` and the stream ends; reconnecting
    starts over with a snapshot (``Last-Event-ID`` is not replayed). A browser's
    EventSource, which cannot set headers, may send its key as ``?api_key=``.
    """
    heartbeat_s = request.app.state.config.api.stream_heartbeat_s
    return StreamingResponse(
        _events(live, heartbeat_s),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"},
    )


async def _events(live: LiveState, heartbeat_s: float) -> AsyncIterator[str]:
    queue = live.add_client()
    getter: asyncio.Task[str | None] | None = None
    sent = 0

    def event(text: str) -> str:
        nonlocal sent
        sent += 1
        match = _TYPE.match(text)
        return f"event: {match.group(1) if match else 'message'}\nid: {sent}\ndata: {text}\n\n"

    try:
        yield f"retry: {SSE_RETRY_MS}\n\n"
        yield event(await asyncio.to_thread(live.snapshot))
        while True:
            # one pending get across heartbeats, so a message arriving at the deadline is kept
            getter = getter or asyncio.ensure_future(queue.get())
            done, _ = await asyncio.wait({getter}, timeout=heartbeat_s)
            if not done:
                yield ": heartbeat\n\n"
                continue
            text, getter = getter.result(), None
            if text is None:
                yield f'event: close\ndata: {{"detail": "{SLOW_CLIENT}"}}\n\n'
                return
            yield event(text)
    finally:
        live.remove_client(queue)
        if getter is not None:
            getter.cancel()
