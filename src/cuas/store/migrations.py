"""Numbered schema migrations of the store, counted in SQLite's ``PRAGMA user_version``.

A change to an existing table is a new step at the end of ``MIGRATIONS``, never an edit of
an old one: a store at version k gets steps k+1.. in one write transaction (the version is
part of it, so a crash leaves the old version and the old schema). New tables need no step:
their ``CREATE TABLE IF NOT EXISTS`` in the owning module's schema makes them. Stores made
before versions were counted are at 0 and may hold some of the early columns already, so
the early steps add only what is missing.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable

Migration = Callable[[sqlite3.Connection], None]


class StoreVersionError(RuntimeError):
    """The store file was written by a newer cuas than this one."""


def add_missing_columns(table: str, columns: dict[str, str]) -> Migration:
    def step(db: sqlite3.Connection) -> None:
        have = {row[1] for row in db.execute(f"PRAGMA table_info({table})")}
        for column, decl in columns.items():
            if column not in have:
                db.execute(f"ALTER TABLE {table} ADD COLUMN {column} {decl}")

    return step


MIGRATIONS: list[tuple[str, Migration]] = [
    (
        "alerts: reason, resolution, evidence and exercise columns",
        add_missing_columns(
            "alerts",
            {
                "reason": "TEXT NOT NULL DEFAULT ''",
                "resolved_by": "TEXT",
                "resolved_t": "REAL",
                "resolution_note": "TEXT",
                "evidence_json": "TEXT",
                "exercise": "INTEGER NOT NULL DEFAULT 0",  # 1: caused by an exercise scenario
            },
        ),
    ),
    (
        "alert_events: the alert as it was after each transition, for the outbound process",
        add_missing_columns("alert_events", {"alert_json": "TEXT"}),
    ),
]
LATEST = len(MIGRATIONS)


def migrate(db: sqlite3.Connection, path: str) -> int:
    """Bring the schema to ``LATEST`` inside the caller's write transaction; return the
    version it was at."""
    (version,) = db.execute("PRAGMA user_version").fetchone()
    if version > LATEST:
        raise StoreVersionError(
            f"{path}: store schema version {version} was written by a newer cuas "
            f"(this one knows up to {LATEST}); upgrade cuas or restore a backup"
        )
    for number, (_, step) in enumerate(MIGRATIONS[version:], start=version + 1):
        step(db)
        db.execute(f"PRAGMA user_version = {number}")
    return version
