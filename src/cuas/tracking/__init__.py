"""Multi-target tracking: IMM/NCV kernels, radar and bearing measurement models, the tracker."""

from cuas.tracking.tracker import ScanResult, Tracker, TrackerConfig, TrackView

__all__ = ["ScanResult", "TrackView", "Tracker", "TrackerConfig"]
