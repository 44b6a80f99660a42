"""The public driver API: everything a sensor plugin may import from cuas.

A driver turns one sensor's own bytes into schema Detections. It never opens sockets
itself: the host hands it frames from a serial port, TCP/UDP socket, ZeroMQ feed or a
replay file, so the same decode runs live and in replay.
"""

from cuas.driver.api import DecodeError, Driver, Framing, SensorInfo
from cuas.schema import (
    Detection,
    GeoPoint,
    Identity,
    MeasurementKind,
    ObjectClass,
    RawRef,
    SensorState,
    Signature,
)

__all__ = [
    "DecodeError",
    "Detection",
    "Driver",
    "Framing",
    "GeoPoint",
    "Identity",
    "MeasurementKind",
    "ObjectClass",
    "RawRef",
    "SensorInfo",
    "SensorState",
    "Signature",
]
