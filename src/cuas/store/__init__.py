"""Persistence: alerts with their audit trail, and track history, in SQLite."""
