"""Scoring tracker and alert output against ground truth."""
