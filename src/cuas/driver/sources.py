"""Byte sources a driver host reads frames from: live links and replay files.

A source is named by a URL in the sensor's ``source`` key:

    zmq+tcp://HOST:PORT          subscribe to a ZeroMQ PUB feed (e.g. DragonSync on 4224);
                                 one message is one frame (its last part, if multipart)
    tcp://HOST:PORT              connect to a TCP server and read a byte stream
    tcp-listen://HOST:PORT       accept TCP clients (e.g. SAPIENT sensor nodes); one stream
                                 per client, and replies go back to the client they answer
    udp://HOST:PORT              bind and receive datagrams; one datagram is one frame
    udp://GROUP:PORT?iface=ADDR  join an IPv4 multicast group (224.0.0.0/4) on the interface
                                 with address ADDR (default: the one the routing table picks)
    serial:///dev/ttyUSB0?baud=115200   read a serial port as a byte stream
    replay:PATH[?loop=1&speed=N&gap=S]  play the sensor's frames from a replay file in real
                                 time; with loop, start again S seconds (default 1) after the end
    replay:PATH?clock=recorded   play each frame at its recorded UNIX time, skipping those
                                 already past (a scenario simulated for now: cuas run --exercise)

Message sources deliver frames; stream sources (``stream = True``) deliver chunks of
bytes, which the host cuts into frames by the driver's framing, one buffer per ``link``
(a client connection). A lost link raises ``ConnectionError``; the host reconnects with
backoff.
"""

from __future__ import annotations

import ipaddress
import select
import socket
import time
from abc import ABC, abstractmethod
from collections.abc import Iterator
from pathlib import Path
from typing import NamedTuple
from urllib.parse import parse_qs, urlsplit

import zmq

from cuas.driver.api import Framing
from cuas.replay.format import Frame, ReplayFormatError, ReplayReader


class RawFrame(NamedTuple):
    t_rx_unix: float  # receive time, UNIX s
    data: bytes  # a frame, or a chunk of a stream
    link: int = 0  # which connection it came on (tcp-listen clients); 0 for single links


class SourceExhausted(Exception):
    """A finite source (a replay file without loop) has no more frames, or cannot play."""


class Source(ABC):
    """One sensor link. ``read`` returns what arrived within ``timeout_s``."""

    #: True when read() returns stream chunks for the host to frame, not whole frames
    stream: bool = False

    @abstractmethod
    def open(self) -> None: ...

    @abstractmethod
    def read(self, timeout_s: float) -> list[RawFrame]: ...

    @abstractmethod
    def close(self) -> None: ...

    def send(self, link: int, data: bytes) -> bool:
        """Send bytes back on a link; False where the transport cannot (the host counts it)."""
        return False

    def closed_links(self) -> list[int]:
        """Links that ended since the last call (their partial frames are discarded)."""
        return []


ZMQ_SOURCE_HWM = 100_000


class ZmqSource(Source):
    def __init__(self, endpoint: str) -> None:
        self.endpoint = endpoint
        self.sock: zmq.Socket | None = None

    def open(self) -> None:
        self.sock = zmq.Context.instance().socket(zmq.SUB)
        self.sock.setsockopt(zmq.SUBSCRIBE, b"")
        # A publisher drops, uncounted, what a full subscriber queue cannot take: queue up
        # to ZMQ_SOURCE_HWM messages (seconds of a busy receiver) so a stall loses nothing.
        self.sock.setsockopt(zmq.RCVHWM, ZMQ_SOURCE_HWM)
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
                out.append(RawFrame(time.time(), parts[-1]))
        return out

    def close(self) -> None:
        if self.sock is not None:
            self.sock.close()


class TcpSource(Source):
    stream = True

    def __init__(self, host: str, port: int) -> None:
        self.addr = (host, port)
        self.sock: socket.socket | None = None
        self._link = 0

    def open(self) -> None:
        self.sock = socket.create_connection(self.addr, timeout=5.0)
        self._link += 1  # a new connection: the host starts a fresh frame buffer

    def read(self, timeout_s: float) -> list[RawFrame]:
        assert self.sock is not None
        self.sock.settimeout(timeout_s)
        try:
            data = self.sock.recv(65536)
        except TimeoutError:
            return []
        if not data:
            raise ConnectionError(f"tcp {self.addr[0]}:{self.addr[1]} closed by peer")
        return [RawFrame(time.time(), data, self._link)]

    def send(self, link: int, data: bytes) -> bool:
        if self.sock is None or link != self._link:
            return False
        self.sock.sendall(data)
        return True

    def close(self) -> None:
        if self.sock is not None:
            self.sock.close()


class TcpListenSource(Source):
    """A TCP server for sensors that connect to us; each client is its own link."""

    stream = True

    def __init__(self, host: str, port: int, max_clients: int = 64) -> None:
        self.addr = (host, port)
        self.max_clients = max_clients
        self.server: socket.socket | None = None
        self.clients: dict[int, socket.socket] = {}
        self._next_link = 1
        self._closed: list[int] = []

    def open(self) -> None:
        self.server = socket.create_server(self.addr, reuse_port=False)
        self.server.setblocking(False)

    def read(self, timeout_s: float) -> list[RawFrame]:
        assert self.server is not None
        socks = [self.server, *self.clients.values()]
        ready, _, _ = select.select(socks, [], [], timeout_s)
        out: list[RawFrame] = []
        now = time.time()
        for sock in ready:
            if sock is self.server:
                self._accept()
                continue
            link = next(k for k, v in self.clients.items() if v is sock)
            try:
                data = sock.recv(65536)
            except OSError:
                data = b""
            if data:
                out.append(RawFrame(now, data, link))
            else:
                self._drop(link)
        return out

    def _accept(self) -> None:
        assert self.server is not None
        try:
            conn, _ = self.server.accept()
        except BlockingIOError:
            return
        if len(self.clients) >= self.max_clients:
            conn.close()  # bounded: a flood of connections cannot exhaust us
            return
        conn.setblocking(True)
        conn.settimeout(2.0)
        self.clients[self._next_link] = conn
        self._next_link += 1

    def _drop(self, link: int) -> None:
        sock = self.clients.pop(link, None)
        if sock is not None:
            sock.close()
            self._closed.append(link)

    def send(self, link: int, data: bytes) -> bool:
        sock = self.clients.get(link)
        if sock is None:
            return False
        try:
            sock.sendall(data)
        except OSError:
            self._drop(link)
            return False
        return True

    def closed_links(self) -> list[int]:
        out, self._closed = self._closed, []
        return out

    def close(self) -> None:
        for link in list(self.clients):
            self._drop(link)
        self._closed.clear()
        if self.server is not None:
            self.server.close()


class UdpSource(Source):
    def __init__(self, host: str, port: int, iface: str | None = None) -> None:
        self.addr = (host, port)
        self.iface = iface  # multicast only: address of the interface to join the group on
        self.sock: socket.socket | None = None

    def open(self) -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(self.addr)  # on a group address: only that group's datagrams
        if _is_multicast(self.addr[0]):
            mreq = socket.inet_aton(self.addr[0]) + socket.inet_aton(self.iface or "0.0.0.0")
            self.sock.setsockopt(socket.IPPROTO_IP, socket.IP_ADD_MEMBERSHIP, mreq)

    def read(self, timeout_s: float) -> list[RawFrame]:
        assert self.sock is not None
        self.sock.settimeout(timeout_s)
        try:
            data = self.sock.recv(65535)
        except TimeoutError:
            return []
        return [RawFrame(time.time(), data)]

    def close(self) -> None:
        if self.sock is not None:
            self.sock.close()


def _is_multicast(host: str) -> bool:
    try:
        return ipaddress.ip_address(host).is_multicast
    except ValueError:  # a host name
        return False


class SerialSource(Source):
    stream = True

    def __init__(self, device: str, baud: int) -> None:
        self.device, self.baud = device, baud
        self.port = None
        self._link = 0

    def open(self) -> None:
        import serial  # pyserial; imported here so other sources do not need it loaded

        self.port = serial.Serial(self.device, self.baud, timeout=0.2)
        self._link += 1

    def read(self, timeout_s: float) -> list[RawFrame]:
        import serial

        assert self.port is not None
        self.port.timeout = timeout_s
        try:
            data = self.port.read(max(1, self.port.in_waiting))
        except serial.SerialException as exc:
            raise ConnectionError(f"serial {self.device}: {exc}") from None
        return [RawFrame(time.time(), data, self._link)] if data else []

    def send(self, link: int, data: bytes) -> bool:
        if self.port is None or link != self._link:
            return False
        self.port.write(data)
        return True

    def close(self) -> None:
        if self.port is not None:
            self.port.close()


class ReplaySource(Source):
    """Plays one sensor's frames from a replay file, re-timed to the wall clock.

    Receive times are shifted so the first frame is 'now'; with ``loop`` the file starts
    again after its last frame, each lap later by the file's duration plus ``gap_s``. With
    ``recorded_clock`` nothing is shifted: a frame plays at its recorded time, and frames
    already in the past when the source opens (or reopens) are skipped.
    """

    def __init__(
        self,
        path: Path,
        sensor_id: str,
        loop: bool,
        speed: float,
        gap_s: float = 1.0,
        recorded_clock: bool = False,
    ) -> None:
        self.path, self.sensor_id, self.loop, self.speed = path, sensor_id, loop, speed
        self.gap_s = gap_s
        self.recorded_clock = recorded_clock
        self._it: Iterator[Frame] | None = None
        self._pending: Frame | None = None
        self._t0_rec = 0.0
        self._t0_wall = 0.0
        self._lap_offset = 0.0
        self._last_rec = 0.0
        self.reader: ReplayReader | None = None

    def _frames(self) -> Iterator[Frame]:
        try:
            self.reader = ReplayReader(self.path)
        except ReplayFormatError as exc:
            raise SourceExhausted(f"cannot play: {exc}") from None
        for rec in self.reader:
            if isinstance(rec, Frame) and rec.sensor_id == self.sensor_id:
                yield rec

    def open(self) -> None:
        self._it = self._frames()
        self._pending = next(self._it, None)
        if self._pending is None:
            raise SourceExhausted(f"{self.path} has no frames for sensor {self.sensor_id!r}")
        if self.recorded_clock:
            now = time.time()
            while self._pending is not None and self._pending.t_unix < now:
                self._pending = next(self._it, None)
            if self._pending is None:
                raise SourceExhausted(f"every frame of sensor {self.sensor_id!r} is in the past")
        self._t0_rec = self._pending.t_unix
        self._t0_wall = self._t0_rec if self.recorded_clock else time.time()
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
            out.append(RawFrame(due, self._pending.data))
            self._last_rec = self._pending.t_unix
            self._pending = next(self._it, None)

    def close(self) -> None:
        self._it = None


def open_source(url: str, sensor_id: str, framing: Framing, base_dir: Path) -> Source:
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
        clock = query.get("clock", "shifted")
        if clock not in ("shifted", "recorded"):
            raise ValueError(f"{url}: clock must be shifted (default) or recorded")
        if clock == "recorded" and (loop or speed != 1):
            raise ValueError(f"{url}: clock=recorded plays once at speed 1 (no loop or speed)")
        sensor = query.get("sensor", sensor_id)
        return ReplaySource(path, sensor, loop, speed, gap_s, recorded_clock=clock == "recorded")
    if scheme in {"zmq+tcp", "zmq+ipc"}:
        return ZmqSource(url.removeprefix("zmq+"))
    if scheme not in {"tcp", "tcp-listen", "udp", "serial"}:
        raise ValueError(
            f"{url}: unknown source scheme {scheme!r} "
            "(use zmq+tcp, tcp, tcp-listen, udp, serial or replay)"
        )
    if scheme != "udp" and framing is Framing.MESSAGE:
        raise ValueError(
            f"{url}: this driver takes whole messages (ZeroMQ, UDP or replay); "
            f"a {scheme} byte stream has no message boundaries"
        )
    if scheme == "serial":
        return SerialSource(parts.path, int(query.get("baud", "115200")))
    if not parts.hostname or not parts.port:
        raise ValueError(f"{url}: needs a host and a port, e.g. {scheme}://127.0.0.1:30003")
    if scheme == "udp":
        return UdpSource(parts.hostname, parts.port, query.get("iface"))
    if scheme == "tcp-listen":
        return TcpListenSource(parts.hostname, parts.port, int(query.get("max_clients", "64")))
    return TcpSource(parts.hostname, parts.port)
