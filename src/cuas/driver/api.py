"""Driver API v0: the contract between a sensor plugin and the driver host.

A plugin is a subclass of :class:`Driver` registered under the entry-point group
``cuas.drivers``. The host builds it with the sensor's declared metadata and its
validated options, then calls :meth:`Driver.decode` once per frame. A frame the driver
cannot read raises :class:`DecodeError`; the host counts it, logs the reason once and
carries on. Any other exception is treated the same way, so no input kills a driver.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from enum import StrEnum
from typing import ClassVar

from pydantic import BaseModel, ConfigDict

from cuas.config import Orientation, SensorNoise
from cuas.schema import Detection, GeoPoint


class DecodeError(ValueError):
    """A frame this driver cannot decode. The message says what was wrong with it."""


class Framing(StrEnum):
    """How the host cuts a byte stream into the frames a driver decodes."""

    MESSAGE = "message"  # one transport message (ZeroMQ message, UDP datagram) is one frame
    LINE = "line"  # newline-terminated text on a stream (TCP, serial)


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

    @abstractmethod
    def decode(self, frame: bytes, t_rx_unix: float, frame_seq: int) -> list[Detection]:
        """Decode one frame received at ``t_rx_unix``. Raise DecodeError if malformed.

        A well-formed frame that carries nothing trackable returns an empty list.
        """
