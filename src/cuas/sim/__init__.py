"""Synthetic sensor data with ground truth."""
