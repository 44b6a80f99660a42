"""SAPIENT (BSI Flex 335 v2.0): edge sensor nodes (ASMs) reporting to cuas as their fusion node.

Transport: ASMs connect to us (``tcp-listen://0.0.0.0:5020``, the port Dstl's Apex
middleware uses for v2.0 children). Each message is framed as::

    +----------------------+-------------------------------------------+
    | uint32 little-endian | SapientMessage protobuf (that many bytes) |
    +----------------------+-------------------------------------------+

Session: an ASM sends Registration and waits for our RegistrationAck (acceptance true, or
false with ``ack_response_reason`` naming the broken rule), then StatusReports every
``status_definition.status_interval`` and DetectionReports as it sees things. Every message
is ICD-validated first (sapient_codec.validate; DetectionReports by the descriptor walk
alone, without sapient-pydantic's slower second opinion); an invalid one is counted
malformed, and its sender gets an Error message (or a negative RegistrationAck) saying why.

DetectionReport -> Detection:

* ``location`` -> POSITION. LAT_LNG_DEG_M / LAT_LNG_RAD_M: x = longitude, y = latitude,
  z = altitude (m). UTM_M: x = easting, y = northing (m) in ``utm_zone`` (else the zone in
  the node's registration, else the zone of the configured sensor position); zone letters
  are MGRS latitude bands (C-M south, N-X north). WGS84_G altitudes are above the geoid and
  get ``options.geoid_undulation_m`` added (else they are kept and flagged).
  Errors are taken as 1-sigma. x/y errors are in the coordinates' own units, as the ICD
  defines them: degrees or radians of longitude/latitude for LAT_LNG_*, converted to metres
  with the WGS84 radii of curvature at the point (east: N cos(lat), north: M), or metres
  for UTM (rotated from grid to true north). A degree error over 100 km is taken to be a
  sender writing metres, and flagged. z_error is always metres. The covariance is 3x3 ENU m^2.
* ``range_bearing`` -> RANGE_AZ_EL relative to the configured sensor position (BEARING if
  there is no range). DEGREES/RADIANS, M/KM by coordinate_system; azimuth is turned to true
  north: MAGNETIC by ``options.magnetic_declination_deg``, GRID by the UTM grid convergence
  at the sensor, PLATFORM by the sensor's configured yaw. Covariance (diagonal, squared):
  [range m, azimuth rad, elevation rad], or for a bearing [azimuth] / [azimuth, elevation];
  an error the message omits is the sensor's configured noise.
* ``object_id`` -> identity.sensor_track_id; ``classification`` -> object_class (see
  ``CLASS_MAP``: the most confident leaf of the class tree wins) with class_source "sapient";
  ``enu_velocity`` -> velocity_enu_mps in the node's registered SPEED_UNITS; ``signal[]`` of
  PASSIVE_RF nodes -> signature (strongest signal; amplitude as dBm).
* Time: the message timestamp (the sensor's clock), unless it is more than
  ``max_clock_skew_s`` from the receive time; then the receive time and flag
  ``timestamp_untrusted``.

Health: a registered node that misses ``heartbeat_factor`` status intervals makes the sensor
DEGRADED; a node that said GOODBYE, WARNING or ERROR is named in the detail; all nodes gone
is OFFLINE. ``self.counters`` counts each message type received (``rx_<type>``) and the
protocol's own events.
"""

from __future__ import annotations

import math
import re
import uuid
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any, NamedTuple

from pydantic import BaseModel, ConfigDict, Field, field_validator

from cuas.driver import (
    DecodeError,
    Detection,
    Driver,
    Framing,
    GeoPoint,
    MeasurementKind,
    ObjectClass,
    SensorInfo,
    Signature,
)
from cuas.driver import construct as build
from cuas.schema import SensorState
from cuas_drivers import sapient_codec as codec

# ---------------------------------------------------------------------------------------
# WGS84 and UTM (Krueger series to n^3, as in Karney 2011 eq. 35/36: under 1 mm within
# 3000 km of the central meridian)

_A = 6378137.0
_F = 1 / 298.257223563
_E2 = _F * (2 - _F)
_N = _F / (2 - _F)
_E = 2 * math.sqrt(_N) / (1 + _N)
_K0 = 0.9996
_FALSE_EASTING = 500_000.0
_FALSE_NORTHING_SOUTH = 10_000_000.0
_RECT = _A / (1 + _N) * (1 + _N**2 / 4 + _N**4 / 64)
_ALPHA = (
    _N / 2 - 2 * _N**2 / 3 + 5 * _N**3 / 16,
    13 * _N**2 / 48 - 3 * _N**3 / 5,
    61 * _N**3 / 240,
)
_BETA = (
    _N / 2 - 2 * _N**2 / 3 + 37 * _N**3 / 96,
    _N**2 / 48 + _N**3 / 15,
    17 * _N**3 / 480,
)
_DELTA = (
    2 * _N - 2 * _N**2 / 3 - 2 * _N**3,
    7 * _N**2 / 3 - 8 * _N**3 / 5,
    56 * _N**3 / 15,
)
_BANDS = "CDEFGHJKLMNPQRSTUVWX"  # MGRS latitude bands, 8 degrees each from 80 S (X: 12)
_ZONE = re.compile(r"^\s*(\d{1,2})\s*([A-Za-z])?\s*$")
_UTM_MAX_OFFSET_M = 1_500_000.0  # from the central meridian; the series holds to ~3000 km


class UtmZone(NamedTuple):
    number: int  # 1..60
    northern: bool
    band: str | None = None  # MGRS latitude band letter, when given


def parse_utm_zone(text: str) -> UtmZone:
    """'30U' -> zone 30, northern, band U. The letter is an MGRS band (C-M south, N-X north)."""
    match = _ZONE.match(text or "")
    if match is None:
        raise ValueError(f"utm_zone {text!r} is not a zone number and latitude band like '30U'")
    number = int(match.group(1))
    band = match.group(2).upper() if match.group(2) else None
    if not 1 <= number <= 60:
        raise ValueError(f"utm_zone {text!r}: zone number must be 1..60")
    if band is not None and band not in _BANDS:
        raise ValueError(f"utm_zone {text!r}: {band!r} is not a latitude band (C-X, no I or O)")
    return UtmZone(number, band is None or band >= "N", band)


def utm_zone_of(lat_deg: float, lon_deg: float) -> UtmZone:
    """The standard UTM zone of a point, with the Norway and Svalbard exceptions."""
    number = int((lon_deg + 180) // 6) % 60 + 1
    if 56 <= lat_deg < 64 and 3 <= lon_deg < 12:
        number = 32
    elif 72 <= lat_deg < 84 and lon_deg >= 0:
        for lo, hi, zone in ((0, 9, 31), (9, 21, 33), (21, 33, 35), (33, 42, 37)):
            if lo <= lon_deg < hi:
                number = zone
    band_index = min(max(int((lat_deg + 80) // 8), 0), len(_BANDS) - 1)
    return UtmZone(number, lat_deg >= 0, _BANDS[band_index])


def _central_meridian_rad(zone: int) -> float:
    return math.radians(zone * 6 - 183)


def utm_to_geodetic(easting_m: float, northing_m: float, zone: UtmZone) -> tuple[float, float]:
    """UTM grid coordinates to WGS84 (lat_deg, lon_deg)."""
    north = northing_m - (0.0 if zone.northern else _FALSE_NORTHING_SOUTH)
    xi = north / (_K0 * _RECT)
    eta = (easting_m - _FALSE_EASTING) / (_K0 * _RECT)
    xi_p, eta_p = xi, eta
    for j, beta in enumerate(_BETA, start=1):
        xi_p -= beta * math.sin(2 * j * xi) * math.cosh(2 * j * eta)
        eta_p -= beta * math.cos(2 * j * xi) * math.sinh(2 * j * eta)
    chi = math.asin(max(-1.0, min(1.0, math.sin(xi_p) / math.cosh(eta_p))))
    lat = chi + sum(d * math.sin(2 * j * chi) for j, d in enumerate(_DELTA, start=1))
    lon = _central_meridian_rad(zone.number) + math.atan2(math.sinh(eta_p), math.cos(xi_p))
    lon_deg = (math.degrees(lon) + 180.0) % 360.0 - 180.0
    return math.degrees(lat), lon_deg


def geodetic_to_utm(lat_deg: float, lon_deg: float, zone: UtmZone) -> tuple[float, float]:
    """WGS84 (lat, lon) to (easting_m, northing_m) in the given zone."""
    phi = math.radians(lat_deg)
    dlon = math.radians(lon_deg) - _central_meridian_rad(zone.number)
    dlon = (dlon + math.pi) % (2 * math.pi) - math.pi
    t = math.sinh(math.atanh(math.sin(phi)) - _E * math.atanh(_E * math.sin(phi)))
    xi_p = math.atan2(t, math.cos(dlon))
    eta_p = math.atanh(math.sin(dlon) / math.sqrt(1 + t * t))
    easting, northing = eta_p, xi_p
    for j, alpha in enumerate(_ALPHA, start=1):
        easting += alpha * math.cos(2 * j * xi_p) * math.sinh(2 * j * eta_p)
        northing += alpha * math.sin(2 * j * xi_p) * math.cosh(2 * j * eta_p)
    false_northing = 0.0 if zone.northern else _FALSE_NORTHING_SOUTH
    return _FALSE_EASTING + _K0 * _RECT * easting, false_northing + _K0 * _RECT * northing


def grid_convergence_rad(lat_deg: float, lon_deg: float, zone: UtmZone) -> float:
    """Grid bearing of true north at a point (positive east of the central meridian in the
    north). A grid azimuth A_g is the true azimuth A_g - convergence."""
    step_deg = 1e-5
    e0, n0 = geodetic_to_utm(lat_deg - step_deg, lon_deg, zone)
    e1, n1 = geodetic_to_utm(lat_deg + step_deg, lon_deg, zone)
    return math.atan2(e1 - e0, n1 - n0)


def radii_of_curvature_m(lat_deg: float) -> tuple[float, float]:
    """(meridian M, prime vertical N) radii of curvature of WGS84 at a latitude."""
    s2 = math.sin(math.radians(lat_deg)) ** 2
    w = math.sqrt(1 - _E2 * s2)
    return _A * (1 - _E2) / w**3, _A / w


def offset_m(a: GeoPoint, b: GeoPoint) -> float:
    """Distance between two nearby points (local flat-earth approximation)."""
    m, n = radii_of_curvature_m((a.lat_deg + b.lat_deg) / 2)
    north = math.radians(b.lat_deg - a.lat_deg) * m
    dlon = (b.lon_deg - a.lon_deg + 180.0) % 360.0 - 180.0
    east = math.radians(dlon) * n * math.cos(math.radians((a.lat_deg + b.lat_deg) / 2))
    up = (b.alt_m - a.alt_m) if a.alt_m is not None and b.alt_m is not None else 0.0
    return math.sqrt(north**2 + east**2 + up**2)


# ---------------------------------------------------------------------------------------
# Pure decode functions


class LocationError(ValueError):
    """A Location that cannot be placed on WGS84."""


@dataclass
class DecodedLocation:
    position: GeoPoint
    std_enu_m: tuple[float | None, float | None, float | None]  # None: the message gave none
    covariance_xy_rotation_rad: float = 0.0  # grid-to-true rotation of the x/y errors
    flags: list[str] = field(default_factory=list)


_IMPLAUSIBLE_ERROR_M = 100_000.0
#: larger 1-sigma errors bound nothing; they are clamped (flag ``error_clamped``) so that
#: variances stay finite numbers
MAX_STD_M = 1_000_000.0
MAX_STD_RAD = math.pi


def _clamp(value: float | None, cap: float, flags: list[str]) -> float | None:
    if value is not None and value > cap:
        flags.append("error_clamped")
        return cap
    return value


def decode_location(
    loc: Any,
    zone_hint: UtmZone | None = None,
    geoid_undulation_m: float | None = None,
) -> DecodedLocation:
    """A SAPIENT Location (protobuf) on WGS84, with its 1-sigma errors in metres."""
    flags: list[str] = []
    system = loc.coordinate_system
    x_err = loc.x_error if loc.HasField("x_error") else None
    y_err = loc.y_error if loc.HasField("y_error") else None
    rotation = 0.0
    if system in (codec.LOC_LAT_LNG_DEG_M, codec.LOC_LAT_LNG_RAD_M):
        to_deg = 1.0 if system == codec.LOC_LAT_LNG_DEG_M else math.degrees(1.0)
        lon_deg, lat_deg = loc.x * to_deg, loc.y * to_deg
        if not (-90.0 <= lat_deg <= 90.0 and -180.0 <= lon_deg <= 180.0):
            raise LocationError(
                f"location y (latitude) {lat_deg} / x (longitude) {lon_deg} out of range"
            )
        m_radius, n_radius = radii_of_curvature_m(lat_deg)
        per_unit_n = math.radians(to_deg) * m_radius  # metres per unit of y
        per_unit_e = math.radians(to_deg) * n_radius * max(math.cos(math.radians(lat_deg)), 1e-9)
        if x_err is not None:
            x_err, guessed = _angle_error_m(abs(x_err), per_unit_e)
            flags += guessed
        if y_err is not None:
            y_err, guessed = _angle_error_m(abs(y_err), per_unit_n)
            flags += guessed
    elif system == codec.LOC_UTM_M:
        zone = zone_hint
        if loc.HasField("utm_zone") and loc.utm_zone.strip():
            try:
                zone = parse_utm_zone(loc.utm_zone)
            except ValueError as exc:
                raise LocationError(str(exc)) from None
        if zone is None:
            raise LocationError(
                "UTM location without utm_zone, and no zone in the node's registration "
                "or from the configured sensor position"
            )
        if (
            abs(loc.x - _FALSE_EASTING) > _UTM_MAX_OFFSET_M
            or abs(loc.y) > 2 * _FALSE_NORTHING_SOUTH
        ):
            raise LocationError(f"UTM easting {loc.x} / northing {loc.y} lies outside any zone")
        lat_deg, lon_deg = utm_to_geodetic(loc.x, loc.y, zone)
        if zone.band is not None and not _in_band(lat_deg, zone.band):
            flags.append("utm_band_mismatch")
        rotation = grid_convergence_rad(lat_deg, lon_deg, zone)
        x_err = abs(x_err) if x_err is not None else None
        y_err = abs(y_err) if y_err is not None else None
    else:
        raise LocationError(f"location coordinate_system {system} is not supported")
    alt_m = loc.z if loc.HasField("z") else None
    if alt_m is not None and loc.datum == codec.DATUM_WGS84_G:
        if geoid_undulation_m is None:
            flags.append("altitude_above_geoid")
        else:
            alt_m += geoid_undulation_m
    z_err = abs(loc.z_error) if loc.HasField("z_error") else None
    x_err, y_err, z_err = (_clamp(v, MAX_STD_M, flags) for v in (x_err, y_err, z_err))
    return DecodedLocation(
        position=build.geo_point(lat_deg=lat_deg, lon_deg=lon_deg, alt_m=alt_m),
        std_enu_m=(x_err, y_err, z_err),
        covariance_xy_rotation_rad=rotation,
        flags=list(dict.fromkeys(flags)),
    )


def _angle_error_m(value: float, metres_per_unit: float) -> tuple[float, list[str]]:
    metres = value * metres_per_unit
    if metres > _IMPLAUSIBLE_ERROR_M and value <= _IMPLAUSIBLE_ERROR_M:
        return value, ["location_error_units_guessed_m"]
    return metres, []


def _in_band(lat_deg: float, band: str) -> bool:
    low = -80.0 + 8.0 * _BANDS.index(band)
    high = 84.0 if band == "X" else low + 8.0
    return low - 0.5 <= lat_deg <= high + 0.5


@dataclass
class DecodedRangeBearing:
    """A RangeBearing in metres and radians, azimuth still in the message's own datum."""

    range_m: float | None
    azimuth_rad: float | None
    elevation_rad: float | None
    range_std_m: float | None
    azimuth_std_rad: float | None
    elevation_std_rad: float | None
    datum: int
    flags: list[str] = field(default_factory=list)


def decode_range_bearing(rb: Any) -> DecodedRangeBearing:
    system = rb.coordinate_system
    if system not in (
        codec.RB_DEGREES_M,
        codec.RB_RADIANS_M,
        codec.RB_DEGREES_KM,
        codec.RB_RADIANS_KM,
    ):
        raise LocationError(f"range_bearing coordinate_system {system} is not supported")
    angle = math.radians if system in (codec.RB_DEGREES_M, codec.RB_DEGREES_KM) else float
    scale = 1000.0 if system in (codec.RB_DEGREES_KM, codec.RB_RADIANS_KM) else 1.0

    def get(name: str, convert: Any) -> float | None:
        return convert(getattr(rb, name)) if rb.HasField(name) else None

    rng = get("range", lambda v: v * scale)
    el = get("elevation", angle)
    if rng is not None and rng < 0:
        raise LocationError(f"range_bearing.range {rb.range} is negative")
    if el is not None and abs(el) > math.pi / 2 + 1e-9:
        raise LocationError(f"range_bearing.elevation {rb.elevation} is beyond the vertical")
    flags: list[str] = []
    return DecodedRangeBearing(
        range_m=rng,
        azimuth_rad=get("azimuth", angle),
        elevation_rad=el,
        range_std_m=_clamp(get("range_error", lambda v: abs(v) * scale), MAX_STD_M, flags),
        azimuth_std_rad=_clamp(get("azimuth_error", lambda v: abs(angle(v))), MAX_STD_RAD, flags),
        elevation_std_rad=_clamp(
            get("elevation_error", lambda v: abs(angle(v))), MAX_STD_RAD, flags
        ),
        datum=rb.datum,
        flags=list(dict.fromkeys(flags)),
    )


#: SAPIENT class names (BSI Flex 335 v2.0 taxonomy as in the Dstl harness, plus common
#: vendor words), lower-case, to cuas classes. A name not listed is UNKNOWN at the top of a
#: tree and inherits its parent's class below it ("Air Vehicle/UAV Rotary Wing/Military"
#: is a drone; "Animal/Bird/Pigeon" a bird). Ground classes (Human, Land Vehicle, Sea
#: Vessel, Fixed Object, Equipment) and a bare "Air Vehicle" are UNKNOWN: cuas has no
#: class for them and must not call them drones.
CLASS_MAP: dict[str, ObjectClass] = {
    **{
        name: ObjectClass.DRONE
        for name in (
            "uav",
            "uas",
            "suas",
            "drone",
            "rpas",
            "uav rotary wing",
            "uav fixed wing",
            "uav transmitter",
            "rotary wing uav",
            "fixed wing uav",
            "quadcopter",
            "multirotor",
            "multi-rotor",
            "unmanned aerial vehicle",
            "unmanned aircraft",
            "small uav",
        )
    },
    **{
        name: ObjectClass.MANNED_AIRCRAFT
        for name in (
            "manned rotary wing",
            "manned fixed wing",
            "manned aircraft",
            "helicopter",
            "aeroplane",
            "airplane",
            "airliner",
            "fixed wing aircraft",
        )
    },
    **{name: ObjectClass.BIRD for name in ("bird", "birds", "flock", "flock of birds")},
    **{
        name: ObjectClass.UNKNOWN
        for name in (
            "unknown",
            "human",
            "animal",
            "fixed object",
            "equipment",
            "land vehicle",
            "sea vessel",
            "air vehicle",
            "uas control station",
            "vehicle",
            "person",
        )
    },
}
_INHERIT = {"other", "commercial", "military", "civil", "civilian"}


@dataclass(frozen=True)
class Classification:
    object_class: ObjectClass
    confidence: float | None  # of the chosen leaf; None when the sensor gave none
    label: str  # the chosen path, e.g. "Air Vehicle/UAV Rotary Wing"


def classify(classifications: Any) -> Classification | None:
    """The most confident leaf of a DetectionReport's class trees, mapped by CLASS_MAP.

    Confidences are read as absolute ("confidence that this is the correct
    classification", detection_report.proto); a node without one takes its parent's.
    Ties go to the deeper (more specific) leaf, then to the first listed.
    """
    best: tuple[float, int, int] | None = None
    chosen: Classification | None = None
    order = 0
    stack: list[tuple[Any, ObjectClass | None, float | None, int, str]] = [
        (c, None, None, 0, "") for c in reversed(list(classifications))
    ]
    while stack:
        node, parent_class, parent_conf, depth, parent_label = stack.pop()
        name = " ".join(node.type.lower().split())
        own = CLASS_MAP.get(name)
        if own is None or name in _INHERIT:
            own = parent_class if parent_class is not None else ObjectClass.UNKNOWN
        conf = node.confidence if node.HasField("confidence") else parent_conf
        label = f"{parent_label}/{node.type.strip()}" if parent_label else node.type.strip()
        children = list(node.sub_class)
        if children:
            stack.extend((c, own, conf, depth + 1, label) for c in reversed(children))
            continue
        key = (conf if conf is not None else -1.0, depth, -order)
        order += 1
        if best is None or key > best:
            best, chosen = key, Classification(own, conf, label)
    return chosen


def enu_velocity_mps(
    vel: Any, horizontal_units: int, vertical_units: int
) -> tuple[float, float, float]:
    """ENUVelocity in the node's registered SpeedUnits to m/s (up_rate absent -> 0)."""
    h = 1 / 3.6 if horizontal_units == codec.SPEED_KPH else 1.0
    v = 1 / 3.6 if vertical_units == codec.SPEED_KPH else 1.0
    up = vel.up_rate * v if vel.HasField("up_rate") else 0.0
    return (vel.east_rate * h, vel.north_rate * h, up)


_FREQ_UNITS = {"hz": 1e-6, "khz": 1e-3, "mhz": 1.0, "ghz": 1e3}


def strongest_signal(signals: Any, freq_mhz_per_unit: float | None) -> Signature | None:
    """Signature from the strongest Signal: centre frequency in MHz, amplitude as dBm.

    Frequency units come from the node's registration when it declares them; otherwise a
    value over 100 000 is read as Hz and anything smaller as MHz.
    """
    best = max(signals, key=lambda s: s.amplitude, default=None)
    if best is None:
        return None
    freq = best.centre_frequency
    if freq_mhz_per_unit is not None:
        freq_mhz = freq * freq_mhz_per_unit
    else:
        freq_mhz = freq / 1e6 if freq > 1e5 else freq
    return build.signature(freq_mhz=freq_mhz, rssi_dbm=best.amplitude, protocol="sapient")


# ---------------------------------------------------------------------------------------
# The driver


class SapientOptions(BaseModel):
    model_config = ConfigDict(extra="forbid")
    fusion_node_id: str | None = Field(
        None, description="our UUID in RegistrationAcks; default derived from the sensor id"
    )
    heartbeat_factor: float = Field(
        3.0, gt=1, description="missed status intervals before a node counts as silent"
    )
    max_clock_skew_s: float = Field(
        60.0, gt=0, description="larger node-clock error: use receive time, flag it"
    )
    require_registration: bool = Field(
        False, description="refuse reports from nodes that have not registered"
    )
    reply_errors: bool = Field(True, description="answer ICD-invalid messages with Error")
    magnetic_declination_deg: float | None = Field(
        None, ge=-180, le=180, description="east positive; needed for MAGNETIC azimuths"
    )
    geoid_undulation_m: float | None = Field(
        None, description="geoid height above the ellipsoid here, for WGS84_G altitudes"
    )
    position_tolerance_m: float = Field(
        50.0, gt=0, description="node-reported location this far from the configured one is flagged"
    )
    default_vertical_std_m: float = Field(
        50.0, gt=0, description="1-sigma altitude error when a location has no z"
    )
    max_nodes: int = Field(256, ge=1, description="nodes remembered at once")

    @field_validator("fusion_node_id")
    @classmethod
    def _uuid(cls, value: str | None) -> str | None:
        if value is not None and not codec.is_uuid(value):
            raise ValueError("must be a UUID")
        return value


@dataclass
class ModeUnits:
    speed_en: int = codec.SPEED_MS
    speed_up: int = codec.SPEED_MS
    zone: UtmZone | None = None


@dataclass
class NodeState:
    """What the fusion node knows about one ASM."""

    node_id: str
    registered: bool
    first_heard_t: float
    name: str = ""
    short_name: str = ""
    node_types: list[str] = field(default_factory=list)
    icd_version: str = ""
    status_interval_s: float | None = None
    modes: dict[str, ModeUnits] = field(default_factory=dict)
    default_units: ModeUnits = field(default_factory=ModeUnits)
    freq_mhz_per_unit: float | None = None
    passive_rf: bool = False
    last_status_t: float | None = None
    system: int | None = None
    mode: str | None = None
    status_detail: str = ""
    location: GeoPoint | None = None
    location_offset_m: float | None = None  # from the configured sensor position

    @property
    def label(self) -> str:
        return f"{self.node_id} ({self.name})" if self.name else self.node_id

    def units(self) -> ModeUnits:
        return self.modes.get(self.mode or "", self.default_units)


_SYSTEM_NAMES = {codec.SYSTEM_WARNING: "WARNING", codec.SYSTEM_ERROR: "ERROR"}
_LOST_STATES = {"lost", "deleted", "dropped"}
_MAX_DETAIL_PROBLEMS = 3


class SapientDriver(Driver):
    """Fusion-node side of SAPIENT BSI Flex 335 v2.0 (ASMs connect over TCP)."""

    name = "sapient"
    framing = Framing.LENGTH_U32LE
    Options = SapientOptions
    #: a Registration with a large class taxonomy runs to tens of kB; 1 MiB bounds a
    #: client's buffer while leaving room for Error packets quoting a message
    max_frame_bytes = 1 << 20

    def __init__(self, sensor: SensorInfo, options: BaseModel) -> None:
        super().__init__(sensor, options)
        self.fusion_node_id = options.fusion_node_id or str(
            uuid.uuid5(uuid.NAMESPACE_URL, f"cuas:sapient:{sensor.sensor_id}")
        )
        self.nodes: OrderedDict[str, NodeState] = OrderedDict()
        self._sensor_zone = (
            utm_zone_of(sensor.position.lat_deg, sensor.position.lon_deg)
            if sensor.position is not None
            else None
        )

    # -- frames ----------------------------------------------------------------------------

    def decode(self, frame: bytes, t_rx_unix: float, frame_seq: int) -> list[Detection]:
        try:
            msg = codec.parse(frame)
        except codec.CodecError as exc:
            self.counters["unparseable"] += 1
            raise DecodeError(str(exc)) from None
        kind = msg.WhichOneof("content") or "no_content"
        try:
            codec.validate(msg, cross_check=kind != "detection_report")
        except codec.IcdError as exc:
            self.counters["icd_invalid"] += 1
            self._refuse(msg, kind, frame, str(exc), t_rx_unix)
            raise DecodeError(f"ICD {kind}: {exc}") from None
        self.counters[f"rx_{kind}"] += 1
        if kind == "registration":
            self._on_registration(msg, t_rx_unix)
            return []
        if kind == "status_report":
            self._on_status(msg, t_rx_unix)
            return []
        if kind == "detection_report":
            return self._on_detection(msg, t_rx_unix, frame_seq)
        return []  # Task, TaskAck, Alert, AlertAck, Error, RegistrationAck: counted only

    def _refuse(self, msg: Any, kind: str, frame: bytes, reason: str, t_unix: float) -> None:
        sender = msg.node_id if msg.HasField("node_id") else None
        if kind == "registration":
            self.counters["registrations_refused"] += 1
            self.reply(codec.registration_ack(self.fusion_node_id, sender, False, [reason], t_unix))
        elif self.options.reply_errors and kind not in ("error", "no_content"):
            self.reply(codec.error_reply(self.fusion_node_id, sender, frame, reason, t_unix))

    # -- registration and status -------------------------------------------------------------

    def _on_registration(self, msg: Any, t_rx: float) -> None:
        reg = msg.registration
        interval = reg.status_definition.status_interval
        node = NodeState(
            node_id=msg.node_id,
            registered=True,
            first_heard_t=t_rx,
            name=reg.name,
            short_name=reg.short_name,
            node_types=[codec.enum_name(d, "node_type") for d in reg.node_definition],
            icd_version=reg.icd_version,
            status_interval_s=interval.value * codec.TIME_UNIT_S[interval.units],
            passive_rf=any(d.node_type == codec.NODE_TYPE_PASSIVE_RF for d in reg.node_definition),
            last_status_t=t_rx,  # the heartbeat clock starts at registration
        )
        self._read_modes(node, reg)
        self._remember(node)
        self.counters["registrations_accepted"] += 1
        self.reply(codec.registration_ack(self.fusion_node_id, msg.node_id, True, [], t_rx))

    def _read_modes(self, node: NodeState, reg: Any) -> None:
        status_zone = self._zone(reg.status_definition.location_definition.zone)
        for i, mode in enumerate(reg.mode_definition):
            units = ModeUnits(zone=status_zone)
            for definition in mode.detection_definition:
                units.zone = self._zone(definition.location_type.zone) or units.zone
                if definition.velocity_type.HasField("enu_velocity_units"):
                    enu = definition.velocity_type.enu_velocity_units
                    units.speed_en = enu.east_north_rate_units or codec.SPEED_MS
                    units.speed_up = enu.up_rate_units or units.speed_en
                for report in definition.detection_report:
                    if "freq" in report.type.lower():
                        scale = _FREQ_UNITS.get(report.units.strip().lower())
                        node.freq_mhz_per_unit = scale or node.freq_mhz_per_unit
            node.modes[mode.mode_name] = units
            if i == 0 or mode.mode_type == codec.MODE_TYPE_DEFAULT:
                node.default_units = units
        if not reg.mode_definition:
            node.default_units = ModeUnits(zone=status_zone)

    @staticmethod
    def _zone(text: str) -> UtmZone | None:
        try:
            return parse_utm_zone(text) if text.strip() else None
        except ValueError:
            return None

    def _remember(self, node: NodeState) -> None:
        self.nodes.pop(node.node_id, None)
        self.nodes[node.node_id] = node
        while len(self.nodes) > self.options.max_nodes:
            self.nodes.popitem(last=False)
            self.counters["nodes_forgotten"] += 1

    def _node(self, node_id: str, t_rx: float) -> NodeState:
        """The sender's state; an unregistered sender is refused or remembered as such."""
        node = self.nodes.get(node_id)
        if node is None:
            self.counters["unregistered_node"] += 1
            if self.options.require_registration:
                raise DecodeError(f"node {node_id} has not registered")
            node = NodeState(node_id=node_id, registered=False, first_heard_t=t_rx)
            self._remember(node)
        else:
            self.nodes.move_to_end(node_id)
        return node

    def _on_status(self, msg: Any, t_rx: float) -> None:
        node = self._node(msg.node_id, t_rx)
        report = msg.status_report
        node.last_status_t = t_rx  # receive time: a node's wrong clock must not hide it
        node.system = report.system
        node.mode = report.mode
        problems = [
            codec.enum_name(s, "status_type").removeprefix("STATUS_TYPE_")
            + (f" {s.status_value}" if s.status_value else "")
            for s in report.status
            if s.status_level in codec.STATUS_LEVELS_BAD
        ]
        node.status_detail = ", ".join(problems)
        if report.HasField("node_location"):
            self._node_location(node, report.node_location)

    def _node_location(self, node: NodeState, loc: Any) -> None:
        try:
            decoded = decode_location(
                loc, node.units().zone or self._sensor_zone, self.options.geoid_undulation_m
            )
        except LocationError:
            self.counters["node_location_unusable"] += 1
            return
        node.location = decoded.position
        node.location_offset_m = None
        if self.sensor.position is not None:
            configured = self.sensor.position
            if decoded.position.alt_m is None or configured.alt_m is None:
                configured = configured.model_copy(update={"alt_m": None})
                here = decoded.position.model_copy(update={"alt_m": None})
            else:
                here = decoded.position
            distance = offset_m(configured, here)
            if distance > self.options.position_tolerance_m:
                node.location_offset_m = distance

    # -- detections -----------------------------------------------------------------------

    def _on_detection(self, msg: Any, t_rx: float, frame_seq: int) -> list[Detection]:
        node = self._node(msg.node_id, t_rx)
        report = msg.detection_report
        if report.state.strip().lower() in _LOST_STATES:
            self.counters["objects_lost"] += 1
            return []
        flags: list[str] = [] if node.registered else ["node_unregistered"]
        t_msg = codec.timestamp_unix(msg.timestamp)
        t_unix = t_msg
        if abs(t_msg - t_rx) > self.options.max_clock_skew_s:
            t_unix = float(t_rx)
            flags.append("timestamp_untrusted")
            self.counters["timestamp_untrusted"] += 1
        common: dict[str, Any] = dict(
            sensor_id=self.sensor.sensor_id,
            t_unix=t_unix,
            identity=build.identity(sensor_track_id=report.object_id),
            raw=build.raw_ref(sensor_id=self.sensor.sensor_id, frame_seq=frame_seq),
        )
        cls = classify(report.classification)
        if cls is not None:
            known = cls.object_class is not ObjectClass.UNKNOWN
            common.update(
                object_class=cls.object_class,
                class_source="sapient",
                class_confidence=cls.confidence if known else None,
            )
        units = node.units()
        if report.HasField("enu_velocity"):
            velocity = enu_velocity_mps(report.enu_velocity, units.speed_en, units.speed_up)
            if all(math.isfinite(v) for v in velocity):
                common["velocity_enu_mps"] = velocity
        if node.passive_rf and report.signal:
            common["signature"] = strongest_signal(report.signal, node.freq_mhz_per_unit)
        try:
            if report.WhichOneof("location_oneof") == "location":
                detection = self._position(report.location, units, flags, common)
            else:
                detection = self._polar(report.range_bearing, node, flags, common)
        except (LocationError, DecodeError) as exc:
            self.counters["location_unusable"] += 1
            raise DecodeError(f"DetectionReport {report.report_id}: {exc}") from None
        return [detection]

    def _position(
        self, loc: Any, units: ModeUnits, flags: list[str], common: dict[str, Any]
    ) -> Detection:
        decoded = decode_location(
            loc, units.zone or self._sensor_zone, self.options.geoid_undulation_m
        )
        default = self.sensor.noise.position_m
        sx, sy, sz = decoded.std_enu_m
        sx = sx or default  # a zero error is no error stated (and would be a singular R)
        sy = sy or default
        if not sz:
            has_alt = decoded.position.alt_m is not None
            sz = default if has_alt else self.options.default_vertical_std_m
        rotation = decoded.covariance_xy_rotation_rad
        c, s = math.cos(rotation), math.sin(rotation)
        # grid axes in true ENU: grid east = (c, s), grid north = (-s, c)
        ee = c * c * sx * sx + s * s * sy * sy
        nn = s * s * sx * sx + c * c * sy * sy
        en = c * s * (sx * sx - sy * sy)
        covariance = [[ee, en, 0.0], [en, nn, 0.0], [0.0, 0.0, sz * sz]]
        return build.detection(
            kind=MeasurementKind.POSITION,
            position=decoded.position,
            covariance=covariance,
            flags=flags + decoded.flags,
            **common,
        )

    def _polar(
        self, rb: Any, node: NodeState, flags: list[str], common: dict[str, Any]
    ) -> Detection:
        decoded = decode_range_bearing(rb)
        flags += decoded.flags
        azimuth = decoded.azimuth_rad
        if azimuth is not None:
            azimuth = self._true_azimuth(azimuth, decoded.datum, node, flags)
        if node.location_offset_m is not None:
            flags.append("node_location_differs")
        noise = self.sensor.noise
        if decoded.range_m is not None and azimuth is not None:
            kind = MeasurementKind.RANGE_AZ_EL
            sr = decoded.range_std_m or noise.range_m
            sa = decoded.azimuth_std_rad or math.radians(noise.azimuth_deg)
            se = decoded.elevation_std_rad or math.radians(noise.elevation_deg)
            covariance: list[list[float]] | None = [
                [sr * sr, 0.0, 0.0],
                [0.0, sa * sa, 0.0],
                [0.0, 0.0, se * se],
            ]
        elif azimuth is not None:  # direction finding: [azimuth] or [azimuth, elevation]
            kind = MeasurementKind.BEARING
            sa = decoded.azimuth_std_rad or math.radians(noise.azimuth_deg)
            if decoded.elevation_rad is None:
                covariance = [[sa * sa]]
            else:
                se = decoded.elevation_std_rad or math.radians(noise.elevation_deg)
                covariance = [[sa * sa, 0.0], [0.0, se * se]]
        else:
            kind, covariance = MeasurementKind.PRESENCE, None
        return build.detection(
            kind=kind,
            range_m=decoded.range_m if kind is MeasurementKind.RANGE_AZ_EL else None,
            azimuth_rad=azimuth,
            elevation_rad=decoded.elevation_rad if azimuth is not None else None,
            covariance=covariance,
            flags=flags,
            **common,
        )

    def _true_azimuth(self, azimuth: float, datum: int, node: NodeState, flags: list[str]) -> float:
        if datum == codec.RB_DATUM_MAGNETIC:
            if self.options.magnetic_declination_deg is None:
                raise LocationError(
                    "azimuth is magnetic: set options.magnetic_declination_deg for this sensor"
                )
            azimuth += math.radians(self.options.magnetic_declination_deg)
        elif datum == codec.RB_DATUM_GRID:
            position = self.sensor.position
            zone = node.units().zone or self._sensor_zone
            if position is None or zone is None:
                flags.append("azimuth_grid_uncorrected")
            else:
                azimuth -= grid_convergence_rad(position.lat_deg, position.lon_deg, zone)
        elif datum == codec.RB_DATUM_PLATFORM:
            azimuth += math.radians(self.sensor.orientation.yaw_deg)
        return azimuth % (2 * math.pi)

    # -- health --------------------------------------------------------------------------------

    def health(self, t_unix: float) -> tuple[SensorState, str] | None:
        if not self.nodes:
            return SensorState.DEGRADED, "no SAPIENT node has registered"
        problems: list[str] = []
        gone = 0
        nodes = list(self.nodes.values())  # health() may run on another thread than decode()
        for node in nodes:
            if node.system == codec.SYSTEM_GOODBYE:
                problems.append(f"node {node.label} said GOODBYE")
                gone += 1
                continue
            if node.status_interval_s is not None and node.last_status_t is not None:
                silent_s = t_unix - node.last_status_t
                if silent_s > self.options.heartbeat_factor * node.status_interval_s:
                    problems.append(
                        f"no StatusReport from node {node.label} for {silent_s:.0f} s "
                        f"(interval {node.status_interval_s:g} s)"
                    )
            if node.system in _SYSTEM_NAMES:
                detail = f": {node.status_detail}" if node.status_detail else ""
                problems.append(f"node {node.label} reports {_SYSTEM_NAMES[node.system]}{detail}")
            if node.location_offset_m is not None:
                problems.append(
                    f"node {node.label} reports a location {node.location_offset_m:.0f} m "
                    "from the configured sensor position"
                )
        if not problems:
            return None
        detail = "; ".join(problems[:_MAX_DETAIL_PROBLEMS])
        if len(problems) > _MAX_DETAIL_PROBLEMS:
            detail += f" (and {len(problems) - _MAX_DETAIL_PROBLEMS} more)"
        state = SensorState.OFFLINE if gone == len(nodes) else SensorState.DEGRADED
        return state, detail


__all__ = [
    "CLASS_MAP",
    "Classification",
    "DecodedLocation",
    "DecodedRangeBearing",
    "LocationError",
    "NodeState",
    "SapientDriver",
    "SapientOptions",
    "UtmZone",
    "classify",
    "decode_location",
    "decode_range_bearing",
    "enu_velocity_mps",
    "geodetic_to_utm",
    "grid_convergence_rad",
    "parse_utm_zone",
    "strongest_signal",
    "utm_to_geodetic",
    "utm_zone_of",
]
