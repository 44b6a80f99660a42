"""The scenario file of ``cuas simulate``: objects, their behaviours and the sensors watching.

A scenario is one TOML file, validated before anything runs; an error names the key and
the reason, e.g. ``swarm.toml: objects[2].speed_mps: 40 m/s is above the drone limit of
25 m/s``. Every position is either ``[east_m, north_m, up_m]`` in the site's ENU frame
(metres from the site reference; ``[east_m, north_m]`` means on the ground) or a table
``{lat_deg, lon_deg, alt_m}`` (WGS84, alt_m above the ellipsoid); both are stored as
``GeoPoint``. ``SensorSpec`` is also what the protocol encoders (``cuas.sim.encoders``) get.
"""

from __future__ import annotations

import math
import tomllib
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any, ClassVar, Literal

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Discriminator,
    Field,
    PrivateAttr,
    Tag,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)

from cuas.config import AlertSection, ConfigError, load_config
from cuas.geo import EnuFrame
from cuas.schema import GeoPoint, ObjectClass, Site


class ScenarioError(ConfigError):
    """The scenario file is wrong; the message names the file, the key and the reason."""


def _point(value: Any, info: ValidationInfo) -> Any:
    """``[e, n(, u)]`` metres in the site frame -> GeoPoint; tables pass on to GeoPoint."""
    frame: EnuFrame | None = (info.context or {}).get("frame")
    if isinstance(value, list | tuple):
        if len(value) not in (2, 3) or not all(isinstance(v, int | float) for v in value):
            raise ValueError("a position is [east_m, north_m, up_m] or {lat_deg, lon_deg, alt_m}")
        if frame is None:
            raise ValueError("[east_m, north_m, up_m] needs the [site] reference")
        east, north = float(value[0]), float(value[1])
        up = float(value[2]) if len(value) == 3 else 0.0
        lat, lon, alt = frame.to_geodetic([east, north, up])
        return GeoPoint(lat_deg=float(lat), lon_deg=float(lon), alt_m=float(alt))
    if isinstance(value, dict) and value.get("alt_m") is None and frame is not None:
        return {**value, "alt_m": frame.alt0_m}  # no altitude: on the ground at the site
    return value


Point = Annotated[GeoPoint, BeforeValidator(_point)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Limits(_Strict):
    """Kinematic limits the motion integrator enforces at every step."""

    max_speed_mps: float = Field(gt=0, le=350)
    max_accel_mps2: float = Field(gt=0, le=50, description="magnitude of the acceleration")
    max_turn_rate_deg_s: float = Field(gt=0, le=360, description="of the horizontal velocity")
    max_climb_mps: float = Field(gt=0, le=60)
    max_descent_mps: float = Field(gt=0, le=60, description="outside a dive")


# Typical figures: a consumer/enterprise multirotor (DJI Mavic 3: 21 m/s, climb 8 m/s,
# descent 6 m/s; its turns are bounded by acceleration, a/v, well before the rate cap);
# a bird (pigeons and gulls cruise at 10-20 m/s and turn sharply); a light to transport
# aircraft below 10,000 ft (250 kt = 129 m/s; twice the standard rate turn, 3 deg/s).
CLASS_LIMITS: dict[ObjectClass, Limits] = {
    ObjectClass.DRONE: Limits(
        max_speed_mps=25.0,
        max_accel_mps2=6.0,
        max_turn_rate_deg_s=120.0,
        max_climb_mps=8.0,
        max_descent_mps=6.0,
    ),
    ObjectClass.BIRD: Limits(
        max_speed_mps=20.0,
        max_accel_mps2=8.0,
        max_turn_rate_deg_s=180.0,
        max_climb_mps=4.0,
        max_descent_mps=6.0,
    ),
    ObjectClass.MANNED_AIRCRAFT: Limits(
        max_speed_mps=130.0,
        max_accel_mps2=3.0,
        max_turn_rate_deg_s=6.0,
        max_climb_mps=15.0,
        max_descent_mps=15.0,
    ),
}


class LimitsOverride(_Strict):
    max_speed_mps: float | None = Field(None, gt=0, le=350)
    max_accel_mps2: float | None = Field(None, gt=0, le=50)
    max_turn_rate_deg_s: float | None = Field(None, gt=0, le=360)
    max_climb_mps: float | None = Field(None, gt=0, le=60)
    max_descent_mps: float | None = Field(None, gt=0, le=60)


class RemoteId(_Strict):
    """What the drone broadcasts under ASTM F3411; a swarm member k gets serial[:-2] + k."""

    serial: str = Field(min_length=4, max_length=20, pattern=r"^[A-Z0-9]+$")
    operator_id: str | None = Field(None, max_length=20)
    pilot: Point | None = None


class RfEmitter(_Strict):
    """The drone's control/video link, as an RF detector hears it."""

    band: str = Field("2.4G", pattern=r"^\d+(\.\d+)?[MG]$", description="e.g. 433M, 2.4G, 5.8G")
    protocol: str = Field("DJI-O3", pattern=r"^[A-Z0-9._+-]{1,24}$")
    freq_mhz: float = Field(2437.0, gt=0, le=300_000)
    eirp_dbm: float = Field(20.0, ge=-30, le=50)


class _Object(_Strict):
    id: str = Field(min_length=1, max_length=40, pattern=r"^[A-Za-z0-9_.:-]+$")
    start_s: float = Field(0.0, ge=0, description="appears (already flying) at this time")
    end_s: float | None = Field(None, gt=0, description="disappears at this time")
    limits: LimitsOverride = Field(default_factory=LimitsOverride)

    object_class: ClassVar[ObjectClass] = ObjectClass.DRONE

    def effective_limits(self) -> Limits:
        base = CLASS_LIMITS[self.object_class].model_dump()
        base.update({k: v for k, v in self.limits.model_dump().items() if v is not None})
        return Limits(**base)

    def _check_speed(self, key: str, speed_mps: float) -> None:
        limit = self.effective_limits().max_speed_mps
        if speed_mps > limit:
            raise _KeyError(
                key,
                f"{speed_mps:g} m/s is above the {self.object_class.value} limit of "
                f"{limit:g} m/s (raise limits.max_speed_mps for a faster airframe)",
            )


class _KeyError(ValueError):
    """A model-level check that knows which key is wrong."""

    def __init__(self, key: str, reason: str) -> None:
        super().__init__(reason)
        self.key = key


class _Drone(_Object):
    type: Literal["drone"]
    remote_id: RemoteId | None = None
    rf: RfEmitter | None = None


class TransitDrone(_Drone):
    behaviour: Literal["transit"]
    start: Point | None = Field(None, description="default: the first waypoint")
    waypoints: list[Point] = Field(min_length=1)
    speed_mps: float = Field(12.0, gt=0)
    loop: bool = False

    @model_validator(mode="after")
    def _speed(self) -> TransitDrone:
        self._check_speed("speed_mps", self.speed_mps)
        return self


class LoiterDrone(_Drone):
    behaviour: Literal["loiter"]
    point: Point
    start: Point | None = Field(None, description="default: the loiter point")
    drift_m: float = Field(3.0, ge=0, le=100, description="1-sigma wander around the point")
    speed_mps: float = Field(8.0, gt=0, description="to reach the point from the start")

    @model_validator(mode="after")
    def _speed(self) -> LoiterDrone:
        self._check_speed("speed_mps", self.speed_mps)
        return self


class OrbitDrone(_Drone):
    behaviour: Literal["orbit"]
    centre: Point = Field(description="its height is the orbit's height")
    radius_m: float = Field(gt=0, le=20_000)
    speed_mps: float = Field(10.0, gt=0)
    direction: Literal["cw", "ccw"] = "cw"
    start: Point | None = Field(None, description="default: on the circle, north of the centre")

    @model_validator(mode="after")
    def _reachable(self) -> OrbitDrone:
        self._check_speed("speed_mps", self.speed_mps)
        lim = self.effective_limits()
        # holding the circle needs v^2/r of acceleration and v/r of turn rate
        if self.speed_mps**2 / self.radius_m > 0.8 * lim.max_accel_mps2:
            raise _KeyError(
                "radius_m",
                f"{self.radius_m:g} m at {self.speed_mps:g} m/s needs "
                f"{self.speed_mps**2 / self.radius_m:.1f} m/s^2, more than 80% of the "
                f"{lim.max_accel_mps2:g} m/s^2 limit; use a larger radius or a lower speed",
            )
        if math.degrees(self.speed_mps / self.radius_m) > lim.max_turn_rate_deg_s:
            raise _KeyError("radius_m", "turn rate speed/radius is above limits")
        return self


class DiveDrone(_Drone):
    behaviour: Literal["dive"]
    start: Point
    waypoints: list[Point] = Field(default_factory=list, description="cruise legs first")
    target: Point
    speed_mps: float = Field(12.0, gt=0, description="cruise speed")
    dive_speed_mps: float = Field(20.0, gt=0)
    dive_angle_deg: float = Field(45.0, gt=5, le=90, description="below the horizontal")

    @model_validator(mode="after")
    def _speed(self) -> DiveDrone:
        self._check_speed("speed_mps", self.speed_mps)
        self._check_speed("dive_speed_mps", self.dive_speed_mps)
        return self


class SwarmDrones(_Drone):
    behaviour: Literal["swarm"]
    count: int = Field(ge=2, le=200)
    formation: Literal["grid", "line", "column", "vee"] = "grid"
    spacing_m: float = Field(15.0, ge=2, le=500)
    start: Point | None = Field(None, description="the leader's start; default: waypoint 1")
    waypoints: list[Point] = Field(min_length=1, description="the leader's path")
    speed_mps: float = Field(10.0, gt=0, description="the leader's speed")
    loop: bool = False

    @model_validator(mode="after")
    def _speed(self) -> SwarmDrones:
        # members need headroom above the leader to keep their slots in turns
        self._check_speed("speed_mps", self.speed_mps * 1.25)
        return self


class Birds(_Object):
    type: Literal["bird"]
    object_class: ClassVar[ObjectClass] = ObjectClass.BIRD
    count: int = Field(1, ge=1, le=500)
    centre: Point = Field(description="the flock wanders around here; its height is ignored")
    radius_m: float = Field(200.0, gt=0, le=20_000)
    min_height_m: float = Field(10.0, ge=0)
    max_height_m: float = Field(120.0, gt=0)
    speed_mps: tuple[float, float] = Field((6.0, 15.0), description="range of leg speeds")

    @model_validator(mode="after")
    def _ranges(self) -> Birds:
        if self.max_height_m <= self.min_height_m:
            raise _KeyError("max_height_m", "must be above min_height_m")
        lo, hi = self.speed_mps
        if not 0 < lo <= hi:
            raise _KeyError("speed_mps", "must be [low, high] with 0 < low <= high")
        self._check_speed("speed_mps", hi)
        return self


class MannedAircraft(_Object):
    type: Literal["manned_aircraft"]
    object_class: ClassVar[ObjectClass] = ObjectClass.MANNED_AIRCRAFT
    start: Point
    heading_deg: float | None = Field(None, ge=0, lt=360, description="clockwise from north")
    waypoints: list[Point] = Field(default_factory=list, description="instead of heading_deg")
    speed_mps: float = Field(70.0, ge=25)
    icao24: str = Field(pattern=r"^[0-9a-f]{6}$", description="24-bit address, lower-case hex")
    callsign: str | None = Field(None, pattern=r"^[A-Z0-9 ]{1,8}$")
    transponder: bool = Field(True, description="ADS-B out on")

    @field_validator("icao24", mode="before")
    @classmethod
    def _lower(cls, value: Any) -> Any:
        return value.lower() if isinstance(value, str) else value

    @model_validator(mode="after")
    def _path(self) -> MannedAircraft:
        self._check_speed("speed_mps", self.speed_mps)
        if (self.heading_deg is None) == (not self.waypoints):
            raise _KeyError("heading_deg", "give either heading_deg or waypoints")
        return self


DRONE_BEHAVIOURS = ("transit", "loiter", "orbit", "dive", "swarm")


def _object_tag(value: Any) -> str | None:
    if not isinstance(value, dict):
        return None
    kind = value.get("type")
    if kind == "drone":
        behaviour = value.get("behaviour")
        return f"drone:{behaviour}" if behaviour in DRONE_BEHAVIOURS else None
    return kind if kind in ("bird", "manned_aircraft") else None


ObjectSpec = Annotated[
    Annotated[TransitDrone, Tag("drone:transit")]
    | Annotated[LoiterDrone, Tag("drone:loiter")]
    | Annotated[OrbitDrone, Tag("drone:orbit")]
    | Annotated[DiveDrone, Tag("drone:dive")]
    | Annotated[SwarmDrones, Tag("drone:swarm")]
    | Annotated[Birds, Tag("bird")]
    | Annotated[MannedAircraft, Tag("manned_aircraft")],
    Discriminator(
        _object_tag,
        custom_error_type="object_kind",
        custom_error_message=(
            "type must be drone, bird or manned_aircraft; a drone needs "
            "behaviour = transit, loiter, orbit, dive or swarm"
        ),
    ),
]

_TAGS = {"drone:transit", "drone:loiter", "drone:orbit", "drone:dive", "drone:swarm"}
_TAGS |= {"bird", "manned_aircraft"}


class Coverage(_Strict):
    max_range_m: float = Field(gt=0, le=500_000)
    min_range_m: float = Field(0.0, ge=0)
    min_elevation_deg: float = Field(-90.0, ge=-90, le=90)
    max_elevation_deg: float | None = Field(
        None,
        ge=-90,
        le=90,
        description="top of cover; default 90, or 70 for a radar (its cone of silence above)",
    )
    azimuth_deg: tuple[float, float] | None = Field(
        None, description="sector [from, to], clockwise, true north; default all round"
    )

    @model_validator(mode="after")
    def _ordered(self) -> Coverage:
        if self.min_range_m >= self.max_range_m:
            raise _KeyError("min_range_m", "must be below max_range_m")
        top = 90.0 if self.max_elevation_deg is None else self.max_elevation_deg
        if self.min_elevation_deg >= top:
            raise _KeyError("min_elevation_deg", "must be below max_elevation_deg")
        return self


class SimNoise(_Strict):
    """1-sigma errors the sensor model adds, per measurement type."""

    position_m: float = Field(3.0, ge=0, description="per axis, position reports")
    velocity_mps: float = Field(0.3, ge=0, description="per axis, reported velocities")
    range_m: float = Field(5.0, ge=0)
    azimuth_deg: float = Field(1.0, ge=0)
    elevation_deg: float = Field(1.0, ge=0)
    radial_velocity_mps: float = Field(0.5, ge=0)
    rssi_db: float = Field(3.0, ge=0)


class Outage(_Strict):
    start_s: float = Field(ge=0)
    end_s: float

    @model_validator(mode="after")
    def _ordered(self) -> Outage:
        if self.end_s <= self.start_s:
            raise _KeyError("end_s", "must be after start_s")
        return self


SensorKind = Literal["remote_id", "adsb", "radar", "rf"]

DRIVER_KINDS: dict[str, SensorKind] = {
    "dragonsync": "remote_id",
    "odid_frames": "remote_id",
    "sbs": "adsb",
    "beast": "adsb",
    "asterix": "radar",
    "rfserial": "rf",
}
DRIVERS = (*DRIVER_KINDS, "sapient")

#: a rotating radar's default top of cover: above it, the cone of silence over the antenna
RADAR_MAX_ELEVATION_DEG = 70.0

ClassName = Literal["drone", "bird", "manned_aircraft", "unknown"]


def _confusion(value: Any) -> Any:
    """``{true class: {label: probability}}``; each row sums to at most 1 (the rest: truth)."""
    if not isinstance(value, dict):
        return value
    for true_class, row in value.items():
        if not isinstance(row, dict):
            raise ValueError(f"{true_class}: a row is a table {{label = probability}}")
        total = sum(float(p) for p in row.values())
        if any(float(p) < 0 for p in row.values()) or total > 1.0 + 1e-9:
            raise ValueError(
                f"{true_class}: label probabilities must be 0 or more and sum to at most 1 "
                f"(they sum to {total:g}); the rest goes to the true class"
            )
    return value


Confusion = Annotated[dict[ClassName, dict[ClassName, float]], BeforeValidator(_confusion)]


class SensorSpec(_Strict):
    """A simulated sensor: where it is, what it sees, how well, and how it speaks.

    ``options`` are the driver's ``[sensors.options]`` (``cuas drivers list``): they go
    into the replay config unchanged, and the protocol encoder (``cuas.sim.encoders``)
    reads what it needs from them (e.g. the ASTERIX ``sources`` SAC/SIC).
    """

    id: str = Field(min_length=1, pattern=r"^[A-Za-z0-9_.:-]+$")
    driver: Literal["dragonsync", "odid_frames", "sbs", "beast", "asterix", "sapient", "rfserial"]
    position: Point
    detects: Literal["radar", "rf"] = Field("radar", description="sapient only: node type")
    mode: Literal["bearing", "presence"] = Field("bearing", description="RF sensors only")
    coverage: Coverage
    noise: SimNoise = Field(default_factory=SimNoise)
    pd: float = Field(0.9, ge=0, le=1, description="per scan, for an object in cover")
    clutter_per_scan: float = Field(0.0, ge=0, le=1000, description="radar and RF only")
    update_interval_s: float = Field(
        1.0, gt=0, le=60, description="a radar's rotation period; others: report period"
    )
    scan: Literal["rotating", "staring"] = Field(
        "rotating",
        description="radars: a rotating beam times each plot at its crossing (clockwise from "
        "north at each rotation's start); staring: one time for all plots of a scan",
    )
    sectors: int = Field(8, ge=1, le=256, description="rotating radar: frames per rotation")
    classifier: Confusion | None = Field(
        None,
        description="radar/RF class labels: {true class: {label: probability}}; e.g. "
        "bird = {drone = 0.2, unknown = 0.3} labels birds UAV one time in five",
    )
    class_confidence: tuple[float, float] = Field(
        (0.55, 0.95), description="range of the confidence sent with a label (uniform)"
    )
    latency_s: float = Field(0.0, ge=0, le=60, description="from observation to receipt")
    latency_jitter_s: float = Field(0.0, ge=0, le=10, description="uniform, added")
    outages: list[Outage] = Field(default_factory=list)
    bands: list[str] | None = Field(None, description="RF bands heard; default all")
    sensitivity_dbm: float = Field(-95.0, description="RF: weaker emitters are not heard")
    options: dict[str, Any] = Field(default_factory=dict)

    @property
    def kind(self) -> SensorKind:
        """What physics the sensor has: a sapient node is a radar or an RF detector."""
        return self.detects if self.driver == "sapient" else DRIVER_KINDS[self.driver]

    def in_outage(self, t_s: float) -> bool:
        return any(o.start_s <= t_s < o.end_s for o in self.outages)

    @property
    def max_elevation_deg(self) -> float:
        """Top of cover: as given, else 90 (a radar: its cone of silence above 70)."""
        top = self.coverage.max_elevation_deg
        if top is not None:
            return top
        return RADAR_MAX_ELEVATION_DEG if self.kind == "radar" else 90.0

    @property
    def rotating(self) -> bool:
        return self.kind == "radar" and self.scan == "rotating"

    @property
    def per_object(self) -> bool:
        """Reports each object on its own schedule (RF nodes, Remote ID, ADS-B), not by scan."""
        return self.kind in ("rf", "remote_id", "adsb")

    @model_validator(mode="after")
    def _clutter(self) -> SensorSpec:
        if self.clutter_per_scan and self.kind not in ("radar", "rf"):
            raise _KeyError("clutter_per_scan", f"a {self.kind} sensor reports no clutter")
        if self.classifier and self.kind not in ("radar", "rf"):
            raise _KeyError("classifier", f"a {self.kind} sensor sends no class labels")
        lo, hi = self.class_confidence
        if not 0 < lo <= hi <= 1:
            raise _KeyError("class_confidence", "must be [low, high] with 0 < low <= high <= 1")
        return self


class SiteRef(_Strict):
    """The site: its reference point, or a deployment config to take it (and zones) from."""

    reference: GeoPoint | None = None
    config: str | None = Field(None, description="deployment TOML, relative to the scenario")
    site_id: str | None = Field(None, description="which of the config's sites (default first)")

    @model_validator(mode="after")
    def _one(self) -> SiteRef:
        if (self.reference is None) == (self.config is None):
            raise _KeyError("reference", "give either reference or config")
        return self


DEFAULT_START = datetime(2025, 11, 29, 8, 0, 0, tzinfo=UTC)
DEFAULT_MIN_LEAD_S = 20.0  # issue 10: a breaching drone is pre-alerted at least 20 s ahead


class Expect(_Strict):
    """The alert outcome a scenario promises for one object (or every member of a group),
    checked by ``cuas.score.outcome`` on a replay of the scenario's file.

    ``alert = "critical"``: the object breaches a critical zone and a critical alert for it
    is raised before the breach, at least ``min_lead_s`` ahead (a pre-alert); an object that
    appears inside the zone (a take-off) must instead be alerted within ``max_delay_s`` of
    appearing. ``alert = "none"``: it raises no drone alert at all (a friend, a manned
    aircraft, a bird). ``alert = "any"``: no promise beyond the flapping bound. Always: at
    most ``max_alerts_per_zone`` alerts for the object in each zone (no flapping).
    """

    alert: Literal["critical", "none", "any"]
    min_lead_s: float = Field(DEFAULT_MIN_LEAD_S, ge=0, le=600)
    max_delay_s: float | None = Field(
        None, gt=0, le=120, description="born inside the zone: alerted within this long"
    )
    max_alerts_per_zone: int = Field(1, ge=1)
    why: str = Field("", description="the case in words, for the report")


class Scenario(_Strict):
    name: str = Field(min_length=1, pattern=r"^[A-Za-z0-9_.-]+$")
    description: str = ""
    duration_s: float = Field(gt=0, le=24 * 3600)
    seed: int = Field(1, ge=0)
    start: datetime = Field(DEFAULT_START, description="UTC; a fixed time keeps files equal")
    truth_interval_s: float = Field(1.0, gt=0, le=60)
    site: SiteRef
    objects: list[ObjectSpec] = Field(min_length=1)
    sensors: list[SensorSpec] = Field(min_length=1)
    alerts: AlertSection = Field(
        default_factory=AlertSection, description="the replay deployment's [alerts] (friends)"
    )
    expect: dict[str, Expect] = Field(
        default_factory=dict, description="expected alert outcome per object id (or group id)"
    )

    #: resolved from [site]: the site (reference, and zones when taken from a config)
    _site: Site | None = PrivateAttr(None)

    @field_validator("start")
    @classmethod
    def _utc(cls, value: datetime) -> datetime:
        if value.tzinfo is None:
            raise ValueError("needs a UTC offset, e.g. 2025-11-29T08:00:00Z")
        return value

    @property
    def start_unix(self) -> float:
        return self.start.timestamp()

    @property
    def frame(self) -> EnuFrame:
        ref = self.reference
        return EnuFrame(ref.lat_deg, ref.lon_deg, ref.alt_m or 0.0)

    @property
    def site_model(self) -> Site:
        assert self._site is not None, "build scenarios with parse_scenario or load_scenario"
        return self._site

    @property
    def reference(self) -> GeoPoint:
        return self.site_model.reference


def _loc(loc: tuple[Any, ...]) -> str:
    out = ""
    for part in loc:
        if isinstance(part, str) and part in _TAGS:
            continue  # the union member pydantic tried, not a key in the file
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "(top level)"


def _site(raw: dict[str, Any], path: Path) -> Site:
    try:
        ref = SiteRef.model_validate(raw.get("site"))
    except ValidationError as exc:
        raise _error(path, exc, ("site",)) from None
    if ref.reference is not None:
        return Site(id=path.stem, name=path.stem, reference=ref.reference)
    config_path = Path(ref.config or "")
    config_path = config_path if config_path.is_absolute() else path.parent / config_path
    try:
        config = load_config(config_path)
    except ConfigError as exc:
        raise ScenarioError(f"{path}: site.config: {exc}") from None
    for site in config.sites:
        if ref.site_id in (None, site.id):
            return site
    raise ScenarioError(f"{path}: site.site_id: no site {ref.site_id!r} in {config_path}")


def _error(path: Path, exc: ValidationError, prefix: tuple[Any, ...] = ()) -> ScenarioError:
    err = exc.errors()[0]
    loc = (*prefix, *err["loc"])
    msg = err["msg"]
    cause = (err.get("ctx") or {}).get("error")
    if isinstance(cause, _KeyError):
        loc, msg = (*loc, cause.key), str(cause)
    elif msg.startswith("Value error, "):
        msg = msg[len("Value error, ") :]
    more = f" (and {exc.error_count() - 1} more)" if exc.error_count() > 1 else ""
    return ScenarioError(f"{path}: {_loc(loc)}: {msg}{more}")


def parse_scenario(raw: dict[str, Any], path: Path) -> Scenario:
    """Validate a scenario's TOML table; raise ScenarioError naming the key and reason."""
    if not isinstance(raw.get("site"), dict):
        raise ScenarioError(f"{path}: site: missing; add [site] with reference = {{...}}")
    site = _site(raw, path)
    ref = site.reference
    frame = EnuFrame(ref.lat_deg, ref.lon_deg, ref.alt_m or 0.0)
    try:
        scenario = Scenario.model_validate(raw, context={"frame": frame})
    except ValidationError as exc:
        raise _error(path, exc) from None
    scenario._site = site
    _unique(path, "sensors", [s.id for s in scenario.sensors])
    _unique(path, "objects", [o.id for o in scenario.objects])
    ids = {o.id for o in scenario.objects}
    for key in scenario.expect:
        if key not in ids:
            raise ScenarioError(f"{path}: expect.{key}: no object of that id")
    for i, sensor in enumerate(scenario.sensors):
        for j, outage in enumerate(sensor.outages):
            if outage.start_s >= scenario.duration_s:
                raise ScenarioError(
                    f"{path}: sensors[{i}].outages[{j}].start_s: after the end of the scenario"
                )
    return scenario


def _unique(path: Path, key: str, ids: list[str]) -> None:
    seen: set[str] = set()
    for i, ident in enumerate(ids):
        if ident in seen:
            raise ScenarioError(f"{path}: {key}[{i}].id: {ident!r} is used twice")
        seen.add(ident)


def load_scenario(path: str | Path) -> Scenario:
    path = Path(path)
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ScenarioError(f"{path}: no such scenario file") from None
    except tomllib.TOMLDecodeError as exc:
        raise ScenarioError(f"{path}: not valid TOML: {exc}") from None
    return parse_scenario(raw, path)


def member_serial(serial: str, k: int) -> str:
    """Remote ID serial of swarm member ``k`` (1-based): the last two characters become k."""
    return serial[:-2] + f"{k:02d}"
