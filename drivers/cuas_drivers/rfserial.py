"""RF detectors and direction finders speaking the cuas RF line protocol (version 1).

No common standard exists for RF drone detectors (each vendor has its own JSON or binary
API), so cuas defines a small NMEA-0183-like one that a detector's firmware, or a short
adapter script in front of it, can emit over a serial port or a TCP socket. One sentence
per line, printable ASCII, at most 256 bytes, ``\\r\\n`` or ``\\n`` terminated:

    $CURF,1,<time>,<band>,<protocol>,<freq_mhz>,<rssi_dbm>,<bearing_deg>,<ref>,<bearing_std_deg>,<elevation_deg>,<emitter_id>*HH
    $CURS,1,<time>,<state>,<detail>*HH

``CURF`` (RF detection), field by field (an empty field means "not known"):

    1  version          ``1``. A sentence of another version is rejected; fields a later
                        version appends after the last one below are ignored
    2  time             when the signal was heard: UNIX seconds (``1764403200.25``) or
                        ISO 8601 with a UTC offset (``2025-11-29T08:00:00.25Z``); empty:
                        the time the line was received
    3  band             ``<number>M`` or ``<number>G``, e.g. 433M, 900M, 1.2G, 2.4G, 5.8G
    4  protocol         the link the detector recognised, e.g. DJI-O3, ELRS, CROSSFIRE,
                        ANALOG-FPV, WIFI, UNKNOWN (letters, digits, ``._+-``; <= 24)
    5  freq_mhz         centre frequency, MHz, 0 < f <= 300000
    6  rssi_dbm         received power, dBm, -200 .. 50
    7  bearing_deg      direction of arrival, degrees clockwise, 0 .. 360
    8  ref              what the bearing is measured from: ``T`` true north, ``R`` the
                        sensor's boresight (cuas adds the sensor's ``orientation.yaw_deg``);
                        required with a bearing, empty without
    9  bearing_std_deg  1-sigma bearing error, degrees, 0 < s <= 180; empty: the sensor's
                        ``noise.azimuth_deg``
    10 elevation_deg    elevation above the local horizontal, degrees, -90 .. 90
    11 emitter_id       the detector's own number for this emitter (<= 32 of
                        ``A-Za-z0-9._:-``), kept as ``identity.sensor_track_id``

``CURS`` (detector status): ``state`` is ``OK``, ``DEGRADED`` or ``FAULT``; ``detail`` free
text (printable ASCII without ``,$*``, <= 80). It sets the sensor's reported health.

``*HH`` is the NMEA checksum: the XOR of every byte between ``$`` and ``*``, two hex
digits. Numbers are plain decimals (``-12.5``; no exponents, no NaN). Any other
well-formed sentence with a good checksum (a GPS's ``$GPGGA`` sharing the port) is
skipped and counted as ``other_sentences``, not malformed.

A CURF with a bearing becomes a BEARING detection (``azimuth_rad`` clockwise from true
north; covariance ``[[var_az]]``, or ``diag(var_az, var_el)`` with an elevation, rad**2);
one without becomes a PRESENCE detection: the site knows a transmitter is on, not where.
Either is classed DRONE when its protocol is one of the options' ``drone_protocols``.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field, field_validator

from cuas.driver import (
    DecodeError,
    Detection,
    Driver,
    Framing,
    Identity,
    MeasurementKind,
    ObjectClass,
    RawRef,
    SensorInfo,
    Signature,
)
from cuas.schema import SensorState

PROTOCOL_VERSION = 1
DETECTION_SENTENCE = "CURF"
STATUS_SENTENCE = "CURS"
MAX_LINE_BYTES = 256
CURF_FIELDS = 11
DRONE_PROTOCOLS = (
    "DJI-O2",
    "DJI-O3",
    "DJI-O4",
    "OCUSYNC",
    "LIGHTBRIDGE",
    "ELRS",
    "CROSSFIRE",
    "TRACER",
    "FRSKY",
    "FLYSKY",
    "GHOST",
    "ANALOG-FPV",
    "DIGITAL-FPV",
    "WALKSNAIL",
    "HDZERO",
    "SIK",
    "MAVLINK",
    "REMOTE-ID",
)

_SENTENCE = re.compile(rb"^\$([A-Z0-9]{2,6}),([ -~]*)\*([0-9A-Fa-f]{2})$")
_UNCHECKED = re.compile(rb"^\$([A-Z0-9]{2,6}),([ -~]*)$")
_NUMBER = re.compile(r"^-?\d{1,9}(\.\d{1,9})?$")
_UNIX = re.compile(r"^\d{9,11}(\.\d{1,9})?$")
_ISO = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,6})?(Z|[+-]\d{2}:\d{2})$")
_BAND = re.compile(r"^\d{1,6}(\.\d{1,3})?[MG]$")
_LABEL = re.compile(r"^[A-Z0-9][A-Z0-9._+-]{0,23}$")
_EMITTER = re.compile(r"^[A-Za-z0-9._:-]{1,32}$")
_DETAIL = re.compile(r"^[^,$*]{0,80}$")
_STATES = {"OK": SensorState.OK, "DEGRADED": SensorState.DEGRADED, "FAULT": SensorState.OFFLINE}


class ChecksumError(DecodeError):
    """The sentence's checksum does not match its bytes (noise on the line)."""


@dataclass(frozen=True)
class RfDetection:
    """One decoded CURF sentence, in the protocol's own units."""

    t_unix: float | None
    band: str
    protocol: str
    freq_mhz: float | None
    rssi_dbm: float | None
    bearing_deg: float | None
    bearing_true: bool  # True: from true north; False: from the sensor's boresight
    bearing_std_deg: float | None
    elevation_deg: float | None
    emitter_id: str | None


@dataclass(frozen=True)
class RfStatus:
    """One decoded CURS sentence."""

    t_unix: float | None
    state: SensorState
    detail: str


def checksum(body: bytes) -> int:
    """NMEA checksum: XOR of the bytes between ``$`` and ``*``."""
    value = 0
    for byte in body:
        value ^= byte
    return value


def sentence(body: str) -> bytes:
    """``$body*HH`` with its checksum, no line end: for simulators, adapters and tests."""
    data = body.encode("ascii")
    return b"$" + data + b"*%02X" % checksum(data)


def _number(text: str, name: str, low: float, high: float, low_open: bool = False) -> float | None:
    """A plain decimal in ``[low, high]`` (``(low, high]`` if ``low_open``), or None if empty."""
    if not text:
        return None
    if not _NUMBER.match(text):
        raise DecodeError(f"{name}: not a plain decimal number ({text[:20]!r})")
    value = float(text)
    if not (low < value if low_open else low <= value) or value > high:
        bracket = "(" if low_open else "["
        raise DecodeError(f"{name}: {value:g} outside {bracket}{low:g}, {high:g}]")
    return value


def _time(text: str) -> float | None:
    if not text:
        return None
    if _UNIX.match(text):
        return float(text)
    if _ISO.match(text):
        try:
            return datetime.fromisoformat(text).timestamp()
        except (ValueError, OverflowError) as exc:
            raise DecodeError(f"time: not a valid date ({text!r}: {exc})") from None
    raise DecodeError(f"time: neither UNIX seconds nor ISO 8601 with a UTC offset ({text!r})")


def _version(text: str) -> None:
    if text != str(PROTOCOL_VERSION):
        raise DecodeError(f"version: {text[:8]!r} (this driver reads version {PROTOCOL_VERSION})")


def split_sentence(line: bytes, require_checksum: bool = True) -> tuple[str, list[str]]:
    """The sentence type and its fields, after checking the framing and the checksum."""
    match = _SENTENCE.match(line)
    if match is None:
        unchecked = _UNCHECKED.match(line)
        if unchecked is None:
            raise DecodeError("not a sentence: expected $TYPE,fields*HH in printable ASCII")
        if require_checksum:
            raise DecodeError("no checksum: a sentence must end in *HH (two hex digits)")
        kind, fields = unchecked.groups()
    else:
        kind, fields, given = match.groups()
        expected = checksum(line[1 : match.start(3) - 1])
        if int(given, 16) != expected:
            raise ChecksumError(
                f"checksum mismatch: sentence says {given.decode()}, its bytes give {expected:02X}"
            )
    return kind.decode("ascii"), fields.decode("ascii").split(",")


def parse_curf(fields: list[str]) -> RfDetection:
    """Decode the fields of a CURF sentence (after the type)."""
    if len(fields) < CURF_FIELDS:
        raise DecodeError(f"CURF: {len(fields)} fields, version 1 has {CURF_FIELDS}")
    _version(fields[0])
    time_f, band, proto, freq, rssi, bearing, ref, std, elev, emitter = fields[1:CURF_FIELDS]
    band, proto = band.upper(), proto.upper()
    if not _BAND.match(band):
        raise DecodeError(f"band: expected e.g. 2.4G or 433M, got {band[:12]!r}")
    if not _LABEL.match(proto):
        raise DecodeError(
            f"protocol: expected a label such as DJI-O3 or UNKNOWN, got {proto[:30]!r}"
        )
    if emitter and not _EMITTER.match(emitter):
        raise DecodeError(f"emitter_id: not 1-32 of A-Za-z0-9._:- ({emitter[:40]!r})")
    bearing_deg = _number(bearing, "bearing_deg", 0.0, 360.0)
    bearing_std = _number(std, "bearing_std_deg", 0.0, 180.0, low_open=True)
    elevation = _number(elev, "elevation_deg", -90.0, 90.0)
    if bearing_deg is None:
        if ref or bearing_std is not None or elevation is not None:
            raise DecodeError("ref, bearing_std_deg and elevation_deg need a bearing_deg")
    elif ref not in ("T", "R"):
        raise DecodeError(f"ref: a bearing needs T (true north) or R (boresight), got {ref!r}")
    return RfDetection(
        t_unix=_time(time_f),
        band=band,
        protocol=proto,
        freq_mhz=_number(freq, "freq_mhz", 0.0, 300_000.0, low_open=True),
        rssi_dbm=_number(rssi, "rssi_dbm", -200.0, 50.0),
        bearing_deg=bearing_deg,
        bearing_true=ref == "T",
        bearing_std_deg=bearing_std,
        elevation_deg=elevation,
        emitter_id=emitter or None,
    )


def parse_curs(fields: list[str]) -> RfStatus:
    """Decode the fields of a CURS sentence (after the type)."""
    if len(fields) < 4:
        raise DecodeError(f"CURS: {len(fields)} fields, version 1 has 4")
    _version(fields[0])
    state = _STATES.get(fields[2].upper())
    if state is None:
        raise DecodeError(f"state: expected OK, DEGRADED or FAULT, got {fields[2][:12]!r}")
    if not _DETAIL.match(fields[3]):
        raise DecodeError("detail: longer than 80 characters")
    return RfStatus(t_unix=_time(fields[1]), state=state, detail=fields[3].strip())


def decode_line(line: bytes, require_checksum: bool = True) -> RfDetection | RfStatus | str:
    """Decode one line: a detection, a status, or the type of another (skipped) sentence."""
    if len(line) > MAX_LINE_BYTES:
        raise DecodeError(f"line longer than {MAX_LINE_BYTES} bytes")
    kind, fields = split_sentence(line.strip(), require_checksum)
    if kind == DETECTION_SENTENCE:
        return parse_curf(fields)
    if kind == STATUS_SENTENCE:
        return parse_curs(fields)
    return kind


class RfSerialOptions(BaseModel):
    model_config = ConfigDict(extra="forbid")
    require_checksum: bool = Field(
        True, description="refuse sentences without *HH (set false only for hand-typed tests)"
    )
    drone_protocols: list[str] = Field(
        default_factory=lambda: list(DRONE_PROTOCOLS),
        description="protocol labels that mean a drone link (classed DRONE)",
    )
    max_clock_offset_s: float = Field(
        300.0, gt=0, description="a sentence time further than this from receipt is not trusted"
    )
    status_timeout_s: float = Field(
        0.0, ge=0, description="DEGRADED when no CURS status for this long (0: none expected)"
    )

    @field_validator("drone_protocols")
    @classmethod
    def _upper(cls, value: list[str]) -> list[str]:
        for label in value:
            if not _LABEL.match(label.upper()):
                raise ValueError(f"{label!r} is not a protocol label (A-Z, 0-9, ._+-; <= 24)")
        return [label.upper() for label in value]


class RfSerialDriver(Driver):
    """RF detectors / direction finders speaking the cuas RF line protocol v1."""

    name = "rfserial"
    framing = Framing.LINE
    Options = RfSerialOptions
    max_frame_bytes = MAX_LINE_BYTES

    def __init__(self, sensor: SensorInfo, options: BaseModel) -> None:
        super().__init__(sensor, options)
        self._drone = frozenset(self.options.drone_protocols)
        self._status: RfStatus | None = None
        self._status_rx_unix: float | None = None

    def decode(self, frame: bytes, t_rx_unix: float, frame_seq: int) -> list[Detection]:
        try:
            decoded = decode_line(frame, self.options.require_checksum)
        except ChecksumError:
            self.counters["checksum_errors"] += 1
            raise
        if isinstance(decoded, str):
            self.counters["other_sentences"] += 1
            return []
        if isinstance(decoded, RfStatus):
            self.counters["status_sentences"] += 1
            self._status, self._status_rx_unix = decoded, t_rx_unix
            return []
        return [self._detection(decoded, t_rx_unix, frame_seq)]

    def _detection(self, rf: RfDetection, t_rx_unix: float, frame_seq: int) -> Detection:
        flags: list[str] = []
        t_unix = t_rx_unix
        if rf.t_unix is not None:
            if abs(rf.t_unix - t_rx_unix) <= self.options.max_clock_offset_s:
                t_unix = rf.t_unix
            else:
                flags.append("time_untrusted")  # the detector's clock is off: use receipt
        drone = rf.protocol in self._drone
        common = dict(
            sensor_id=self.sensor.sensor_id,
            t_unix=t_unix,
            identity=Identity(sensor_track_id=rf.emitter_id),
            object_class=ObjectClass.DRONE if drone else ObjectClass.UNKNOWN,
            class_source="rf_signature" if drone else None,
            signature=Signature(
                freq_mhz=rf.freq_mhz, band=rf.band, protocol=rf.protocol, rssi_dbm=rf.rssi_dbm
            ),
            flags=flags,
            raw=RawRef(sensor_id=self.sensor.sensor_id, frame_seq=frame_seq),
        )
        if rf.bearing_deg is None:
            return Detection(kind=MeasurementKind.PRESENCE, **common)
        yaw_deg = 0.0 if rf.bearing_true else self.sensor.orientation.yaw_deg
        bearing = rf.bearing_deg + yaw_deg
        az_std = math.radians(rf.bearing_std_deg or self.sensor.noise.azimuth_deg)
        covariance = [[az_std**2]]
        elevation_rad = None
        if rf.elevation_deg is not None:
            elevation_rad = math.radians(rf.elevation_deg)
            el_std = math.radians(self.sensor.noise.elevation_deg)
            covariance = [[az_std**2, 0.0], [0.0, el_std**2]]
        return Detection(
            kind=MeasurementKind.BEARING,
            azimuth_rad=math.radians(bearing % 360.0),
            elevation_rad=elevation_rad,
            covariance=covariance,
            **common,
        )

    def health(self, t_unix: float) -> tuple[SensorState, str] | None:
        timeout = self.options.status_timeout_s
        if self._status_rx_unix is None:
            self._status_rx_unix = t_unix  # the timeout runs from the first heartbeat
        if timeout and t_unix - self._status_rx_unix > timeout:
            return SensorState.DEGRADED, f"no CURS status sentence for over {timeout:g} s"
        if self._status is None:
            return None
        return self._status.state, self._status.detail or f"detector reports {self._status.state}"
