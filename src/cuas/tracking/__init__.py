"""Multi-target tracking: IMM/NCV kernels, radar and bearing measurement models, the tracker."""

from cuas.tracking._kernel_cache import invalidate_stale_kernels

invalidate_stale_kernels()  # before any kernel module is imported and its cache loaded

from cuas.tracking.tracker import ScanResult, Tracker, TrackerConfig, TrackView  # noqa: E402

__all__ = ["ScanResult", "TrackView", "Tracker", "TrackerConfig"]
