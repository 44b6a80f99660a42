"""Finding installed drivers (entry-point group ``cuas.drivers``) and building them."""

from __future__ import annotations

from importlib.metadata import entry_points

from pydantic import ValidationError

from cuas.config import ConfigError, SensorConfig
from cuas.driver.api import Driver, SensorInfo

ENTRY_POINT_GROUP = "cuas.drivers"


def installed_drivers() -> dict[str, str]:
    """Driver name -> 'module:Class' for every installed plugin."""
    return {ep.name: ep.value for ep in entry_points(group=ENTRY_POINT_GROUP)}


def load_driver_class(name: str) -> type[Driver]:
    matches = [ep for ep in entry_points(group=ENTRY_POINT_GROUP) if ep.name == name]
    if not matches:
        known = ", ".join(sorted(installed_drivers())) or "none"
        raise ConfigError(f"unknown driver {name!r} (installed: {known})")
    cls = matches[0].load()
    if not (isinstance(cls, type) and issubclass(cls, Driver)):
        raise ConfigError(f"driver {name!r} ({matches[0].value}) is not a cuas Driver subclass")
    return cls


def build_driver(sensor: SensorConfig, key: str = "sensors") -> Driver:
    """Instantiate the sensor's driver with validated options; errors name the config key."""
    try:
        cls = load_driver_class(sensor.driver)
    except ConfigError as exc:
        raise ConfigError(f"{key}.driver: {exc}") from None
    try:
        options = cls.Options.model_validate(sensor.options)
    except ValidationError as exc:
        err = exc.errors()[0]
        where = ".".join(str(p) for p in err["loc"])
        raise ConfigError(f"{key}.options.{where}: {err['msg']}") from None
    info = SensorInfo(
        sensor_id=sensor.id,
        driver=sensor.driver,
        position=sensor.position,
        orientation=sensor.orientation,
        noise=sensor.noise,
        pd=sensor.pd,
        latency_s=sensor.latency_s,
    )
    return cls(info, options)
