"""The bus on real ZeroMQ sockets over loopback."""

import json
import time

import pytest
import zmq

from cuas.bus import (
    TOPIC_DETECTIONS,
    TOPIC_STATUS,
    BusError,
    GapCounter,
    Publisher,
    Subscriber,
    decode,
    encode,
)
from cuas.schema import SCHEMA_VERSION, Detection, MeasurementKind, SensorState, SensorStatus

from support import free_port


def _det(i: int) -> Detection:
    return Detection(sensor_id="s1", t_unix=1000.0 + i, kind=MeasurementKind.PRESENCE)


def _join(pub: Publisher, sub: Subscriber) -> None:
    """Wait until the subscription reaches the publisher.

    A bound SUB socket attaches a new peer, and sends it its subscriptions, only while
    its own thread is inside a ZeroMQ call, so keep poking it while waiting.
    """
    deadline = time.monotonic() + 5.0
    while time.monotonic() < deadline:
        sub.sock.getsockopt(zmq.EVENTS)
        if pub.wait_for_subscriber(0.05):
            return
    raise AssertionError("the subscription never reached the publisher")


def _pair(topics=(TOPIC_DETECTIONS, TOPIC_STATUS), hwm=1000):
    endpoint = f"tcp://127.0.0.1:{free_port()}"
    sub = Subscriber(endpoint, bind=True, topics=topics, hwm=hwm)
    pub = Publisher(endpoint, bind=False, src="test", hwm=hwm)
    _join(pub, sub)
    return pub, sub


def _recv_all(sub: Subscriber, want: int, timeout_s: float = 5.0):
    got, deadline = [], time.monotonic() + timeout_s
    while len(got) < want and time.monotonic() < deadline:
        msg = sub.recv(100)
        if msg is not None:
            got.append(msg)
    return got


def test_batches_arrive_validated_and_in_order():
    pub, sub = _pair()
    try:
        pub.publish(TOPIC_DETECTIONS, [_det(0), _det(1)])
        status = SensorStatus(sensor_id="s1", t_unix=1.0, state=SensorState.OK, driver="x")
        pub.publish(TOPIC_STATUS, [status])
        msgs = _recv_all(sub, 2)
        assert [m.topic for m in msgs] == [TOPIC_DETECTIONS, TOPIC_STATUS]
        assert [d.t_unix for d in msgs[0].items] == [1000.0, 1001.0]
        assert isinstance(msgs[1].items[0], SensorStatus)
        assert [m.seq for m in msgs] == [0, 1] and msgs[0].src == "test"
    finally:
        pub.close()
        sub.close()


def test_malformed_message_is_counted_and_skipped_while_the_rest_flows():
    endpoint = f"tcp://127.0.0.1:{free_port()}"
    sub = Subscriber(endpoint, bind=True, topics=[TOPIC_DETECTIONS])
    raw = zmq.Context.instance().socket(zmq.PUB)
    raw.connect(endpoint)
    for _ in range(30):  # plain PUB cannot tell when the subscription arrived; give it time
        sub.sock.getsockopt(zmq.EVENTS)
        time.sleep(0.01)
    try:
        good = encode(TOPIC_DETECTIONS, "raw", 0, [_det(0)])
        raw.send_multipart([b"det", b"{not json"])
        bad_item = json.dumps({"v": SCHEMA_VERSION, "items": [{"x": 1}]}).encode()
        raw.send_multipart([b"det", bad_item])
        raw.send_multipart([b"det", b"only", b"too many frames"])
        raw.send_multipart(good)
        msgs = _recv_all(sub, 1)
        assert len(msgs) == 1 and msgs[0].items[0].sensor_id == "s1"
        assert sub.counters["malformed"] == 3
        assert sub.counters["received"] == 1
    finally:
        raw.close()
        sub.close()


@pytest.mark.parametrize(
    "frames, reason",
    [
        ([b"nope", b"{}"], "unknown topic"),
        ([b"det", b"[]"], "must be an object"),
        ([b"det", json.dumps({"v": 999, "items": []}).encode()], "schema version"),
        ([b"det", b"\xff\xfe"], "not JSON"),
        ([b"det", json.dumps({"v": 1, "items": [{"sensor_id": "s"}]}).encode()], "bad det item"),
        ([b"det", json.dumps({"v": 2, "items": [{"sensor_id": "s"}]}).encode()], "version 2"),
    ],
)
def test_decode_names_what_is_wrong(frames, reason):
    with pytest.raises(BusError, match=reason):
        decode(frames)


def test_gap_counter_counts_lost_sequence_numbers_per_publisher():
    gaps = GapCounter()
    for seq in (0, 1, 4, 5):
        gaps.see("a", seq)
    for seq in (10, 11):
        gaps.see("b", seq)
    assert gaps.lost == 2


def test_high_water_mark_drops_are_counted_not_silent():
    endpoint = f"tcp://127.0.0.1:{free_port()}"
    sub = Subscriber(endpoint, bind=True, topics=[TOPIC_DETECTIONS], hwm=10)
    pub = Publisher(endpoint, bind=False, src="fast", hwm=10)
    try:
        _join(pub, sub)
        big = [_det(i) for i in range(200)]
        sent = sum(pub.publish(TOPIC_DETECTIONS, big) for _ in range(5000))
        assert pub.counters["dropped_messages"] > 0
        assert sent + pub.counters["dropped_messages"] == 5000
        assert pub.counters["dropped_items"] == 200 * pub.counters["dropped_messages"]
    finally:
        pub.close()
        sub.close()


def test_one_pass_decoding_equals_the_checked_path():
    """decode() parses valid envelopes in one pydantic pass; the result must be what parsing
    with json and validating each item gives (the path bad input takes)."""
    dets = [
        Detection(sensor_id="s1", t_unix=1.5 + i, kind=MeasurementKind.POSITION) for i in range(3)
    ]
    frames = encode(TOPIC_DETECTIONS, "drivers", 7, dets)
    env = json.loads(frames[1])
    fast = decode(frames)
    assert (fast.topic, fast.src, fast.seq) == ("det", "drivers", 7)
    assert fast.items == [Detection.model_validate(item) for item in env["items"]] == dets
    # an envelope with a non-integer seq or extra keys still decodes, as before
    odd = json.dumps({"v": 1, "src": 3, "seq": "x", "extra": 1, "items": env["items"]})
    msg = decode([b"det", odd.encode()])
    assert (msg.src, msg.seq, msg.items) == ("3", -1, dets)
