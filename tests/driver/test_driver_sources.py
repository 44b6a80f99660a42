"""SensorRunner end to end on real links: ZeroMQ, TCP, UDP, a serial pty and replay files.

Every link carries real DragonSync JSON frames with a malformed frame mixed in; the runner
must deliver the detections in order, count the bad frame, and report its link state.
"""

from __future__ import annotations

import json
import logging
import os
import socket
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import zmq

from cuas.config import SensorConfig
from cuas.driver import Detection, Framing, SensorInfo
from cuas.driver.host import SensorRunner
from cuas.driver.sources import open_source
from cuas.replay.format import ReplayWriter
from cuas.schema import SensorState, SensorStatus
from cuas_drivers.dragonsync import DragonSyncDriver, DragonSyncOptions

MAC = "60:60:1f:aa:bb:cc"
OTHER_MAC = "60:60:1f:00:00:02"
T0 = 1_764_400_000.0


def _frame(lat: float, mac: str = MAC) -> bytes:
    """One zmq_decoder-style DragonSync message: a Location/Vector block and the MAC."""
    loc = {
        "protocol_version": "F3411.19",
        "op_status": "Airborne",
        "direction": 90,
        "speed": "5.0 m/s",
        "vert_speed": "63.0 m/s",
        "latitude": f"{lat:.7f}",
        "longitude": "-122.9722906",
        "pressure_altitude": "Undefined",
        "geodetic_altitude": "237.0 m",
        "height_agl": "100.0 m",
        "horizontal_accuracy": "<10 m",
        "vertical_accuracy": "<25 m",
    }
    return json.dumps([{"Location/Vector Message": loc, "MAC": mac}]).encode()


class LineDragonSync(DragonSyncDriver):
    """The DragonSync decoder reading one JSON message per line, as from a TCP or serial link."""

    framing = Framing.LINE


class SmallLineDragonSync(LineDragonSync):
    max_frame_bytes = 1024


def _driver(cls: type[DragonSyncDriver] = DragonSyncDriver) -> DragonSyncDriver:
    return cls(SensorInfo("rid-1", "dragonsync"), DragonSyncOptions())


class Harness:
    def __init__(self, url: str, driver: DragonSyncDriver, base_dir: Path) -> None:
        self.detections: list[Detection] = []
        self.statuses: list[SensorStatus] = []
        config = SensorConfig(id="rid-1", driver="dragonsync", source=url)
        self.source = open_source(url, "rid-1", driver.framing, base_dir)
        self.runner = SensorRunner(
            config, driver, self.source, self.detections.extend, self.statuses.append
        )

    @property
    def counters(self):
        return self.runner.decoder.counters

    def lats(self) -> list[float]:
        return [round(d.position.lat_deg, 7) for d in self.detections if d.position]


def wait_until(condition: Callable[[], object], what: str, timeout_s: float = 5.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.005)


def _link_up(h: Harness) -> bool:
    return any(s.state is SensorState.OK for s in h.statuses)


@pytest.fixture
def start(tmp_path: Path) -> Iterator[Callable[..., Harness]]:
    harnesses: list[Harness] = []

    def _start(url: str, driver: DragonSyncDriver, base_dir: Path | None = None) -> Harness:
        harness = Harness(url, driver, base_dir or tmp_path)
        harnesses.append(harness)
        harness.runner.start()
        return harness

    yield _start
    for harness in harnesses:
        harness.runner.stop_event.set()
    for harness in harnesses:
        harness.runner.join(5.0)
        assert not harness.runner.is_alive(), "a runner did not stop when told to"


# --- ZeroMQ ---------------------------------------------------------------------------


def test_zeromq_feed_delivers_detections_in_order_and_counts_malformed(start):
    pub = zmq.Context.instance().socket(zmq.PUB)
    pub.setsockopt(zmq.LINGER, 0)
    port = pub.bind_to_random_port("tcp://127.0.0.1")
    try:
        h = start(f"zmq+tcp://127.0.0.1:{port}", _driver())
        # a PUB drops what it sends before the subscription arrives: probe until one lands
        probe_lat = 10.0
        deadline = time.monotonic() + 5.0
        while not h.detections:
            assert time.monotonic() < deadline, "the subscriber never connected"
            pub.send(_frame(probe_lat))
            time.sleep(0.02)
        pub.send_multipart([b"drone", b"{not json"])  # multipart: the last part is the frame
        pub.send(_frame(45.1))
        pub.send(b"[1, 2")
        pub.send_multipart([b"drone", _frame(45.2)])
        wait_until(lambda: len([x for x in h.lats() if x != probe_lat]) == 2, "two detections")
        wait_until(lambda: h.counters["malformed"] == 2, "two malformed frames")
        assert [x for x in h.lats() if x != probe_lat] == [45.1, 45.2]
        assert all(d.identity.mac == MAC for d in h.detections)
        assert h.statuses[0].state is SensorState.OK and h.statuses[0].detail == "link up"
    finally:
        pub.close()


# --- TCP line stream ------------------------------------------------------------------


def test_tcp_line_stream_reconnects_after_the_server_closes(start):
    listener = socket.create_server(("127.0.0.1", 0))
    listener.settimeout(5.0)
    port = listener.getsockname()[1]
    try:
        h = start(f"tcp://127.0.0.1:{port}", _driver(LineDragonSync))
        conn, _ = listener.accept()
        with conn:
            conn.sendall(_frame(45.1) + b"\n" + b"garbage line\n" + _frame(45.2) + b"\r\n")
            wait_until(lambda: len(h.detections) == 2, "two detections")
            wait_until(lambda: h.counters["malformed"] == 1, "one malformed line")
        assert h.lats() == [45.1, 45.2]

        def lost() -> list[SensorStatus]:
            return [
                s
                for s in h.statuses
                if s.state is SensorState.OFFLINE and s.detail.startswith("link lost")
            ]

        wait_until(lost, "the runner to notice the closed link")
        assert lost()[0].counters["reconnects"] == 1
        assert h.runner.state is SensorState.OFFLINE

        conn, _ = listener.accept()  # the runner dials again after its backoff
        with conn:
            wait_until(lambda: h.statuses[-1].state is SensorState.OK, "the link to come back")
            assert h.statuses[-1].detail == "link up"
            assert h.statuses[-1].counters["reconnects"] == 1
            conn.sendall(_frame(45.3) + b"\n")
            wait_until(lambda: len(h.detections) == 3, "a detection over the new link")
        assert h.lats() == [45.1, 45.2, 45.3]
        assert h.counters["malformed"] == 1
    finally:
        listener.close()


# --- UDP ------------------------------------------------------------------------------


def _free_udp_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_udp_datagrams_are_frames(start):
    port = _free_udp_port()
    h = start(f"udp://127.0.0.1:{port}", _driver())
    wait_until(lambda: _link_up(h), "the UDP socket to be bound")
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as tx:
        for datagram in (_frame(45.1), b"\x00\x01 binary junk", _frame(45.2)):
            tx.sendto(datagram, ("127.0.0.1", port))
    wait_until(lambda: len(h.detections) == 2, "two detections")
    wait_until(lambda: h.counters["malformed"] == 1, "one malformed datagram")
    assert h.lats() == [45.1, 45.2]
    assert h.counters["frames"] == 3


# --- serial (pseudo-terminal) ---------------------------------------------------------


def test_serial_port_lines_reassembled_and_overlong_line_counted(start, caplog):
    caplog.set_level(logging.WARNING, logger="cuas.driver.host")
    master, slave = os.openpty()
    try:
        device = os.ttyname(slave)
        driver = _driver(SmallLineDragonSync)
        h = start(f"serial://{device}?baud=115200", driver)
        wait_until(lambda: _link_up(h), "the serial port to open")

        line = _frame(45.1)
        os.write(master, line[:40])
        wait_until(lambda: any(h.runner._buffers.values()), "the first half to be read")
        assert h.detections == []
        os.write(master, line[40:] + b"\n")
        wait_until(lambda: len(h.detections) == 1, "the line split across two writes")

        # no newline at all: the framer must give up at the limit, not buffer forever
        os.write(master, b"x" * (driver.max_frame_bytes + 1))
        wait_until(lambda: h.counters["malformed"] == 1, "the over-long line to be counted")
        os.write(master, b"\n" + _frame(45.2) + b"\n")
        wait_until(lambda: len(h.detections) == 2, "a good line after the over-long one")
        assert h.lats() == [45.1, 45.2]
        assert h.counters["malformed"] == 1
        assert any(
            f"longer than {driver.max_frame_bytes} bytes" in r.getMessage() for r in caplog.records
        )
    finally:
        os.close(master)
        os.close(slave)


# --- replay ---------------------------------------------------------------------------

SPEED = 50.0
RID1_FRAMES = [  # (seconds after T0, frame); one binary frame is malformed on purpose
    (0.0, _frame(45.1)),
    (0.25, b"\xff\x00 not json"),
    (0.5, _frame(45.2)),
    (1.5, _frame(45.3)),
]
RID2_FRAMES = [(0.2, _frame(46.1, OTHER_MAC)), (0.7, _frame(46.2, OTHER_MAC))]


@pytest.fixture
def recording(tmp_path: Path) -> Path:
    path = tmp_path / "two_sensors.jsonl"
    writer = ReplayWriter(
        path,
        description="two sensors",
        sensors={"rid-1": {"driver": "dragonsync"}, "rid-2": {"driver": "dragonsync"}},
        created_unix=T0,
    )
    for dt, sensor, data in sorted(
        [(dt, "rid-1", f) for dt, f in RID1_FRAMES] + [(dt, "rid-2", f) for dt, f in RID2_FRAMES]
    ):
        writer.frame(T0 + dt, sensor, data)
    writer.close()
    return path


def test_replay_plays_only_its_sensor_in_order_retimed_by_speed_then_ends(start, recording):
    h = start(f"replay:{recording.name}?speed={SPEED:g}", _driver(), recording.parent)
    h.runner.join(5.0)
    assert not h.runner.is_alive(), "a replay without loop ends by itself"
    assert h.lats() == [45.1, 45.2, 45.3]
    assert all(d.identity.mac == MAC for d in h.detections)
    assert h.counters["malformed"] == 1
    times = [d.t_unix for d in h.detections]
    good = [dt for dt, f in RID1_FRAMES if f.startswith(b"[")]
    assert [b - a for a, b in zip(times, times[1:], strict=False)] == pytest.approx(
        [(b - a) / SPEED for a, b in zip(good, good[1:], strict=False)], abs=1e-6
    )
    final = h.statuses[-1]
    assert final.state is SensorState.OFFLINE
    assert final.detail.startswith("source ended")
    assert final.counters["malformed"] == 1


def test_replay_with_loop_plays_the_frames_again_a_lap_later(start, recording):
    h = start(f"replay:{recording}?speed={SPEED:g}&loop=1", _driver())
    wait_until(lambda: len(h.detections) >= 6, "two laps")
    assert h.runner.is_alive()
    assert h.lats()[:6] == [45.1, 45.2, 45.3] * 2
    # each lap starts later by the recording's duration plus one second (at replay speed)
    lap_s = (RID1_FRAMES[-1][0] - RID1_FRAMES[0][0] + 1.0) / SPEED
    times = [d.t_unix for d in h.detections]
    assert [times[i + 3] - times[i] for i in range(3)] == pytest.approx([lap_s] * 3, abs=1e-6)
    assert not any(s.detail.startswith("source ended") for s in h.statuses)


def test_replay_can_name_another_recorded_sensor(start, recording):
    h = start(f"replay:{recording}?speed={SPEED:g}&sensor=rid-2", _driver())
    h.runner.join(5.0)
    assert h.lats() == [46.1, 46.2]
    assert all(d.identity.mac == OTHER_MAC for d in h.detections)


def test_replay_without_frames_for_the_sensor_ends_at_once(start, recording):
    h = start(f"replay:{recording}?sensor=radar-9", _driver())
    h.runner.join(5.0)
    assert not h.runner.is_alive()
    assert h.detections == []
    assert h.statuses[-1].state is SensorState.OFFLINE
    assert "source ended" in h.statuses[-1].detail and "radar-9" in h.statuses[-1].detail


# --- source URLs ----------------------------------------------------------------------


@pytest.mark.parametrize(
    "url, framing, message",
    [
        ("ftp://example.org/feed", Framing.LINE, "unknown source scheme 'ftp'"),
        ("tcp://127.0.0.1", Framing.LINE, "needs a host and a port, e.g. tcp://"),
        ("udp://:4000", Framing.MESSAGE, "needs a host and a port, e.g. udp://"),
        ("tcp://127.0.0.1:30003", Framing.MESSAGE, "has no message boundaries"),
    ],
)
def test_open_source_rejects_bad_urls_naming_the_url_and_the_fix(tmp_path, url, framing, message):
    with pytest.raises(ValueError) as err:
        open_source(url, "rid-1", framing, tmp_path)
    assert message in str(err.value)
    assert str(err.value).startswith(f"{url}: ")


def test_replay_speed_must_be_positive(tmp_path):
    with pytest.raises(ValueError, match="speed must be > 0"):
        open_source("replay:rec.jsonl?speed=0", "rid-1", Framing.MESSAGE, tmp_path)


def test_unknown_scheme_message_lists_the_schemes_that_exist(tmp_path):
    with pytest.raises(ValueError) as err:
        open_source("mqtt://127.0.0.1:1883", "rid-1", Framing.MESSAGE, tmp_path)
    for scheme in ("zmq+tcp", "tcp", "tcp-listen", "udp", "serial", "replay"):
        assert scheme in str(err.value)
