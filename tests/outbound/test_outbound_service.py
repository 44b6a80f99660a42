"""The outbound service on a real SQLite file: alert transitions from the store's audit table
to a real HTTP receiver (HMAC checked) and a real UDP socket; the first start against an
existing store, a restart, the subscription filters, and the outbound process killed with
SIGKILL in the middle of a stream of transitions (tracks still come from the bus)."""

import hashlib
import hmac
import json
import multiprocessing as mp
import socket
import sqlite3
import threading
import time
import xml.etree.ElementTree as ET
from collections import defaultdict
from pathlib import Path

import pytest

from cuas.bus import TOPIC_TRACKS, Publisher
from cuas.config import load_config
from cuas.outbound.service import OutboundService
from cuas.schema import (
    Alert,
    GeoPoint,
    Identity,
    ObjectClass,
    Track,
    TrackStatus,
    ZoneLevel,
)
from cuas.store.sqlite import Store
from cuas.supervisor import _child

SECRET = "outbound-e2e-secret-0123456789"
ENV = {"CUAS_TEST_WEBHOOK_SECRET": SECRET}


def track() -> Track:
    return Track(
        track_id="21",
        site_id="s",
        t_unix=time.time(),
        status=TrackStatus.CONFIRMED,
        position=GeoPoint(lat_deg=42.875, lon_deg=74.604, alt_m=900.0),
        enu_m=(30.0, 40.0, 120.0),
        velocity_enu_mps=(0.0, 5.0, 0.0),
        position_std_m=4.0,
        object_class=ObjectClass.DRONE,
        identity=Identity(rid_serial="E2E-SERIAL"),
        pilot=GeoPoint(lat_deg=42.870, lon_deg=74.600, alt_m=780.0),
    )


def raise_alert(store: Store, serial: str = "E2E-SERIAL", level=ZoneLevel.CRITICAL) -> Alert:
    """What the engine's alert rules do when a drone enters a zone."""
    return store.raise_alert(
        site_id="s",
        zone_id="bowl",
        zone_level=level,
        rule="drone_in_zone",
        object_key=f"rid:{serial}",
        track=track(),
        t_unix=time.time(),
        reason=f"{serial} inside the bowl",
    )


def start_outbound(config_path: Path) -> mp.Process:
    proc = mp.get_context("spawn").Process(
        target=_child, args=("outbound", str(config_path), None, None), daemon=True
    )
    proc.start()
    return proc


def store_of(tmp_path: Path) -> Store:
    return Store(tmp_path / "data" / "cuas.sqlite")


def cursor_of(tmp_path: Path) -> int | None:
    """The outbound process's cursor, as any reader of the file sees it."""
    try:
        with sqlite3.connect(tmp_path / "data" / "cuas.sqlite") as db:
            row = db.execute("SELECT event_id FROM outbound_cursor WHERE name='outbound'")
            got = row.fetchone()
    except sqlite3.OperationalError:  # not created yet
        return None
    return got[0] if got else None


def wait_until(predicate, timeout_s: float = 20.0, what: str = "condition") -> None:
    deadline = time.monotonic() + timeout_s
    while not predicate():
        assert time.monotonic() < deadline, f"{what} not met in {timeout_s} s"
        time.sleep(0.02)


def verified(received) -> dict:
    expected = "sha256=" + hmac.new(SECRET.encode(), received.body, hashlib.sha256).hexdigest()
    assert hmac.compare_digest(expected, received.headers["X-Cuas-Signature"])
    body = json.loads(received.body)
    assert body["delivery_id"] == received.headers["X-Cuas-Delivery"]
    return body


def delivered(receiver, subscription: str = "ops") -> list[dict]:
    """Bodies of the successful POSTs to one subscription, in arrival order."""
    bodies = [verified(r) for r in receiver.requests if r.status == 200]
    return [b for b in bodies if b["subscription"] == subscription]


def cot_events(sock: socket.socket, want: int, timeout_s: float = 10.0) -> list[ET.Element]:
    events, deadline = [], time.monotonic() + timeout_s
    while len(events) < want and time.monotonic() < deadline:
        try:
            events.append(ET.fromstring(sock.recvfrom(65_535)[0]))
        except TimeoutError:
            continue
    return events


@pytest.fixture
def udp():
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(("127.0.0.1", 0))
    sock.settimeout(0.5)
    yield sock
    sock.close()


def poll_until_quiet(service: OutboundService) -> None:
    while service.poll_alerts(time.time()):
        pass


def test_first_start_skips_history_and_a_restart_resumes_at_its_cursor(
    tmp_path, receiver, udp, outbound_config
):
    config = load_config(outbound_config(receiver.url, udp.getsockname()[1]))
    store = store_of(tmp_path)
    old = raise_alert(store, "OLD")  # history from before outbound was configured
    store.acknowledge(old.alert_id, "ops-0", None, time.time())
    store.clear(old.alert_id, time.time(), "left", None)
    store.resolve(old.alert_id, "ops-0", "kite", time.time())
    still_open = raise_alert(store, "OPEN")

    service = OutboundService(config, environ=ENV)
    try:
        # TAK gets the alert that is still open again; webhooks get no history
        (marker,) = cot_events(udp, 1)
        assert marker.get("uid") == f"cuas.alert.{still_open.alert_id}"
        poll_until_quiet(service)
        store.acknowledge(still_open.alert_id, "ops-1", "on camera 3", time.time())
        poll_until_quiet(service)
        receiver.wait_for(lambda got: len(got) == 1)
        (ack_cot,) = cot_events(udp, 1)
        assert "acknowledged by ops-1" in ack_cot.find("detail/remarks").text
    finally:
        service.close()

    # made while the outbound process is down: sent after the restart, once
    store.clear(still_open.alert_id, time.time(), "left the zone", None)
    store.resolve(still_open.alert_id, "ops-2", "a delivery drone", time.time())
    service = OutboundService(config, environ=ENV)
    try:
        poll_until_quiet(service)
        receiver.wait_for(lambda got: len(got) == 3)
        time.sleep(0.3)  # nothing more may arrive
    finally:
        service.close()
    # deliveries run in parallel and may arrive in any order; the event id orders them
    bodies = sorted(delivered(receiver), key=lambda b: b["transition"]["event_id"])
    assert len(receiver.requests) == 3
    assert [(b["item"]["alert_id"], b["transition"]["to_state"]) for b in bodies] == [
        (still_open.alert_id, "acknowledged"),
        (still_open.alert_id, "cleared"),
        (still_open.alert_id, "resolved"),
    ]
    ack, cleared, resolved = bodies
    assert ack["item"]["acknowledged_by"] == "ops-1" and ack["item"]["note"] == "on camera 3"
    assert ack["transition"]["actor"] == "ops-1" and ack["transition"]["reason"] == "on camera 3"
    assert cleared["item"]["state"] == "cleared" and cleared["transition"]["actor"] == "engine"
    assert resolved["item"]["resolved_by"] == "ops-2"
    assert resolved["item"]["resolution_note"] == "a delivery drone"


def test_a_failed_queueing_moves_no_cursor_and_the_next_poll_queues_each_once(
    tmp_path, receiver, udp, outbound_config
):
    config = load_config(outbound_config(receiver.url, udp.getsockname()[1]))
    store = store_of(tmp_path)
    service = OutboundService(config, environ=ENV)
    try:
        with service.outbox.read() as db:
            db.execute("PRAGMA busy_timeout=50")  # give up on a lock at once, not in 10 s
        first = raise_alert(store, "A")
        store.acknowledge(first.alert_id, "ops-1", "seen", time.time())
        locker = sqlite3.connect(tmp_path / "data" / "cuas.sqlite", isolation_level=None)
        locker.execute("BEGIN IMMEDIATE")  # another process holds the write lock
        with pytest.raises(sqlite3.OperationalError, match="locked"):
            service.poll_alerts(time.time())
        locker.execute("ROLLBACK")
        locker.close()
        assert cursor_of(tmp_path) == service.alerts.after_event_id
        assert service.outbox.deliveries() == []
        assert service.poll_alerts(time.time()) == 2
        assert service.poll_alerts(time.time()) == 0
        receiver.wait_for(lambda got: len(got) == 2)
        time.sleep(0.3)
    finally:
        service.close()
    assert sorted(b["transition"]["to_state"] for b in delivered(receiver)) == [
        "acknowledged",
        "raised",
    ]
    assert len(receiver.requests) == 2


def test_subscription_filters_apply_to_the_transitions(tmp_path, receiver, udp, outbound_config):
    crit_acks = f"""
[[outbound.webhooks]]
id = "crit-acks"
url = "{receiver.url}"
secret_env = "CUAS_TEST_WEBHOOK_SECRET"
alert_states = ["acknowledged"]
min_zone_level = "critical"
"""
    config = load_config(outbound_config(receiver.url, udp.getsockname()[1], crit_acks))
    store = store_of(tmp_path)
    service = OutboundService(config, environ=ENV)
    try:
        watch = raise_alert(store, "W", ZoneLevel.WATCH)
        critical = raise_alert(store, "C", ZoneLevel.CRITICAL)
        for alert in (watch, critical):
            store.acknowledge(alert.alert_id, "ops-1", None, time.time())
        poll_until_quiet(service)
        receiver.wait_for(lambda got: len(got) == 5)
        time.sleep(0.3)
    finally:
        service.close()
    assert len(receiver.requests) == 5
    assert [
        (b["item"]["zone_level"], b["transition"]["to_state"])
        for b in delivered(receiver, "crit-acks")
    ] == [("critical", "acknowledged")]
    assert len(delivered(receiver, "ops")) == 4


def test_sigkill_in_the_middle_of_a_stream_loses_and_duplicates_nothing(
    tmp_path, receiver, udp, monkeypatch, outbound_config
):
    """Killed twice while transitions keep coming and deliveries fail; then tracks from the
    bus still reach TAK, and SIGTERM stops the last process cleanly."""
    monkeypatch.setenv("CUAS_TEST_WEBHOOK_SECRET", SECRET)
    config_path = outbound_config(receiver.url, udp.getsockname()[1])
    engine = Publisher(load_config(config_path).bus.output, bind=True, src="engine")
    store = store_of(tmp_path)
    raise_alert(store, "BEFORE")  # history: not sent
    procs = [start_outbound(config_path)]
    enough = threading.Event()

    def operators_and_engine() -> None:
        """Transitions at a steady pace, as the engine and the API make them, until told."""
        writer = store_of(tmp_path)
        i = 0
        while not enough.is_set():
            alert = raise_alert(writer, f"K{i}")
            writer.acknowledge(alert.alert_id, f"ops-{i % 3}", f"note {i}", time.time())
            writer.clear(alert.alert_id, time.time(), "left", None)
            writer.resolve(alert.alert_id, "ops-9", f"closed {i}", time.time())
            i += 1
            time.sleep(0.1)
        writer.close()

    writing = threading.Thread(target=operators_and_engine)
    try:
        wait_until(lambda: cursor_of(tmp_path) is not None, what="the outbound cursor")
        start = cursor_of(tmp_path)
        writing.start()
        for proc in range(3):
            moved_from = cursor_of(tmp_path)
            wait_until(lambda m=moved_from: cursor_of(tmp_path) > m, what="outbound at work")
            if proc == 2:
                break
            receiver.then_status = 503  # and with failing deliveries pending
            time.sleep(0.15)
            procs[-1].kill()
            procs[-1].join(5)
            receiver.then_status = 200
            procs.append(start_outbound(config_path))
        enough.set()
        writing.join(10)
        with store.read() as db:
            events = {
                row[0]: (row[1], row[2])
                for row in db.execute(
                    "SELECT event_id, alert_id, to_state FROM alert_events WHERE event_id > ?",
                    (start,),
                )
            }
        receiver.wait_for(
            lambda got: (
                {json.loads(r.body)["transition"]["event_id"] for r in got if r.status == 200}
                >= set(events)
            ),
            timeout_s=40,
        )

        def track_on_tak() -> bool:
            engine.publish(TOPIC_TRACKS, [track()])
            return any(e.get("uid") == "cuas.track.21" for e in cot_events(udp, 10, 0.2))

        wait_until(track_on_tak, what="a track from the bus on TAK")
        procs[-1].terminate()  # SIGTERM: a clean stop
        procs[-1].join(10)
        assert procs[-1].exitcode == 0
    finally:
        enough.set()
        for proc in procs:
            if proc.is_alive():
                proc.kill()
        engine.close()
    ids_per_event: dict[int, set[str]] = defaultdict(set)
    for r in receiver.requests:
        body = verified(r)
        ids_per_event[body["transition"]["event_id"]].add(body["delivery_id"])
        assert (body["item"]["alert_id"], body["item"]["state"]) == events[
            body["transition"]["event_id"]
        ]
    assert len(events) >= 12 and set(ids_per_event) == set(events), "nothing lost, no history"
    assert all(len(ids) == 1 for ids in ids_per_event.values()), "one delivery per transition"
    ok_ids = [r.headers["X-Cuas-Delivery"] for r in receiver.requests if r.status == 200]
    # at least once: a delivery may be repeated (same id) when killed between the POST and
    # recording its success, never under a second id
    assert len(set(ok_ids)) == len(events) and len(ok_ids) - len(events) <= 2 * 4


def test_an_outbound_config_without_its_secret_in_the_environment_stops_at_startup(
    tmp_path, monkeypatch, outbound_config
):
    from cuas.config import ConfigError
    from cuas.supervisor import validate_deployment

    monkeypatch.delenv("CUAS_TEST_WEBHOOK_SECRET", raising=False)
    config_path = outbound_config("http://127.0.0.1:9/h", 6969)
    with pytest.raises(ConfigError, match="CUAS_TEST_WEBHOOK_SECRET"):
        validate_deployment(load_config(config_path))
