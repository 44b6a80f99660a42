"""Deletion: confirmed tracks coast, then die, by the time since their last update.

Time, not missed reports, so a track is never deleted for the reports its sensors made
about other objects; a tentative track (often clutter) gets a shorter life than an
established one. A track seen only by slow sensors (a radar turning once in 6 s) is given
at least a few of their revisits: coasting after 1.5, deletion after 2.5 (tentative) or 3,
of the shortest declared revisit period (``revisit_s``) among the sensors that updated it.
Declared only: a period learned from noisy data never overrides the configured times.
"""

from __future__ import annotations

import numpy as np

from cuas.tracking.table import COASTING, CONFIRMED, TENTATIVE, TrackTable

# Revisits of a track's fastest sensor it may go unseen: to coasting, tentative deletion, deletion
_COAST_REVISITS, _TENTATIVE_REVISITS, _DELETE_REVISITS = 1.5, 2.5, 3.0


class UpdateTimeDeleter:
    """Coasting after coast_after_s without update; deletion after delete_after_s (tentative:
    tentative_delete_after_s)."""

    def __init__(
        self, coast_after_s: float, delete_after_s: float, tentative_delete_after_s: float
    ) -> None:
        self.coast_after_s = coast_after_s
        self.delete_after_s = delete_after_s
        self.tentative_delete_after_s = tentative_delete_after_s

    def dead(self, table: TrackTable, t_unix: float, revisit_s: np.ndarray) -> np.ndarray:
        """Mark confirmed tracks silent too long as coasting; return which live rows are dead.

        revisit_s (sensor columns,): each sensor's declared revisit period, nan if none."""
        n = table.n
        age_s = t_unix - table.last_update[:n]
        seen = ~np.isnan(table.sensor_t[:n]) & ~np.isnan(revisit_s)
        period_s = np.where(seen, revisit_s, np.inf).min(axis=1, initial=np.inf)
        period_s[np.isinf(period_s)] = 0.0
        status = table.status[:n]
        coast = np.maximum(self.coast_after_s, _COAST_REVISITS * period_s)
        status[(status == CONFIRMED) & (age_s > coast)] = COASTING
        tentative = status == TENTATIVE
        tentative_life = np.maximum(self.tentative_delete_after_s, _TENTATIVE_REVISITS * period_s)
        life = np.maximum(self.delete_after_s, _DELETE_REVISITS * period_s)
        return (tentative & (age_s > tentative_life)) | (~tentative & (age_s > life))
