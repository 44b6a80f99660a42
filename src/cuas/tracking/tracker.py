"""Multi-target tracker v0: identity-first association, gated GNN, M-of-N confirmation.

The fusion engine needs one stable track id per physical drone out of many asynchronous
sensors. Track state lives in struct-of-arrays buffers so the NCV Kalman kernels of
:mod:`cuas.tracking.kalman` run over a whole scan per call; this module does the bookkeeping.
Positions are local ENU in metres, velocities m/s, times Unix seconds.
"""

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy.optimize import linear_sum_assignment
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components
from scipy.stats import chi2

from cuas.tracking.kalman import mahalanobis_cost, predict_batch, update_batch

TENTATIVE, CONFIRMED, COASTING = 0, 1, 2
_STATUS_NAMES = ("tentative", "confirmed", "coasting")
# Cost of a forbidden pair: far above any sum of gated d2, so the assignment first maximises
# the number of gated pairs, then minimises their total d2.
_FORBIDDEN_COST = 1e9
# Per-track buffers, indexed by row; rows [0, n) are live, in increasing track id order.
_BUFFERS = (
    "_x",
    "_P",
    "_t",
    "_id",
    "_status",
    "_hits",
    "_last_update",
    "_window",
    "_key",
    "_sensor_t",
)


@dataclass(frozen=True)
class TrackerConfig:
    accel_std_mps2: float = 3.0  # NCV process noise
    gate_probability: float = 0.9997  # chi-square gate, 3 dof
    confirm_hits: int = 3  # M of ...
    confirm_window: int = 5  # ... N opportunities
    coast_after_s: float = 3.0  # confirmed -> coasting when no update for this long
    delete_after_s: float = 12.0  # coasting -> deleted
    tentative_delete_after_s: float = 4.0
    init_velocity_std_mps: float = 25.0  # initial velocity uncertainty of a new track
    late_tolerance_s: float = 0.5  # scans older than the tracker clock by more than this are late

    def __post_init__(self) -> None:
        if not 0.0 < self.gate_probability < 1.0:
            raise ValueError("gate_probability must be in (0, 1)")
        # The window is an int64 bit mask, newest opportunity in bit 0.
        if not 1 <= self.confirm_hits <= self.confirm_window <= 62:
            raise ValueError("need 1 <= confirm_hits <= confirm_window <= 62")


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


@dataclass
class ScanResult:
    track_ids: np.ndarray  # (k,) int64: track each detection updated or started; -1 if late
    late: bool  # whole scan rejected as too old


def _popcount(w: np.ndarray, nbits: int) -> np.ndarray:
    return sum((w >> b) & 1 for b in range(nbits))


class Tracker:
    def __init__(self, config: TrackerConfig = TrackerConfig(), first_track_id: int = 1) -> None:
        self.config = config
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
            ),
            0,
        )
        self._gate = float(chi2.ppf(config.gate_probability, 3))
        self._window_mask = (1 << config.confirm_window) - 1
        self._next_id = first_track_id
        self._n = 0
        cap = 64
        self._x = np.zeros((cap, 6))
        self._P = np.zeros((cap, 6, 6))
        self._t = np.zeros(cap)  # time of x/P
        self._id = np.zeros(cap, np.int64)
        self._status = np.zeros(cap, np.int8)
        self._hits = np.zeros(cap, np.int64)
        self._last_update = np.zeros(cap)
        self._window = np.zeros(cap, np.int64)  # last confirm_window opportunities, 1 = hit
        self._key = np.full(cap, None, dtype=object)
        self._sensor_t = np.full((cap, 0), np.nan)  # [row, sensor column] last update time
        self._sensor_col: dict[str, int] = {}
        self._key_to_id: dict[str, int] = {}

    def process_scan(
        self,
        t_unix: float,
        sensor_id: str,
        z_enu: np.ndarray,
        R: np.ndarray,
        identity_keys: Sequence[str | None],
    ) -> ScanResult:
        """Associate and apply one scan: detections of one sensor at one time.

        z_enu (k, 3) m, R (k, 3, 3) m^2, identity_keys one per detection.
        """
        z = np.ascontiguousarray(z_enu, dtype=np.float64).reshape(-1, 3)
        R = np.ascontiguousarray(R, dtype=np.float64).reshape(-1, 3, 3)
        k = z.shape[0]
        if R.shape[0] != k or len(identity_keys) != k:
            raise ValueError(
                f"scan has {k} positions, {R.shape[0]} covariances and "
                f"{len(identity_keys)} identity keys"
            )
        if not (math.isfinite(t_unix) and np.isfinite(z).all() and np.isfinite(R).all()):
            raise ValueError("scan time, positions and covariances must be finite")
        if t_unix < self.clock - self.config.late_tolerance_s:
            self.counters["late_scans"] += 1
            self.counters["late_detections"] += k
            return ScanResult(np.full(k, -1, np.int64), late=True)
        self.counters["scans"] += 1
        self.counters["detections"] += k
        self.clock = max(self.clock, t_unix)
        self._predict_live(t_unix)
        col = self._column(sensor_id)
        n_before = self._n
        seen_before = ~np.isnan(self._sensor_t[:n_before, col])

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

        free_dets = np.flatnonzero((rows < 0) & ~deferred)
        taken = np.zeros(n_before, bool)
        taken[rows[rows >= 0]] = True
        free_tracks = np.flatnonzero(~taken)
        if free_dets.size and free_tracks.size:
            keyed = np.array([key is not None for key in identity_keys], bool)
            rows[free_dets] = self._gnn(free_tracks, free_dets, z, R, keyed[free_dets])
        upd = np.flatnonzero(rows >= 0)
        update_batch(self._x, self._P, rows[upd], z[upd], R[upd])
        for key, j in new_keys.items():
            if rows[j] >= 0:
                self._key[rows[j]] = key
                self._key_to_id[key] = int(self._id[rows[j]])

        new = np.flatnonzero((rows < 0) & ~deferred)
        rows[new] = self._start_tracks(t_unix, z[new], R[new], [identity_keys[j] for j in new])
        if deferred.any():
            dup = np.flatnonzero(deferred)
            ids = [self._key_to_id[identity_keys[j]] for j in dup]
            rows[dup] = np.searchsorted(self._id[: self._n], ids)
            update_batch(self._x, self._P, rows[dup], z[dup], R[dup])

        self._record_hits(t_unix, col, rows, seen_before)
        return ScanResult(self._id[rows], late=False)

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
            dead_rows, self._x[dead_rows], self._P[dead_rows], self._t[dead_rows], status="deleted"
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

    def tracks(self, t_unix: float | None = None) -> list[TrackView]:
        """Views of the live tracks, predicted to t_unix (never backwards) when given."""
        n = self._n
        rows = np.arange(n)
        x = self._x[:n].copy()
        P = self._P[:n].copy()
        t = self._t[:n].copy()
        if t_unix is not None:
            predict_batch(x, P, np.maximum(0.0, t_unix - t), self.config.accel_std_mps2)
            t = np.maximum(t, t_unix)
        return self._views(rows, x, P, t)

    def _predict_live(self, t_unix: float) -> None:
        n = self._n
        dt = np.maximum(0.0, t_unix - self._t[:n])  # s, never backwards
        predict_batch(self._x[:n], self._P[:n], dt, self.config.accel_std_mps2)
        self._t[:n] = np.maximum(self._t[:n], t_unix)

    def _gnn(
        self,
        track_rows: np.ndarray,
        det_idx: np.ndarray,
        z: np.ndarray,
        R: np.ndarray,
        det_keyed: np.ndarray,
    ) -> np.ndarray:
        """Track row for each detection of det_idx (-1: none) by gated global nearest neighbour.

        Keyed detections reaching here carry a key no live track holds, so any keyed track is
        forbidden to them.
        """
        d2 = mahalanobis_cost(self._x[track_rows], self._P[track_rows], z[det_idx], R[det_idx])
        track_keyed = np.array([key is not None for key in self._key[track_rows]], bool)
        allowed = (d2 <= self._gate) & ~(track_keyed[:, None] & det_keyed[None, :])
        out = np.full(det_idx.size, -1, np.int64)
        ti, dj = np.nonzero(allowed)
        if ti.size == 0:
            return out
        # Connected components of the bipartite gate graph: nodes [tracks..., detections...].
        nt, nd = allowed.shape
        graph = coo_matrix((np.ones(ti.size), (ti, nt + dj)), shape=(nt + nd, nt + nd))
        _, label = connected_components(graph, directed=False)
        edge_label = label[ti]
        single = np.bincount(edge_label)[edge_label] == 1  # one track, one detection
        out[dj[single]] = track_rows[ti[single]]
        multi = np.unique(edge_label[~single])
        if multi.size:
            order = np.argsort(label, kind="stable")
            sorted_label = label[order]
            starts = np.searchsorted(sorted_label, multi)
            ends = np.searchsorted(sorted_label, multi, side="right")
            for s, e in zip(starts, ends, strict=True):
                nodes = order[s:e]
                tr = nodes[nodes < nt]
                de = nodes[nodes >= nt] - nt
                block = np.ix_(tr, de)
                cost = np.where(allowed[block], d2[block], _FORBIDDEN_COST)
                r, c = linear_sum_assignment(cost)
                ok = cost[r, c] <= self._gate
                out[de[c[ok]]] = track_rows[tr[r[ok]]]
        return out

    def _start_tracks(
        self, t_unix: float, z: np.ndarray, R: np.ndarray, keys: list[str | None]
    ) -> np.ndarray:
        m = z.shape[0]
        self._reserve(m)
        rows = np.arange(self._n, self._n + m)
        ids = np.arange(self._next_id, self._next_id + m, dtype=np.int64)
        self._x[rows] = 0.0
        self._x[rows, :3] = z
        self._P[rows] = 0.0
        self._P[rows, :3, :3] = R
        for a in range(3, 6):
            self._P[rows, a, a] = self.config.init_velocity_std_mps**2  # (m/s)^2
        self._t[rows] = t_unix
        self._id[rows] = ids
        self._status[rows] = TENTATIVE
        self._hits[rows] = 0
        self._last_update[rows] = t_unix
        self._window[rows] = 0
        self._sensor_t[rows] = np.nan
        for row, tid, key in zip(rows, ids, keys, strict=True):
            self._key[row] = key
            if key is not None:
                self._key_to_id[key] = int(tid)
        self._n += m
        self._next_id += m
        self.counters["tracks_started"] += m
        return rows

    def _record_hits(
        self, t_unix: float, col: int, rows: np.ndarray, seen_before: np.ndarray
    ) -> None:
        """M-of-N window, hit counts, update times and confirmation after one scan."""
        n = self._n
        hit = np.zeros(n, bool)
        hit[rows] = True
        opportunity = hit.copy()
        opportunity[: seen_before.size] |= seen_before
        window = self._window[:n]
        window[opportunity] = ((window[opportunity] << 1) | hit[opportunity]) & self._window_mask
        np.add.at(self._hits, rows, 1)
        self._last_update[rows] = np.maximum(self._last_update[rows], t_unix)
        self._sensor_t[rows, col] = np.fmax(self._sensor_t[rows, col], t_unix)
        status = self._status[:n]
        promote = hit & (
            (status == COASTING)
            | (
                (status == TENTATIVE)
                & (_popcount(window, self.config.confirm_window) >= self.config.confirm_hits)
            )
        )
        self.counters["tracks_confirmed"] += int(np.count_nonzero(promote & (status == TENTATIVE)))
        status[promote] = CONFIRMED

    def _column(self, sensor_id: str) -> int:
        col = self._sensor_col.get(sensor_id)
        if col is None:
            col = self._sensor_col[sensor_id] = len(self._sensor_col)
            nan_col = np.full((self._sensor_t.shape[0], 1), np.nan)
            self._sensor_t = np.hstack([self._sensor_t, nan_col])
        return col

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
        t: np.ndarray,
        status: str | None = None,
    ) -> list[TrackView]:
        views = []
        for i, row in enumerate(rows):
            sensor_t = self._sensor_t[row]
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
                )
            )
        return views
