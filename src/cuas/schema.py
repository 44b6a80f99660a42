"""The one definition of every message cuas passes around.

The bus, the replay files and the REST/WebSocket API all serialise these models, so a
field is added here once and everywhere sees it. ``SCHEMA_VERSION`` is carried in every
bus envelope and replay header; bump it when a field changes meaning or is removed. A new
field that is optional with a default (e.g. ``exercise``, Track ``home`` and ``friendly``)
keeps version 1: older replays, bus peers and clients that lack it still read and validate.

Exercise marking: ``exercise`` is true on whatever an injected scenario (``cuas run
--exercise``) caused: its detections (set by the driver host, never by a driver), any track
one of them fed, and the alerts of those tracks or of exercise sensors.

Frames: positions are WGS84 geodetic (``lat_deg``, ``lon_deg``, ``alt_m`` above the
ellipsoid) on the wire; the tracker works in a local east-north-up frame around the site
reference and converts back at its edge. Angles from sensors are radians, clockwise from
true north for azimuth. Times are UNIX seconds (UTC).
"""

from __future__ import annotations

from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field, model_validator

SCHEMA_VERSION = 1


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=False)


class MeasurementKind(StrEnum):
    """What a detection measured; decides the tracker's measurement model."""

    POSITION = "position"  # 3-D WGS84 point (Remote ID, ADS-B, SAPIENT location)
    RANGE_AZ_EL = "range_az_el"  # radar polar plot relative to the sensor
    BEARING = "bearing"  # direction finding: azimuth (and maybe elevation) only
    PRESENCE = "presence"  # a signal was heard, nothing about where


class ObjectClass(StrEnum):
    DRONE = "drone"
    MANNED_AIRCRAFT = "manned_aircraft"
    BIRD = "bird"
    UNKNOWN = "unknown"


class GeoPoint(_Model):
    lat_deg: float = Field(ge=-90, le=90)
    lon_deg: float = Field(ge=-180, le=180)
    alt_m: float | None = None


class Identity(_Model):
    """Identifiers an object broadcasts about itself; any may be absent."""

    rid_serial: str | None = None  # Remote ID Basic ID, ANSI/CTA-2063-A serial
    caa_id: str | None = None  # Remote ID Basic ID, CAA registration
    operator_id: str | None = None  # Remote ID Operator ID message
    icao24: str | None = None  # ADS-B 24-bit address, lower-case hex
    mac: str | None = None  # radio MAC address of the broadcaster
    sensor_track_id: str | None = None  # the sensor's own track number

    def tokens(self) -> list[str]:
        """Every identifier as a typed token, strongest first: ``rid:``, ``caa:``, ``icao:``,
        ``mac:``. The operator ID is not one: an operator may fly several drones."""
        out = []
        if self.rid_serial:
            out.append(f"rid:{self.rid_serial}")
        if self.caa_id:
            out.append(f"caa:{self.caa_id}")
        if self.icao24:
            out.append(f"icao:{self.icao24.lower()}")
        if self.mac:
            out.append(f"mac:{self.mac.lower()}")
        return out


class Signature(_Model):
    """RF signature of a detection, when the sensor heard a radio."""

    freq_mhz: float | None = None
    band: str | None = None
    protocol: str | None = None
    rssi_dbm: float | None = None


class RawRef(_Model):
    """Where the frame that produced a detection lives: a sensor and its frame counter."""

    sensor_id: str
    frame_seq: int


class Detection(_Model):
    sensor_id: str
    t_unix: float
    kind: MeasurementKind
    # POSITION
    position: GeoPoint | None = None
    # RANGE_AZ_EL and BEARING (relative to the sensor's declared position)
    range_m: float | None = None
    azimuth_rad: float | None = None
    elevation_rad: float | None = None
    radial_velocity_mps: float | None = None
    # Optional velocity reported by the object itself, east/north/up in m/s.
    velocity_enu_mps: tuple[float, float, float] | None = None
    # Measurement covariance in the measurement's own space: for POSITION it is
    # east/north/up metres squared (3x3); for RANGE_AZ_EL metres and radians.
    covariance: list[list[float]] | None = None
    identity: Identity = Field(default_factory=Identity)
    object_class: ObjectClass = ObjectClass.UNKNOWN
    class_source: str | None = None  # e.g. "remote_id", "adsb", "radar"
    class_confidence: float | None = Field(None, ge=0, le=1)
    pilot: GeoPoint | None = None
    home: GeoPoint | None = None
    signature: Signature | None = None
    # Problems the decoder found in an otherwise usable message, e.g. "rid_serial_invalid",
    # "timestamp_stale": kept, flagged, and shown to operators rather than dropped.
    flags: list[str] = Field(default_factory=list)
    raw: RawRef | None = None
    exercise: bool = False  # from an exercise sensor; set by the driver host


class SensorState(StrEnum):
    OK = "ok"
    DEGRADED = "degraded"
    OFFLINE = "offline"


#: SensorStatus counter the driver host sets to 1 once a sensor's source has no more input
#: (a replay without loop, an exercise scenario played to its end)
SOURCE_ENDED = "source_ended"


class SensorStatus(_Model):
    sensor_id: str
    t_unix: float
    state: SensorState
    driver: str
    detail: str = ""
    position: GeoPoint | None = None
    counters: dict[str, int] = Field(default_factory=dict)
    exercise: bool = False  # a sensor of an injected exercise scenario


#: Track/Detection flag: a message claimed this object's identity from where the object
#: cannot be (cuas.engine.identity.ClaimGate): a replayed or forged Remote ID, or two
#: objects with one ID
FLAG_POSSIBLE_SPOOF = "possible_spoof"


class TrackStatus(StrEnum):
    TENTATIVE = "tentative"
    CONFIRMED = "confirmed"
    COASTING = "coasting"
    DELETED = "deleted"


class Breach(_Model):
    """A predicted entry into a zone (the time-to-breach rule), as of the track's time: the
    live countdown, where the pre-alert keeps what was predicted when it was raised."""

    site_id: str
    zone_id: str
    time_to_breach_s: float = Field(ge=0)
    point: GeoPoint | None = None  # where the nominal path crosses into the zone


class Track(_Model):
    track_id: str
    site_id: str
    t_unix: float
    status: TrackStatus
    position: GeoPoint
    enu_m: tuple[float, float, float]
    velocity_enu_mps: tuple[float, float, float]
    position_std_m: float  # square root of the trace of the position covariance / 3
    object_class: ObjectClass = ObjectClass.UNKNOWN
    class_source: str | None = None  # the source whose evidence weighed most in the class
    # Posterior of each class from all the evidence (cuas.engine.classification); None: no
    # class evidence yet. class_sources: every source that gave class evidence, strongest first.
    class_belief: dict[str, float] | None = None
    class_sources: list[str] = Field(default_factory=list)
    identity: Identity = Field(default_factory=Identity)
    identity_key: str | None = None  # the stable key identity association uses, e.g. "rid:..."
    first_t_unix: float | None = None  # time of the track's first detection
    # Warnings for the operator, e.g. "possible_spoof": a message carrying this track's
    # identity was heard where the object cannot be (cuas.engine.identity).
    flags: list[str] = Field(default_factory=list)
    pilot: GeoPoint | None = None
    home: GeoPoint | None = None  # take-off/home point (Remote ID System, DJI DroneID)
    friendly: str | None = None  # the friend list entry its identity matches, if any
    exercise: bool = False  # fed by at least one exercise detection
    sensors: list[str] = Field(default_factory=list)
    hits: int = 0
    quality: float | None = Field(None, ge=0, le=1)  # 0 poor .. 1 excellent, tracker-defined
    mode_probabilities: dict[str, float] | None = None  # IMM motion modes, e.g. {"cv": 0.8}
    breaches: list[Breach] = Field(default_factory=list)  # zones it is predicted to enter


class ZoneLevel(StrEnum):
    WATCH = "watch"
    WARNING = "warning"
    CRITICAL = "critical"
    IGNORE = "ignore"  # tracks inside raise nothing (e.g. an own airfield); never an alert level


class Circle(_Model):
    lat_deg: float = Field(ge=-90, le=90)
    lon_deg: float = Field(ge=-180, le=180)
    radius_m: float = Field(gt=0)


class Zone(_Model):
    """A protected area: a polygon or a circle, with an altitude band and a level."""

    id: str
    name: str
    level: ZoneLevel
    # exactly one of the two shapes
    polygon: list[tuple[float, float]] | None = Field(None, min_length=3)  # (lat_deg, lon_deg)
    circle: Circle | None = None
    floor_m: float = 0.0  # altitude band, metres above the site reference point
    ceiling_m: float = 10_000.0

    @model_validator(mode="after")
    def _one_shape(self) -> Zone:
        if (self.polygon is None) == (self.circle is None):
            raise ValueError(
                "give exactly one of polygon = [[lat, lon], ...] (3 or more vertices) and "
                "circle = {lat_deg, lon_deg, radius_m}"
            )
        if self.ceiling_m <= self.floor_m:
            raise ValueError(f"ceiling_m ({self.ceiling_m:g}) must be above floor_m")
        return self


class Site(_Model):
    """A protected site; several may share a deployment, each zone measured from its own site."""

    id: str
    name: str
    reference: GeoPoint  # origin of the site's east-north-up frame; zone heights are above it
    zones: list[Zone] = Field(default_factory=list)


class AlertState(StrEnum):
    RAISED = "raised"
    ESCALATED = "escalated"  # a pre-alert whose object has now entered the zone; awaits an ack
    ACKNOWLEDGED = "acknowledged"
    CLEARED = "cleared"  # the engine saw the condition end (object left or lost, sensor back)
    RESOLVED = "resolved"  # an operator closed a cleared alert


OPEN_ALERT_STATES = (AlertState.RAISED, AlertState.ESCALATED, AlertState.ACKNOWLEDGED)


class Alert(_Model):
    """One alert: per object and zone (zone rules), or per emitter or sensor and site.

    Rules: ``drone_in_zone``, ``time_to_breach`` (a pre-alert; it escalates to
    ``drone_in_zone`` when the object enters), ``rf_presence``, ``sensor_coverage``.
    The evidence fields hold what was known at the latest transition.
    """

    alert_id: int
    site_id: str
    zone_id: str | None = None  # None for site-level rules (rf_presence, sensor_coverage)
    zone_level: ZoneLevel  # the alert's level: its zone's, or the rule's configured level
    rule: str
    object_key: str  # track identity key or "track:T1"; emitter key; "sensor:ID"
    track_id: str | None = None  # None when there is no track (rf_presence, sensor_coverage)
    state: AlertState
    raised_t_unix: float
    updated_t_unix: float
    reason: str = ""  # the engine's reason for its latest transition
    acknowledged_by: str | None = None
    acknowledged_t_unix: float | None = None
    note: str | None = None
    resolved_by: str | None = None
    resolved_t_unix: float | None = None
    resolution_note: str | None = None
    object_class: ObjectClass | None = None
    class_source: str | None = None  # e.g. "remote_id", "adsb", "rf"
    identity: Identity = Field(default_factory=Identity)
    pilot: GeoPoint | None = None  # the operator's position, when Remote ID gave it
    signature: Signature | None = None  # rf_presence: what was heard
    sensor_id: str | None = None  # rf_presence: the sensor that heard it; sensor_coverage
    time_to_breach_s: float | None = None  # time_to_breach: predicted seconds to entry
    breach_point: GeoPoint | None = None  # time_to_breach: predicted entry point
    track: Track | None = None  # snapshot at the latest transition
    exercise: bool = False  # caused by an exercise track, detection or sensor


class AlertEvent(_Model):
    """One audited transition of an alert."""

    alert_id: int
    t_unix: float
    from_state: AlertState | None
    to_state: AlertState
    actor: str  # "engine" or the operator's name
    reason: str = ""
