"""The fusion engine process: detections from the bus in, tracks and alerts to the bus out."""

from __future__ import annotations

import logging
import math
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
from cuas.store.alert_stream import OperatorTransitions
from cuas.store.database import store_path
from cuas.store.metrics import CounterPublisher
from cuas.store.sqlite import Store
from cuas.warmup import report_compiles, warm_kernels

log = logging.getLogger(__name__)

# A step runs as soon as the reorder buffer releases detections (or a late or presence
# detection arrives), for the tracks they touched; every publish interval for all tracks.
IDLE_WAIT_S = 0.05  # longest wait for input, so a stop is seen promptly
MAX_BATCH = 500  # bus messages taken before stepping, so a flood cannot starve the step


def run_engine(config: DeploymentConfig, stop: threading.Event | None = None) -> None:
    stop = stop or threading.Event()
    # Compile (or load) the kernels before listening: detections that queued up behind a
    # minute of compiling would make stale tracks, lost as soon as they were made, and the
    # coverage rule's clock would start before the engine could hear anyone.
    report_compiles(lambda text: log.info("engine: %s", text))
    warm_kernels(config)
    store = Store(store_path(config.data_dir))
    engine = FusionEngine(config, store, watch_sensors=True)
    operator = OperatorTransitions(store)  # acks and resolutions, made in the API process
    sub = Subscriber(
        config.bus.ingest,
        bind=True,
        topics=[TOPIC_DETECTIONS, TOPIC_STATUS],
        hwm=config.bus.hwm,
        curve=server_keys(config.bus, config.base_dir),
    )
    pub = Publisher(config.bus.output, bind=True, src="engine", hwm=config.bus.hwm)
    metrics = CounterPublisher(store_path(config.data_dir), "engine")
    log.info("engine: ingest %s, output %s", config.bus.ingest, config.bus.output)
    interval = config.tracker.publish_interval_s
    last_publish = 0.0
    try:
        while not stop.is_set():
            now = time.time()
            wait_s = min(engine.next_step_unix(), last_publish + interval, now + IDLE_WAIT_S) - now
            msg = sub.recv(timeout_ms=max(0, math.ceil(wait_s * 1000)))
            taken = 0
            while msg is not None:  # take what is queued, then step once
                if msg.topic == TOPIC_STATUS:
                    statuses = engine.screen.statuses(msg.items)  # type: ignore[arg-type]
                    pub.publish(TOPIC_STATUS, statuses)
                    engine.alerts.on_status(time.time(), statuses)
                else:
                    engine.ingest(msg.items)  # type: ignore[arg-type]
                taken += 1
                msg = sub.recv(timeout_ms=0) if taken < MAX_BATCH else None
            pub.publish(TOPIC_ALERTS, operator.due())
            now = time.time()
            full = now - last_publish >= interval
            if full or engine.next_step_unix() <= now:
                result = engine.step(now, full=full)
                if full:
                    last_publish = now
                    pub.publish(TOPIC_TRACKS, result.tracks)
                else:  # an alert's track goes out with it, not up to an interval later
                    alerted = {a.track_id for a in result.alerts}
                    pub.publish(TOPIC_TRACKS, [t for t in result.tracks if t.track_id in alerted])
                pub.publish(TOPIC_ALERTS, result.alerts)
                if result.lost:
                    pub.publish(TOPIC_TRACKS, result.lost)
            metrics.due(now, engine_counters(engine, sub, pub))
    finally:
        sub.close()
        pub.close()
        metrics.close()
        store.close()


def engine_counters(engine: FusionEngine, sub: Subscriber, pub: Publisher) -> dict[str, float]:
    """What /metrics shows of the engine: its own and the tracker's counters, what the ingest
    bus delivered and lost (sequence gaps), and what the output bus could not send."""
    counters: dict[str, float] = dict(engine.counters)
    counters.update({f"tracker_{k}": v for k, v in engine.tracker.counters.items()})
    counters.update({f"ingest_{k}": v for k, v in sub.counters.items()})
    counters["ingest_lost_messages"] = sub.gaps.lost
    counters.update({f"output_{k}": v for k, v in pub.counters.items()})
    return counters
