"""The fusion engine: detections in, tracks and alerts out."""
