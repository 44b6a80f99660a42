"""The HTTP API, live stream and dashboard."""
