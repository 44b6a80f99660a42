"""A deployment's configuration: one TOML file, validated before anything starts.

Every error names the key that is wrong and why, e.g.
``configs/site.toml: sensors[1].driver: unknown driver 'radr' (installed: dragonsync)``.
Relative paths in the file (data_dir, replay sources) are relative to the file itself.
"""

from __future__ import annotations

import ipaddress
import tomllib
from pathlib import Path
from typing import Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    ValidationError,
    field_validator,
    model_validator,
)

from cuas.alerting.friends import FriendSpec
from cuas.schema import AlertState, GeoPoint, ObjectClass, Site, ZoneLevel
from cuas.tracking.config import TrackerConfig


class ConfigError(ValueError):
    """The configuration is wrong; the message names the file, the key and the reason."""


CURVE_KEYS = (
    "curve_server_secret",
    "curve_authorized_dir",
    "curve_client_secret",
    "curve_server_public",
)


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ServiceConfig(_Section):
    data_dir: str = "var"
    log_level: str = Field("info", pattern="^(debug|info|warning|error)$")
    log_format: str = Field(
        "text", pattern="^(text|json)$", description="json: one JSON object a line"
    )
    history_retention_h: float = Field(
        168.0, gt=0, description="track history older than this is deleted (look-back window)"
    )


class ApiConfig(_Section):
    host: str = "127.0.0.1"
    port: int = Field(8000, ge=0, le=65535)
    require_key_on_loopback: bool = Field(
        False, description="ask for API keys even on a loopback host (always on elsewhere)"
    )
    allowed_hosts: list[str] = Field(
        default_factory=list,
        description="names this server may be reached by besides loopback ones, checked in "
        "the Host header while keys are not required (against DNS rebinding)",
    )
    max_body_bytes: int = Field(
        64 * 1024, ge=1024, le=16 * 1024 * 1024, description="larger request bodies get 413"
    )
    stream_heartbeat_s: float = Field(
        15.0, gt=0, le=300, description="SSE comment sent when nothing else was for this long"
    )
    map_tiles_url: str | None = Field(
        None,
        description="XYZ (Web Mercator) tile URL template for the dashboard's map, with {z}, "
        "{x} and {y}, e.g. http://tiles.local/{z}/{x}/{y}.png; unset: no tiles (offline)",
    )
    map_tiles_attribution: str = Field(
        "", max_length=200, description="shown on the map under the tiles (their licence)"
    )
    map_tiles_max_zoom: int = Field(
        19, ge=0, le=22, description="deepest zoom the tile server has; deeper views stretch it"
    )

    @field_validator("map_tiles_url")
    @classmethod
    def _tiles_template(cls, value: str | None) -> str | None:
        if value is None:
            return None
        scheme, _, rest = value.partition("://")
        host = rest.split("/", 1)[0]
        if scheme.lower() not in ("http", "https") or not host:
            raise ValueError("must be an http:// or https:// URL with a host")
        if "{" in host or "}" in host:
            raise ValueError("the host must be fixed (placeholders only in the path or query)")
        missing = [p for p in ("{z}", "{x}", "{y}") if p not in value]
        if missing:
            raise ValueError(
                f"must contain {', '.join(missing)}: an XYZ template such as "
                "https://tiles.example/{z}/{x}/{y}.png"
            )
        return value

    @property
    def keys_required(self) -> bool:
        """Keys are needed unless the API listens on loopback only and the config allows it."""
        return self.require_key_on_loopback or not is_loopback_host(self.host)


def is_loopback_host(host: str) -> bool:
    """True for 127.0.0.0/8, ::1 and "localhost"; a name or wildcard address is not loopback."""
    if host.strip().lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


BUS_DIR_NAME = "bus"  # under the data dir: the default IPC sockets, in a 0700 folder
IPC_PATH_MAX = 107  # sun_path of a UNIX socket address, less its terminating NUL


class BusConfig(_Section):
    # Unset: IPC sockets in DATA_DIR/bus, a folder only this user may enter (mode 0700), so
    # no other local user can inject detections or read the picture. TCP (with CURVE for
    # remote drivers) when a part runs on another machine.
    ingest: str | None = Field(None, description="drivers -> engine (the engine binds)")
    output: str | None = Field(
        None, description="engine -> API and machine consumers (the engine binds)"
    )
    hwm: int = Field(10_000, ge=10)
    # ZeroMQ CURVE on the ingest link (cuas.keys); all four set, or none
    curve_server_secret: str | None = Field(
        None, description="the engine's NAME.key_secret file (from `cuas keys create`)"
    )
    curve_authorized_dir: str | None = Field(
        None, description="folder of the NAME.key public keys of the drivers admitted"
    )
    curve_client_secret: str | None = Field(
        None, description="the driver process's NAME.key_secret file"
    )
    curve_server_public: str | None = Field(None, description="the engine's NAME.key file")

    @field_validator("ingest", "output")
    @classmethod
    def _endpoint(cls, value: str | None) -> str | None:
        if value is not None and not value.startswith(("tcp://", "ipc://", "inproc://")):
            raise ValueError("must be a ZeroMQ endpoint such as tcp://127.0.0.1:5550")
        return value

    @model_validator(mode="after")
    def _curve_all_or_none(self) -> BusConfig:
        given = {key: getattr(self, key) for key in CURVE_KEYS}
        if any(given.values()) and not all(given.values()):
            missing = ", ".join(f"bus.{k}" for k, v in given.items() if not v)
            raise ValueError(
                f"CURVE needs all of {', '.join(CURVE_KEYS)}; missing {missing} "
                "(make keys with `cuas keys create`)"
            )
        return self

    def curve_files(self, base_dir: Path) -> dict[str, Path]:
        """The CURVE key files resolved from ``base_dir``; {} when CURVE is off.

        Checked here rather than at parse time because paths are relative to the config file.
        """
        if not self.curve_server_secret:
            return {}
        files: dict[str, Path] = {}
        for key in CURVE_KEYS:
            path = Path(getattr(self, key))
            path = path if path.is_absolute() else (base_dir / path).resolve()
            is_dir = key == "curve_authorized_dir"
            if not (path.is_dir() if is_dir else path.is_file()):
                what = "folder" if is_dir else "file"
                raise ConfigError(f"bus.{key}: {path}: no such {what}")
            files[key] = path
        return files


class TrackerSection(TrackerConfig):
    """``[tracker]``: the tracker's own settings (:class:`cuas.tracking.TrackerConfig`, the
    one definition, validated here at load) and the two the engine around it reads."""

    publish_interval_s: float = Field(0.5, gt=0, description="how often tracks go on the bus")
    # Every detection, and so every alert, waits this long: 0 processes at once and applies
    # the few detections that arrive out of order approximately (at drone speeds, metres).
    # Raise it for sensors whose clocks or links jitter; declared latency_s adds to it.
    reorder_lag_s: float = Field(
        0.0, ge=0, description="hold detections this long (plus the largest sensor latency)"
    )


class AlertSection(_Section):
    clear_after_s: float = Field(
        5.0, ge=0, description="time outside a zone (and not predicted in) before clearing"
    )
    drone_classes: list[str] = Field(
        default_factory=lambda: ["drone"], description="classes that raise drone alerts"
    )
    breach_horizon_s: float = Field(
        30.0, ge=0, le=600, description="time-to-breach look-ahead; 0 turns pre-alerts off"
    )
    breach_sigma: float = Field(
        2.0, ge=0, le=10, description="position standard deviations added around the path"
    )
    hold_distance_m: float = Field(
        100.0,
        ge=0,
        description="an open zone alert holds while its object is this close to the zone "
        "(beyond its position margin), so a drone hovering at the edge keeps one alert",
    )
    identity_grace_s: float = Field(
        3.0,
        ge=0,
        le=10,
        description="a track this young in a Remote ID receiver's cover raises nothing yet, "
        "so a friend's first Remote ID message can arrive (delays a new alert at most this)",
    )
    presence_clear_after_s: float = Field(
        30.0, gt=0, description="an RF presence alert clears after this long unheard"
    )
    presence_level: ZoneLevel = Field(ZoneLevel.WARNING, description="level of rf_presence")
    sensor_silent_after_s: float = Field(
        15.0, gt=0, description="no status from a sensor for this long: coverage alert"
    )
    coverage_level: ZoneLevel = Field(ZoneLevel.WARNING, description="level of sensor_coverage")
    friends: list[FriendSpec] = Field(
        default_factory=list, description="authorised IDs, loaded into the store at start"
    )

    @field_validator("drone_classes")
    @classmethod
    def _drone_classes(cls, value: list[str]) -> list[str]:
        known = [c.value for c in ObjectClass]
        for name in value:
            if name not in known:
                raise ValueError(f"unknown class {name!r}; choose from {', '.join(known)}")
            if name == ObjectClass.MANNED_AIRCRAFT:
                raise ValueError("manned_aircraft never raises drone alerts; remove it")
        return value

    @field_validator("presence_level", "coverage_level")
    @classmethod
    def _alert_level(cls, value: ZoneLevel) -> ZoneLevel:
        if value is ZoneLevel.IGNORE:
            raise ValueError("an alert's level is watch, warning or critical")
        return value


class SensorNoise(_Section):
    """1-sigma measurement errors, used when a frame does not state its own."""

    position_m: float = Field(10.0, gt=0, description="per axis, for 3-D positions")
    range_m: float = Field(10.0, gt=0)
    azimuth_deg: float = Field(1.0, gt=0)
    elevation_deg: float = Field(1.0, gt=0)
    radial_velocity_mps: float = Field(0.5, gt=0)


class Orientation(_Section):
    """Mounting of a sensor whose measurements are relative to itself (radar, DF)."""

    yaw_deg: float = Field(0.0, description="boresight azimuth, clockwise from true north")
    pitch_deg: float = 0.0
    roll_deg: float = 0.0


class SensorCoverage(_Section):
    """Where a sensor can see: a sector of ``azimuth_width_deg`` centred on the boresight
    (``orientation.yaw_deg``) out to ``range_m``, optionally between two elevations."""

    range_m: float = Field(gt=0, description="detection range, metres from the sensor")
    min_range_m: float = Field(0.0, ge=0, description="blind range close to the sensor, metres")
    azimuth_width_deg: float = Field(
        360.0, gt=0, le=360, description="sector width centred on yaw_deg; 360 = all round"
    )
    min_elevation_deg: float | None = Field(None, ge=-90, le=90)
    max_elevation_deg: float | None = Field(None, ge=-90, le=90)

    @model_validator(mode="after")
    def _elevation_order(self) -> SensorCoverage:
        if self.min_range_m >= self.range_m:
            raise ValueError(
                f"min_range_m ({self.min_range_m:g}) must be below range_m ({self.range_m:g})"
            )
        low, high = self.min_elevation_deg, self.max_elevation_deg
        if low is not None and high is not None and low >= high:
            raise ValueError(
                f"min_elevation_deg ({low:g}) must be below max_elevation_deg ({high:g})"
            )
        return self


class SensorConfig(_Section):
    id: str = Field(min_length=1, pattern=r"^[A-Za-z0-9_.:-]+$")
    driver: str
    source: str
    position: GeoPoint | None = None
    orientation: Orientation = Field(default_factory=Orientation)
    coverage: SensorCoverage | None = Field(None, description="drawn on the dashboard's map")
    noise: SensorNoise = Field(default_factory=SensorNoise)
    pd: float = Field(0.9, gt=0, le=1, description="probability of detecting a target in cover")
    clutter_per_scan: float = Field(0.0, ge=0, description="expected false detections per scan")
    latency_s: float = Field(0.0, ge=0, description="typical delay from event to receipt")
    revisit_s: float | None = Field(
        None,
        gt=0,
        description="how often the sensor can see one object: a radar's rotation, a "
        "receiver's broadcast or report interval; unset: learned from its detections",
    )
    options: dict[str, Any] = Field(default_factory=dict)
    exercise: bool = Field(
        False,
        description="a scenario's simulated sensor (cuas run --exercise): all it causes "
        "is marked exercise",
    )


def _alerting_level(level: ZoneLevel | None) -> ZoneLevel | None:
    """A level filter must name an alerting level; an ignore zone raises no alert to filter."""
    if level is ZoneLevel.IGNORE:
        raise ValueError("must be watch, warning or critical (ignore zones raise no alerts)")
    return level


class WebhookConfig(_Section):
    """One webhook subscription: where alerts (and optionally tracks, sensor status) are POSTed."""

    id: str = Field(min_length=1, pattern=r"^[A-Za-z0-9_.:-]+$", description="names it in logs")
    url: str
    secret: SecretStr | None = Field(None, description="HMAC-SHA256 key; prefer secret_env")
    secret_env: str | None = Field(None, description="environment variable holding the key")
    kinds: list[Literal["alert", "track", "sensor"]] = Field(
        default_factory=lambda: ["alert"], min_length=1
    )
    alert_states: list[AlertState] = Field(default_factory=list, description="empty: all")
    min_zone_level: ZoneLevel = ZoneLevel.WATCH
    sites: list[str] = Field(default_factory=list, description="empty: every site")
    _no_ignore = field_validator("min_zone_level")(lambda v: _alerting_level(v))
    timeout_s: float = Field(10.0, gt=0, le=300)
    max_concurrency: int = Field(4, ge=1, le=64, description="requests in flight to this URL")
    min_interval_s: float = Field(
        5.0, ge=0, description="per track or sensor; a change of status always goes out"
    )
    retry_initial_s: float = Field(1.0, gt=0, description="first retry delay; doubles each time")
    retry_max_s: float = Field(300.0, gt=0)
    max_age_s: float = Field(86_400.0, gt=0, description="an alert undelivered this long is dead")
    track_max_age_s: float = Field(
        60.0, gt=0, description="a track or sensor update undelivered this long is dead"
    )

    @field_validator("url")
    @classmethod
    def _http_url(cls, value: str) -> str:
        scheme, _, rest = value.partition("://")
        if scheme.lower() not in ("http", "https") or not rest.split("/", 1)[0]:
            raise ValueError("must be an http:// or https:// URL with a host")
        return value

    @model_validator(mode="after")
    def _one_secret(self) -> WebhookConfig:
        if (self.secret is None) == (self.secret_env is None):
            raise ValueError(
                "set exactly one of secret and secret_env (the name of an environment "
                "variable holding the HMAC key, which keeps it out of the file)"
            )
        return self


class CotConfig(_Section):
    """One Cursor-on-Target destination over UDP: a TAK server input or a multicast group."""

    address: str = Field("239.2.3.1", description="IPv4 address or host; ATAK SA multicast")
    port: int = Field(6969, ge=1, le=65535)
    ttl: int = Field(1, ge=0, le=255, description="multicast hops")
    interface: str | None = Field(None, description="IPv4 address of the multicast interface")
    min_interval_s: float = Field(1.0, ge=0, description="per CoT uid; status changes always go")
    stale_s: float = Field(30.0, gt=0, description="how long TAK shows an event without update")
    classes: list[ObjectClass] = Field(
        default_factory=lambda: [
            ObjectClass.DRONE,
            ObjectClass.MANNED_AIRCRAFT,
            ObjectClass.UNKNOWN,
        ]
    )
    sites: list[str] = Field(default_factory=list, description="empty: every site")
    alerts: bool = True
    drone_type: str = Field("a-h-A-M-F-Q", pattern=r"^a-[a-z]-A(-[A-Za-z]+)*$")
    uid_prefix: str = Field("cuas", pattern=r"^[A-Za-z0-9_.-]+$")
    emergency_level: ZoneLevel | None = Field(
        None, description="alerts at this zone level or above go out as TAK emergencies"
    )
    exercise_emergencies: bool = Field(
        False, description="exercise alerts go out as TAK emergencies too (else as markers)"
    )

    _no_ignore = field_validator("emergency_level")(lambda v: _alerting_level(v))


class OutboundSection(_Section):
    webhooks: list[WebhookConfig] = Field(default_factory=list)
    cot: list[CotConfig] = Field(default_factory=list)

    @model_validator(mode="after")
    def _unique_ids(self) -> OutboundSection:
        ids = [hook.id for hook in self.webhooks]
        for i, ident in enumerate(ids):
            if ident in ids[:i]:
                raise ValueError(f"webhooks[{i}].id {ident!r} is used twice; ids must be unique")
        return self

    @property
    def enabled(self) -> bool:
        return bool(self.webhooks or self.cot)


class DeploymentConfig(_Section):
    service: ServiceConfig = Field(default_factory=ServiceConfig)
    api: ApiConfig = Field(default_factory=ApiConfig)
    bus: BusConfig = Field(default_factory=BusConfig)
    tracker: TrackerSection = Field(default_factory=TrackerSection)
    alerts: AlertSection = Field(default_factory=AlertSection)
    sites: list[Site] = Field(min_length=1)
    sensors: list[SensorConfig] = Field(default_factory=list)
    outbound: OutboundSection = Field(default_factory=OutboundSection)

    #: folder of the config file; relative paths inside it are resolved from here
    base_dir: Path = Path(".")

    def resolve(self, path: str) -> Path:
        p = Path(path)
        return p if p.is_absolute() else (self.base_dir / p).resolve()

    @property
    def data_dir(self) -> Path:
        return self.resolve(self.service.data_dir)

    @model_validator(mode="after")
    def _private_bus(self) -> DeploymentConfig:
        """Unset bus endpoints become IPC sockets in the private folder DATA_DIR/bus."""
        for key in ("ingest", "output"):
            if getattr(self.bus, key) is None:
                path = self.data_dir / BUS_DIR_NAME / f"{key}.sock"
                if len(str(path).encode()) > IPC_PATH_MAX:
                    raise ValueError(
                        f"bus.{key}: the default IPC socket {path} is longer than the system "
                        f"allows ({IPC_PATH_MAX} bytes); choose a shorter service.data_dir or "
                        "set bus.ingest and bus.output"
                    )
                setattr(self.bus, key, f"ipc://{path}")
        return self


def _loc(loc: tuple[Any, ...]) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "(top level)"


def load_config(path: str | Path) -> DeploymentConfig:
    """Read and validate a deployment TOML file; raise ConfigError naming key and reason."""
    path = Path(path)
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"{path}: no such config file") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML: {exc}") from None
    return parse_config(raw, path)


def parse_config(raw: dict[str, Any], path: Path) -> DeploymentConfig:
    try:
        config = DeploymentConfig.model_validate({**raw, "base_dir": path.resolve().parent})
    except ValidationError as exc:
        err = exc.errors()[0]
        more = f" (and {exc.error_count() - 1} more)" if exc.error_count() > 1 else ""
        raise ConfigError(f"{path}: {_loc(err['loc'])}: {err['msg']}{more}") from None
    _check_unique(path, "sites", [s.id for s in config.sites])
    _check_unique(path, "sensors", [s.id for s in config.sensors])
    for i, site in enumerate(config.sites):
        _check_unique(path, f"sites[{i}].zones", [z.id for z in site.zones])
    return config


def _check_unique(path: Path, key: str, ids: list[str]) -> None:
    seen: set[str] = set()
    for i, ident in enumerate(ids):
        if ident in seen:
            raise ConfigError(f"{path}: {key}[{i}].id: {ident!r} is used twice; ids must be unique")
        seen.add(ident)
