"""Multi-target tracker: identity-first association, gated GNN or JPDA, M-of-N confirmation.

The fusion engine needs one stable track id per physical drone out of many asynchronous
sensors. Track state lives in struct-of-arrays buffers so the IMM kernels of
:mod:`cuas.tracking.imm` (one mode: plain NCV) and the measurement models of
:mod:`cuas.tracking.measurement` run over a whole scan per call; this module does the
bookkeeping. Positions are local ENU in metres, velocities m/s, times Unix seconds.
"""

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

import numba
import numpy as np
from scipy.special import gammaincinv  # chi2.ppf(p, k) is 2 gammaincinv(k/2, p); no scipy.stats

from cuas.tracking.config import TrackerConfig
from cuas.tracking.confirmation import OpportunityConfirmation
from cuas.tracking.coverage import SensorSight
from cuas.tracking.imm import imm_predict_batch, imm_predict_rows, imm_update_batch
from cuas.tracking.jpda import association_probabilities, pair_log_likelihoods, pda_update_batch
from cuas.tracking.measurement import (
    BEARING_AZ_EL,
    BEARING_ONLY,
    MEASUREMENT_DIM,
    POSITION,
    RANGE_AZ_EL,
    RANGE_AZ_EL_RATE,
    MeasurementBatch,
    measurement_cost_pairs,
    polar_to_enu_batch,
)
from cuas.tracking.triangulation import BearingPool, best_crossing

TENTATIVE, CONFIRMED, COASTING = 0, 1, 2
_STATUS_NAMES = ("tentative", "confirmed", "coasting")
IMM_MODES = ("cv", "turn_left", "turn_right")
# Cost of a forbidden pair: far above any sum of gated d2, so the assignment first maximises
# the number of gated pairs, then minimises their total d2.
_FORBIDDEN_COST = 1e9
# Below this many track x detection pairs, a dense distance matrix beats building a k-d tree.
_BRUTE_FORCE_PAIRS = 40_000
# The spatial pre-gate's radius for radar plots, over the first-order bound: the converted
# covariance is the polar cell's linearisation (checked against the exact gate in the tests).
_POLAR_GATE_MARGIN = 1.25
# JPDA: a detection this likely to be an established track's is used by it and cannot start
# or feed a tentative track; a track this likely to have been detected counts a hit.
_JPDA_USED_BETA = 0.05
_JPDA_HIT_PROBABILITY = 0.5
# Per-track buffers, indexed by row; rows [0, n) are live, in increasing track id order.
_BUFFERS = (
    "_x",
    "_P",
    "_xm",
    "_Pm",
    "_mu",
    "_t",
    "_id",
    "_status",
    "_hits",
    "_last_update",
    "_window",
    "_key",
    "_sensor_t",
    "_chance_t",
    "_domain",
)


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


@numba.njit(cache=True)
def pairs_within(
    xp: np.ndarray, radius_m: np.ndarray, zp: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """All (track i, detection j) with |xp[i] - zp[j]| <= radius_m[i], by brute force."""
    nt, nd = xp.shape[0], zp.shape[0]
    ti = np.empty(nt * nd, np.int64)
    dj = np.empty(nt * nd, np.int64)
    n = 0
    for i in range(nt):
        r2 = radius_m[i] * radius_m[i]
        for j in range(nd):
            d0 = xp[i, 0] - zp[j, 0]
            d1 = xp[i, 1] - zp[j, 1]
            d2 = xp[i, 2] - zp[j, 2]
            if d0 * d0 + d1 * d1 + d2 * d2 <= r2:
                ti[n] = i
                dj[n] = j
                n += 1
    return ti[:n], dj[:n]


@numba.njit(cache=True)
def reach_bounds(
    x: np.ndarray,
    P: np.ndarray,
    t: np.ndarray,
    t_now: float,
    turn_rate_max: float,
    accel_std_max: float,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Where each track can be at t_now without predicting it: the straight-line
    extrapolation c (n, 3) m of the combined state, a bound on the distance from c to the
    IMM-predicted mean (n,) m, and a bound on the predicted position variance (n,) m^2.

    Treat the prediction as p' = p + A v + w, with (p, v) the track's mixture (mean x,
    covariance P: mixing preserves both), A the position-from-velocity block of the mode's
    transition and w the process noise. Every mode's A is the integral of a rotation at
    most turn_rate_max over dt, so |A| <= dt and |(A - dt I) v| <= |v_h| min(w dt^2 / 2,
    2 dt). By Minkowski, sqrt(E|p' - w - c|^2) <= s_p + dt s_v + dev, with s_p, s_v the
    root traces of P's position and velocity blocks; the mean moves from c by at most
    dt s_v + dev; the variance is at most that square plus trace(Q) = accel^2 dt^3.
    """
    n = x.shape[0]
    centre = np.empty((n, 3))
    offset = np.empty(n)
    var = np.empty(n)
    for k in range(n):
        dt = max(0.0, t_now - t[k])
        for a in range(3):
            centre[k, a] = x[k, a] + dt * x[k, 3 + a]
        s_p = math.sqrt(P[k, 0, 0] + P[k, 1, 1] + P[k, 2, 2])
        s_v = math.sqrt(P[k, 3, 3] + P[k, 4, 4] + P[k, 5, 5])
        dev = math.hypot(x[k, 3], x[k, 4]) * dt * min(turn_rate_max * dt / 2.0, 2.0)
        offset[k] = dt * s_v + dev
        spread = s_p + offset[k]
        var[k] = spread * spread + accel_std_max * accel_std_max * dt * dt * dt
    return centre, offset, var


@numba.njit(cache=True)
def cluster_pairs(ti: np.ndarray, dj: np.ndarray, n_tracks: int, n_dets: int) -> np.ndarray:
    """Connected component of each (track ti[p], detection dj[p]) edge of the gate graph.

    Union-find over nodes [tracks..., detections...]; labels are root node indices.
    """
    parent = np.arange(n_tracks + n_dets)

    def find(a: int) -> int:
        while parent[a] != a:
            parent[a] = parent[parent[a]]
            a = parent[a]
        return a

    for p in range(ti.shape[0]):
        a, b = find(ti[p]), find(n_tracks + dj[p])
        if a != b:
            parent[b] = a
    out = np.empty(ti.shape[0], np.int64)
    for p in range(ti.shape[0]):
        out[p] = find(ti[p])
    return out


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
        self._confirmation = OpportunityConfirmation(config.confirm_hits, config.confirm_window)
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
        # chi-square gate per measurement dimension 1..4
        self._gates = 2.0 * gammaincinv(np.arange(1, 5) / 2, config.gate_probability)
        if config.motion_model == "imm":
            w = config.imm_turn_rate_rad_s
            self._mode_names: tuple[str, ...] | None = IMM_MODES
            self._turn_rate = np.array([0.0, w, -w])
            self._mode_accel = np.array(
                [config.imm_cv_accel_std_mps2, config.accel_std_mps2, config.accel_std_mps2]
            )
        else:
            self._mode_names = None
            self._turn_rate = np.zeros(1)
            self._mode_accel = np.array([config.accel_std_mps2])
        n_modes = self._turn_rate.size
        self._next_id = first_track_id
        self._n = 0
        cap = 64
        self._x = np.zeros((cap, 6))  # combined state
        self._P = np.zeros((cap, 6, 6))
        self._xm = np.zeros((cap, n_modes, 6))  # per IMM mode
        self._Pm = np.zeros((cap, n_modes, 6, 6))
        self._mu = np.zeros((cap, n_modes))
        self._t = np.zeros(cap)  # time of x/P
        self._id = np.zeros(cap, np.int64)
        self._status = np.zeros(cap, np.int8)
        self._hits = np.zeros(cap, np.int64)
        self._last_update = np.zeros(cap)
        self._window = np.zeros(cap, np.int64)  # last confirm_window opportunities, 1 = hit
        self._key = np.full(cap, None, dtype=object)
        self._sensor_t = np.full((cap, 0), np.nan)  # [row, sensor column] last update time
        self._chance_t = np.full((cap, 0), np.nan)  # [row, sensor column] last opportunity
        self._domain = np.zeros(cap, np.int8)  # 0 the live picture, 1 an exercise
        self._sensor_col: dict[str, int] = {}
        self._key_to_id: dict[str, int] = {}
        self._pools = (BearingPool(config.bearing_window_s), BearingPool(config.bearing_window_s))

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
        self.counters["bearings_expired"] += sum(pool.expire(t_unix) for pool in self._pools)
        self.clock = max(self.clock, t_unix)
        col = self._column(sensor_id)
        n_before = self._n

        rows = np.full(k, -1, np.int64)  # track row each detection goes to
        deferred = np.zeros(k, bool)  # repeats of a key first seen earlier in this scan
        new_keys: dict[str, int] = {}  # key held by no track -> its first detection
        for j, key in enumerate(identity_keys):
            if key is None:
                continue
            tid = self._key_to_id.get(key)
            if tid is not None:
                rows[j] = np.searchsorted(self._id[:n_before], tid)
            elif key in new_keys:
                deferred[j] = True
            else:
                new_keys[key] = j

        self._predict_rows(rows[rows >= 0], t_unix)
        free_dets = np.flatnonzero((rows < 0) & ~deferred)
        taken = np.zeros(n_before, bool)
        taken[rows[rows >= 0]] = True
        free_tracks = np.flatnonzero(~taken & (self._domain[:n_before] == domain))
        soft = np.zeros(k, bool)  # detections JPDA already applied
        jpda_hits = np.empty(0, np.int64)  # track rows JPDA counts as detected
        if free_dets.size and free_tracks.size:
            keyed = np.array([key is not None for key in identity_keys], bool)
            rows[free_dets], soft[free_dets], jpda_hits = self._associate(
                t_unix, free_tracks, free_dets, codes, z, R, sensor, rot, keyed[free_dets]
            )
        self._update(rows, np.flatnonzero((rows >= 0) & ~soft), codes, z, R, sensor, rot)
        for key, j in new_keys.items():
            if rows[j] >= 0:
                self._key[rows[j]] = key
                self._key_to_id[key] = int(self._id[rows[j]])

        bearing = (codes == BEARING_ONLY[0]) | (codes == BEARING_ONLY[1])
        new = np.flatnonzero((rows < 0) & ~deferred & ~bearing)
        if new.size:
            rows[new] = self._start_from_plots(
                t_unix, new, codes, z, R, sensor, rot, identity_keys, domain
            )
        for j in np.flatnonzero((rows < 0) & bearing & ~deferred):
            rows[j] = self._pool_bearing(
                t_unix, col, j, codes, z, R, sensor, rot, identity_keys, domain
            )
        for j in np.flatnonzero(deferred):
            tid = self._key_to_id.get(identity_keys[j])
            if tid is not None:
                rows[j] = np.searchsorted(self._id[: self._n], tid)
                self._update(rows, np.array([j]), codes, z, R, sensor, rot)
            else:  # a repeated bearing whose first is still waiting to be crossed
                self._pool_bearing(t_unix, col, j, codes, z, R, sensor, rot, identity_keys, domain)

        hit_rows = np.concatenate([rows[(rows >= 0) & ~soft], jpda_hits])
        self._record_hits(t_unix, col, hit_rows, np.full(hit_rows.size, t_unix))
        return ScanResult(np.where(rows >= 0, self._id[np.maximum(rows, 0)], -1), late=False)

    def has_key(self, identity_key: str) -> bool:
        """Whether a live track holds identity_key."""
        return identity_key in self._key_to_id

    def track_id_of(self, identity_key: str) -> int | None:
        """The id of the live track holding identity_key, if any."""
        return self._key_to_id.get(identity_key)

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
        ids = [self._key_to_id.get(key) for key in identity_keys]
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
        self.counters["bearings_expired"] += sum(
            pool.expire(float(t.max())) for pool in self._pools
        )
        self.clock = max(self.clock, float(t.max()))
        col = self._column(sensor_id)
        rows = np.full(k, -1, np.int64)
        rows[ok] = np.searchsorted(self._id[: self._n], np.array(ids, np.int64)[ok])
        used = np.flatnonzero(ok)
        self._predict_rows(rows[used], t[used])
        self._update(rows, used, codes, z, R, sensor, rot)
        if used.size:
            self._record_hits(float(t[used].max()), col, rows[used], t[used])
        return ScanResult(np.where(rows >= 0, self._id[np.maximum(rows, 0)], -1), late=False)

    def advance(self, t_unix: float) -> list[TrackView]:
        """Coast and delete tracks by time since their last update; return the deleted ones.

        Does not move the scan clock, so wall-clock calls do not make sensor data late.
        """
        cfg = self.config
        n = self._n
        age = t_unix - self._last_update[:n]  # s since last update
        status = self._status[:n]
        status[(status == CONFIRMED) & (age > cfg.coast_after_s)] = COASTING
        tentative = status == TENTATIVE
        dead = (tentative & (age > cfg.tentative_delete_after_s)) | (
            ~tentative & (age > cfg.delete_after_s)
        )
        if not dead.any():
            return []
        dead_rows = np.flatnonzero(dead)
        views = self._views(
            dead_rows,
            self._x[dead_rows],
            self._P[dead_rows],
            self._mu[dead_rows],
            self._t[dead_rows],
            status="deleted",
        )
        for key in self._key[dead_rows]:
            if key is not None:
                del self._key_to_id[key]
        keep = ~dead
        m = int(keep.sum())
        for name in _BUFFERS:
            buf = getattr(self, name)
            buf[:m] = buf[:n][keep]
        self._n = m
        self.counters["tracks_deleted"] += len(views)
        return views

    def estimates(self, t_unix: float | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Live tracks as arrays, without building views: ids (n,), status names (n,) and
        combined states x (n, 6), predicted to t_unix when given, else at each track's own
        time. For scoring and benchmarks."""
        n = self._n
        names = np.array(_STATUS_NAMES)[self._status[:n]]
        x = self._x[:n].copy()
        if t_unix is not None:
            x = self._predicted(np.arange(n), t_unix)[0]
        return self._id[:n].copy(), names, x

    def tracks(
        self, t_unix: float | None = None, track_ids: Iterable[int] | None = None
    ) -> list[TrackView]:
        """Views of the live tracks (or of those of track_ids that are live), predicted to
        t_unix (never backwards) when given."""
        rows = np.arange(self._n) if track_ids is None else self._rows_of(track_ids)
        if t_unix is None:
            return self._views(rows, self._x[rows], self._P[rows], self._mu[rows], self._t[rows])
        return self._views(rows, *self._predicted(rows, t_unix))

    def states(
        self, t_unix: float, track_ids: Iterable[int] | None = None
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Ids (m,), combined states x (m, 6) and position std (m,) m of those of track_ids
        that are live (None: all), predicted to t_unix: the arrays, without building views."""
        rows = np.arange(self._n) if track_ids is None else self._rows_of(track_ids)
        x, P, _, _ = self._predicted(rows, t_unix)
        return self._id[rows].copy(), x, np.sqrt(np.trace(P[:, :3, :3], axis1=1, axis2=2) / 3.0)

    def _rows_of(self, track_ids: Iterable[int]) -> np.ndarray:
        """Rows of the live tracks among track_ids, in row order."""
        n = self._n
        ids = np.fromiter(track_ids, np.int64)
        rows = np.searchsorted(self._id[:n], ids)
        live = rows < n
        live[live] = self._id[rows[live]] == ids[live]
        return np.sort(rows[live])

    def _predicted(
        self, rows: np.ndarray, t_unix: float
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """Copies of x, P, mu and t of rows, predicted to t_unix (never backwards)."""
        x, P, mu, t = self._x[rows], self._P[rows], self._mu[rows], self._t[rows]
        imm_predict_batch(
            self._xm[rows], self._Pm[rows], mu, x, P, np.maximum(0.0, t_unix - t),
            self._turn_rate, self._mode_accel, self.config.imm_sojourn_s,
        )  # fmt: skip
        return x, P, mu, np.maximum(t, t_unix)

    def _predict_rows(self, rows: np.ndarray, t_unix: float | np.ndarray) -> None:
        """Predict track rows to t_unix (one time, or one per row) in place, never backwards.

        Only the tracks a scan can touch are predicted (identified ones, and those whose
        reach covers a detection): a track's state stays at its own time _t until then, so
        one drone's message costs the same whatever else is tracked, and unrelated traffic
        does not change a track's estimate."""
        times = np.asarray(t_unix, np.float64)
        rows, first = np.unique(rows, return_index=True)
        t = times[first] if times.ndim else np.full(rows.size, float(times))
        ahead = self._t[rows] < t
        rows, t = rows[ahead], t[ahead]
        if rows.size == 0:
            return
        imm_predict_rows(
            self._xm, self._Pm, self._mu, self._x, self._P, rows, t - self._t[rows],
            self._turn_rate, self._mode_accel, self.config.imm_sojourn_s,
        )  # fmt: skip
        self._t[rows] = t

    def _update(
        self,
        rows: np.ndarray,
        dets: np.ndarray,
        codes: np.ndarray,
        z: np.ndarray,
        R: np.ndarray,
        sensor: np.ndarray,
        rot: np.ndarray,
    ) -> None:
        """Update track rows[dets] with detections dets, in the order of dets."""
        imm_update_batch(
            self._xm,
            self._Pm,
            self._mu,
            self._x,
            self._P,
            rows[dets],
            codes[dets],
            z[dets],
            R[dets],
            sensor,
            rot,
        )

    def _associate(
        self,
        t_unix: float,
        track_rows: np.ndarray,
        det_idx: np.ndarray,
        codes: np.ndarray,
        z: np.ndarray,
        R: np.ndarray,
        sensor: np.ndarray,
        rot: np.ndarray,
        det_keyed: np.ndarray,
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Track row for each detection of det_idx (-1: none) by gated global nearest neighbour,
        or JPDA for established tracks; also which detections JPDA already applied, and the
        track rows JPDA counts as detected.

        Keyed detections reaching here carry a key no live track holds, so any keyed track is
        forbidden to them. Established tracks choose first and tentative ones (often clutter)
        take what is left, so a clutter track never steals a confirmed target's detection.
        Only pre-gated pairs are costed (and only their tracks predicted to the scan), and
        each stage is solved per connected cluster of the gate graph, so cost grows about
        linearly with targets.
        """
        out = np.full(det_idx.size, -1, np.int64)
        soft = np.zeros(det_idx.size, bool)
        jpda_hits = np.empty(0, np.int64)
        ti, dj = self._candidate_pairs(t_unix, track_rows, det_idx, codes, z, R, sensor, rot)
        if ti.size == 0:
            return out, soft, jpda_hits
        candidates, ti = np.unique(ti, return_inverse=True)
        track_rows = track_rows[candidates]
        self._predict_rows(track_rows, t_unix)
        d2 = measurement_cost_pairs(
            self._x[track_rows], self._P[track_rows], codes[det_idx], z[det_idx],
            R[det_idx], sensor, rot, ti, dj,
        )  # fmt: skip
        gate = self._gates[MEASUREMENT_DIM[codes[det_idx]] - 1]
        track_keyed = np.array([key is not None for key in self._key[track_rows]], bool)
        ok = (d2 <= gate[dj]) & ~(track_keyed[ti] & det_keyed[dj])
        tentative = (self._status[track_rows] == TENTATIVE)[ti]
        established = ok & ~tentative
        if self.config.association == "jpda":
            jp = established & (codes[det_idx[dj]] == POSITION) & ~det_keyed[dj]
            if jp.any():
                jpda_hits, unsolved = self._jpda(
                    track_rows, det_idx, ti[jp], dj[jp], z, R, out, soft
                )
                established[np.flatnonzero(jp)[~unsolved]] = False
        for stage in (established, ok & tentative):
            stage &= out[dj] < 0  # detections the first stage took are gone
            if stage.any():
                self._assign(track_rows, ti[stage], dj[stage], d2[stage], out)
        return out, soft, jpda_hits

    def _jpda(
        self,
        track_rows: np.ndarray,
        det_idx: np.ndarray,
        ti: np.ndarray,
        dj: np.ndarray,
        z: np.ndarray,
        R: np.ndarray,
        out: np.ndarray,
        soft: np.ndarray,
    ) -> tuple[np.ndarray, np.ndarray]:
        """JPDA update of established tracks by gated position detections, per cluster.

        Positions only: their likelihoods are densities per m^3, comparable with one clutter
        density per m^3 whatever the sensor. Radar plots and bearings have likelihoods per
        m rad^2, per rad and so on, which would need a clutter density per model and sensor
        (and they are few per scan), so they keep GNN. Sets out (the likeliest track, where
        some track's beta reaches _JPDA_USED_BETA) and soft for the detections used. Returns
        the rows counted as detected, and which edges lie in clusters too large to enumerate
        (left to GNN).
        """
        cfg = self.config
        rows, dets = track_rows[ti], det_idx[dj]
        log_lik = pair_log_likelihoods(self._x, self._P, z, R, rows, dets)
        marg = association_probabilities(
            log_lik,
            ti,
            dj,
            cluster_pairs(ti, dj, track_rows.size, det_idx.size),
            track_rows.size,
            cfg.jpda_pd,
            cfg.gate_probability,
            cfg.jpda_clutter_density,
        )
        self.counters["jpda_fallback"] += marg.n_unsolved
        s = np.flatnonzero(marg.solved)
        s = s[np.argsort(ti[s], kind="stable")]  # edges grouped by track
        tracks, first = np.unique(ti[s], return_index=True)
        pda_update_batch(
            self._xm, self._Pm, self._mu, self._x, self._P, track_rows[tracks],
            np.r_[first, s.size].astype(np.int64), dets[s], marg.beta[s],
            marg.beta_miss[tracks], log_lik[s], z, R,
        )  # fmt: skip
        used = s[marg.beta[s] >= _JPDA_USED_BETA]
        used = used[np.argsort(marg.beta[used], kind="stable")]  # the largest beta writes last
        out[dj[used]] = rows[used]
        soft[dj[used]] = True
        detected = 1.0 - marg.beta_miss[tracks] >= _JPDA_HIT_PROBABILITY
        return track_rows[tracks[detected]], ~marg.solved

    @staticmethod
    def _assign(
        track_rows: np.ndarray, ti: np.ndarray, dj: np.ndarray, d2: np.ndarray, out: np.ndarray
    ) -> None:
        """Optimal assignment over gated pairs, one small problem per connected cluster."""
        edge_label = cluster_pairs(ti, dj, track_rows.size, out.size)
        single = np.bincount(edge_label)[edge_label] == 1  # one track, one detection
        out[dj[single]] = track_rows[ti[single]]
        multi = ~single
        if not multi.any():
            return
        order = np.argsort(edge_label[multi], kind="stable")
        m_ti, m_dj, m_d2 = ti[multi][order], dj[multi][order], d2[multi][order]
        bounds = np.flatnonzero(np.diff(edge_label[multi][order])) + 1
        for e_ti, e_dj, e_d2 in zip(
            np.split(m_ti, bounds), np.split(m_dj, bounds), np.split(m_d2, bounds), strict=True
        ):
            tr, r_idx = np.unique(e_ti, return_inverse=True)
            de, c_idx = np.unique(e_dj, return_inverse=True)
            cost = np.full((tr.size, de.size), _FORBIDDEN_COST)
            cost[r_idx, c_idx] = e_d2
            from scipy.optimize import linear_sum_assignment  # first use: start-up stays short

            r, c = linear_sum_assignment(cost)
            assigned = cost[r, c] < _FORBIDDEN_COST
            out[de[c[assigned]]] = track_rows[tr[r[assigned]]]

    def _candidate_pairs(
        self,
        t_unix: float,
        track_rows: np.ndarray,
        det_idx: np.ndarray,
        codes: np.ndarray,
        z: np.ndarray,
        R: np.ndarray,
        sensor: np.ndarray,
        rot: np.ndarray,
    ) -> tuple[np.ndarray, np.ndarray]:
        """(track, detection) index pairs that may pass the gate, as positions into the args.

        Positions and radar plots are pre-gated in space, from the tracks' unpredicted
        states: d2 <= g implies |z - m|^2 <= g * trace(S) for the predicted mean m, and
        :func:`reach_bounds` bounds m and trace(S) around a straight-line extrapolation, so
        a ball of that radius around it keeps every pair that can pass. A radar plot takes
        part as its converted position and covariance (the same bound to first order; the
        radius is widened by _POLAR_GATE_MARGIN for the curvature of the polar cell).
        Bearings are paired with every track (they are few per scan).
        """
        nt = track_rows.size
        dc = codes[det_idx]
        is_polar = (dc == RANGE_AZ_EL) | (dc == RANGE_AZ_EL_RATE)
        spatial = np.flatnonzero((dc == POSITION) | is_polar)
        parts_t: list[np.ndarray] = []
        parts_d: list[np.ndarray] = []
        if spatial.size:
            dets = det_idx[spatial]
            zp = z[dets, :3].copy()
            cov = R[dets, :3, :3].copy()
            polar = is_polar[spatial]
            if polar.any():
                zp[polar], cov[polar] = polar_to_enu_batch(
                    z[dets[polar]], R[dets[polar]], sensor, rot
                )
            r_var = np.trace(cov, axis1=1, axis2=2).max()
            gate = self._gates[MEASUREMENT_DIM[dc[spatial]].max() - 1]
            margin = _POLAR_GATE_MARGIN if polar.any() else 1.0
            xp, offset_m, p_var = reach_bounds(
                self._x[track_rows], self._P[track_rows], self._t[track_rows], t_unix,
                float(np.abs(self._turn_rate).max()), float(self._mode_accel.max()),
            )  # fmt: skip
            radius = margin * np.sqrt(gate * (p_var + r_var)) + offset_m  # m
            if nt * spatial.size <= _BRUTE_FORCE_PAIRS:
                ti, dj = pairs_within(xp, radius, zp)
                parts_t.append(ti)
                parts_d.append(spatial[dj])
            else:
                from scipy.spatial import cKDTree  # first use: start-up stays short

                hits = cKDTree(zp).query_ball_point(xp, radius)
                counts = np.fromiter((len(h) for h in hits), np.int64, nt)
                if counts.sum():
                    parts_t.append(np.repeat(np.arange(nt), counts))
                    parts_d.append(spatial[np.concatenate(hits).astype(np.int64)])
        other = np.flatnonzero(~((dc == POSITION) | is_polar))
        if other.size:
            parts_t.append(np.repeat(np.arange(nt), other.size))
            parts_d.append(np.tile(other, nt))
        if not parts_t:
            return np.empty(0, np.int64), np.empty(0, np.int64)
        return np.concatenate(parts_t), np.concatenate(parts_d)

    def _start_from_plots(
        self,
        t_unix: float,
        dets: np.ndarray,
        codes: np.ndarray,
        z: np.ndarray,
        R: np.ndarray,
        sensor: np.ndarray,
        rot: np.ndarray,
        keys: Sequence[str | None],
        domain: int,
    ) -> np.ndarray:
        """New tracks at positions and radar plots dets; radial velocity seeds the velocity."""
        m = dets.size
        pos = z[dets, :3].copy()
        pos_cov = R[dets, :3, :3].copy()
        vel = np.zeros((m, 3))
        vel_cov = np.tile(np.eye(3) * self.config.init_velocity_std_mps**2, (m, 1, 1))
        polar = (codes[dets] == RANGE_AZ_EL) | (codes[dets] == RANGE_AZ_EL_RATE)
        if polar.any():
            pos[polar], pos_cov[polar] = polar_to_enu_batch(
                z[dets[polar]], R[dets[polar]], sensor, rot
            )
        for i, j in enumerate(dets):
            if codes[j] == RANGE_AZ_EL_RATE:
                los = (pos[i] - sensor) / np.linalg.norm(pos[i] - sensor)  # site ENU unit
                along = np.outer(los, los)
                vel[i] = z[j, 3] * los
                vel_cov[i] = vel_cov[i] @ (np.eye(3) - along) + R[j, 3, 3] * along
        return self._start_tracks(
            t_unix, pos, pos_cov, vel, vel_cov, [keys[j] for j in dets], domain
        )

    def _pool_bearing(
        self,
        t_unix: float,
        col: int,
        j: int,
        codes: np.ndarray,
        z: np.ndarray,
        R: np.ndarray,
        sensor: np.ndarray,
        rot: np.ndarray,
        keys: Sequence[str | None],
        domain: int,
    ) -> int:
        """Keep bearing j for crossing with bearings of its domain; start a track if it
        crosses pooled ones. Returns the new track row, or -1."""
        pool = self._pools[domain]
        has_el = codes[j] == BEARING_AZ_EL
        az_el = np.array([z[j, 0], z[j, 1] if has_el else np.nan])
        var = np.array([R[j, 0, 0], R[j, 1, 1] if has_el else np.nan])
        pool.add(t_unix, col, sensor, rot, az_el, var, keys[j])
        self.counters["bearings_pooled"] += 1
        cfg = self.config
        found = best_crossing(
            pool,
            len(pool) - 1,
            cfg.init_velocity_std_mps,
            min_angle_rad=math.radians(cfg.crossing_min_angle_deg),
            max_range_m=cfg.crossing_max_range_m,
            gate_probability=cfg.gate_probability,
            prior_height_m=cfg.crossing_height_m,
            prior_height_std_m=cfg.crossing_height_std_m,
        )
        if found is None:
            return -1
        crossing, used = found
        key = next((k for k in pool.key[used] if k is not None), None)
        used_cols = pool.sensor[used]
        pool.remove(used)
        self.counters["crossings"] += 1
        vel_cov = np.eye(3)[None] * cfg.init_velocity_std_mps**2
        (row,) = self._start_tracks(
            t_unix,
            crossing.position_enu_m[None],
            crossing.covariance_m2[None],
            np.zeros((1, 3)),
            vel_cov,
            [key],
            domain,
        )
        # the other sensors whose bearings made the crossing updated the track too
        others = used_cols[used_cols != col]
        self._sensor_t[row, others] = t_unix
        self._chance_t[row, others] = t_unix
        return int(row)

    def _start_tracks(
        self,
        t_unix: float,
        pos: np.ndarray,
        pos_cov: np.ndarray,
        vel: np.ndarray,
        vel_cov: np.ndarray,
        keys: list[str | None],
        domain: int,
    ) -> np.ndarray:
        m = pos.shape[0]
        self._reserve(m)
        rows = np.arange(self._n, self._n + m)
        ids = np.arange(self._next_id, self._next_id + m, dtype=np.int64)
        self._x[rows, :3] = pos
        self._x[rows, 3:] = vel
        self._P[rows] = 0.0
        self._P[rows, :3, :3] = pos_cov
        self._P[rows, 3:, 3:] = vel_cov
        self._xm[rows] = self._x[rows, None, :]
        self._Pm[rows] = self._P[rows, None, :, :]
        self._mu[rows] = 1.0 / self._mu.shape[1]
        self._t[rows] = t_unix
        self._id[rows] = ids
        self._status[rows] = TENTATIVE
        self._hits[rows] = 0
        self._last_update[rows] = t_unix
        self._window[rows] = 0
        self._sensor_t[rows] = np.nan
        self._chance_t[rows] = np.nan
        self._domain[rows] = domain
        for row, tid, key in zip(rows, ids, keys, strict=True):
            self._key[row] = key
            if key is not None:
                self._key_to_id[key] = int(tid)
        self._n += m
        self._next_id += m
        self.counters["tracks_started"] += m
        return rows

    def _record_hits(self, t_unix: float, col: int, rows: np.ndarray, hit_t: np.ndarray) -> None:
        """M-of-N window, hit counts, update times and confirmation after one scan or burst of
        reports of sensor col, whose newest is at t_unix: the detection j hit row rows[j] at
        hit_t[j] (a row may repeat)."""
        n = self._n
        np.add.at(self._hits, rows, 1)
        order = np.lexsort((hit_t, rows))
        rows, hit_t = rows[order], hit_t[order]
        last = np.ones(rows.size, bool)  # each row once, at its newest hit
        last[:-1] = rows[1:] != rows[:-1]
        rows, hit_t = rows[last], hit_t[last]
        self._confirmation.record(
            t_unix, col, rows, hit_t, self._window[:n], self._chance_t[:n],
            self._sensor_t[:n, col], self._x[:n], self._t[:n],
        )  # fmt: skip
        self._last_update[rows] = np.maximum(self._last_update[rows], hit_t)
        self._sensor_t[rows, col] = np.fmax(self._sensor_t[rows, col], hit_t)
        status = self._status[rows]
        promote = (status == COASTING) | (
            (status == TENTATIVE) & self._confirmation.confirmed(self._window[rows])
        )
        self.counters["tracks_confirmed"] += int(np.count_nonzero(promote & (status == TENTATIVE)))
        self._status[rows[promote]] = CONFIRMED

    def _column(self, sensor_id: str) -> int:
        col = self._sensor_col.get(sensor_id)
        if col is None:
            col = self._sensor_col[sensor_id] = len(self._sensor_col)
            nan_col = np.full((self._sensor_t.shape[0], 1), np.nan)
            self._sensor_t = np.hstack([self._sensor_t, nan_col])
            self._chance_t = np.hstack([self._chance_t, nan_col])
            self._confirmation.declare(col, self._sights.get(sensor_id))
        return col

    def declare_sensor(self, sensor_id: str, sight: SensorSight) -> None:
        """Tell the cover and revisit period of a sensor before its first scan."""
        if sensor_id in self._sensor_col:
            raise ValueError(f"sensor {sensor_id!r} has already reported; declare it before")
        self._sights[sensor_id] = sight

    def _reserve(self, extra: int) -> None:
        cap = self._x.shape[0]
        if self._n + extra <= cap:
            return
        new_cap = max(2 * cap, self._n + extra)
        for name in _BUFFERS:
            buf = getattr(self, name)
            grown = np.zeros((new_cap, *buf.shape[1:]), buf.dtype)
            grown[: self._n] = buf[: self._n]
            setattr(self, name, grown)

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
        hit_fraction = self._confirmation.hit_fraction(self._window[rows])
        std_m = np.sqrt(np.trace(P[:, :3, :3], axis1=1, axis2=2) / 3.0)
        quality = hit_fraction * cfg.quality_std_m / (cfg.quality_std_m + std_m)
        views = []
        for i, row in enumerate(rows):
            sensor_t = self._sensor_t[row]
            modes = None
            if self._mode_names is not None:
                modes = {name: float(p) for name, p in zip(self._mode_names, mu[i], strict=True)}
            views.append(
                TrackView(
                    track_id=int(self._id[row]),
                    status=status or _STATUS_NAMES[self._status[row]],
                    t_unix=float(t[i]),
                    x=x[i].copy(),
                    P=P[i].copy(),
                    identity_key=self._key[row],
                    hits=int(self._hits[row]),
                    last_update_t=float(self._last_update[row]),
                    sensors={
                        sid: float(sensor_t[c])
                        for sid, c in self._sensor_col.items()
                        if not math.isnan(sensor_t[c])
                    },
                    quality=float(quality[i]),
                    mode_probabilities=modes,
                    exercise=bool(self._domain[row]),
                )
            )
        return views
