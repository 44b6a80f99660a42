"""An example cuas driver plugin; copy it to start your own (see docs/drivers.md in cuas)."""

from cuas_driver_template.driver import ExampleRadarDriver, ExampleRadarOptions

__all__ = ["ExampleRadarDriver", "ExampleRadarOptions"]
