"""cuas: counter-drone sensor fusion and alerting (detect, track, identify, alert)."""

__version__ = "0.1.0"
