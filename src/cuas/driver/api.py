"""Driver API v1: the contract between a sensor plugin and the driver host.

A plugin is a subclass of :class:`Driver` registered under the entry-point group
``cuas.drivers``. The host builds it with the sensor's declared metadata and its
validated options, cuts the link's bytes into frames by the driver's ``framing``, then
calls :meth:`Driver.decode` once per frame. A frame the driver cannot read raises
:class:`DecodeError`; the host counts it, logs the reason once and carries on. Any other
exception is treated the same way, so no input kills a driver.

Optional hooks, for protocols that talk back or know their sensor's health:
:meth:`Driver.reply` queues bytes for the link the current frame came from (e.g. a
SAPIENT RegistrationAck); :meth:`Driver.health` reports the sensor's own state (e.g. a
missed heartbeat); ``self.counters`` adds protocol counters to the sensor status.
Documented in docs/drivers.md.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections import Counter
from dataclasses import dataclass, field
from enum import StrEnum
from typing import ClassVar

from pydantic import BaseModel, ConfigDict

from cuas.config import Orientation, SensorNoise
from cuas.driver.framing import split_lines, split_u32le
from cuas.schema import Detection, GeoPoint, SensorState


class DecodeError(ValueError):
    """A frame this driver cannot decode. The message says what was wrong with it."""


class Framing(StrEnum):
    """How the host cuts a byte stream into the frames a driver decodes."""

    MESSAGE = "message"  # one transport message (ZeroMQ message, UDP datagram) is one frame
    LINE = "line"  # newline-terminated text on a stream (TCP, serial)
    LENGTH_U32LE = "length_u32le"  # 4-byte little-endian length, then the frame (SAPIENT)
    CUSTOM = "custom"  # the driver's own split_frames (e.g. Beast's escaped binary)


class NoOptions(BaseModel):
    model_config = ConfigDict(extra="forbid")


@dataclass(frozen=True)
class SensorInfo:
    """What the deployment declares about one sensor, handed to its driver."""

    sensor_id: str
    driver: str
    position: GeoPoint | None = None  # where the sensor stands (needed for polar kinds)
    orientation: Orientation = field(default_factory=Orientation)
    noise: SensorNoise = field(default_factory=SensorNoise)  # used when a frame states none
    pd: float = 0.9
    latency_s: float = 0.0


class Driver(ABC):
    """Base class of every sensor driver."""

    #: short name, equal to the entry-point name
    name: ClassVar[str]
    #: how stream transports are framed for this driver
    framing: ClassVar[Framing] = Framing.MESSAGE
    #: pydantic model of this driver's ``[sensors.options]`` table
    Options: ClassVar[type[BaseModel]] = NoOptions
    #: largest frame accepted; longer ones are malformed by definition
    max_frame_bytes: ClassVar[int] = 65_536

    def __init__(self, sensor: SensorInfo, options: BaseModel) -> None:
        self.sensor = sensor
        self.options = options
        #: protocol counters of the driver's own, reported in the sensor status
        self.counters: Counter[str] = Counter()
        self._outbox: list[bytes] = []

    @abstractmethod
    def decode(self, frame: bytes, t_rx_unix: float, frame_seq: int) -> list[Detection]:
        """Decode one frame received at ``t_rx_unix``. Raise DecodeError if malformed.

        A well-formed frame that carries nothing trackable returns an empty list.
        """

    def split_frames(self, buf: bytearray) -> list[bytes]:
        """Take the complete frames off the front of a stream buffer (stream links only).

        The default follows ``framing``; a CUSTOM driver overrides this. Bytes of an
        unfinished frame stay in ``buf`` for the next call.
        """
        if self.framing is Framing.LINE:
            return split_lines(buf, self.max_frame_bytes)
        if self.framing is Framing.LENGTH_U32LE:
            return split_u32le(buf, self.max_frame_bytes)
        raise NotImplementedError(f"{self.name}: framing {self.framing.value} on a byte stream")

    def reply(self, data: bytes) -> None:
        """Queue bytes to send back on the link the frame being decoded came from."""
        self._outbox.append(data)

    def take_replies(self) -> list[bytes]:
        """The replies queued since the last call (the host sends them)."""
        out, self._outbox = self._outbox, []
        return out

    def health(self, t_unix: float) -> tuple[SensorState, str] | None:
        """The sensor's state as the protocol sees it (e.g. heartbeats), or None if unknown.

        Called with each status heartbeat; a state worse than the link's wins.
        """
        return None
