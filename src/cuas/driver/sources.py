"""Byte sources a driver host reads frames from: live links and replay files.

A source is named by a URL in the sensor's ``source`` key:

    zmq+tcp://HOST:PORT          subscribe to a ZeroMQ PUB feed (e.g. DragonSync on 4224);
                                 one message is one frame (its last part, if multipart)
    tcp://HOST:PORT              connect to a TCP server and read a byte stream
    udp://HOST:PORT              bind and receive datagrams; one datagram is one frame
    serial:///dev/ttyUSB0?baud=115200   read a serial port as a byte stream
    replay:PATH[?loop=1&speed=N&gap=S]  play the sensor's frames from a replay file in real
                                 time; with loop, start again S seconds (default 1) after the end

Streams are cut into frames by the driver's framing (lines). A lost link raises
``ConnectionError``; the host reconnects with backoff.
"""

from __future__ import annotations

import socket
import time
from abc import ABC, abstractmethod
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import zmq

from cuas.driver.api import Framing
from cuas.replay.format import Frame, ReplayReader

RawFrame = tuple[float, bytes]  # (receive time UNIX s, frame bytes)


class SourceExhausted(Exception):
    """A finite source (a replay file without loop) has no more frames."""


class Source(ABC):
    """One sensor link. ``read`` returns the frames that arrived within ``timeout_s``."""

    @abstractmethod
    def open(self) -> None: ...

    @abstractmethod
    def read(self, timeout_s: float) -> list[RawFrame]: ...

    @abstractmethod
    def close(self) -> None: ...


class LineFramer:
    """Cuts a byte stream at newlines; a run longer than the limit becomes one oversize frame."""

    def __init__(self, max_frame_bytes: int) -> None:
        self.max = max_frame_bytes
        self.buf = bytearray()

    def feed(self, data: bytes) -> list[bytes]:
        self.buf += data
        frames: list[bytes] = []
        while True:
            end = self.buf.find(b"\n")
            if end < 0:
                if len(self.buf) > self.max:
                    frames.append(bytes(self.buf[: self.max + 1]))  # the host counts it malformed
                    self.buf.clear()
                return frames
            line = bytes(self.buf[:end]).rstrip(b"\r")
            del self.buf[: end + 1]
            if line:
                frames.append(line)


class ZmqSource(Source):
    def __init__(self, endpoint: str) -> None:
        self.endpoint = endpoint
        self.sock: zmq.Socket | None = None

    def open(self) -> None:
        self.sock = zmq.Context.instance().socket(zmq.SUB)
        self.sock.setsockopt(zmq.SUBSCRIBE, b"")
        self.sock.setsockopt(zmq.MAXMSGSIZE, 16 * 1024 * 1024)
        self.sock.setsockopt(zmq.LINGER, 0)
        self.sock.connect(self.endpoint)

    def read(self, timeout_s: float) -> list[RawFrame]:
        assert self.sock is not None
        out: list[RawFrame] = []
        if self.sock.poll(int(timeout_s * 1000)):
            while True:
                try:
                    parts = self.sock.recv_multipart(zmq.NOBLOCK)
                except zmq.Again:
                    break
                out.append((time.time(), parts[-1]))
        return out

    def close(self) -> None:
        if self.sock is not None:
            self.sock.close()


class TcpSource(Source):
    def __init__(self, host: str, port: int, max_frame_bytes: int) -> None:
        self.addr = (host, port)
        self.framer = LineFramer(max_frame_bytes)
        self.sock: socket.socket | None = None

    def open(self) -> None:
        self.framer.buf.clear()
        self.sock = socket.create_connection(self.addr, timeout=5.0)

    def read(self, timeout_s: float) -> list[RawFrame]:
        assert self.sock is not None
        self.sock.settimeout(timeout_s)
        try:
            data = self.sock.recv(65536)
        except TimeoutError:
            return []
        if not data:
            raise ConnectionError(f"tcp {self.addr[0]}:{self.addr[1]} closed by peer")
        now = time.time()
        return [(now, f) for f in self.framer.feed(data)]

    def close(self) -> None:
        if self.sock is not None:
            self.sock.close()


class UdpSource(Source):
    def __init__(self, host: str, port: int) -> None:
        self.addr = (host, port)
        self.sock: socket.socket | None = None

    def open(self) -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(self.addr)

    def read(self, timeout_s: float) -> list[RawFrame]:
        assert self.sock is not None
        self.sock.settimeout(timeout_s)
        try:
            data = self.sock.recv(65535)
        except TimeoutError:
            return []
        return [(time.time(), data)]

    def close(self) -> None:
        if self.sock is not None:
            self.sock.close()


class SerialSource(Source):
    def __init__(self, device: str, baud: int, max_frame_bytes: int) -> None:
        self.device, self.baud = device, baud
        self.framer = LineFramer(max_frame_bytes)
        self.port = None

    def open(self) -> None:
        import serial  # pyserial; imported here so other sources do not need it loaded

        self.framer.buf.clear()
        self.port = serial.Serial(self.device, self.baud, timeout=0.2)

    def read(self, timeout_s: float) -> list[RawFrame]:
        import serial

        assert self.port is not None
        self.port.timeout = timeout_s
        try:
            data = self.port.read(max(1, self.port.in_waiting))
        except serial.SerialException as exc:
            raise ConnectionError(f"serial {self.device}: {exc}") from None
        now = time.time()
        return [(now, f) for f in self.framer.feed(data)] if data else []

    def close(self) -> None:
        if self.port is not None:
            self.port.close()


class ReplaySource(Source):
    """Plays one sensor's frames from a replay file, re-timed to the wall clock.

    Receive times are shifted so the first frame is 'now'; with ``loop`` the file starts
    again after its last frame, each lap later by the file's duration plus ``gap_s``.
    """

    def __init__(
        self, path: Path, sensor_id: str, loop: bool, speed: float, gap_s: float = 1.0
    ) -> None:
        self.path, self.sensor_id, self.loop, self.speed = path, sensor_id, loop, speed
        self.gap_s = gap_s
        self._it: Iterator[Frame] | None = None
        self._pending: Frame | None = None
        self._t0_rec = 0.0
        self._t0_wall = 0.0
        self._lap_offset = 0.0
        self._last_rec = 0.0
        self.reader: ReplayReader | None = None

    def _frames(self) -> Iterator[Frame]:
        self.reader = ReplayReader(self.path)
        for rec in self.reader:
            if isinstance(rec, Frame) and rec.sensor_id == self.sensor_id:
                yield rec

    def open(self) -> None:
        self._it = self._frames()
        self._pending = next(self._it, None)
        if self._pending is None:
            raise SourceExhausted(f"{self.path} has no frames for sensor {self.sensor_id!r}")
        self._t0_rec = self._pending.t_unix
        self._t0_wall = time.time()
        self._lap_offset = 0.0

    def _wall_time(self, frame: Frame) -> float:
        return self._t0_wall + (frame.t_unix - self._t0_rec + self._lap_offset) / self.speed

    def read(self, timeout_s: float) -> list[RawFrame]:
        assert self._it is not None
        deadline = time.time() + timeout_s
        out: list[RawFrame] = []
        while True:
            if self._pending is None:
                if not self.loop:
                    if out:
                        return out
                    raise SourceExhausted(str(self.path))
                self._lap_offset += self._last_rec - self._t0_rec + self.gap_s
                self._it = self._frames()
                self._pending = next(self._it, None)
                continue
            due = self._wall_time(self._pending)
            now = time.time()
            if due > now:
                if out or due > deadline:
                    time.sleep(max(0.0, min(due, deadline) - now))
                    return out
                time.sleep(due - now)
            out.append((due, self._pending.data))
            self._last_rec = self._pending.t_unix
            self._pending = next(self._it, None)

    def close(self) -> None:
        self._it = None


def open_source(
    url: str, sensor_id: str, framing: Framing, max_frame_bytes: int, base_dir: Path
) -> Source:
    """Build the source a sensor's ``source`` URL names (not yet opened).

    A replay source plays the frames recorded for ``sensor_id`` unless the URL names
    another recorded sensor with ``?sensor=ID``.
    """
    parts = urlsplit(url)
    query = {k: v[-1] for k, v in parse_qs(parts.query).items()}
    scheme = parts.scheme
    if scheme == "replay":
        path = Path(parts.path)
        path = path if path.is_absolute() else (base_dir / path).resolve()
        loop = query.get("loop", "0").lower() in {"1", "true", "yes"}
        speed = float(query.get("speed", "1"))
        gap_s = float(query.get("gap", "1"))
        if speed <= 0 or gap_s < 0:
            raise ValueError(f"{url}: replay speed must be > 0 and gap >= 0")
        return ReplaySource(path, query.get("sensor", sensor_id), loop, speed, gap_s)
    if scheme == "serial":
        return SerialSource(parts.path, int(query.get("baud", "115200")), max_frame_bytes)
    if scheme in {"zmq+tcp", "zmq+ipc"}:
        return ZmqSource(url.removeprefix("zmq+"))
    if scheme in {"tcp", "udp"}:
        if not parts.hostname or not parts.port:
            raise ValueError(f"{url}: needs a host and a port, e.g. {scheme}://127.0.0.1:30003")
        if scheme == "udp":
            return UdpSource(parts.hostname, parts.port)
        if framing is not Framing.LINE:
            raise ValueError(f"{url}: this driver's frames are messages; TCP needs line framing")
        return TcpSource(parts.hostname, parts.port, max_frame_bytes)
    raise ValueError(
        f"{url}: unknown source scheme {scheme!r} (use zmq+tcp, tcp, udp, serial or replay)"
    )
