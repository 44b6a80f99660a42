"""Confirmation: M of the last N opportunities, counting only real chances to see a track.

Sensors do not report in lock-step scans: a rotating radar times each plot at the moment
its beam crosses the target (the plots of one rotation carry different times), and an RF
node or a Remote ID receiver reports each object on its own. Counting every report as a
chance for every track would charge a track a miss for each report about another object,
and with several objects around no track would ever reach M of N (a swarm would be missed).

So a miss from a sensor is charged per revisit of that sensor, not per report: for each
(track, sensor) the time of the last opportunity is kept; a report from the sensor at t
charges one miss per whole revisit period T elapsed beyond 1.5 T since that opportunity
(advancing it by T each), and only when the track's predicted position lies inside the
sensor's cover (:class:`~cuas.tracking.coverage.SensorSight`); a hit first charges the
revisits it finds missed, then counts, and resets the opportunity to its own time. The
half period of slack lets a plot arrive anywhere within its rotation. The rule depends
only on the elapsed time, so charging at one report or spread over many gives the same
count. T is the sensor's declared ``revisit_s``, else the median of the intervals between
its consecutive hits on the same track (its recent ones); until it has a few, the sensor
charges no misses at all (a track then confirms on hits alone, as a sensor of unknown
rhythm gives no evidence of absence). A sensor charges only tracks it has hit before.
"""

from __future__ import annotations

import math

import numpy as np

from cuas.tracking.coverage import SensorSight
from cuas.tracking.table import COASTING, CONFIRMED, TENTATIVE, TrackTable

# Revisit learning: the median of a sensor's recent hit intervals, once it has a few.
# Intervals this short are one object reported twice at once, not a revisit.
_RECENT_INTERVALS = 32
_MIN_INTERVALS = 3
_MIN_INTERVAL_S = 0.05
# A revisit is charged once this many periods have passed without a hit.
_MISS_AFTER_PERIODS = 1.5


def popcount(window: np.ndarray, nbits: int) -> np.ndarray:
    """Set bits among the low nbits of each window: the hits among the last N chances."""
    return sum((window >> b) & 1 for b in range(nbits))


class RevisitLearner:
    """A sensor's revisit period in s: declared, or the median of its recent hit intervals."""

    def __init__(self) -> None:
        self._declared: dict[int, float] = {}
        self._recent: dict[int, np.ndarray] = {}
        self._learned: dict[int, float] = {}

    def declare(self, col: int, revisit_s: float | None) -> None:
        if revisit_s is not None:
            self._declared[col] = float(revisit_s)

    def declared(self, col: int) -> bool:
        return col in self._declared

    def period_s(self, col: int) -> float:
        """The sensor's period, nan while unknown."""
        declared = self._declared.get(col)
        return declared if declared is not None else self._learned.get(col, math.nan)

    def declared_periods_s(self, n_cols: int) -> np.ndarray:
        """Every sensor column's declared period (n_cols,), nan where not declared."""
        return np.array([self._declared.get(col, math.nan) for col in range(n_cols)])

    def learn(self, col: int, intervals_s: np.ndarray) -> None:
        """Take the intervals (s) between consecutive hits of the sensor on the same tracks."""
        if col in self._declared:
            return
        intervals_s = intervals_s[intervals_s > _MIN_INTERVAL_S]
        if intervals_s.size == 0:
            return
        recent = self._recent.get(col)
        if recent is not None:
            intervals_s = np.concatenate([recent, intervals_s])
        recent = self._recent[col] = intervals_s[-_RECENT_INTERVALS:]
        if recent.size >= _MIN_INTERVALS:
            self._learned[col] = float(np.median(recent))


def missed_revisits(t_unix: np.ndarray | float, last_s: np.ndarray, period_s: float) -> np.ndarray:
    """Whole revisits missed between the last opportunities last_s and t_unix (0 if unknown)."""
    if not math.isfinite(period_s):
        return np.zeros(np.shape(last_s), np.int64)
    elapsed = np.nan_to_num(t_unix - last_s, nan=0.0)
    return np.maximum(np.floor(elapsed / period_s - (_MISS_AFTER_PERIODS - 1.0)), 0.0).astype(
        np.int64
    )


class OpportunityConfirmation:
    """M-of-N confirmation over opportunities per sensor revisit, inside each sensor's cover.

    Works on two track-table buffers it is handed: window (rows,) int64, the last N
    opportunities as bits (newest in bit 0, 1 = hit), and last_chance_t (rows, sensors), the
    time of each sensor's last opportunity on each track (nan: the sensor never hit it).
    """

    def __init__(self, confirm_hits: int, confirm_window: int) -> None:
        self.confirm_hits = confirm_hits
        self.confirm_window = confirm_window
        self._mask = (1 << confirm_window) - 1
        self.revisit = RevisitLearner()
        self._sights: dict[int, SensorSight] = {}

    def declare(self, col: int, sight: SensorSight | None) -> None:
        """Tell the cover and revisit period of the sensor in column col."""
        if sight is None:
            return
        self._sights[col] = sight
        self.revisit.declare(col, sight.revisit_s)

    def apply(
        self, table: TrackTable, t_unix: float, col: int, rows: np.ndarray, hit_t: np.ndarray
    ) -> int:
        """Count one scan or burst of reports of sensor col (the newest at t_unix) in which
        detection j hit row rows[j] at hit_t[j] (a row may repeat): hits, update times, the
        window of every live track, and confirmation (of tentative and coasting tracks hit).
        Returns how many tentative tracks it confirmed."""
        n = table.n
        np.add.at(table.hits, rows, 1)
        order = np.lexsort((hit_t, rows))
        rows, hit_t = rows[order], hit_t[order]
        last = np.ones(rows.size, bool)  # each row once, at its newest hit
        last[:-1] = rows[1:] != rows[:-1]
        rows, hit_t = rows[last], hit_t[last]
        self.record(
            t_unix, col, rows, hit_t, table.window[:n], table.chance_t[:n],
            table.sensor_t[:n, col], table.x[:n], table.t[:n],
        )  # fmt: skip
        table.last_update[rows] = np.maximum(table.last_update[rows], hit_t)
        table.sensor_t[rows, col] = np.fmax(table.sensor_t[rows, col], hit_t)
        status = table.status[rows]
        tentative = status == TENTATIVE
        promote = (status == COASTING) | (tentative & self.confirmed(table.window[rows]))
        table.status[rows[promote]] = CONFIRMED
        return int(np.count_nonzero(promote & tentative))

    def record(
        self,
        t_unix: float,
        col: int,
        hit_rows: np.ndarray,
        hit_t: np.ndarray,
        window: np.ndarray,
        last_chance_t: np.ndarray,
        last_hit_t: np.ndarray,
        x: np.ndarray,
        x_t: np.ndarray,
    ) -> None:
        """Apply one report or scan of sensor col at t_unix to the n live rows of window.

        hit_rows (unique) were detected at hit_t; last_hit_t (rows,) is the sensor's previous
        hit on each row (nan: none), for learning its period; x (rows, 6) and x_t (rows,) the
        tracks' states and their times, for whether the others lay inside the sensor's cover.
        """
        n = window.shape[0]
        if not self.revisit.declared(col):
            self.revisit.learn(col, hit_t - last_hit_t[hit_rows])
        period_s = self.revisit.period_s(col)
        chances = last_chance_t[:, col]
        missed = missed_revisits(hit_t, chances[hit_rows], period_s)
        shift = np.minimum(missed + 1, self.confirm_window)
        window[hit_rows] = ((window[hit_rows] << shift) | 1) & self._mask
        chances[hit_rows] = hit_t
        if not math.isfinite(period_s):
            return
        due = chances[:n] <= t_unix - _MISS_AFTER_PERIODS * period_s  # nan: never hit, False
        due[hit_rows] = False
        rows = np.flatnonzero(due)
        if rows.size == 0:
            return
        sight = self._sights.get(col)
        if sight is not None and sight.bounded:
            dt = (t_unix - x_t[rows])[:, None]
            inside = sight.covers(x[rows, :3] + dt * x[rows, 3:])
            chances[rows[~inside]] = t_unix  # no chance while outside: none is owed
            rows = rows[inside]
        missed = missed_revisits(t_unix, chances[rows], period_s)
        window[rows] = (window[rows] << np.minimum(missed, self.confirm_window)) & self._mask
        chances[rows] += missed * period_s

    def confirmed(self, window: np.ndarray) -> np.ndarray:
        """Which windows hold at least M hits."""
        return popcount(window, self.confirm_window) >= self.confirm_hits

    def hit_fraction(self, window: np.ndarray) -> np.ndarray:
        return popcount(window, self.confirm_window) / self.confirm_window
