"""Multi-target tracking: NCV Kalman kernels and the v0 tracker the fusion engine drives."""

from cuas.tracking.tracker import ScanResult, Tracker, TrackerConfig, TrackView

__all__ = ["ScanResult", "TrackView", "Tracker", "TrackerConfig"]
