"""``cuas replay``: a recording through the real drivers and the fusion engine, in-process.

Recorded receive times are the only clock, so a file gives the same tracks and alerts at
any speed: ``speed=None`` runs as fast as possible, otherwise frames are paced at
``speed`` times real time.
"""

from __future__ import annotations

import json
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

from pydantic import BaseModel

from cuas.config import ConfigError, DeploymentConfig, SensorConfig
from cuas.driver.host import FrameDecoder
from cuas.driver.registry import build_driver
from cuas.engine.fusion import FusionEngine
from cuas.replay.format import Frame, ReplayReader
from cuas.schema import Alert
from cuas.store.sqlite import Store


@dataclass
class ReplaySummary:
    frames: int = 0
    detections: int = 0
    malformed_frames: int = 0
    malformed_lines: int = 0
    truth_records: int = 0
    tracks_seen: set[str] = field(default_factory=set)
    confirmed_tracks: set[str] = field(default_factory=set)
    alerts: dict[int, Alert] = field(default_factory=dict)
    duration_s: float = 0.0
    wall_s: float = 0.0
    engine: Counter[str] = field(default_factory=Counter)

    def as_dict(self) -> dict:
        return {
            "frames": self.frames,
            "detections": self.detections,
            "malformed_frames": self.malformed_frames,
            "malformed_lines": self.malformed_lines,
            "truth_records": self.truth_records,
            "tracks": len(self.tracks_seen),
            "confirmed_tracks": len(self.confirmed_tracks),
            "alerts": len(self.alerts),
            "recording_s": round(self.duration_s, 3),
            "wall_s": round(self.wall_s, 3),
            "engine": dict(self.engine),
        }


def _decoders(config: DeploymentConfig, reader: ReplayReader) -> dict[str, FrameDecoder]:
    """A decoder per recorded sensor: the config's sensor if it has one, else the header's."""
    configured = {s.id: s for s in config.sensors}
    decoders = {}
    for sensor_id, meta in reader.header.sensors.items():
        sensor = configured.get(sensor_id)
        recorded_driver = meta.get("driver")
        if sensor is not None and recorded_driver and recorded_driver != sensor.driver:
            raise ConfigError(
                f"{reader.path}: sensor {sensor_id!r} was recorded with driver "
                f"{recorded_driver!r}, but the config's sensor of that id uses "
                f"{sensor.driver!r}; pass a --config whose sensors match the recording"
            )
        if sensor is None:
            driver = meta.get("driver")
            if not driver:
                raise ConfigError(
                    f"{reader.path}: sensor {sensor_id!r} names no driver and is not in the config"
                )
            sensor = SensorConfig(id=sensor_id, driver=driver, source="replay:")
        decoders[sensor_id] = FrameDecoder(build_driver(sensor, f"sensor {sensor_id!r}"))
    return decoders


def run_replay(
    config: DeploymentConfig,
    path: Path,
    *,
    speed: float | None = None,
    out: IO[str] | None = None,
    store: Store | None = None,
    on_step: Callable[[float], None] | None = None,
) -> ReplaySummary:
    reader = ReplayReader(path)
    decoders = _decoders(config, reader)
    store = store or Store(":memory:")
    engine = FusionEngine(config, store)
    summary = ReplaySummary()
    interval = config.tracker.publish_interval_s
    t_first: float | None = None
    next_publish = 0.0
    wall0 = time.perf_counter()

    def emit(kind: str, items: list[BaseModel]) -> None:
        if out is not None:
            for item in items:
                out.write(json.dumps({"type": kind, **item.model_dump(mode="json")}) + "\n")

    def step(t_unix: float, publish: bool) -> None:
        """A quick step per frame (its tracks near a zone), the full picture when due, as
        the engine process does on its publish interval."""
        result = engine.step(t_unix, full=publish)
        for alert in result.alerts:
            summary.alerts[alert.alert_id] = alert
        emit("alert", result.alerts)
        emit("track", result.lost)
        if publish:
            ids, status, _ = engine.tracker.estimates()
            summary.tracks_seen.update(f"T{i}" for i in ids.tolist())
            summary.confirmed_tracks.update(f"T{i}" for i in ids[status == "confirmed"].tolist())
            if out is not None:  # the picture is built only when read
                emit("track", result.tracks)
        if on_step:
            on_step(t_unix)

    t_last = 0.0
    for record in reader:
        if not isinstance(record, Frame):
            summary.truth_records += 1
            continue
        t_first = record.t_unix if t_first is None else t_first
        if speed is not None:
            lag = (record.t_unix - t_first) / speed - (time.perf_counter() - wall0)
            if lag > 0:
                time.sleep(lag)
        decoder = decoders.get(record.sensor_id)
        summary.frames += 1
        if decoder is None:
            raise ConfigError(
                f"{path}: a frame at t={record.t_unix:.3f} is from sensor {record.sensor_id!r}, "
                "which neither the config nor the file's header knows; pass a --config with it"
            )
        detections = decoder(record.t_unix, record.data)
        summary.detections += len(detections)
        engine.ingest(detections)
        t_last = max(t_last, record.t_unix)
        publish = t_last >= next_publish
        if publish:
            next_publish = t_last + interval
        step(t_last, publish)
    if t_first is not None:
        step(t_last + engine.reorder.lag_s, True)  # let the reorder buffer release the last
        summary.duration_s = t_last - t_first
    summary.malformed_frames = sum(d.counters["malformed"] for d in decoders.values())
    summary.malformed_lines = reader.counters["malformed"]
    summary.engine = engine.counters + Counter(engine.tracker.counters)
    summary.wall_s = time.perf_counter() - wall0
    return summary
