"""Friend lists in the SQLite store, with every change audited (who, when, what).

Its own tables beside the alerts, on the ``Store``'s connection and write lock. Entries
from the config (origin ``config``) are re-applied at each engine start: added, updated
when the file changed, removed when the file no longer has them. Entries from the API
(origin ``api``) stay until deleted; an expired entry stays listed but matches nothing.
"""

from __future__ import annotations

import json
import sqlite3
from typing import Literal

from cuas.alerting.friends import Friend, FriendEvent, FriendKind, FriendSpec, normalise
from cuas.store.sqlite import Store

_SCHEMA = """
CREATE TABLE IF NOT EXISTS friends (
    friend_id INTEGER PRIMARY KEY AUTOINCREMENT,
    kind TEXT NOT NULL,
    value TEXT NOT NULL,
    match_value TEXT NOT NULL,
    label TEXT NOT NULL DEFAULT '',
    expires_t REAL,
    origin TEXT NOT NULL,
    added_by TEXT NOT NULL,
    added_t REAL NOT NULL,
    UNIQUE (kind, match_value)
);
CREATE TABLE IF NOT EXISTS friend_events (
    event_id INTEGER PRIMARY KEY AUTOINCREMENT,
    friend_id INTEGER NOT NULL,
    t REAL NOT NULL,
    actor TEXT NOT NULL,
    action TEXT NOT NULL,
    kind TEXT NOT NULL,
    value TEXT NOT NULL,
    detail TEXT NOT NULL DEFAULT ''
);
"""

_COLUMNS = "friend_id, kind, value, label, expires_t, origin, added_by, added_t"
Origin = Literal["config", "api"]


class FriendNotFound(LookupError):
    pass


def _friend(row: tuple, t_unix: float | None) -> Friend:
    return Friend(
        friend_id=row[0],
        kind=FriendKind(row[1]),
        value=row[2],
        label=row[3],
        expires_t_unix=row[4],
        origin=row[5],
        added_by=row[6],
        added_t_unix=row[7],
        expired=t_unix is not None and row[4] is not None and row[4] <= t_unix,
    )


def _detail(label: str, expires_t_unix: float | None, origin: str) -> str:
    return json.dumps({"label": label, "expires_t_unix": expires_t_unix, "origin": origin})


class FriendStore:
    """The friend list of one store file (shared by the engine and the API)."""

    def __init__(self, store: Store) -> None:
        self.store = store
        with store.read() as db:
            db.executescript(_SCHEMA)

    def list(self, t_unix: float | None = None) -> list[Friend]:
        """Every entry, oldest first; ``expired`` is set as of ``t_unix`` when given."""
        with self.store.read() as db:
            rows = db.execute(f"SELECT {_COLUMNS} FROM friends ORDER BY friend_id").fetchall()
        return [_friend(r, t_unix) for r in rows]

    def get(self, friend_id: int) -> Friend:
        with self.store.read() as db:
            return self._get(db, friend_id)

    @staticmethod
    def _get(db: sqlite3.Connection, friend_id: int) -> Friend:
        row = db.execute(
            f"SELECT {_COLUMNS} FROM friends WHERE friend_id=?", (friend_id,)
        ).fetchone()
        if row is None:
            raise FriendNotFound(f"no friend list entry {friend_id}")
        return _friend(row, None)

    def put(
        self, spec: FriendSpec, actor: str, t_unix: float, origin: Origin = "api"
    ) -> tuple[Friend, bool]:
        """Add the entry, or update the one for the same ID; returns it and whether it is new.
        An unchanged entry is left alone and not audited."""
        expires = spec.expires_t_unix
        match = normalise(spec.kind, spec.value)
        with self.store.write() as db:
            row = db.execute(
                f"SELECT {_COLUMNS} FROM friends WHERE kind=? AND match_value=?",
                (spec.kind.value, match),
            ).fetchone()
            if row is None:
                cur = db.execute(
                    "INSERT INTO friends (kind, value, match_value, label, expires_t, origin,"
                    " added_by, added_t) VALUES (?,?,?,?,?,?,?,?)",
                    (
                        spec.kind.value,
                        spec.value,
                        match,
                        spec.label,
                        expires,
                        origin,
                        actor,
                        t_unix,
                    ),
                )
                friend_id, action = int(cur.lastrowid), "added"
            else:
                friend_id, action = int(row[0]), "updated"
                if (row[2], row[3], row[4], row[5]) == (spec.value, spec.label, expires, origin):
                    return _friend(row, t_unix), False
                db.execute(
                    "UPDATE friends SET value=?, label=?, expires_t=?, origin=?, added_by=?,"
                    " added_t=? WHERE friend_id=?",
                    (spec.value, spec.label, expires, origin, actor, t_unix, friend_id),
                )
            self._event(
                db,
                friend_id,
                t_unix,
                actor,
                action,
                spec.kind,
                spec.value,
                _detail(spec.label, expires, origin),
            )
            return self._get(db, friend_id), action == "added"

    def remove(self, friend_id: int, actor: str, t_unix: float, why: str = "") -> Friend:
        with self.store.write() as db:
            entry = self._get(db, friend_id)
            db.execute("DELETE FROM friends WHERE friend_id=?", (friend_id,))
            self._event(db, friend_id, t_unix, actor, "removed", entry.kind, entry.value, why)
            return entry

    def sync_config(self, specs: list[FriendSpec], t_unix: float) -> None:
        """Make the ``config`` entries those of the file (see the module docstring)."""
        keep = set()
        for spec in specs:
            entry, _ = self.put(spec, "config", t_unix, origin="config")
            keep.add(entry.friend_id)
        for entry in self.list():
            if entry.origin == "config" and entry.friend_id not in keep:
                self.remove(entry.friend_id, "config", t_unix, "no longer in the config file")

    def events(self, limit: int = 100, offset: int = 0) -> tuple[list[FriendEvent], int]:
        """The audit trail, newest first, and its length."""
        with self.store.read() as db:
            total = db.execute("SELECT COUNT(*) FROM friend_events").fetchone()[0]
            rows = db.execute(
                "SELECT event_id, friend_id, t, actor, action, kind, value, detail"
                " FROM friend_events ORDER BY event_id DESC LIMIT ? OFFSET ?",
                (limit, offset),
            ).fetchall()
        events = [
            FriendEvent(
                event_id=r[0],
                friend_id=r[1],
                t_unix=r[2],
                actor=r[3],
                action=r[4],
                kind=FriendKind(r[5]),
                value=r[6],
                detail=r[7],
            )
            for r in rows
        ]
        return events, int(total)

    @staticmethod
    def _event(
        db: sqlite3.Connection,
        friend_id: int,
        t_unix: float,
        actor: str,
        action: str,
        kind: FriendKind,
        value: str,
        detail: str,
    ) -> None:
        db.execute(
            "INSERT INTO friend_events (friend_id, t, actor, action, kind, value, detail)"
            " VALUES (?,?,?,?,?,?,?)",
            (friend_id, t_unix, actor, action, kind.value, value, detail),
        )
