"""The SQLite store: alerts, every alert transition (audit), and track history.

One file in WAL mode, shared by the fusion engine (raises and clears alerts) and the API
server (acknowledges, reads). Each change is one short transaction; state changes are
conditional UPDATEs, so an acknowledgement racing a clear cannot resurrect an alert.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from cuas.schema import Alert, AlertEvent, AlertState, Track, ZoneLevel

_SCHEMA = """
CREATE TABLE IF NOT EXISTS alerts (
    alert_id INTEGER PRIMARY KEY AUTOINCREMENT,
    site_id TEXT NOT NULL,
    zone_id TEXT NOT NULL,
    zone_level TEXT NOT NULL,
    rule TEXT NOT NULL,
    object_key TEXT NOT NULL,
    track_id TEXT NOT NULL,
    state TEXT NOT NULL,
    raised_t REAL NOT NULL,
    updated_t REAL NOT NULL,
    acknowledged_by TEXT,
    acknowledged_t REAL,
    note TEXT,
    track_json TEXT
);
CREATE INDEX IF NOT EXISTS alerts_state ON alerts(state, raised_t);
CREATE TABLE IF NOT EXISTS alert_events (
    event_id INTEGER PRIMARY KEY AUTOINCREMENT,
    alert_id INTEGER NOT NULL REFERENCES alerts(alert_id),
    t REAL NOT NULL,
    from_state TEXT,
    to_state TEXT NOT NULL,
    actor TEXT NOT NULL,
    reason TEXT NOT NULL DEFAULT ''
);
CREATE INDEX IF NOT EXISTS alert_events_alert ON alert_events(alert_id, event_id);
CREATE TABLE IF NOT EXISTS track_history (
    track_id TEXT NOT NULL,
    t REAL NOT NULL,
    lat_deg REAL NOT NULL,
    lon_deg REAL NOT NULL,
    alt_m REAL,
    status TEXT NOT NULL,
    object_class TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS track_history_track ON track_history(track_id, t);
CREATE TABLE IF NOT EXISTS counters (name TEXT PRIMARY KEY, value INTEGER NOT NULL);
"""

_ALERT_COLUMNS = (
    "alert_id, site_id, zone_id, zone_level, rule, object_key, track_id, state, raised_t, "
    "updated_t, acknowledged_by, acknowledged_t, note, track_json"
)


class AlertNotFound(LookupError):
    pass


class AlertStateError(ValueError):
    """The transition is not allowed from the alert's current state."""


def _alert(row: tuple) -> Alert:
    track = Track.model_validate_json(row[13]) if row[13] else None
    return Alert(
        alert_id=row[0],
        site_id=row[1],
        zone_id=row[2],
        zone_level=ZoneLevel(row[3]),
        rule=row[4],
        object_key=row[5],
        track_id=row[6],
        state=AlertState(row[7]),
        raised_t_unix=row[8],
        updated_t_unix=row[9],
        acknowledged_by=row[10],
        acknowledged_t_unix=row[11],
        note=row[12],
        track=track,
    )


class Store:
    """Thread-safe access to the deployment's SQLite file."""

    def __init__(self, path: str | Path) -> None:
        self.path = str(path)
        if self.path != ":memory:":
            Path(self.path).parent.mkdir(parents=True, exist_ok=True)
        # Autocommit mode: every write below opens its own BEGIN IMMEDIATE transaction, so
        # a state is read and changed under one write lock, whichever process holds it.
        self._db = sqlite3.connect(
            self.path, timeout=10.0, check_same_thread=False, isolation_level=None
        )
        self._lock = threading.Lock()
        with self._lock:
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=NORMAL")  # durable at checkpoint; WAL-safe
            self._db.execute("PRAGMA foreign_keys=ON")
            self._db.executescript(_SCHEMA)

    @contextmanager
    def _write(self) -> Iterator[None]:
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                yield
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")

    def close(self) -> None:
        with self._lock:
            self._db.close()

    # -- alerts -----------------------------------------------------------------------
    def raise_alert(
        self,
        *,
        site_id: str,
        zone_id: str,
        zone_level: ZoneLevel,
        rule: str,
        object_key: str,
        track: Track,
        t_unix: float,
        reason: str,
    ) -> Alert:
        with self._write():
            cur = self._db.execute(
                "INSERT INTO alerts (site_id, zone_id, zone_level, rule, object_key, track_id,"
                " state, raised_t, updated_t, track_json) VALUES (?,?,?,?,?,?,?,?,?,?)",
                (
                    site_id,
                    zone_id,
                    zone_level.value,
                    rule,
                    object_key,
                    track.track_id,
                    AlertState.RAISED.value,
                    t_unix,
                    t_unix,
                    track.model_dump_json(),
                ),
            )
            alert_id = int(cur.lastrowid)
            self._event(alert_id, t_unix, None, AlertState.RAISED, "engine", reason)
            return self._get(alert_id)

    def acknowledge(self, alert_id: int, operator: str, note: str | None, t_unix: float) -> Alert:
        with self._write():
            current = self._get(alert_id)
            if current.state is not AlertState.RAISED:
                raise AlertStateError(
                    f"alert {alert_id} is {current.state.value}; only a raised alert can be "
                    "acknowledged"
                )
            self._db.execute(
                "UPDATE alerts SET state=?, updated_t=?, acknowledged_by=?, acknowledged_t=?,"
                " note=? WHERE alert_id=? AND state=?",
                (
                    AlertState.ACKNOWLEDGED.value,
                    t_unix,
                    operator,
                    t_unix,
                    note,
                    alert_id,
                    AlertState.RAISED.value,
                ),
            )
            self._event(
                alert_id, t_unix, AlertState.RAISED, AlertState.ACKNOWLEDGED, operator, note or ""
            )
            return self._get(alert_id)

    def clear(self, alert_id: int, t_unix: float, reason: str, track: Track | None) -> Alert:
        with self._write():
            current = self._get(alert_id)
            if current.state is AlertState.CLEARED:
                return current
            self._db.execute(
                "UPDATE alerts SET state=?, updated_t=?, track_json=COALESCE(?, track_json)"
                " WHERE alert_id=? AND state<>?",
                (
                    AlertState.CLEARED.value,
                    t_unix,
                    track.model_dump_json() if track else None,
                    alert_id,
                    AlertState.CLEARED.value,
                ),
            )
            self._event(alert_id, t_unix, current.state, AlertState.CLEARED, "engine", reason)
            return self._get(alert_id)

    def get(self, alert_id: int) -> Alert:
        with self._lock:
            return self._get(alert_id)

    def _get(self, alert_id: int) -> Alert:
        row = self._db.execute(
            f"SELECT {_ALERT_COLUMNS} FROM alerts WHERE alert_id=?", (alert_id,)
        ).fetchone()
        if row is None:
            raise AlertNotFound(f"no alert {alert_id}")
        return _alert(row)

    def list_alerts(
        self,
        states: list[AlertState] | None = None,
        site_id: str | None = None,
        limit: int = 100,
        offset: int = 0,
    ) -> tuple[list[Alert], int]:
        """Alerts newest first, and how many match in all."""
        where, args = [], []
        if states:
            where.append(f"state IN ({','.join('?' * len(states))})")
            args.extend(s.value for s in states)
        if site_id:
            where.append("site_id=?")
            args.append(site_id)
        clause = f" WHERE {' AND '.join(where)}" if where else ""
        with self._lock:
            total = self._db.execute(f"SELECT COUNT(*) FROM alerts{clause}", args).fetchone()[0]
            rows = self._db.execute(
                f"SELECT {_ALERT_COLUMNS} FROM alerts{clause}"
                " ORDER BY raised_t DESC, alert_id DESC LIMIT ? OFFSET ?",
                [*args, limit, offset],
            ).fetchall()
        return [_alert(r) for r in rows], int(total)

    def open_alerts(self) -> list[Alert]:
        items, _ = self.list_alerts([AlertState.RAISED, AlertState.ACKNOWLEDGED], limit=100_000)
        return items

    def events(self, alert_id: int) -> list[AlertEvent]:
        with self._lock:
            rows = self._db.execute(
                "SELECT alert_id, t, from_state, to_state, actor, reason FROM alert_events"
                " WHERE alert_id=? ORDER BY event_id",
                (alert_id,),
            ).fetchall()
        return [
            AlertEvent(
                alert_id=r[0],
                t_unix=r[1],
                from_state=AlertState(r[2]) if r[2] else None,
                to_state=AlertState(r[3]),
                actor=r[4],
                reason=r[5],
            )
            for r in rows
        ]

    def _event(
        self,
        alert_id: int,
        t_unix: float,
        from_state: AlertState | None,
        to_state: AlertState,
        actor: str,
        reason: str,
    ) -> None:
        self._db.execute(
            "INSERT INTO alert_events (alert_id, t, from_state, to_state, actor, reason)"
            " VALUES (?,?,?,?,?,?)",
            (
                alert_id,
                t_unix,
                from_state.value if from_state else None,
                to_state.value,
                actor,
                reason,
            ),
        )

    # -- track history and counters ---------------------------------------------------
    def add_track_points(self, tracks: list[Track]) -> None:
        with self._write():
            self._db.executemany(
                "INSERT INTO track_history VALUES (?,?,?,?,?,?,?)",
                [
                    (
                        t.track_id,
                        t.t_unix,
                        t.position.lat_deg,
                        t.position.lon_deg,
                        t.position.alt_m,
                        t.status.value,
                        t.object_class.value,
                    )
                    for t in tracks
                ],
            )

    def track_history(self, track_id: str, limit: int = 1000) -> list[dict]:
        with self._lock:
            rows = self._db.execute(
                "SELECT t, lat_deg, lon_deg, alt_m, status FROM track_history WHERE track_id=?"
                " ORDER BY t DESC LIMIT ?",
                (track_id, limit),
            ).fetchall()
        return [
            {"t_unix": r[0], "lat_deg": r[1], "lon_deg": r[2], "alt_m": r[3], "status": r[4]}
            for r in reversed(rows)
        ]

    def reserve(self, name: str, count: int) -> int:
        """Reserve ``count`` numbers of a persistent counter; returns the first one."""
        with self._write():
            row = self._db.execute("SELECT value FROM counters WHERE name=?", (name,)).fetchone()
            first = row[0] if row else 1
            self._db.execute(
                "INSERT INTO counters VALUES (?, ?) ON CONFLICT(name) DO UPDATE SET value=?",
                (name, first + count, first + count),
            )
            return int(first)
