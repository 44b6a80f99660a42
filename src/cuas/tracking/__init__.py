"""Multi-target tracking: IMM/NCV kernels, radar and bearing measurement models, the tracker.

The tracker and its kernels load on first use (``cuas.tracking.Tracker``), so importing the
settings (:class:`TrackerConfig`) does not import Numba.
"""

from typing import Any

from cuas.tracking._kernel_cache import invalidate_stale_kernels

invalidate_stale_kernels()  # before any kernel module is imported and its cache loaded

from cuas.tracking.config import TrackerConfig  # noqa: E402

_FROM_TRACKER = ("ScanResult", "Tracker", "TrackView")
__all__ = [*_FROM_TRACKER, "TrackerConfig"]


def __getattr__(name: str) -> Any:
    if name in _FROM_TRACKER:
        from cuas.tracking import tracker

        return getattr(tracker, name)
    raise AttributeError(f"module 'cuas.tracking' has no attribute {name!r}")
