from __future__ import annotations

import asyncio
import contextlib

from fastapi import APIRouter, WebSocket, WebSocketDisconnect

router = APIRouter(tags=["stream"])


@router.websocket("/stream")
async def stream(ws: WebSocket) -> None:
    """Live tracks, alerts and sensor status: a snapshot first, then every change.

    Messages: {"type": "snapshot", "tracks": [...], "alerts": [...], "sensors": [...]},
    then {"type": "tracks" | "alerts" | "sensors", "items": [...]}. A track whose status
    is "deleted" is gone. A client too slow to keep up is closed (code 1013) and should
    reconnect for a fresh snapshot.
    """
    live = ws.app.state.live
    await ws.accept()
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
                await ws.close(code=1013, reason="client too slow; reconnect")
                return
            await ws.send_text(text)
    except (WebSocketDisconnect, RuntimeError):
        return
    finally:
        live.remove_client(queue)
        with contextlib.suppress(Exception):
            receiver.cancel()


async def _drain(ws: WebSocket) -> None:
    """Reads and ignores client messages, so a closed socket is noticed at once."""
    with contextlib.suppress(WebSocketDisconnect, RuntimeError):
        while True:
            await ws.receive_text()
