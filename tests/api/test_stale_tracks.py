"""Ghost tracks: the API shows only tracks its engine still vouches for.

Before: a track stayed in the API (REST and stream) until the engine published it as
deleted, so after an engine was killed or replaced its confirmed tracks were shown for
minutes (five ghosts 287-548 s old for one real drone). Now a track not re-published for a
few publish intervals is dropped, and all of them at once when the engine restarts (its
sequence numbers begin again); stream clients are told with a "deleted" track.
"""

from __future__ import annotations

import asyncio
import json
import time

import httpx
import websockets
import zmq

from cuas.bus import TOPIC_TRACKS, Publisher

from support import drone_track


def _track_ids(served) -> list[str]:
    return [t["track_id"] for t in httpx.get(f"{served.base}/api/v1/tracks").json()]


def _wait_for(fn, timeout_s: float):
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        value = fn()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError("condition not met in time")


async def _deleted_ids(url: str, timeout_s: float) -> set[str]:
    """Track ids the stream reports deleted within ``timeout_s`` (after the snapshot)."""
    deleted: set[str] = set()
    async with websockets.connect(url, open_timeout=5) as ws:
        assert json.loads(await asyncio.wait_for(ws.recv(), 5))["type"] == "snapshot"
        deadline = time.monotonic() + timeout_s
        while not deleted and time.monotonic() < deadline:
            try:
                msg = json.loads(await asyncio.wait_for(ws.recv(), 0.5))
            except TimeoutError:
                continue
            if msg["type"] == "tracks":
                deleted |= {t["track_id"] for t in msg["items"] if t["status"] == "deleted"}
    return deleted


def _rebind(endpoint: str) -> Publisher | None:
    """A publisher bound to ``endpoint`` once its former owner's socket has let go."""
    try:
        return Publisher(endpoint, bind=True, src="engine")
    except zmq.ZMQError:
        return None


def test_a_track_the_engine_stopped_publishing_is_dropped(serve):
    served = serve()
    live = served.app.state.live
    served.pub.publish(TOPIC_TRACKS, [drone_track("T1")])
    _wait_for(lambda: _track_ids(served) == ["T1"], 10)
    stale_s = live.track_stale_s
    deleted = asyncio.run(_deleted_ids(served.ws_base + "/api/v1/stream", stale_s + 10))
    assert deleted == {"T1"}
    assert _track_ids(served) == []
    assert live.counters["stale_tracks_dropped"] == 1


def test_a_track_kept_fresh_by_its_engine_stays(serve):
    served = serve()
    live = served.app.state.live
    live.track_stale_s = 1.0  # so this test need not wait long to see it kept
    t_end = time.monotonic() + 3.0
    while time.monotonic() < t_end:
        served.pub.publish(TOPIC_TRACKS, [drone_track("T1")])
        time.sleep(0.1)  # the engine's publish interval, as it were
        assert _track_ids(served) in ([], ["T1"])  # [] only before the first arrives
    assert _track_ids(served) == ["T1"]
    assert live.counters["stale_tracks_dropped"] == 0


def test_a_restarted_engine_takes_its_predecessors_tracks_with_it(serve):
    served = serve()
    live = served.app.state.live
    for _ in range(3):
        served.pub.publish(TOPIC_TRACKS, [drone_track("T1"), drone_track("T2")])
    _wait_for(lambda: sorted(_track_ids(served)) == ["T1", "T2"], 10)
    endpoint = served.pub.sock.getsockopt_string(zmq.LAST_ENDPOINT)
    served.pub.close()
    served.pub = _wait_for(lambda: _rebind(endpoint), 10)  # the new engine: seq from 0
    assert served.pub.wait_for_subscriber(10)
    served.pub.publish(TOPIC_TRACKS, [drone_track("T9")])
    # well before the stale bound: the restart itself is the sign
    _wait_for(lambda: _track_ids(served) == ["T9"], live.track_stale_s / 2)
    assert live.counters["stale_tracks_dropped"] == 2
