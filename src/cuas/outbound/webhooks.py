"""Webhooks: signed JSON POSTs of alert transitions (and, if asked, tracks and sensor
status), retried from a persistent queue (``cuas.store.outbox``) until delivered or too old.

Each delivery is one POST whose body is the UTF-8 JSON object
``{"v": 1, "delivery_id", "subscription", "kind": "alert"|"track"|"sensor",
"created_t_unix", "item": {...}}`` (``item`` is a ``cuas.schema`` Alert, Track or
SensorStatus). An alert delivery reports one transition (raised, escalated, acknowledged,
cleared, resolved, by the engine or an operator): ``item`` is the alert right after it
(``acknowledged_by``/``acknowledged_t_unix``/``note``, ``resolved_by``/...), and
``"transition": {"event_id", "t_unix", "from_state", "to_state", "actor", "reason"}`` is
its audit row (``GET /alerts/{id}/events``): ``event_id`` increases with every transition
of every alert, ``actor`` is "engine" or the operator, ``reason`` the engine's reason or
the operator's note. The headers are

    X-Cuas-Delivery:   the delivery id (also in the body; the same on every retry)
    X-Cuas-Timestamp:  UNIX seconds when this attempt was sent
    X-Cuas-Signature:  sha256=<hex HMAC-SHA256 of the exact body bytes, keyed by the secret>

A receiver recomputes the HMAC over the raw body before parsing it, compares in constant
time, drops a delivery id it has already seen (delivery is at least once), and may refuse
a ``created_t_unix`` older than it cares for. Deliveries may arrive out of order; the
transition's ``event_id`` orders them.

Retries: network errors, timeouts, 408, 425, 429 and 5xx are retried with exponential
backoff and jitter (a ``Retry-After`` header wins); while an endpoint fails, its other
deliveries wait too. Any other status is a refusal and dead-letters the delivery at once;
so does a retry that would fall after the delivery's maximum age.
"""

from __future__ import annotations

import email.utils
import hashlib
import hmac
import json
import logging
import os
import random
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import httpx
from pydantic import BaseModel

from cuas import __version__
from cuas.bus import TOPIC_STATUS, TOPIC_TRACKS
from cuas.config import ConfigError, WebhookConfig
from cuas.outbound.filters import UpdateLimiter, zone_at_least
from cuas.schema import Alert, SensorStatus, Track, TrackStatus
from cuas.store.alert_stream import Transition
from cuas.store.outbox import Delivery, Outbox

log = logging.getLogger(__name__)

WEBHOOK_FORMAT_VERSION = 1
SIGNATURE_HEADER = "X-Cuas-Signature"
TIMESTAMP_HEADER = "X-Cuas-Timestamp"
DELIVERY_HEADER = "X-Cuas-Delivery"

TOPIC_KINDS = {TOPIC_TRACKS: "track", TOPIC_STATUS: "sensor"}  # alerts: route_transitions
RETRY_STATUSES = frozenset({408, 425, 429})
POLL_S = 0.1  # how often the queue is looked at when nothing wakes the dispatcher
PRUNE_EVERY_S = 60.0
KEEP_DELIVERED_S = 3_600.0
KEEP_DEAD_S = 7 * 86_400.0


def sign(secret: bytes, body: bytes) -> str:
    """The ``X-Cuas-Signature`` value of ``body``."""
    return "sha256=" + hmac.new(secret, body, hashlib.sha256).hexdigest()


def resolve_secret(
    hook: WebhookConfig, index: int, environ: Mapping[str, str] = os.environ
) -> bytes:
    """The subscription's HMAC key, from the file or the environment variable it names."""
    if hook.secret is not None:
        value = hook.secret.get_secret_value()
        key = f"outbound.webhooks[{index}].secret"
    else:
        value = environ.get(hook.secret_env or "", "")
        key = f"outbound.webhooks[{index}].secret_env"
        if not value:
            raise ConfigError(
                f"{key}: environment variable {hook.secret_env!r} is not set or empty; "
                "export it before starting cuas"
            )
    if len(value) < 16:
        raise ConfigError(f"{key}: the secret is shorter than 16 characters; use a longer one")
    return value.encode()


def _site_ok(hook: WebhookConfig, site_id: str) -> bool:
    return not hook.sites or site_id in hook.sites


class WebhookRouter:
    """Turns alert transitions and bus items (tracks, sensor status) into deliveries for
    every subscription whose filters they pass."""

    def __init__(self, hooks: Sequence[WebhookConfig]) -> None:
        self.hooks = list(hooks)
        self._limiters = {hook.id: UpdateLimiter(hook.min_interval_s) for hook in hooks}

    def route_transitions(
        self, transitions: Sequence[Transition], now_unix: float
    ) -> list[Delivery]:
        out = []
        for hook in self.hooks:
            if "alert" not in hook.kinds:
                continue
            limiter = self._limiters[hook.id]
            for tr in transitions:
                if self._wanted(hook, limiter, tr.alert, now_unix):
                    transition = {"event_id": tr.event_id, **tr.event.model_dump(mode="json")}
                    del transition["alert_id"]  # the item's
                    out.append(self._delivery(hook, "alert", tr.alert, now_unix, transition))
        return out

    def route(self, topic: str, items: Sequence[BaseModel], now_unix: float) -> list[Delivery]:
        kind = TOPIC_KINDS.get(topic)
        if kind is None:
            return []
        out = []
        for hook in self.hooks:
            if kind not in hook.kinds:
                continue
            limiter = self._limiters[hook.id]
            for item in items:
                if self._wanted(hook, limiter, item, now_unix):
                    out.append(self._delivery(hook, kind, item, now_unix))
        return out

    @staticmethod
    def _wanted(
        hook: WebhookConfig, limiter: UpdateLimiter, item: BaseModel, now_unix: float
    ) -> bool:
        if isinstance(item, Alert):
            return (
                _site_ok(hook, item.site_id)
                and (not hook.alert_states or item.state in hook.alert_states)
                and zone_at_least(item.zone_level, hook.min_zone_level)
            )
        if isinstance(item, Track):
            if item.status is TrackStatus.TENTATIVE or not _site_ok(hook, item.site_id):
                return False
            final = item.status is TrackStatus.DELETED
            return limiter.allow(f"track:{item.track_id}", item.status.value, now_unix, final)
        if isinstance(item, SensorStatus):
            return limiter.allow(f"sensor:{item.sensor_id}", item.state.value, now_unix)
        return False

    @staticmethod
    def _delivery(
        hook: WebhookConfig,
        kind: str,
        item: BaseModel,
        now_unix: float,
        transition: dict[str, object] | None = None,
    ) -> Delivery:
        delivery_id = str(uuid.uuid4())
        body = {
            "v": WEBHOOK_FORMAT_VERSION,
            "delivery_id": delivery_id,
            "subscription": hook.id,
            "kind": kind,
            "created_t_unix": now_unix,
            "item": item.model_dump(mode="json"),
        }
        if transition is not None:
            body["transition"] = transition
        max_age_s = hook.max_age_s if kind == "alert" else hook.track_max_age_s
        return Delivery(
            delivery_id=delivery_id,
            subscription=hook.id,
            kind=kind,
            body=json.dumps(body, separators=(",", ":")).encode(),
            created_t_unix=now_unix,
            deadline_t_unix=now_unix + max_age_s,
        )


def retry_after_s(value: str | None, now_unix: float) -> float | None:
    """Seconds to wait from a ``Retry-After`` header (delta-seconds or HTTP-date, RFC 9110
    10.2.3); None when absent or unreadable."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - now_unix)


@dataclass
class _Endpoint:
    hook: WebhookConfig
    secret: bytes
    client: httpx.Client
    pool: ThreadPoolExecutor
    inflight: set[str] = field(default_factory=set)
    lock: threading.Lock = field(default_factory=threading.Lock)
    hold_until: float = 0.0  # while failing, nothing goes to this endpoint before then
    failing: bool = False


class WebhookDispatcher:
    """Delivers queued webhooks: a scheduler thread and a bounded pool per endpoint."""

    def __init__(
        self,
        outbox: Outbox,
        hooks: Sequence[tuple[WebhookConfig, bytes]],
        *,
        rng: random.Random | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.outbox = outbox
        self.clock = clock
        self.rng = rng or random.Random()
        self.counters: Counter[str] = Counter()
        self._endpoints = {
            hook.id: _Endpoint(
                hook=hook,
                secret=secret,
                client=httpx.Client(
                    timeout=hook.timeout_s,
                    limits=httpx.Limits(max_connections=hook.max_concurrency),
                    headers={"User-Agent": f"cuas-webhook/{__version__}"},
                ),
                pool=ThreadPoolExecutor(hook.max_concurrency, f"webhook-{hook.id}"),
            )
            for hook, secret in hooks
        }
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        orphans = self.outbox.orphan(set(self._endpoints), self.clock())
        if orphans:
            log.warning("webhooks: %d queued deliveries of removed subscriptions dead", orphans)
        self._thread = threading.Thread(target=self._run, name="webhook-dispatch", daemon=True)
        self._thread.start()

    def wake(self) -> None:
        self._wake.set()

    def stop(self) -> None:
        """Stop scheduling; attempts already sent finish (each bounded by its timeout)."""
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join()
        for ep in self._endpoints.values():
            ep.pool.shutdown(wait=True, cancel_futures=True)
            ep.client.close()

    def _run(self) -> None:
        last_prune = 0.0
        while not self._stop.is_set():
            self._wake.wait(POLL_S)
            self._wake.clear()
            now = self.clock()
            for ep in self._endpoints.values():
                self._schedule(ep, now)
            if now - last_prune >= PRUNE_EVERY_S:
                last_prune = now
                self.outbox.prune(now - KEEP_DELIVERED_S, now - KEEP_DEAD_S)

    def _schedule(self, ep: _Endpoint, now: float) -> None:
        if now < ep.hold_until or self._stop.is_set():
            return
        with ep.lock:
            free = ep.hook.max_concurrency - len(ep.inflight)
            if free <= 0:
                return
            due = self.outbox.due(ep.hook.id, now, free, set(ep.inflight))
            ep.inflight.update(d.delivery_id for d in due)
        for delivery in due:
            ep.pool.submit(self._attempt_guarded, ep, delivery)

    def _attempt_guarded(self, ep: _Endpoint, delivery: Delivery) -> None:
        try:
            self._attempt(ep, delivery)
        except Exception:  # a bug here must not stall the queue; the row stays pending
            self.counters["internal_errors"] += 1
            log.exception("webhook %s: delivery %s failed", ep.hook.id, delivery.delivery_id)
            ep.hold_until = self.clock() + ep.hook.retry_initial_s
        finally:
            with ep.lock:
                ep.inflight.discard(delivery.delivery_id)
            self._wake.set()

    def _attempt(self, ep: _Endpoint, delivery: Delivery) -> None:
        now = self.clock()
        attempts = delivery.attempts + 1
        if now > delivery.deadline_t_unix:
            self._dead(ep, delivery, delivery.attempts, now, "expired before it could be sent")
            return
        headers = {
            "Content-Type": "application/json",
            DELIVERY_HEADER: delivery.delivery_id,
            TIMESTAMP_HEADER: str(int(now)),
            SIGNATURE_HEADER: sign(ep.secret, delivery.body),
        }
        self.counters["attempts"] += 1
        try:
            response = ep.client.post(ep.hook.url, content=delivery.body, headers=headers)
        except httpx.TransportError as exc:  # connection refused, reset, timeout, TLS, ...
            self._retry(ep, delivery, attempts, None, type(exc).__name__)
            return
        except httpx.HTTPError as exc:
            self._dead(ep, delivery, attempts, self.clock(), f"request failed: {exc}")
            return
        status = response.status_code
        if 200 <= status < 300:
            self.outbox.mark_delivered(delivery.delivery_id, attempts, self.clock())
            self.counters["delivered"] += 1
            if ep.failing:
                ep.failing = False
                log.info("webhook %s: delivering again", ep.hook.id)
        elif status in RETRY_STATUSES or status >= 500:
            wait_s = retry_after_s(response.headers.get("Retry-After"), self.clock())
            self._retry(ep, delivery, attempts, wait_s, f"HTTP {status}")
        else:
            self._dead(ep, delivery, attempts, self.clock(), f"refused with HTTP {status}")

    def backoff_s(self, hook: WebhookConfig, attempts: int) -> float:
        """Exponential backoff with "equal jitter": uniform in [d/2, d], d = initial * 2^(n-1)."""
        ceiling = min(hook.retry_max_s, hook.retry_initial_s * 2.0 ** (attempts - 1))
        return ceiling / 2 + self.rng.uniform(0, ceiling / 2)

    def _retry(
        self,
        ep: _Endpoint,
        delivery: Delivery,
        attempts: int,
        retry_after: float | None,
        error: str,
    ) -> None:
        now = self.clock()
        wait_s = retry_after if retry_after is not None else self.backoff_s(ep.hook, attempts)
        next_t = now + wait_s
        if next_t > delivery.deadline_t_unix:
            reason = f"gave up after {attempts} attempts; last: {error}"
            self._dead(ep, delivery, attempts, now, reason)
            return
        self.outbox.reschedule(delivery.delivery_id, attempts, next_t, error)
        self.counters["retries"] += 1
        ep.hold_until = max(ep.hold_until, next_t)
        if not ep.failing:
            ep.failing = True
            log.warning(
                "webhook %s: delivery failed (%s); retrying with backoff, further failures "
                "only counted",
                ep.hook.id,
                error,
            )

    def _dead(
        self, ep: _Endpoint, delivery: Delivery, attempts: int, now: float, reason: str
    ) -> None:
        self.outbox.mark_dead(delivery.delivery_id, attempts, now, reason)
        self.counters["dead"] += 1
        if delivery.kind == "alert" or self.counters["dead"] == 1:
            log.error(
                "webhook %s: %s delivery %s dead-lettered: %s",
                ep.hook.id,
                delivery.kind,
                delivery.delivery_id,
                reason,
            )
