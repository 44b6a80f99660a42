"""What the webhook and Cursor-on-Target outputs both decide: zone level order, and
per-object rate limiting."""

from __future__ import annotations

from cuas.schema import ZoneLevel

ZONE_RANK = {ZoneLevel.WATCH: 0, ZoneLevel.WARNING: 1, ZoneLevel.CRITICAL: 2}


def zone_at_least(level: ZoneLevel, minimum: ZoneLevel) -> bool:
    return ZONE_RANK[level] >= ZONE_RANK[minimum]


class UpdateLimiter:
    """At most one update per key per interval; a change of state always passes.

    A final update (a deleted track) passes only for a key that was sent before, and is
    then forgotten, so the memory stays bounded by the live objects.
    """

    MAX_KEYS = 20_000

    def __init__(self, interval_s: float) -> None:
        self.interval_s = interval_s
        self._last: dict[str, tuple[float, str]] = {}

    def allow(self, key: str, state: str, t_unix: float, final: bool = False) -> bool:
        if final:
            return self._last.pop(key, None) is not None
        last = self._last.get(key)
        if last is not None and last[1] == state and t_unix - last[0] < self.interval_s:
            return False
        if len(self._last) >= self.MAX_KEYS:
            horizon = t_unix - max(60.0, 10 * self.interval_s)
            self._last = {k: v for k, v in self._last.items() if v[0] >= horizon}
        self._last[key] = (t_unix, state)
        return True
