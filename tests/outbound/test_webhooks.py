"""Webhooks against a real HTTP receiver: signature, retries, Retry-After, dead letters, a
restart that resumes the SQLite queue, and the per-subscription filters."""

import hashlib
import hmac
import json
import logging
import random
import time
from pathlib import Path

import pytest

from cuas.config import ConfigError, WebhookConfig, parse_config
from cuas.outbound.webhooks import WebhookDispatcher, WebhookRouter, resolve_secret, retry_after_s
from cuas.schema import (
    Alert,
    AlertEvent,
    AlertState,
    GeoPoint,
    Identity,
    ObjectClass,
    SensorState,
    SensorStatus,
    Track,
    TrackStatus,
    ZoneLevel,
)
from cuas.store.alert_stream import Transition
from cuas.store.outbox import DeliveryState, Outbox

from support import free_port

SECRET = "s3cret-for-tests-only-0123456789"


def track(track_id: str = "7", status: TrackStatus = TrackStatus.CONFIRMED, site: str = "s"):
    return Track(
        track_id=track_id,
        site_id=site,
        t_unix=1000.0,
        status=status,
        position=GeoPoint(lat_deg=42.87, lon_deg=74.6, alt_m=900.0),
        enu_m=(10.0, 20.0, 120.0),
        velocity_enu_mps=(3.0, 4.0, 0.0),
        position_std_m=5.0,
        object_class=ObjectClass.DRONE,
        identity=Identity(rid_serial="1581F5FJD239C00DW22E"),
    )


def alert(
    alert_id: int = 1,
    state: AlertState = AlertState.RAISED,
    level: ZoneLevel = ZoneLevel.CRITICAL,
    site: str = "s",
) -> Alert:
    return Alert(
        alert_id=alert_id,
        site_id=site,
        zone_id="bowl",
        zone_level=level,
        rule="drone_in_zone",
        object_key="rid:1581F5FJD239C00DW22E",
        track_id="7",
        state=state,
        raised_t_unix=1000.0,
        updated_t_unix=1000.0,
        track=track(),
    )


def transition(item: Alert, event_id: int | None = None, actor: str = "engine") -> Transition:
    """The audit row the store would hold for the alert's latest transition."""
    event = AlertEvent(
        alert_id=item.alert_id,
        t_unix=item.updated_t_unix,
        from_state=None,
        to_state=item.state,
        actor=actor,
        reason="test",
    )
    return Transition(event_id or item.alert_id, event, item)


def hook(url: str, **kw) -> WebhookConfig:
    return WebhookConfig(id="ops", url=url, secret=SECRET, **kw)


def verify(received) -> dict:
    """What a receiver does: HMAC over the raw body, constant-time compare, then parse."""
    expected = hmac.new(SECRET.encode(), received.body, hashlib.sha256).hexdigest()
    scheme, _, got = received.headers["X-Cuas-Signature"].partition("=")
    assert scheme == "sha256" and hmac.compare_digest(expected, got)
    body = json.loads(received.body)
    assert body["delivery_id"] == received.headers["X-Cuas-Delivery"]
    assert abs(int(received.headers["X-Cuas-Timestamp"]) - time.time()) < 60
    return body


class Harness:
    def __init__(self, path: Path, cfg: WebhookConfig) -> None:
        self.cfg = cfg
        self.outbox = Outbox(path)
        self.router = WebhookRouter([cfg])
        self.dispatcher = WebhookDispatcher(
            self.outbox, [(cfg, SECRET.encode())], rng=random.Random(7)
        )

    def send(self, alerts: list[Alert]) -> list[str]:
        deliveries = self.router.route_transitions([transition(a) for a in alerts], time.time())
        self.outbox.enqueue(deliveries)
        self.dispatcher.wake()
        return [d.delivery_id for d in deliveries]

    def wait_state(self, delivery_id: str, state: DeliveryState, timeout_s: float = 10.0):
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            row = self.outbox.get(delivery_id)
            if row is not None and row.state is state:
                return row
            time.sleep(0.02)
        raise AssertionError(f"{delivery_id} never became {state}: {self.outbox.get(delivery_id)}")

    def close(self) -> None:
        self.dispatcher.stop()
        self.outbox.close()


def test_failures_are_retried_with_growing_backoff_and_every_attempt_is_signed(
    tmp_path, receiver, caplog
):
    caplog.set_level(logging.DEBUG)
    receiver.script = [(500, {}), (502, {}), (503, {})]
    h = Harness(tmp_path / "cuas.sqlite", hook(receiver.url, retry_initial_s=0.1))
    h.dispatcher.start()
    try:
        (delivery_id,) = h.send([alert()])
        row = h.wait_state(delivery_id, DeliveryState.DELIVERED)
    finally:
        h.close()
    got = receiver.requests
    assert [r.status for r in got] == [500, 502, 503, 200] and row.attempts == 4
    assert {r.headers["X-Cuas-Delivery"] for r in got} == {delivery_id}
    bodies = [verify(r) for r in got]
    assert bodies[0]["kind"] == "alert" and bodies[0]["item"]["alert_id"] == 1
    assert bodies[0]["item"]["track"]["identity"]["rid_serial"] == "1581F5FJD239C00DW22E"
    # equal jitter: the n-th retry waits at least half of 0.1 s * 2^(n-1)
    gaps = [b.t_monotonic - a.t_monotonic for a, b in zip(got, got[1:], strict=False)]
    for n, gap in enumerate(gaps, start=1):
        assert gap >= 0.1 * 2 ** (n - 1) / 2 - 0.01, gaps
    assert SECRET not in caplog.text


def test_retry_after_from_the_receiver_wins_over_the_backoff(tmp_path, receiver):
    receiver.script = [(429, {"Retry-After": "1"})]
    h = Harness(tmp_path / "cuas.sqlite", hook(receiver.url, retry_initial_s=0.05))
    h.dispatcher.start()
    try:
        (delivery_id,) = h.send([alert()])
        h.wait_state(delivery_id, DeliveryState.DELIVERED)
    finally:
        h.close()
    first, second = receiver.requests
    assert (first.status, second.status) == (429, 200)
    assert second.t_monotonic - first.t_monotonic >= 0.99


def test_retry_after_reads_seconds_and_http_dates():
    assert retry_after_s("120", 0.0) == 120.0
    # RFC 9110's example date is 1445412480 in UNIX time
    assert retry_after_s("Wed, 21 Oct 2015 07:28:00 GMT", 1445412480.0 - 30) == pytest.approx(30)
    assert retry_after_s("soon", 0.0) is None and retry_after_s(None, 0.0) is None


def test_an_unreachable_endpoint_is_dead_lettered_after_the_maximum_age(tmp_path):
    url = f"http://127.0.0.1:{free_port()}/nobody-listens"
    h = Harness(tmp_path / "cuas.sqlite", hook(url, retry_initial_s=0.1, max_age_s=0.6))
    h.dispatcher.start()
    try:
        (delivery_id,) = h.send([alert()])
        row = h.wait_state(delivery_id, DeliveryState.DEAD)
    finally:
        h.close()
    assert row.attempts >= 2 and "gave up" in row.last_error
    assert "ConnectError" in row.last_error
    assert row.done_t_unix - row.created_t_unix <= 0.6 + 0.5


def test_a_refusal_is_dead_lettered_without_retrying(tmp_path, receiver):
    receiver.script = [(400, {})]
    h = Harness(tmp_path / "cuas.sqlite", hook(receiver.url, retry_initial_s=0.05))
    h.dispatcher.start()
    try:
        (delivery_id,) = h.send([alert()])
        row = h.wait_state(delivery_id, DeliveryState.DEAD)
        time.sleep(0.3)
    finally:
        h.close()
    assert len(receiver.requests) == 1 and row.last_error == "refused with HTTP 400"


def test_a_restarted_worker_resumes_the_queue_and_delivers_each_id_once(tmp_path, receiver):
    path = tmp_path / "cuas.sqlite"
    cfg = hook(receiver.url, retry_initial_s=0.05)
    receiver.script = [(503, {"Retry-After": "1"})]
    first = Harness(path, cfg)
    first.dispatcher.start()
    (retried,) = first.send([alert(1)])
    receiver.wait_for(lambda got: len(got) == 1)
    first.dispatcher.stop()  # killed between the failed attempt and its retry
    (never_tried,) = first.send([alert(2)])  # queued while nothing delivers
    first.outbox.close()
    assert len(receiver.requests) == 1

    second = Harness(path, cfg)
    second.dispatcher.start()
    try:
        second.wait_state(retried, DeliveryState.DELIVERED)
        second.wait_state(never_tried, DeliveryState.DELIVERED)
        time.sleep(0.5)  # nothing more may arrive
    finally:
        second.close()
    ok = [r.headers["X-Cuas-Delivery"] for r in receiver.requests if r.status == 200]
    assert sorted(ok) == sorted([retried, never_tried])
    assert receiver.requests[0].headers["X-Cuas-Delivery"] == retried
    assert [verify(r)["item"]["alert_id"] for r in receiver.requests[1:]] in ([1, 2], [2, 1])


def test_filters_choose_kinds_states_levels_and_sites():
    router = WebhookRouter(
        [
            WebhookConfig(
                id="crit",
                url="http://x/",
                secret=SECRET,
                alert_states=[AlertState.RAISED],
                min_zone_level=ZoneLevel.WARNING,
                sites=["s"],
            ),
            WebhookConfig(
                id="acks",
                url="http://z/",
                secret=SECRET,
                alert_states=[AlertState.ACKNOWLEDGED, AlertState.RESOLVED],
            ),
            WebhookConfig(id="all", url="http://y/", secret=SECRET, kinds=["alert", "sensor"]),
            WebhookConfig(id="tracks", url="http://t/", secret=SECRET, kinds=["track"]),
        ]
    )
    acked = alert(5, AlertState.ACKNOWLEDGED).model_copy(
        update={"acknowledged_by": "ops-1", "note": "looking"}
    )
    items = [
        transition(alert(1)),
        transition(alert(2, AlertState.CLEARED)),
        transition(alert(3, level=ZoneLevel.WATCH)),
        transition(alert(4, site="other")),
        transition(acked, event_id=9, actor="ops-1"),
    ]
    got = router.route_transitions(items, 0.0)
    by_sub = {
        sub: [json.loads(d.body)["item"]["alert_id"] for d in got if d.subscription == sub]
        for sub in ("crit", "acks", "all", "tracks")
    }
    assert by_sub == {"crit": [1], "acks": [5], "all": [1, 2, 3, 4, 5], "tracks": []}
    ack_body = json.loads(next(d.body for d in got if d.subscription == "acks"))
    assert ack_body["transition"] == {
        "event_id": 9,
        "t_unix": 1000.0,
        "from_state": None,
        "to_state": "acknowledged",
        "actor": "ops-1",
        "reason": "test",
    }
    assert ack_body["item"]["acknowledged_by"] == "ops-1" and ack_body["item"]["note"] == "looking"
    assert [d.subscription for d in router.route("track", [track()], 0.0)] == ["tracks"]
    status = SensorStatus(sensor_id="rid-1", t_unix=0.0, state=SensorState.OK, driver="x")
    assert [d.subscription for d in router.route("status", [status], 0.0)] == ["all"]
    assert router.route("alert", [alert(6)], 0.0) == []  # alerts come from the store only


def test_track_updates_are_rate_limited_per_track_but_status_changes_and_the_end_go_out():
    router = WebhookRouter(
        [WebhookConfig(id="t", url="http://x/", secret=SECRET, kinds=["track"], min_interval_s=5)]
    )

    def sent(t, *tracks):
        return [json.loads(d.body)["item"]["track_id"] for d in router.route("track", tracks, t)]

    assert sent(0.0, track("1"), track("2"), track("3", TrackStatus.TENTATIVE)) == ["1", "2"]
    assert sent(1.0, track("1"), track("2")) == []
    assert sent(2.0, track("1", TrackStatus.COASTING)) == ["1"]
    assert sent(5.5, track("2")) == ["2"]
    assert sent(6.0, track("1", TrackStatus.DELETED), track("9", TrackStatus.DELETED)) == ["1"]
    assert sent(6.1, track("1", TrackStatus.DELETED)) == []


def test_secret_from_the_environment_and_config_errors_name_the_key(tmp_path):
    cfg = WebhookConfig(id="ops", url="https://example.org/h", secret_env="CUAS_TEST_HOOK")
    assert resolve_secret(cfg, 0, {"CUAS_TEST_HOOK": SECRET}) == SECRET.encode()
    with pytest.raises(ConfigError, match=r"webhooks\[0\]\.secret_env: .*CUAS_TEST_HOOK"):
        resolve_secret(cfg, 0, {})
    site = {"id": "s", "name": "s", "reference": {"lat_deg": 0, "lon_deg": 0}}

    def parse(hooks):
        return parse_config({"sites": [site], "outbound": {"webhooks": hooks}}, Path("d.toml"))

    with pytest.raises(ConfigError, match=r"outbound\.webhooks\[0\]: .*exactly one of secret"):
        parse([{"id": "a", "url": "https://e/h"}])
    with pytest.raises(ConfigError, match=r"outbound\.webhooks\[0\]\.url: .*http"):
        parse([{"id": "a", "url": "ftp://e/h", "secret": SECRET}])
    with pytest.raises(ConfigError, match="used twice"):
        parse([{"id": "a", "url": "https://e/h", "secret": SECRET}] * 2)
    config = parse([{"id": "a", "url": "https://e/h", "secret": SECRET}])
    assert SECRET not in repr(config) and SECRET not in str(config.model_dump())
