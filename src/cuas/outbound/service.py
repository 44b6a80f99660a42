"""The outbound process: the engine's output bus in; webhooks and Cursor-on-Target out.

A bus message's webhook deliveries are committed to the SQLite outbox before the next
message is read, so once they are queued a crash or restart loses none of them (messages
still inside ZeroMQ when the process dies are lost: PUB/SUB has no acknowledgement).
"""

from __future__ import annotations

import logging
import os
import random
import threading
import time
from collections.abc import Mapping, Sequence

from pydantic import BaseModel

from cuas.bus import TOPIC_ALERTS, TOPIC_STATUS, TOPIC_TRACKS, Subscriber
from cuas.config import DeploymentConfig
from cuas.engine.service import store_path
from cuas.outbound.cot import CotSender, resolve
from cuas.outbound.webhooks import WebhookDispatcher, WebhookRouter, resolve_secret
from cuas.store.outbox import Outbox

log = logging.getLogger(__name__)

RECV_TIMEOUT_MS = 200


def validate_outbound(config: DeploymentConfig, environ: Mapping[str, str] = os.environ) -> None:
    """Fail before starting on what the outbound process would trip over: a webhook secret
    missing from the environment, a CoT address that does not resolve."""
    for i, hook in enumerate(config.outbound.webhooks):
        resolve_secret(hook, i, environ)
    for i, cot in enumerate(config.outbound.cot):
        resolve(cot, i)


class OutboundService:
    """Routes bus items to the webhook queue and the CoT destinations of a deployment."""

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
        self.outbox = Outbox(store_path(config)) if hooks else None
        self.router = WebhookRouter([hook for hook, _ in hooks])
        self.dispatcher = (
            WebhookDispatcher(self.outbox, hooks, rng=rng) if self.outbox is not None else None
        )
        self.cot = [CotSender(cot, i) for i, cot in enumerate(config.outbound.cot)]
        if self.dispatcher is not None:
            self.dispatcher.start()

    def handle(self, topic: str, items: Sequence[BaseModel], now_unix: float) -> None:
        if self.outbox is not None and self.dispatcher is not None:
            deliveries = self.router.route(topic, items, now_unix)
            if deliveries:
                self.outbox.enqueue(deliveries)
                self.dispatcher.wake()
        for sender in self.cot:
            sender.handle(items, now_unix)

    def tick(self, now_unix: float) -> None:
        for sender in self.cot:
            sender.tick(now_unix)

    def close(self) -> None:
        if self.dispatcher is not None:
            self.dispatcher.stop()
        if self.outbox is not None:
            self.outbox.close()
        for sender in self.cot:
            sender.close()


def run_outbound(config: DeploymentConfig, stop: threading.Event | None = None) -> None:
    stop = stop or threading.Event()
    service = OutboundService(config)
    sub = Subscriber(
        config.bus.output,
        bind=False,
        topics=[TOPIC_ALERTS, TOPIC_TRACKS, TOPIC_STATUS],
        hwm=config.bus.hwm,
    )
    log.info(
        "outbound: %d webhook subscriptions, %d CoT destinations, from %s",
        len(config.outbound.webhooks),
        len(config.outbound.cot),
        config.bus.output,
    )
    try:
        while not stop.is_set():
            msg = sub.recv(timeout_ms=RECV_TIMEOUT_MS)
            now = time.time()
            if msg is not None:
                service.handle(msg.topic, msg.items, now)
            service.tick(now)
    finally:
        sub.close()
        service.close()
