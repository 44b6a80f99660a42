"""Bounded per-object memory for drivers.

Protocols spread what they say about one object over several messages (an ID here, a
position there), so drivers remember per broadcaster, aircraft or node. An attacker can
invent identities without end, so that memory must be bounded: these forget the least
recently heard first.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import Generic, TypeVar

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


class RecentMap(OrderedDict[K, V], Generic[K, V]):
    """A dict of at most ``max_items`` entries; ``touch`` marks an entry as just heard."""

    def __init__(self, max_items: int) -> None:
        super().__init__()
        self.max_items = max_items

    def touch(self, key: K, create: Callable[[], V]) -> V:
        """The entry for ``key`` (made with ``create`` if new), now the most recent."""
        value = self.pop(key) if key in self else create()
        self[key] = value
        while len(self) > self.max_items:
            self.popitem(last=False)
        return value


class RecentSet(Generic[K]):
    """The last ``max_items`` keys seen, for dropping a message received twice."""

    def __init__(self, max_items: int) -> None:
        self._keys: RecentMap[K, None] = RecentMap(max_items)

    def seen_before(self, key: K) -> bool:
        """True if ``key`` is among the recent ones; either way it is now the newest."""
        known = key in self._keys
        self._keys.touch(key, lambda: None)
        return known

    def __len__(self) -> int:
        return len(self._keys)
