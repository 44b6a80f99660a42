"""Runs drivers: reads frames from each sensor's source, decodes, publishes, reports health.

One thread per sensor. The host, not the driver, owns everything that must never fail:
frame size limits, catching every decode error (counted, logged once per reason),
reconnecting lost links with exponential backoff, optional raw recording, and a
SensorStatus heartbeat with the counters. It also stamps every detection and status with
the sensor's ``exercise`` flag, so no driver can forget (or fake) it; an exercise sensor's
simulated input is never recorded with the live capture.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from cuas.config import SensorConfig
from cuas.driver.api import DecodeError, Driver
from cuas.driver.clock import SensorClock
from cuas.driver.sources import RawFrame, Source, SourceExhausted, open_source
from cuas.plausibility import Screen
from cuas.replay.format import ReplayWriter
from cuas.schema import SOURCE_ENDED, Detection, SensorState, SensorStatus

log = logging.getLogger(__name__)

BACKOFF_START_S = 0.5
BACKOFF_MAX_S = 30.0
STATUS_INTERVAL_S = 2.0
_WORSE = {SensorState.OK: 0, SensorState.DEGRADED: 1, SensorState.OFFLINE: 2}

DetectionSink = Callable[[list[Detection]], None]
StatusSink = Callable[[SensorStatus], None]


@dataclass
class FrameDecoder:
    """Decodes one sensor's frames with its driver; never lets an error escape."""

    driver: Driver
    counters: Counter[str] = field(default_factory=Counter)
    _seq: int = 0
    _reasons: set[str] = field(default_factory=set)
    _screen: Screen = field(init=False)
    clock: SensorClock = field(init=False)

    def __post_init__(self) -> None:
        sensor_id = self.driver.sensor.sensor_id
        self._screen = Screen(f"driver {sensor_id}", self.counters)
        self.clock = SensorClock(sensor_id, self.counters)

    def __call__(self, t_rx_unix: float, frame: bytes) -> list[Detection]:
        seq = self._seq
        self._seq += 1
        self.counters["frames"] += 1
        if len(frame) > self.driver.max_frame_bytes:
            self._malformed(f"frame longer than {self.driver.max_frame_bytes} bytes")
            return []
        try:
            detections = self.driver.decode(frame, t_rx_unix, seq)
        except DecodeError as exc:
            self._malformed(str(exc))
            return []
        except Exception as exc:  # a driver bug must not kill the link: count and go on
            self._malformed(f"driver error {type(exc).__name__}: {exc}", exc_info=True)
            return []
        detections = self._screen.detections(detections)
        self.clock.check(t_rx_unix, detections)
        self.counters["detections"] += len(detections)
        return detections

    def split(self, buf: bytearray) -> list[bytes]:
        """Frames from a stream buffer by the driver's framing; a failing splitter drops it."""
        try:
            return self.driver.split_frames(buf)
        except Exception as exc:
            buf.clear()
            self._malformed(f"framing error {type(exc).__name__}: {exc}", exc_info=True)
            return []

    def _malformed(self, reason: str, exc_info: bool = False) -> None:
        self.counters["malformed"] += 1
        kind = reason.split(":")[0][:60]
        if kind not in self._reasons:
            self._reasons.add(kind)
            log.warning(
                "%s: malformed frame skipped (%s); further frames like it are only counted",
                self.driver.sensor.sensor_id,
                reason,
                exc_info=exc_info,
            )


class SensorRunner(threading.Thread):
    """Keeps one sensor's link up and its frames flowing."""

    def __init__(
        self,
        sensor: SensorConfig,
        driver: Driver,
        source: Source,
        on_detections: DetectionSink,
        on_status: StatusSink,
        recorder: ReplayWriter | None = None,
    ) -> None:
        super().__init__(name=f"sensor-{sensor.id}", daemon=True)
        self.sensor = sensor
        self.decoder = FrameDecoder(driver)
        self.source = source
        self.on_detections = on_detections
        self.on_status = on_status
        self.recorder = recorder
        self.stop_event = threading.Event()
        self._buffers: dict[int, bytearray] = {}  # per-link partial frames of a stream
        self.state = SensorState.OFFLINE
        self.detail = "starting"
        self._last_status = 0.0

    def status(self) -> SensorStatus:
        now = time.time()
        counters = {**self.decoder.driver.counters, **self.decoder.counters}
        counters["reconnects"] = self.decoder.counters["reconnects"]
        state, detail = self.state, self.detail
        if state is SensorState.OK:
            try:
                own = self.decoder.driver.health(now)
            except Exception:  # a driver bug must not stop the heartbeat
                log.exception("%s: driver health() failed", self.sensor.id)
                own = None
            if own is not None and _WORSE[own[0]] > _WORSE[state]:
                state, detail = own
            clock = self.decoder.clock.problem()
            if clock is not None and state is SensorState.OK:
                state, detail = SensorState.DEGRADED, clock
        return SensorStatus(
            sensor_id=self.sensor.id,
            t_unix=now,
            state=state,
            driver=self.sensor.driver,
            detail=detail,
            position=self.sensor.position,
            counters=counters,
            exercise=self.sensor.exercise,
        )

    def _heartbeat(self, force: bool = False) -> None:
        now = time.monotonic()
        if force or now - self._last_status >= STATUS_INTERVAL_S:
            self._last_status = now
            self.on_status(self.status())

    def run(self) -> None:
        backoff = BACKOFF_START_S
        while not self.stop_event.is_set():
            try:
                self._buffers.clear()
                self.source.open()
                self.state, self.detail = SensorState.OK, "link up"
                self._heartbeat(force=True)
                backoff = BACKOFF_START_S
                while not self.stop_event.is_set():
                    self._handle(self.source.read(0.2))
                    self._heartbeat()
            except SourceExhausted as exc:
                self.state, self.detail = SensorState.OFFLINE, f"source ended: {exc}"
                self.decoder.counters[SOURCE_ENDED] = 1
                self._heartbeat(force=True)
                return
            except (OSError, ConnectionError, ValueError) as exc:
                self.decoder.counters["reconnects"] += 1
                self.state, self.detail = SensorState.OFFLINE, f"link lost: {exc}"
                log.warning("%s: %s; retrying in %.1f s", self.sensor.id, exc, backoff)
                self._heartbeat(force=True)
                self.stop_event.wait(backoff)
                backoff = min(backoff * 2, BACKOFF_MAX_S)
            finally:
                self.source.close()

    def _handle(self, chunks: Sequence[RawFrame]) -> None:
        for link in self.source.closed_links():
            self._buffers.pop(link, None)
        batch: list[Detection] = []
        for t_rx, data, link in chunks:
            if self.source.stream:
                buf = self._buffers.setdefault(link, bytearray())
                buf += data
                frames = self.decoder.split(buf)
            else:
                frames = [data]
            for frame in frames:
                if self.recorder is not None:
                    self.recorder.frame(t_rx, self.sensor.id, frame)
                for det in self.decoder(t_rx, frame):
                    det.exercise = self.sensor.exercise
                    batch.append(det)
                for reply in self.decoder.driver.take_replies():
                    sent = self.source.send(link, reply)
                    self.decoder.counters["replies_sent" if sent else "replies_unsent"] += 1
        if batch:
            self.on_detections(batch)


class DriverHost:
    """All sensors of a deployment, each in its own thread."""

    def __init__(
        self,
        sensors: Sequence[tuple[SensorConfig, Driver]],
        on_detections: DetectionSink,
        on_status: StatusSink,
        base_dir,
        recorder: ReplayWriter | None = None,
    ) -> None:
        self.runners = [
            SensorRunner(
                cfg,
                driver,
                open_source(cfg.source, cfg.id, driver.framing, base_dir),
                on_detections,
                on_status,
                None if cfg.exercise else recorder,
            )
            for cfg, driver in sensors
        ]

    def start(self) -> None:
        for runner in self.runners:
            runner.start()

    def stop(self, timeout_s: float = 2.0) -> None:
        for runner in self.runners:
            runner.stop_event.set()
        for runner in self.runners:
            runner.join(timeout_s)

    def alive(self) -> bool:
        return any(r.is_alive() for r in self.runners)
