"""Simulated sensors in their own protocols: one encoder per built-in driver.

``ENCODERS[driver](spec, observations, state)`` turns one scan of a simulated sensor into
the frames that driver decodes, exactly as a replay file stores them (what the host hands
``decode``: a datagram or ZeroMQ message whole, a stream frame after the driver's framing is
cut off). :func:`stream_bytes` gives the bytes of a stream transport (TCP, serial) for the
drivers that read one. Each encoder follows the protocol's own standard; the module of each
(``encode_<protocol>``) draws its layout. Variants are keyword arguments of the encoder
functions (e.g. ``functools.partial(encode_asterix, category=62)``).

Encoders read only ``spec.id``, ``spec.position`` and the driver's ``spec.options`` (the
keys that change the bytes: ASTERIX ``sources``, ``editions``, ``north_offset_deg``; SBS
``time_zone``). They keep what must persist between scans (message counters, when an ID or
status was last sent, registrations) in ``state``, a dict per sensor that starts empty.
The scan time is the latest observation's; set ``state[SCAN_TIME_KEY]`` to it before each
call so that status messages also go out on scans that saw nothing.
"""

from __future__ import annotations

from collections.abc import Callable

from cuas.sim.encode_adsb import beast_wire, encode_beast, encode_sbs
from cuas.sim.encode_asterix import encode_asterix
from cuas.sim.encode_common import (
    SCAN_TIME_KEY,
    EncoderState,
    Observation,
    SensorSpec,
)
from cuas.sim.encode_remoteid import encode_dragonsync, encode_odid_frames
from cuas.sim.encode_rfserial import encode_rfserial
from cuas.sim.encode_sapient import encode_sapient, sapient_wire

Encoder = Callable[[SensorSpec, list[Observation], EncoderState], list[bytes]]

ENCODERS: dict[str, Encoder] = {
    "dragonsync": encode_dragonsync,
    "odid_frames": encode_odid_frames,
    "sbs": encode_sbs,
    "beast": encode_beast,
    "asterix": encode_asterix,
    "sapient": encode_sapient,
    "rfserial": encode_rfserial,
}

_STREAM_FRAMERS: dict[str, Callable[[bytes], bytes]] = {
    "sbs": lambda line: line + b"\r\n",
    "rfserial": lambda line: line + b"\r\n",
    "beast": beast_wire,
    "sapient": sapient_wire,
}


def stream_bytes(driver: str, frames: list[bytes]) -> bytes:
    """What a stream link carries for these frames (line ends, Beast escapes, SAPIENT lengths).

    Only for drivers read from streams; the others take whole messages (UDP, ZeroMQ).
    """
    framer = _STREAM_FRAMERS.get(driver)
    if framer is None:
        streams = ", ".join(sorted(_STREAM_FRAMERS))
        raise ValueError(f"driver {driver!r} reads whole messages, not a stream ({streams} do)")
    return b"".join(framer(frame) for frame in frames)


__all__ = [
    "ENCODERS",
    "SCAN_TIME_KEY",
    "Encoder",
    "EncoderState",
    "Observation",
    "SensorSpec",
    "stream_bytes",
]
