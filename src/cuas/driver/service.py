"""The driver process: every configured sensor's driver, publishing onto the ingest bus."""

from __future__ import annotations

import logging
import threading

from cuas.bus import TOPIC_DETECTIONS, TOPIC_STATUS, Publisher
from cuas.config import ConfigError, DeploymentConfig
from cuas.driver.api import Framing
from cuas.driver.host import DriverHost
from cuas.driver.registry import build_driver
from cuas.driver.sources import ReplaySource, open_source
from cuas.keys import client_keys
from cuas.replay.format import ReplayWriter
from cuas.schema import Detection, SensorStatus

log = logging.getLogger(__name__)


def validate_sensors(config: DeploymentConfig) -> None:
    """Build every driver and parse every source URL; ConfigError names the bad key."""
    for i, sensor in enumerate(config.sensors):
        driver = build_driver(sensor, f"sensors[{i}]")
        try:
            open_source(sensor.source, sensor.id, driver.framing, config.base_dir)
        except ValueError as exc:
            raise ConfigError(f"sensors[{i}].source: {exc}") from None


def check_replay_files(config: DeploymentConfig) -> None:
    """ConfigError for a sensor whose replay source names a file that is not there (not part
    of validate_sensors: an exercise's replay file is written after validation)."""
    for i, sensor in enumerate(config.sensors):
        if not sensor.source.startswith("replay:"):
            continue
        source = open_source(sensor.source, sensor.id, Framing.MESSAGE, config.base_dir)
        if isinstance(source, ReplaySource) and not source.path.is_file():
            raise ConfigError(f"sensors[{i}].source: {sensor.source}: no such file {source.path}")


def build_host(
    config: DeploymentConfig,
    on_detections,
    on_status,
    recorder: ReplayWriter | None = None,
) -> DriverHost:
    sensors = [(s, build_driver(s, f"sensors[{i}]")) for i, s in enumerate(config.sensors)]
    return DriverHost(sensors, on_detections, on_status, config.base_dir, recorder)


def run_drivers(
    config: DeploymentConfig,
    stop: threading.Event | None = None,
    record_path: str | None = None,
) -> None:
    stop = stop or threading.Event()
    pub = Publisher(
        config.bus.ingest,
        bind=False,
        src="drivers",
        hwm=config.bus.hwm,
        curve=client_keys(config.bus, config.base_dir),
    )
    lock = threading.Lock()

    def on_detections(batch: list[Detection]) -> None:
        with lock:
            pub.publish(TOPIC_DETECTIONS, batch)

    def on_status(status: SensorStatus) -> None:
        with lock:
            pub.publish(TOPIC_STATUS, [status])

    recorder = None
    if record_path:
        recorder = ReplayWriter(
            record_path,
            description="recorded live by cuas",
            sensors={s.id: {"driver": s.driver} for s in config.sensors},
        )
    host = build_host(config, on_detections, on_status, recorder)
    # An XPUB learns of the engine's subscription asynchronously; wait for it so the first
    # frames are not published into the void.
    if not pub.wait_for_subscriber(5.0):
        log.warning("drivers: no engine subscribed on %s yet; sending anyway", config.bus.ingest)
    host.start()
    try:
        while not stop.wait(0.5):
            if not host.alive():
                log.info("drivers: every source has ended")
                stop.wait()
    finally:
        host.stop()
        if recorder:
            recorder.close()
        pub.close()
