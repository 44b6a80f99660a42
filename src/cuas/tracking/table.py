"""The track table: every live track's state and bookkeeping as struct-of-arrays buffers.

One table shared by the tracker's stages (gating, association, initiation, confirmation,
deletion), so the kernels run over many tracks per call. Rows [0, n) are live, in
increasing track id order (new tracks get new, larger ids and are appended; deletion
compacts), so a track id finds its row by binary search. Positions local ENU in metres,
velocities m/s, times Unix seconds.
"""

from __future__ import annotations

import numpy as np

TENTATIVE, CONFIRMED, COASTING = 0, 1, 2
STATUS_NAMES = ("tentative", "confirmed", "coasting")
_INITIAL_ROWS = 64
# Per-track buffers, indexed by row.
_BUFFERS = (
    "x",
    "P",
    "xm",
    "Pm",
    "mu",
    "t",
    "id",
    "status",
    "hits",
    "last_update",
    "window",
    "key",
    "sensor_t",
    "chance_t",
    "domain",
)


class TrackTable:
    """Live tracks, and the sensor columns and identity keys that index them."""

    def __init__(self, n_modes: int, first_track_id: int = 1) -> None:
        cap = _INITIAL_ROWS
        self.n = 0
        self.next_id = first_track_id
        self.x = np.zeros((cap, 6))  # combined state
        self.P = np.zeros((cap, 6, 6))
        self.xm = np.zeros((cap, n_modes, 6))  # per IMM mode
        self.Pm = np.zeros((cap, n_modes, 6, 6))
        self.mu = np.zeros((cap, n_modes))
        self.t = np.zeros(cap)  # time of x/P
        self.id = np.zeros(cap, np.int64)
        self.status = np.zeros(cap, np.int8)
        self.hits = np.zeros(cap, np.int64)  # detections absorbed
        self.last_update = np.zeros(cap)
        self.window = np.zeros(cap, np.int64)  # last N opportunities, 1 = hit (confirmation)
        self.key = np.full(cap, None, dtype=object)  # identity key, or None
        self.sensor_t = np.full((cap, 0), np.nan)  # [row, sensor column] last update time
        self.chance_t = np.full((cap, 0), np.nan)  # [row, sensor column] last opportunity
        self.domain = np.zeros(cap, np.int8)  # 0 the live picture, 1 an exercise
        self.sensor_col: dict[str, int] = {}
        self.key_to_id: dict[str, int] = {}

    def column(self, sensor_id: str) -> tuple[int, bool]:
        """The sensor's column, and whether it was just added."""
        col = self.sensor_col.get(sensor_id)
        if col is not None:
            return col, False
        col = self.sensor_col[sensor_id] = len(self.sensor_col)
        nan_col = np.full((self.sensor_t.shape[0], 1), np.nan)
        self.sensor_t = np.hstack([self.sensor_t, nan_col])
        self.chance_t = np.hstack([self.chance_t, nan_col])
        return col, True

    def add(
        self,
        t_unix: float,
        pos: np.ndarray,
        pos_cov: np.ndarray,
        vel: np.ndarray,
        vel_cov: np.ndarray,
        keys: list[str | None],
        domain: int,
    ) -> np.ndarray:
        """Append tentative tracks with these positions, velocities and covariances; their rows."""
        m = pos.shape[0]
        self._reserve(m)
        rows = np.arange(self.n, self.n + m)
        ids = np.arange(self.next_id, self.next_id + m, dtype=np.int64)
        self.x[rows, :3] = pos
        self.x[rows, 3:] = vel
        self.P[rows] = 0.0
        self.P[rows, :3, :3] = pos_cov
        self.P[rows, 3:, 3:] = vel_cov
        self.xm[rows] = self.x[rows, None, :]
        self.Pm[rows] = self.P[rows, None, :, :]
        self.mu[rows] = 1.0 / self.mu.shape[1]
        self.t[rows] = t_unix
        self.id[rows] = ids
        self.status[rows] = TENTATIVE
        self.hits[rows] = 0
        self.last_update[rows] = t_unix
        self.window[rows] = 0
        self.sensor_t[rows] = np.nan
        self.chance_t[rows] = np.nan
        self.domain[rows] = domain
        for row, tid, key in zip(rows, ids, keys, strict=True):
            self.key[row] = key
            if key is not None:
                self.key_to_id[key] = int(tid)
        self.n += m
        self.next_id += m
        return rows

    def remove(self, dead: np.ndarray) -> None:
        """Drop the live rows where dead (n,) is True, keeping the others in order."""
        n = self.n
        for key in self.key[:n][dead]:
            if key is not None:
                del self.key_to_id[key]
        keep = ~dead
        m = int(keep.sum())
        for name in _BUFFERS:
            buf = getattr(self, name)
            buf[:m] = buf[:n][keep]
        self.n = m

    def adopt_key(self, row: int, key: str) -> None:
        self.key[row] = key
        self.key_to_id[key] = int(self.id[row])

    def row_of_key(self, key: str) -> int | None:
        tid = self.key_to_id.get(key)
        return None if tid is None else int(np.searchsorted(self.id[: self.n], tid))

    def rows_of(self, track_ids: np.ndarray) -> np.ndarray:
        """Rows of the live tracks among track_ids, in row order."""
        n = self.n
        rows = np.searchsorted(self.id[:n], track_ids)
        live = rows < n
        live[live] = self.id[rows[live]] == track_ids[live]
        return np.sort(rows[live])

    def _reserve(self, extra: int) -> None:
        cap = self.x.shape[0]
        if self.n + extra <= cap:
            return
        new_cap = max(2 * cap, self.n + extra)
        for name in _BUFFERS:
            buf = getattr(self, name)
            grown = np.zeros((new_cap, *buf.shape[1:]), buf.dtype)
            grown[: self.n] = buf[: self.n]
            setattr(self, name, grown)
