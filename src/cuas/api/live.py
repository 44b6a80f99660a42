"""The API server's live picture: the engine's output bus, mirrored and fanned out.

A background task subscribes to the engine's output (tracks, alerts, sensor status),
keeps the latest state for REST reads, writes track history to the store at most once a
second per track, and pushes every change to the connected stream clients. A client that
cannot keep up is disconnected rather than silently fed a gap; on reconnect it gets a
fresh snapshot. Acknowledgements and resolutions are made in this process and streamed
as they are made (``routes.alerts``); the engine's copies of them on the bus are for other
consumers and are not streamed a second time.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import math
import sqlite3
import time
from collections import Counter
from typing import Any

import zmq
import zmq.asyncio

from cuas.bus import (
    DEFAULT_HWM,
    TOPIC_ALERTS,
    TOPIC_STATUS,
    TOPIC_TRACKS,
    BusError,
    GapCounter,
    decode,
    subscriber_socket,
)
from cuas.schema import OPEN_ALERT_STATES, Alert, SensorStatus, Track, TrackStatus
from cuas.store.alert_stream import OPERATOR_STATES
from cuas.store.sqlite import Store

log = logging.getLogger(__name__)

CLIENT_QUEUE = 2_000
HISTORY_INTERVAL_S = 1.0
PRUNE_INTERVAL_S = 300.0
TRACK_STALE_MIN_S = 10.0  # a track the engine has not re-published for this long is dropped
SWEEP_INTERVAL_S = 1.0


class LiveState:
    def __init__(
        self,
        store: Store,
        output_endpoint: str | None,
        history_retention_s: float = math.inf,
        track_stale_s: float = TRACK_STALE_MIN_S,
    ) -> None:
        """``track_stale_s``: the engine re-publishes every live track at least this often
        (a few of its publish intervals); one it has not is no longer vouched for."""
        self.store = store
        self.track_stale_s = track_stale_s
        self._track_seen: dict[str, float] = {}  # track id -> time.monotonic() last heard
        self.endpoint = output_endpoint
        self.history_retention_s = history_retention_s
        self.tracks: dict[str, Track] = {}
        self.sensors: dict[str, SensorStatus] = {}
        self.clients: set[asyncio.Queue[str | None]] = set()
        self.counters: Counter[str] = Counter()
        self.gaps = GapCounter()
        self._history_t: dict[str, float] = {}
        self._task: asyncio.Task | None = None
        self._pruner: asyncio.Task | None = None
        self._sweeper: asyncio.Task | None = None
        self.started_unix = time.time()
        self.started_monotonic = time.monotonic()
        self.last_message_monotonic: float | None = None  # any valid message from the engine
        self.sensor_heard_monotonic: dict[str, float] = {}

    # -- life cycle ---------------------------------------------------------------------
    async def start(self) -> None:
        if self.endpoint:
            self._task = asyncio.create_task(self._run(), name="bus-listener")
            self._sweeper = asyncio.create_task(self._sweep(), name="ghost-sweeper")
        if math.isfinite(self.history_retention_s):
            self._pruner = asyncio.create_task(self._prune(), name="history-pruner")

    async def stop(self) -> None:
        for task in (self._task, self._pruner, self._sweeper):
            if task:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
        for queue in list(self.clients):
            self._close_client(queue)

    async def _run(self) -> None:
        ctx = zmq.asyncio.Context.instance()
        sock = subscriber_socket(
            ctx, self.endpoint, False, [TOPIC_TRACKS, TOPIC_ALERTS, TOPIC_STATUS], DEFAULT_HWM
        )
        try:
            while True:
                frames = await sock.recv_multipart()
                try:
                    msg = decode(frames)
                except BusError as exc:
                    self.counters["bus_malformed"] += 1
                    if self.counters["bus_malformed"] == 1:
                        log.warning("API: malformed bus message skipped (%s)", exc)
                    continue
                if 0 <= msg.seq < self.gaps.expected(msg.src) - 1:
                    self.forget_tracks(f"{msg.src} restarted (its sequence began again)")
                self.gaps.see(msg.src, msg.seq)
                self.counters["bus_lost"] = self.gaps.lost
                self.last_message_monotonic = time.monotonic()
                if msg.topic == TOPIC_TRACKS:
                    await self.on_tracks(msg.items)  # type: ignore[arg-type]
                elif msg.topic == TOPIC_ALERTS:
                    alerts: list[Alert] = msg.items  # type: ignore[assignment]
                    self.on_alerts([a for a in alerts if a.state not in OPERATOR_STATES])
                else:
                    self.on_sensors(msg.items)  # type: ignore[arg-type]
        finally:
            sock.close()

    async def _prune(self) -> None:
        """Keep track history to ``[service] history_retention_h``: this process writes it."""
        while True:
            cutoff = time.time() - self.history_retention_s
            try:
                deleted = await asyncio.to_thread(self.store.prune_track_history, cutoff)
            except sqlite3.Error as exc:  # the store busy or failing: try again next round
                log.warning("API: pruning track history failed (%s); will retry", exc)
            else:
                self.counters["history_pruned"] += deleted
            await asyncio.sleep(PRUNE_INTERVAL_S)

    async def _sweep(self) -> None:
        """Drop tracks the engine stopped re-publishing (it died, hangs, or was replaced)."""
        while True:
            await asyncio.sleep(SWEEP_INTERVAL_S)
            cutoff = time.monotonic() - self.track_stale_s
            stale = [tid for tid, seen in self._track_seen.items() if seen < cutoff]
            if stale:
                self._drop(stale, f"not re-published for {self.track_stale_s:g} s")

    def forget_tracks(self, why: str) -> None:
        """Drop every track: their engine no longer vouches for them."""
        if self.tracks:
            self._drop(list(self.tracks), why)

    def _drop(self, track_ids: list[str], why: str) -> None:
        gone = []
        for track_id in track_ids:
            self._track_seen.pop(track_id, None)
            self._history_t.pop(track_id, None)
            track = self.tracks.pop(track_id, None)
            if track is not None:
                gone.append(track.model_copy(update={"status": TrackStatus.DELETED}))
        self.counters["stale_tracks_dropped"] += len(gone)
        log.warning("API: dropped %d track(s) the engine no longer vouches for: %s", len(gone), why)
        self.broadcast("tracks", gone)

    # -- updates ------------------------------------------------------------------------
    async def on_tracks(self, tracks: list[Track]) -> None:
        now = time.monotonic()
        due = []
        for track in tracks:
            if track.status is TrackStatus.DELETED:
                self.tracks.pop(track.track_id, None)
                self._history_t.pop(track.track_id, None)
                self._track_seen.pop(track.track_id, None)
                continue
            self.tracks[track.track_id] = track
            self._track_seen[track.track_id] = now
            if now - self._history_t.get(track.track_id, 0.0) >= HISTORY_INTERVAL_S:
                self._history_t[track.track_id] = now
                due.append(track)
        if due:
            await asyncio.to_thread(self.store.add_track_points, due)
        self.broadcast("tracks", tracks)

    def on_alerts(self, alerts: list[Alert]) -> None:
        self.broadcast("alerts", alerts)

    def on_sensors(self, statuses: list[SensorStatus]) -> None:
        now = time.monotonic()
        for status in statuses:
            self.sensors[status.sensor_id] = status
            self.sensor_heard_monotonic[status.sensor_id] = now
        self.broadcast("sensors", statuses)

    # -- stream clients -------------------------------------------------------------------
    def snapshot(self) -> str:
        open_alerts, _ = self.store.list_alerts(list(OPEN_ALERT_STATES), limit=500)
        return _dumps(
            {
                "type": "snapshot",
                "tracks": [t.model_dump(mode="json") for t in self.tracks.values()],
                "alerts": [a.model_dump(mode="json") for a in open_alerts],
                "sensors": [s.model_dump(mode="json") for s in self.sensors.values()],
            }
        )

    def add_client(self) -> asyncio.Queue[str | None]:
        queue: asyncio.Queue[str | None] = asyncio.Queue(CLIENT_QUEUE)
        self.clients.add(queue)
        return queue

    def remove_client(self, queue: asyncio.Queue[str | None]) -> None:
        self.clients.discard(queue)

    def broadcast(self, kind: str, items: list[Any]) -> None:
        if not items or not self.clients:
            return
        text = _dumps({"type": kind, "items": [i.model_dump(mode="json") for i in items]})
        for queue in list(self.clients):
            try:
                queue.put_nowait(text)
            except asyncio.QueueFull:
                self.counters["slow_clients_dropped"] += 1
                self._close_client(queue)

    def _close_client(self, queue: asyncio.Queue[str | None]) -> None:
        self.clients.discard(queue)
        while not queue.empty():
            queue.get_nowait()
        queue.put_nowait(None)  # tells the socket handler to close


def _dumps(obj: dict[str, Any]) -> str:
    return json.dumps(obj, separators=(",", ":"))
