"""Deletion: confirmed tracks coast, then die, by the time since their last update.

Time, not missed reports, so a track is never deleted for the reports its sensors made
about other objects; a tentative track (often clutter) gets a shorter life than an
established one.
"""

from __future__ import annotations

import numpy as np

from cuas.tracking.table import COASTING, CONFIRMED, TENTATIVE, TrackTable


class UpdateTimeDeleter:
    """Coasting after coast_after_s without update; deletion after delete_after_s (tentative:
    tentative_delete_after_s)."""

    def __init__(
        self, coast_after_s: float, delete_after_s: float, tentative_delete_after_s: float
    ) -> None:
        self.coast_after_s = coast_after_s
        self.delete_after_s = delete_after_s
        self.tentative_delete_after_s = tentative_delete_after_s

    def dead(self, table: TrackTable, t_unix: float) -> np.ndarray:
        """Mark confirmed tracks silent too long as coasting; return which live rows are dead."""
        n = table.n
        age_s = t_unix - table.last_update[:n]
        status = table.status[:n]
        status[(status == CONFIRMED) & (age_s > self.coast_after_s)] = COASTING
        tentative = status == TENTATIVE
        return (tentative & (age_s > self.tentative_delete_after_s)) | (
            ~tentative & (age_s > self.delete_after_s)
        )
