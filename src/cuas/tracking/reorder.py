"""A reorder buffer: detections from sensors with different latencies back into time order.

The tracker filters forward in time only. Items are held until the clock is lag_s past
their time, then released in time order (ties in arrival order). An item older than what
was already released is late: it is returned at once, flagged, for the caller to count
and hand on, never dropped here. Late data is not retrodicted: at drone speeds a late
detection is better counted and applied approximately than rewinding every track.
"""

import heapq
import itertools
from typing import Generic, TypeVar

T = TypeVar("T")


class ReorderBuffer(Generic[T]):
    def __init__(self, lag_s: float) -> None:
        if lag_s < 0:
            raise ValueError(f"reorder lag must be >= 0 s, not {lag_s}")
        self.lag_s = lag_s
        self.released_until = float("-inf")  # newest time released, s
        self._heap: list[tuple[float, int, T]] = []
        self._seq = itertools.count()

    def __len__(self) -> int:
        return len(self._heap)

    def push(self, t_unix: float, item: T) -> bool:
        """Hold item; False (and not held) if its time was already released: it is late."""
        if t_unix < self.released_until:
            return False
        heapq.heappush(self._heap, (t_unix, next(self._seq), item))
        return True

    def next_due_unix(self) -> float:
        """The clock time at which the oldest held item is released; inf when empty."""
        return self._heap[0][0] + self.lag_s if self._heap else float("inf")

    def release(self, now_unix: float) -> list[T]:
        """Items with time <= now_unix - lag_s, oldest first."""
        horizon = now_unix - self.lag_s
        out = []
        while self._heap and self._heap[0][0] <= horizon:
            t, _, item = heapq.heappop(self._heap)
            out.append(item)
            self.released_until = max(self.released_until, t)
        return out

    def drain(self) -> list[T]:
        """Everything held, oldest first (end of a recording, shutdown)."""
        return self.release(float("inf"))
