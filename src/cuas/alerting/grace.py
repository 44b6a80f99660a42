"""Where Remote ID receivers listen: the cover of the identity grace (``cuas.alerting.engine``).

A young track there may still be identified by its first Remote ID messages, so its alerts
wait ``[alerts] identity_grace_s``; elsewhere no identity is coming and nothing waits. A
receiver is a sensor whose driver decodes Remote ID; its cover is its ``coverage.range_m``
around its position, or the whole picture when it declares no position or no coverage (a
receiver at the site hears every drone the site's other sensors see).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from cuas.config import SensorConfig
from cuas.geo import EnuFrame

REMOTE_ID_DRIVERS = frozenset({"dragonsync", "odid_frames", "dronescout"})


class RemoteIdCover:
    def __init__(self, sensors: Sequence[SensorConfig], frame: EnuFrame) -> None:
        receivers = [s for s in sensors if s.driver in REMOTE_ID_DRIVERS]
        self.everywhere = any(s.position is None or s.coverage is None for s in receivers)
        placed = [s for s in receivers if s.position is not None and s.coverage is not None]
        self._centre_en = np.array(
            [
                frame.from_geodetic(
                    s.position.lat_deg, s.position.lon_deg, s.position.alt_m or 0.0
                ).reshape(3)[:2]
                for s in placed
                if s.position is not None
            ]
        ).reshape(-1, 2)
        self._range_m = np.array([s.coverage.range_m for s in placed if s.coverage is not None])

    def covers(self, enu_m: tuple[float, float, float]) -> bool:
        """Whether a receiver hears an object at ``enu_m`` (site frame, metres)."""
        if self.everywhere:
            return True
        if not self._range_m.size:
            return False
        offset = self._centre_en - np.array(enu_m[:2])
        return bool((np.hypot(offset[:, 0], offset[:, 1]) <= self._range_m).any())
