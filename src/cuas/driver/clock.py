"""A sensor's clock, checked against ours: skew measured, shown, and never trusted blindly.

A sensor whose clock is an hour fast had its detections held by the engine's reorder buffer
until their stated time (unboundedly: memory grew by hundreds of MB), and one a day slow
had its detections dropped as late without a trace. The driver host knows when each frame
arrived, so it compares every detection's time with that receive time:

* the sensor's offset is the median over its latest detections, shown as the counter
  ``clock_offset_s`` (sensor minus us, whole seconds);
* past a limit (``AHEAD_LIMIT_S`` fast, ``BEHIND_LIMIT_S`` slow) the clock is wrong: every
  detection takes its receive time instead, flagged ``clock_skew`` and counted
  (``time_from_receive``), and the sensor reports itself degraded, which raises a sensor
  alert;
* a single detection dated in the future past the limit takes its receive time too (the
  engine must never hold it); one dated far in the past is kept, for the tracker to apply
  or count as late, and counted here (``dated_past``).
"""

from __future__ import annotations

import logging
import statistics
from collections import Counter, deque

from cuas.schema import Detection

log = logging.getLogger(__name__)

AHEAD_LIMIT_S = 2.0
BEHIND_LIMIT_S = 30.0
WINDOW = 31  # detections the offset is the median of
CLOCK_SKEW_FLAG = "clock_skew"


class SensorClock:
    def __init__(self, sensor_id: str, counters: Counter[str]) -> None:
        self.sensor_id = sensor_id
        self.counters = counters
        self.offset_s = 0.0
        self._offsets: deque[float] = deque(maxlen=WINDOW)
        self._wrong = False

    def check(self, t_rx_unix: float, detections: list[Detection]) -> None:
        """Measure the offset on ``detections`` (received at ``t_rx_unix``) and re-time the
        ones that cannot be trusted, in place."""
        if not detections:
            return
        self._offsets.extend(d.t_unix - t_rx_unix for d in detections)
        self.offset_s = statistics.median(self._offsets)
        self.counters["clock_offset_s"] = round(self.offset_s)
        self._set_wrong(not -BEHIND_LIMIT_S <= self.offset_s <= AHEAD_LIMIT_S)
        for det in detections:
            offset_s = det.t_unix - t_rx_unix
            if self._wrong or offset_s > AHEAD_LIMIT_S:
                det.t_unix = t_rx_unix
                det.flags.append(CLOCK_SKEW_FLAG)
                self.counters["time_from_receive"] += 1
            elif offset_s < -BEHIND_LIMIT_S:
                self.counters["dated_past"] += 1

    def problem(self) -> str | None:
        """What is wrong with the clock, for the sensor's status detail; None when fine."""
        if not self._wrong:
            return None
        way = "ahead of" if self.offset_s > 0 else "behind"
        return f"clock {abs(self.offset_s):.0f} s {way} ours; using receive times"

    def _set_wrong(self, wrong: bool) -> None:
        if wrong != self._wrong:
            self._wrong = wrong
            if wrong:
                log.warning("%s: %s", self.sensor_id, self.problem())
            else:
                log.info("%s: clock agrees with ours again; using its own times", self.sensor_id)
