"""Multi-target tracker: the orchestrator of the tracking stages over one track table.

The fusion engine needs one stable track id per physical drone out of many asynchronous
sensors. Each scan (one sensor, one time) or burst of identified reports goes through the
stages in the vocabulary of the field (Stone Soup's): identity-first matching, then
:mod:`~cuas.tracking.gating` and :mod:`~cuas.tracking.association` (GNN or JPDA) of the
rest, the :mod:`~cuas.tracking.filtering` update, :mod:`~cuas.tracking.initiation` from
plots and from crossing bearings, :mod:`~cuas.tracking.confirmation` (M of N per sensor
revisit); :meth:`Tracker.advance` runs :mod:`~cuas.tracking.deletion`. All of them work on
the struct-of-arrays :class:`~cuas.tracking.table.TrackTable`. Positions are local ENU in
metres, velocities m/s, times Unix seconds.
"""

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from cuas.tracking.association import Association
from cuas.tracking.config import TrackerConfig
from cuas.tracking.confirmation import OpportunityConfirmation
from cuas.tracking.coverage import SensorSight
from cuas.tracking.deletion import UpdateTimeDeleter
from cuas.tracking.filtering import ImmFilter
from cuas.tracking.gating import Gate
from cuas.tracking.initiation import BearingInitiator, PlotInitiator
from cuas.tracking.measurement import BEARING_ONLY, MeasurementBatch
from cuas.tracking.table import STATUS_NAMES, TrackTable


@dataclass
class TrackView:
    track_id: int
    status: str  # "tentative" | "confirmed" | "coasting" | "deleted"
    t_unix: float  # time the state x/P refers to
    x: np.ndarray  # (6,) copy
    P: np.ndarray  # (6,6) copy
    identity_key: str | None  # adopted from the first detection carrying one
    hits: int  # detections absorbed, the one that started the track included
    last_update_t: float
    sensors: dict[str, float]  # sensor id -> time of its last update to this track
    quality: float  # M-of-N hit fraction times quality_std_m / (quality_std_m + position std)
    mode_probabilities: dict[str, float] | None  # IMM modes; None for NCV
    exercise: bool = False  # started by an exercise scan (domain 1)


@dataclass
class ScanResult:
    # (k,) int64: track each detection updated (under JPDA: the likeliest of those it updated)
    # or started; -1 if late or a pooled bearing
    track_ids: np.ndarray
    late: bool  # whole scan rejected as too old


def _contiguous(
    batch: MeasurementBatch,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """A batch's codes, z, R, sensor position and rotation as the kernels take them."""
    return (
        np.ascontiguousarray(batch.codes, dtype=np.int64),
        np.ascontiguousarray(batch.z, dtype=np.float64),
        np.ascontiguousarray(batch.R, dtype=np.float64),
        np.ascontiguousarray(batch.sensor_enu_m, dtype=np.float64),
        np.ascontiguousarray(batch.rot_local, dtype=np.float64),
    )


class Tracker:
    def __init__(
        self,
        config: TrackerConfig | None = None,
        first_track_id: int = 1,
        sensors: Mapping[str, SensorSight] | None = None,
    ) -> None:
        """config: the defaults when None. sensors: the cover and revisit period of sensors
        known in advance (see :mod:`cuas.tracking.confirmation`); others charge misses once
        their period is learned."""
        config = self.config = config if config is not None else TrackerConfig()
        self._sights = dict(sensors or {})
        self.confirmation = OpportunityConfirmation(config.confirm_hits, config.confirm_window)
        self.clock = -math.inf  # newest accepted scan time, s
        self.counters: dict[str, int] = dict.fromkeys(
            (
                "scans",
                "detections",
                "late_scans",
                "late_detections",
                "tracks_started",
                "tracks_confirmed",
                "tracks_deleted",
                "bearings_pooled",
                "bearings_expired",
                "crossings",
                "jpda_fallback",  # JPDA clusters too large to enumerate, associated by GNN
            ),
            0,
        )
        self.motion = ImmFilter(config)
        self.gate = Gate(
            config.gate_probability,
            float(np.abs(self.motion.turn_rate).max()),
            float(self.motion.mode_accel.max()),
        )
        self.association = Association(config, self.gate, self.motion, self.counters)
        self.plot_initiator = PlotInitiator(config.init_velocity_std_mps, self.counters)
        self.bearing_initiator = BearingInitiator(config, self.counters)
        self.deleter = UpdateTimeDeleter(
            config.coast_after_s, config.delete_after_s, config.tentative_delete_after_s
        )
        self.table = TrackTable(self.motion.n_modes, first_track_id)

    def process_scan(
        self,
        t_unix: float,
        sensor_id: str,
        z_enu: np.ndarray,
        R: np.ndarray,
        identity_keys: Sequence[str | None],
    ) -> ScanResult:
        """Associate and apply one scan of 3-D positions: z_enu (k, 3) m, R (k, 3, 3) m^2."""
        z = np.asarray(z_enu, dtype=np.float64).reshape(-1, 3)
        R = np.asarray(R, dtype=np.float64).reshape(-1, 3, 3)
        if R.shape[0] != z.shape[0]:
            raise ValueError(f"scan has {z.shape[0]} positions and {R.shape[0]} covariances")
        return self.process_measurements(
            t_unix, sensor_id, MeasurementBatch.positions(z, R), identity_keys
        )

    def process_measurements(
        self,
        t_unix: float,
        sensor_id: str,
        batch: MeasurementBatch,
        identity_keys: Sequence[str | None],
        domain: int = 0,
    ) -> ScanResult:
        """Associate and apply one scan: detections of one sensor at one time, any models.

        Positions and radar plots that join no track start one; bearings that join no track
        wait in the bearing pool until a bearing of another sensor crosses them. domain: the
        picture the scan belongs to, 0 live or 1 an exercise; detections only join, start and
        cross with their own domain, so an injected exercise never updates a real object's
        track (identity keys must be kept apart by the caller).
        """
        if domain not in (0, 1):
            raise ValueError(f"domain must be 0 (live) or 1 (exercise), not {domain!r}")
        codes, z, R, sensor, rot = _contiguous(batch)
        k = codes.shape[0]
        if z.shape != (k, 4) or R.shape != (k, 4, 4) or len(identity_keys) != k:
            raise ValueError(
                f"scan has {k} model codes, z {z.shape}, R {R.shape} and "
                f"{len(identity_keys)} identity keys; need z (k, 4), R (k, 4, 4)"
            )
        if not (
            math.isfinite(t_unix)
            and np.isfinite(z).all()
            and np.isfinite(R).all()
            and np.isfinite(sensor).all()
        ):
            raise ValueError("scan time, measurements, covariances and sensor must be finite")
        if t_unix < self.clock - self.config.late_tolerance_s:
            self.counters["late_scans"] += 1
            self.counters["late_detections"] += k
            return ScanResult(np.full(k, -1, np.int64), late=True)
        self.counters["scans"] += 1
        self.counters["detections"] += k
        self.bearing_initiator.expire(t_unix)
        self.clock = max(self.clock, t_unix)
        col = self._column(sensor_id)
        n_before = self.table.n

        rows = np.full(k, -1, np.int64)  # track row each detection goes to
        deferred = np.zeros(k, bool)  # repeats of a key first seen earlier in this scan
        new_keys: dict[str, int] = {}  # key held by no track -> its first detection
        for j, key in enumerate(identity_keys):
            if key is None:
                continue
            row = self.table.row_of_key(key)
            if row is not None:
                rows[j] = row
            elif key in new_keys:
                deferred[j] = True
            else:
                new_keys[key] = j

        self.motion.predict_rows(self.table, rows[rows >= 0], t_unix)
        free_dets = np.flatnonzero((rows < 0) & ~deferred)
        taken = np.zeros(n_before, bool)
        taken[rows[rows >= 0]] = True
        free_tracks = np.flatnonzero(~taken & (self.table.domain[:n_before] == domain))
        soft = np.zeros(k, bool)  # detections JPDA already applied
        jpda_hits = np.empty(0, np.int64)  # track rows JPDA counts as detected
        if free_dets.size and free_tracks.size:
            keyed = np.array([key is not None for key in identity_keys], bool)
            rows[free_dets], soft[free_dets], jpda_hits = self.association.associate(
                self.table,
                t_unix,
                free_tracks,
                free_dets,
                codes,
                z,
                R,
                sensor,
                rot,
                keyed[free_dets],
            )
        self.motion.update(
            self.table, rows, np.flatnonzero((rows >= 0) & ~soft), codes, z, R, sensor, rot
        )
        for key, j in new_keys.items():
            if rows[j] >= 0:
                self.table.adopt_key(int(rows[j]), key)

        bearing = (codes == BEARING_ONLY[0]) | (codes == BEARING_ONLY[1])
        new = np.flatnonzero((rows < 0) & ~deferred & ~bearing)
        if new.size:
            rows[new] = self.plot_initiator.start(
                self.table, t_unix, new, codes, z, R, sensor, rot, identity_keys, domain
            )
        for j in np.flatnonzero((rows < 0) & bearing & ~deferred):
            rows[j] = self.bearing_initiator.pool(
                self.table, t_unix, col, j, codes, z, R, sensor, rot, identity_keys, domain
            )
        for j in np.flatnonzero(deferred):
            row = self.table.row_of_key(identity_keys[j])  # type: ignore[arg-type]
            if row is not None:
                rows[j] = row
                self.motion.update(self.table, rows, np.array([j]), codes, z, R, sensor, rot)
            else:  # a repeated bearing whose first is still waiting to be crossed
                self.bearing_initiator.pool(
                    self.table, t_unix, col, j, codes, z, R, sensor, rot, identity_keys, domain
                )

        hit_rows = np.concatenate([rows[(rows >= 0) & ~soft], jpda_hits])
        self._record_hits(t_unix, col, hit_rows, np.full(hit_rows.size, t_unix))
        return ScanResult(np.where(rows >= 0, self.table.id[np.maximum(rows, 0)], -1), late=False)

    def has_key(self, identity_key: str) -> bool:
        """Whether a live track holds identity_key."""
        return identity_key in self.table.key_to_id

    def track_id_of(self, identity_key: str) -> int | None:
        """The id of the live track holding identity_key, if any."""
        return self.table.key_to_id.get(identity_key)

    def process_reports(
        self,
        t_unix: np.ndarray,
        sensor_id: str,
        batch: MeasurementBatch,
        identity_keys: Sequence[str],
    ) -> ScanResult:
        """Apply reports of identified objects that already have tracks, each at its own time
        t_unix[j] (a burst of one receiver's Remote ID or ADS-B messages, one object each).

        The same as one process_measurements call per report in this order, at a fraction of
        the cost: there is nothing to associate, and a report about one object is no missed
        chance to see another. Keys must be distinct and held by live tracks (has_key);
        reports older than the tracker clock by more than the late tolerance are late (-1).
        Misses of the tracks not reported are charged once, at the newest report's time (the
        opportunity rule gives the same count either way).
        """
        t = np.ascontiguousarray(t_unix, dtype=np.float64).reshape(-1)
        codes, z, R, sensor, rot = _contiguous(batch)
        k = codes.shape[0]
        if t.shape != (k,) or z.shape != (k, 4) or R.shape != (k, 4, 4) or len(identity_keys) != k:
            raise ValueError(
                f"reports have {t.size} times, {k} model codes, z {z.shape}, R {R.shape} and "
                f"{len(identity_keys)} identity keys; need one each, z (k, 4), R (k, 4, 4)"
            )
        if not (np.isfinite(t).all() and np.isfinite(z).all() and np.isfinite(R).all()):
            raise ValueError("report times, measurements and covariances must be finite")
        ids = [self.table.key_to_id.get(key) for key in identity_keys]
        if None in ids or len(set(identity_keys)) != k:
            raise ValueError("reports need distinct identity keys, each held by a live track")
        if k == 0:
            return ScanResult(np.empty(0, np.int64), late=False)
        clock_before = np.maximum(self.clock, np.maximum.accumulate(np.r_[-np.inf, t[:-1]]))
        ok = t >= clock_before - self.config.late_tolerance_s
        late = k - int(ok.sum())
        self.counters["late_scans"] += late
        self.counters["late_detections"] += late
        self.counters["scans"] += k - late
        self.counters["detections"] += k - late
        self.bearing_initiator.expire(float(t.max()))
        self.clock = max(self.clock, float(t.max()))
        col = self._column(sensor_id)
        rows = np.full(k, -1, np.int64)
        rows[ok] = np.searchsorted(self.table.id[: self.table.n], np.array(ids, np.int64)[ok])
        used = np.flatnonzero(ok)
        self.motion.predict_rows(self.table, rows[used], t[used])
        self.motion.update(self.table, rows, used, codes, z, R, sensor, rot)
        if used.size:
            self._record_hits(float(t[used].max()), col, rows[used], t[used])
        return ScanResult(np.where(rows >= 0, self.table.id[np.maximum(rows, 0)], -1), late=False)

    def advance(self, t_unix: float) -> list[TrackView]:
        """Coast and delete tracks by time since their last update; return the deleted ones.

        Does not move the scan clock, so wall-clock calls do not make sensor data late.
        """
        revisit_s = self.confirmation.revisit.declared_periods_s(len(self.table.sensor_col))
        dead = self.deleter.dead(self.table, t_unix, revisit_s)
        if not dead.any():
            return []
        rows = np.flatnonzero(dead)
        table = self.table
        views = self._views(
            rows, table.x[rows], table.P[rows], table.mu[rows], table.t[rows], status="deleted"
        )
        table.remove(dead)
        self.counters["tracks_deleted"] += len(views)
        return views

    def estimates(self, t_unix: float | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Live tracks as arrays, without building views: ids (n,), status names (n,) and
        combined states x (n, 6), predicted to t_unix when given, else at each track's own
        time. For scoring and benchmarks."""
        n = self.table.n
        names = np.array(STATUS_NAMES)[self.table.status[:n]]
        x = self.table.x[:n].copy()
        if t_unix is not None:
            x = self.motion.predicted(self.table, np.arange(n), t_unix)[0]
        return self.table.id[:n].copy(), names, x

    def tracks(
        self, t_unix: float | None = None, track_ids: Iterable[int] | None = None
    ) -> list[TrackView]:
        """Views of the live tracks (or of those of track_ids that are live), predicted to
        t_unix (never backwards) when given."""
        rows = (
            np.arange(self.table.n)
            if track_ids is None
            else self.table.rows_of(np.fromiter(track_ids, np.int64))
        )
        if t_unix is None:
            return self._views(
                rows,
                self.table.x[rows],
                self.table.P[rows],
                self.table.mu[rows],
                self.table.t[rows],
            )
        return self._views(rows, *self.motion.predicted(self.table, rows, t_unix))

    def states(
        self, t_unix: float, track_ids: Iterable[int] | None = None
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Ids (m,), combined states x (m, 6) and position std (m,) m of those of track_ids
        that are live (None: all), predicted to t_unix: the arrays, without building views."""
        rows = (
            np.arange(self.table.n)
            if track_ids is None
            else self.table.rows_of(np.fromiter(track_ids, np.int64))
        )
        x, P, _, _ = self.motion.predicted(self.table, rows, t_unix)
        return (
            self.table.id[rows].copy(),
            x,
            np.sqrt(np.trace(P[:, :3, :3], axis1=1, axis2=2) / 3.0),
        )

    def _record_hits(self, t_unix: float, col: int, rows: np.ndarray, hit_t: np.ndarray) -> None:
        """Hit counts, update times, the M-of-N window and confirmation after one scan or
        burst of reports of sensor col, whose newest is at t_unix: detection j hit row rows[j]
        at hit_t[j] (a row may repeat)."""
        self.counters["tracks_confirmed"] += self.confirmation.apply(
            self.table, t_unix, col, rows, hit_t
        )

    def _column(self, sensor_id: str) -> int:
        col, new = self.table.column(sensor_id)
        if new:
            self.confirmation.declare(col, self._sights.get(sensor_id))
        return col

    def declare_sensor(self, sensor_id: str, sight: SensorSight) -> None:
        """Tell the cover and revisit period of a sensor before its first scan."""
        if sensor_id in self.table.sensor_col:
            raise ValueError(f"sensor {sensor_id!r} has already reported; declare it before")
        self._sights[sensor_id] = sight

    def _views(
        self,
        rows: np.ndarray,
        x: np.ndarray,
        P: np.ndarray,
        mu: np.ndarray,
        t: np.ndarray,
        status: str | None = None,
    ) -> list[TrackView]:
        cfg = self.config
        hit_fraction = self.confirmation.hit_fraction(self.table.window[rows])
        std_m = np.sqrt(np.trace(P[:, :3, :3], axis1=1, axis2=2) / 3.0)
        quality = hit_fraction * cfg.quality_std_m / (cfg.quality_std_m + std_m)
        views = []
        for i, row in enumerate(rows):
            sensor_t = self.table.sensor_t[row]
            modes = None
            if self.motion.mode_names is not None:
                modes = {
                    name: float(p) for name, p in zip(self.motion.mode_names, mu[i], strict=True)
                }
            views.append(
                TrackView(
                    track_id=int(self.table.id[row]),
                    status=status or STATUS_NAMES[self.table.status[row]],
                    t_unix=float(t[i]),
                    x=x[i].copy(),
                    P=P[i].copy(),
                    identity_key=self.table.key[row],
                    hits=int(self.table.hits[row]),
                    last_update_t=float(self.table.last_update[row]),
                    sensors={
                        sid: float(sensor_t[c])
                        for sid, c in self.table.sensor_col.items()
                        if not math.isnan(sensor_t[c])
                    },
                    quality=float(quality[i]),
                    mode_probabilities=modes,
                    exercise=bool(self.table.domain[row]),
                )
            )
        return views
