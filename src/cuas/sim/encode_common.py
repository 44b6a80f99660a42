"""What a simulated sensor saw, and the small helpers every protocol encoder shares.

The simulator core turns truth into :class:`Observation` records (noise already applied);
the encoders in ``encode_<protocol>`` turn one scan's observations into the frames the
matching driver reads. Encoders are deterministic: no clock, no randomness; everything
that changes from scan to scan lives in the sensor's :data:`EncoderState`.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any, Protocol

from cuas.schema import GeoPoint, ObjectClass

#: per-sensor memory of an encoder (counters, what was last sent when); starts empty
EncoderState = dict[str, Any]

#: the run loop may set this key of the state to the scan time (UNIX s) before each call,
#: so that periodic messages (status, heartbeats) go out on scans with no observations
SCAN_TIME_KEY = "t_scan_unix"


class SensorSpec(Protocol):
    """The fields of a simulated sensor an encoder reads (the simulator's SensorSpec)."""

    @property
    def id(self) -> str: ...

    @property
    def driver(self) -> str: ...

    @property
    def position(self) -> GeoPoint | None: ...

    @property
    def options(self) -> dict[str, Any]: ...  # the driver's [sensors.options]


@dataclass(frozen=True)
class Observation:
    """What a simulated sensor saw of one object (or of clutter) at one instant."""

    t_unix: float
    object_id: str | None  # None for clutter / a false alarm
    object_class: ObjectClass
    lat_deg: float  # WGS84, noise applied
    lon_deg: float
    alt_m: float  # above the WGS84 ellipsoid
    vel_enu_mps: tuple[float, float, float]
    range_m: float | None  # slant range from the sensor
    azimuth_rad: float | None  # clockwise from true north, seen from the sensor
    elevation_rad: float | None  # above the sensor's local horizontal
    radial_velocity_mps: float | None  # positive receding
    rid_serial: str | None  # Remote ID
    operator_id: str | None
    pilot: tuple[float, float] | None  # (lat_deg, lon_deg)
    icao24: str | None  # manned aircraft: 6 hex digits
    callsign: str | None
    rf_band: str | None  # e.g. "2.4G"
    rf_protocol: str | None  # e.g. "DJI-O3"
    rssi_dbm: float | None
    freq_mhz: float | None
    sensor_track_id: int | None  # the sensor's own track number
    reported_class: ObjectClass | None = None  # a classifier's label; None: the true class
    class_confidence: float | None = None  # the classifier's confidence in its label

    @property
    def label(self) -> ObjectClass:
        """The class the sensor reports: its classifier's label, else the truth."""
        return self.object_class if self.reported_class is None else self.reported_class


def scan_time(observations: list[Observation], state: EncoderState) -> float | None:
    """The time of this scan: its latest observation, else what the run loop set."""
    if observations:
        return max(o.t_unix for o in observations)
    t = state.get(SCAN_TIME_KEY)
    return None if t is None else float(t)


def due(state: EncoderState, key: str, t_unix: float, interval_s: float) -> bool:
    """True the first time and then once ``interval_s`` has passed since the last True."""
    last = state.get(key)
    if last is not None and t_unix - last < interval_s:
        return False
    state[key] = t_unix
    return True


def stable_bits(text: str, bits: int) -> int:
    """A number of ``bits`` bits derived from ``text``, the same in every run (SHA-256)."""
    digest = int.from_bytes(hashlib.sha256(text.encode()).digest()[:16], "big")
    return digest >> (128 - bits)


def clamp(value: int, low: int, high: int) -> int:
    return max(low, min(high, value))
