"""The fusion engine process: detections from the bus in, tracks and alerts to the bus out."""

from __future__ import annotations

import logging
import threading
import time

from cuas.bus import (
    TOPIC_ALERTS,
    TOPIC_DETECTIONS,
    TOPIC_STATUS,
    TOPIC_TRACKS,
    Publisher,
    Subscriber,
)
from cuas.config import DeploymentConfig
from cuas.engine.fusion import FusionEngine
from cuas.keys import server_keys
from cuas.store.sqlite import Store

log = logging.getLogger(__name__)

STEP_INTERVAL_S = 0.05  # alert rules run at least this often while detections flow


def store_path(config: DeploymentConfig):
    return config.data_dir / "cuas.sqlite"


def run_engine(config: DeploymentConfig, stop: threading.Event | None = None) -> None:
    stop = stop or threading.Event()
    store = Store(store_path(config))
    engine = FusionEngine(config, store, watch_sensors=True)
    sub = Subscriber(
        config.bus.ingest,
        bind=True,
        topics=[TOPIC_DETECTIONS, TOPIC_STATUS],
        hwm=config.bus.hwm,
        curve=server_keys(config.bus, config.base_dir),
    )
    pub = Publisher(config.bus.output, bind=True, src="engine", hwm=config.bus.hwm)
    log.info("engine: ingest %s, output %s", config.bus.ingest, config.bus.output)
    interval = config.tracker.publish_interval_s
    last_step = last_publish = 0.0
    try:
        while not stop.is_set():
            msg = sub.recv(timeout_ms=50)
            if msg is not None and msg.topic == TOPIC_STATUS:
                pub.publish(TOPIC_STATUS, msg.items)
                engine.alerts.on_status(time.time(), msg.items)  # type: ignore[arg-type]
            elif msg is not None:
                engine.ingest(msg.items)  # type: ignore[arg-type]
            now = time.time()
            publish_due = now - last_publish >= interval
            if publish_due or (msg is not None and now - last_step >= STEP_INTERVAL_S):
                result = engine.step(now)
                last_step = now
                pub.publish(TOPIC_ALERTS, result.alerts)
                if result.lost:
                    pub.publish(TOPIC_TRACKS, result.lost)
                if publish_due:
                    last_publish = now
                    pub.publish(TOPIC_TRACKS, result.tracks)
    finally:
        sub.close()
        pub.close()
        store.close()
