"""Prediction and update of the track table's states: the IMM (or plain NCV) filter stage.

Wraps the kernels of :mod:`cuas.tracking.imm` with the motion model the config chooses:
NCV is the IMM with one constant-velocity mode; the default IMM adds coordinated turns
left and right. Only the rows a scan can touch are predicted, in place and never backwards.
"""

from __future__ import annotations

import numpy as np

from cuas.tracking.config import TrackerConfig
from cuas.tracking.imm import imm_predict_batch, imm_predict_rows, imm_update_batch
from cuas.tracking.table import TrackTable

IMM_MODES = ("cv", "turn_left", "turn_right")


class ImmFilter:
    """The motion model's modes (turn rate rad/s, process noise m/s^2) and its two steps."""

    def __init__(self, config: TrackerConfig) -> None:
        self.sojourn_s = config.imm_sojourn_s
        if config.motion_model == "imm":
            w = config.imm_turn_rate_rad_s
            self.mode_names: tuple[str, ...] | None = IMM_MODES
            self.turn_rate = np.array([0.0, w, -w])
            turn_accel = config.imm_turn_accel_std_mps2
            self.mode_accel = np.array([config.imm_cv_accel_std_mps2, turn_accel, turn_accel])
        else:
            self.mode_names = None
            self.turn_rate = np.zeros(1)
            self.mode_accel = np.array([config.accel_std_mps2])

    @property
    def n_modes(self) -> int:
        return self.turn_rate.size

    def predicted(
        self, table: TrackTable, rows: np.ndarray, t_unix: float
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """Copies of x, P, mu and t of rows, predicted to t_unix (never backwards)."""
        x, P, mu, t = table.x[rows], table.P[rows], table.mu[rows], table.t[rows]
        imm_predict_batch(
            table.xm[rows], table.Pm[rows], mu, x, P, np.maximum(0.0, t_unix - t),
            self.turn_rate, self.mode_accel, self.sojourn_s,
        )  # fmt: skip
        return x, P, mu, np.maximum(t, t_unix)

    def predict_rows(self, table: TrackTable, rows: np.ndarray, t_unix: float | np.ndarray) -> None:
        """Predict track rows to t_unix (one time, or one per row) in place, never backwards.

        Only the tracks a scan can touch are predicted (identified ones, and those whose
        reach covers a detection): a track's state stays at its own time until then, so
        one drone's message costs the same whatever else is tracked, and unrelated traffic
        does not change a track's estimate."""
        times = np.asarray(t_unix, np.float64)
        rows, first = np.unique(rows, return_index=True)
        t = times[first] if times.ndim else np.full(rows.size, float(times))
        ahead = table.t[rows] < t
        rows, t = rows[ahead], t[ahead]
        if rows.size == 0:
            return
        imm_predict_rows(
            table.xm, table.Pm, table.mu, table.x, table.P, rows, t - table.t[rows],
            self.turn_rate, self.mode_accel, self.sojourn_s,
        )  # fmt: skip
        table.t[rows] = t

    @staticmethod
    def update(
        table: TrackTable,
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
            table.xm, table.Pm, table.mu, table.x, table.P, rows[dets], codes[dets], z[dets],
            R[dets], sensor, rot,
        )  # fmt: skip
