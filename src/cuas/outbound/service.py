"""The outbound process: alert transitions from the store, tracks and sensor status from the
engine's output bus; webhooks and Cursor-on-Target out.

Alerts come from the store's audit table (``cuas.store.alert_stream``), not the bus: every
transition, the engine's and the operators', is there in order and outlives any process.
Their webhook deliveries are queued in the SQLite outbox in the transaction that moves this
process's cursor, so a kill or a restart loses none and queues none twice; on the first
start against a store the cursor begins at its latest transition (history is not replayed).
Tracks and sensor status stay on the bus (PUB/SUB: what is in flight when a process dies is
lost, which a live picture can afford).
"""

from __future__ import annotations

import logging
import os
import random
import sqlite3
import threading
import time
from collections.abc import Mapping, Sequence

from pydantic import BaseModel

from cuas.bus import TOPIC_STATUS, TOPIC_TRACKS, Subscriber
from cuas.config import DeploymentConfig
from cuas.outbound.cot import CotSender, resolve
from cuas.outbound.webhooks import WebhookDispatcher, WebhookRouter, resolve_secret
from cuas.store.alert_stream import BATCH, AlertStream, last_event_id
from cuas.store.database import store_path
from cuas.store.metrics import CounterPublisher
from cuas.store.outbox import Outbox
from cuas.store.sqlite import Store

log = logging.getLogger(__name__)

ALERT_POLL_S = 0.1  # how often the store is asked for new alert transitions
CURSOR = "outbound"  # this process's cursor in the outbox's table


def validate_outbound(config: DeploymentConfig, environ: Mapping[str, str] = os.environ) -> None:
    """Fail before starting on what the outbound process would trip over: a webhook secret
    missing from the environment, a CoT address that does not resolve."""
    for i, hook in enumerate(config.outbound.webhooks):
        resolve_secret(hook, i, environ)
    for i, cot in enumerate(config.outbound.cot):
        resolve(cot, i)


class OutboundService:
    """Routes alert transitions and bus items to the webhook queue and CoT destinations."""

    def __init__(
        self,
        config: DeploymentConfig,
        *,
        environ: Mapping[str, str] = os.environ,
        rng: random.Random | None = None,
    ) -> None:
        hooks = [
            (hook, resolve_secret(hook, i, environ))
            for i, hook in enumerate(config.outbound.webhooks)
        ]
        self.store = Store(store_path(config.data_dir))
        self.outbox = Outbox(store_path(config.data_dir))
        self.router = WebhookRouter([hook for hook, _ in hooks])
        self.dispatcher = WebhookDispatcher(self.outbox, hooks, rng=rng) if hooks else None
        self.cot = [CotSender(cot, i) for i, cot in enumerate(config.outbound.cot)]
        start = self.outbox.cursor(CURSOR, last_event_id(self.store))
        self.alerts = AlertStream(self.store, start)
        if self.cot:  # TAK shows the open alerts again; they went stale while we were away
            open_alerts = self.store.open_alerts()
            for sender in self.cot:
                sender.handle(open_alerts, time.time())
        if self.dispatcher is not None:
            self.dispatcher.start()

    def poll_alerts(self, now_unix: float) -> int:
        """Queue and send one batch of the transitions made since the last; returns its size."""
        batch = self.alerts.poll()  # one transaction each; a backlog goes batch by batch
        if not batch:
            return 0
        deliveries = self.router.route_transitions(batch, now_unix)
        self.outbox.enqueue(deliveries, (CURSOR, batch[-1].event_id))
        self.alerts.advance(batch[-1].event_id)
        if deliveries and self.dispatcher is not None:
            self.dispatcher.wake()
        for sender in self.cot:
            sender.handle([tr.alert for tr in batch], now_unix)
        return len(batch)

    def handle(self, topic: str, items: Sequence[BaseModel], now_unix: float) -> None:
        """Tracks and sensor status from the bus."""
        deliveries = self.router.route(topic, items, now_unix)
        if deliveries and self.dispatcher is not None:
            self.outbox.enqueue(deliveries)
            self.dispatcher.wake()
        for sender in self.cot:
            sender.handle(items, now_unix)

    def counters(self, sub: Subscriber) -> dict[str, float]:
        """What /metrics shows of the outbound process: webhook deliveries and what the
        output bus delivered to it and lost."""
        counters: dict[str, float] = {}
        if self.dispatcher is not None:
            counters.update({f"webhook_{k}": v for k, v in self.dispatcher.counters.items()})
        counters.update({f"bus_{k}": v for k, v in sub.counters.items()})
        counters["bus_lost_messages"] = sub.gaps.lost
        return counters

    def tick(self, now_unix: float) -> None:
        for sender in self.cot:
            sender.tick(now_unix)

    def close(self) -> None:
        if self.dispatcher is not None:
            self.dispatcher.stop()
        self.outbox.close()
        self.store.close()
        for sender in self.cot:
            sender.close()


def run_outbound(config: DeploymentConfig, stop: threading.Event | None = None) -> None:
    stop = stop or threading.Event()
    service = OutboundService(config)
    sub = Subscriber(
        config.bus.output, bind=False, topics=[TOPIC_TRACKS, TOPIC_STATUS], hwm=config.bus.hwm
    )
    log.info(
        "outbound: %d webhook subscriptions, %d CoT destinations; alerts from the store after "
        "transition %d, tracks and sensors from %s",
        len(config.outbound.webhooks),
        len(config.outbound.cot),
        service.alerts.after_event_id,
        config.bus.output,
    )
    next_poll = 0.0
    store_failing = False
    metrics = CounterPublisher(store_path(config.data_dir), "outbound")
    try:
        while not stop.is_set():
            wait_ms = max(0, int((next_poll - time.monotonic()) * 1000))
            msg = sub.recv(timeout_ms=wait_ms)
            now = time.time()
            if msg is not None:
                service.handle(msg.topic, msg.items, now)
            if time.monotonic() >= next_poll:
                try:
                    full = service.poll_alerts(now) == BATCH
                except sqlite3.OperationalError as exc:  # locked too long, disk full: retry
                    full = False
                    if not store_failing:
                        log.warning("outbound: cannot queue alert transitions (%s); retrying", exc)
                    store_failing = True
                else:
                    if store_failing:
                        log.info("outbound: queueing alert transitions again")
                    store_failing = False
                next_poll = time.monotonic() + (0.0 if full else ALERT_POLL_S)
            service.tick(now)
            metrics.due(now, service.counters(sub))
    finally:
        sub.close()
        metrics.close()
        service.close()
