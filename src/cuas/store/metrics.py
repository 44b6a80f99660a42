"""Each process's latest counters in the deployment's store, so the API can serve them.

The engine and the outbound process are separate processes from the API; each writes a
snapshot of its counters here every few seconds (one small upsert per counter), and the
API's ``/metrics`` reads the latest snapshot of every process.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from cuas.store.database import Database

PUBLISH_EVERY_S = 5.0

_SCHEMA = """
CREATE TABLE IF NOT EXISTS process_counters (
    process TEXT NOT NULL,
    name TEXT NOT NULL,
    value REAL NOT NULL,
    t REAL NOT NULL,
    PRIMARY KEY (process, name)
);
"""


class ProcessCounters(Database):
    """The latest value of every process's counters, with when it was written."""

    def __init__(self, path: str | Path) -> None:
        super().__init__(path, _SCHEMA)

    def publish(self, process: str, counters: Mapping[str, float], t_unix: float) -> None:
        with self.write() as db:
            db.executemany(
                "INSERT INTO process_counters (process, name, value, t) VALUES (?, ?, ?, ?)"
                " ON CONFLICT (process, name) DO UPDATE SET value=excluded.value, t=excluded.t",
                [(process, name, float(value), t_unix) for name, value in counters.items()],
            )

    def latest(self) -> list[tuple[str, str, float, float]]:
        """(process, counter, value, t_unix written), ordered by process and counter."""
        with self.read() as db:
            return db.execute(
                "SELECT process, name, value, t FROM process_counters ORDER BY process, name"
            ).fetchall()


class CounterPublisher:
    """Writes a process's counters at most every ``PUBLISH_EVERY_S`` (call ``due`` often)."""

    def __init__(self, store_file: Path, process: str) -> None:
        self.table = ProcessCounters(store_file)
        self.process = process
        self._next_t = 0.0

    def due(self, now_unix: float, counters: Mapping[str, float]) -> None:
        if now_unix >= self._next_t:
            self._next_t = now_unix + PUBLISH_EVERY_S
            self.table.publish(self.process, counters, now_unix)

    def close(self) -> None:
        self.table.close()
