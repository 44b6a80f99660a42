"""Driver API v1: stream framings, replies to the sending client, the driver's own health."""

from __future__ import annotations

import socket
import struct
import time

import pytest

from cuas.config import SensorConfig
from cuas.driver import DecodeError, Detection, Driver, Framing, MeasurementKind, SensorInfo
from cuas.driver.api import NoOptions
from cuas.driver.framing import split_lines, split_u32le
from cuas.driver.host import SensorRunner
from cuas.driver.sources import open_source
from cuas.schema import SensorState

from support import free_port


def test_u32le_framing_takes_whole_frames_and_keeps_a_partial_one():
    buf = bytearray(struct.pack("<I", 3) + b"abc" + struct.pack("<I", 5) + b"de")
    assert split_u32le(buf, 100) == [b"abc"]
    buf += b"fgh" + struct.pack("<I", 0)
    assert split_u32le(buf, 100) == [b"defgh", b""]
    assert buf == bytearray()


def test_u32le_framing_refuses_a_huge_declared_length_without_buffering_it():
    buf = bytearray(struct.pack("<I", 10_000_000) + b"x" * 10)
    [oversize] = split_u32le(buf, 1000)
    assert len(oversize) == 1001 and buf == bytearray()


def test_line_framing_drops_cr_and_empty_lines():
    buf = bytearray(b"a\r\n\nb\nc")
    assert split_lines(buf, 100) == [b"a", b"b"] and buf == bytearray(b"c")


class EchoLengthDriver(Driver):
    """Answers every frame with b'ack:' + frame on the same connection; b'bad' is malformed."""

    name = "echo"
    framing = Framing.LENGTH_U32LE
    Options = NoOptions

    def __init__(self) -> None:
        super().__init__(SensorInfo("echo-1", "echo"), NoOptions())
        self.stale = False

    def decode(self, frame: bytes, t_rx_unix: float, frame_seq: int) -> list[Detection]:
        if frame == b"bad":
            raise DecodeError("bad frame")
        self.counters["echoed"] += 1
        self.reply(struct.pack("<I", len(frame) + 4) + b"ack:" + frame)
        return [Detection(sensor_id="echo-1", t_unix=t_rx_unix, kind=MeasurementKind.PRESENCE)]

    def health(self, t_unix: float):
        return (SensorState.DEGRADED, "no heartbeat from node") if self.stale else None


def _recv_frame(sock: socket.socket) -> bytes:
    head = sock.recv(4, socket.MSG_WAITALL)
    (n,) = struct.unpack("<I", head)
    return sock.recv(n, socket.MSG_WAITALL)


def test_tcp_listen_frames_each_client_apart_and_replies_to_the_sender(tmp_path):
    port = free_port()
    url = f"tcp-listen://127.0.0.1:{port}"
    driver = EchoLengthDriver()
    detections, statuses = [], []
    runner = SensorRunner(
        SensorConfig(id="echo-1", driver="echo", source=url),
        driver,
        open_source(url, "echo-1", driver.framing, tmp_path),
        detections.extend,
        statuses.append,
    )
    runner.start()
    try:
        deadline = time.monotonic() + 5
        while runner.state is not SensorState.OK and time.monotonic() < deadline:
            time.sleep(0.02)
        a = socket.create_connection(("127.0.0.1", port))
        b = socket.create_connection(("127.0.0.1", port))
        # interleave half frames from two clients: each must be framed on its own
        a.sendall(struct.pack("<I", 5) + b"he")
        b.sendall(struct.pack("<I", 3) + b"bad")
        time.sleep(0.1)
        a.sendall(b"llo")
        b.sendall(struct.pack("<I", 2) + b"hi")
        a.settimeout(5)
        b.settimeout(5)
        assert _recv_frame(a) == b"ack:hello"
        assert _recv_frame(b) == b"ack:hi"
        a.close()
        b.close()
        deadline = time.monotonic() + 5  # detections are handed on after the replies go out
        while len(detections) < 2 and time.monotonic() < deadline:
            time.sleep(0.02)
        assert len(detections) == 2
        assert runner.decoder.counters["malformed"] == 1
        assert runner.decoder.counters["replies_sent"] == 2
        driver.stale = True
        status = runner.status()
        assert status.state is SensorState.DEGRADED and status.detail == "no heartbeat from node"
        assert status.counters["echoed"] == 2
    finally:
        runner.stop_event.set()
        runner.join(5)


def test_a_broken_custom_splitter_is_counted_and_does_not_stop_the_link(tmp_path):
    class Broken(EchoLengthDriver):
        framing = Framing.CUSTOM

        def split_frames(self, buf: bytearray) -> list[bytes]:
            raise RuntimeError("splitter bug")

    from cuas.driver.host import FrameDecoder

    decoder = FrameDecoder(Broken())
    buf = bytearray(b"anything")
    assert decoder.split(buf) == [] and buf == bytearray()
    assert decoder.counters["malformed"] == 1


def test_message_drivers_cannot_take_a_byte_stream(tmp_path):
    with pytest.raises(ValueError, match="no message boundaries"):
        open_source("tcp-listen://127.0.0.1:5020", "x", Framing.MESSAGE, tmp_path)
