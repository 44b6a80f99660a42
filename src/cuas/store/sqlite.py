"""The SQLite store: alerts, every alert transition (audit), and track history.

One file in WAL mode, shared by the fusion engine (raises, escalates and clears alerts) and
the API server (acknowledges, resolves, reads). Each change is one short transaction; state
changes are conditional UPDATEs, so an acknowledgement racing a clear cannot resurrect an
alert. Alert life cycle: raised -> escalated -> acknowledged -> cleared -> resolved (an
acknowledged pre-alert may escalate again; an alert may clear from any open state).
"""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, Field

from cuas.schema import (
    OPEN_ALERT_STATES,
    Alert,
    AlertEvent,
    AlertState,
    GeoPoint,
    Identity,
    ObjectClass,
    Signature,
    Track,
    ZoneLevel,
)
from cuas.store.database import Database
from cuas.store.migrations import migrate

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
    reason TEXT NOT NULL DEFAULT '',
    alert_json TEXT
);
CREATE INDEX IF NOT EXISTS alert_events_alert ON alert_events(alert_id, event_id);
CREATE INDEX IF NOT EXISTS alert_events_t ON alert_events(t);  -- look-back (store.lookback)
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
CREATE INDEX IF NOT EXISTS track_history_t ON track_history(t);  -- look-back
CREATE TABLE IF NOT EXISTS counters (name TEXT PRIMARY KEY, value INTEGER NOT NULL);
"""

# Added after the first release; an older file gets them with ALTER TABLE on opening.
_ALERT_COLUMNS = (
    "alert_id, site_id, zone_id, zone_level, rule, object_key, track_id, state, raised_t, "
    "updated_t, acknowledged_by, acknowledged_t, note, track_json, reason, resolved_by, "
    "resolved_t, resolution_note, evidence_json, exercise"
)
_ACKNOWLEDGEABLE = (AlertState.RAISED, AlertState.ESCALATED)
_ESCALATABLE = (AlertState.RAISED, AlertState.ESCALATED, AlertState.ACKNOWLEDGED)


class AlertNotFound(LookupError):
    pass


class AlertStateError(ValueError):
    """The transition is not allowed from the alert's current state."""


class AlertEvidence(BaseModel):
    """What an alert knows about its object, stored with it and refreshed at each transition."""

    object_class: ObjectClass | None = None
    class_source: str | None = None
    identity: Identity = Field(default_factory=Identity)
    pilot: GeoPoint | None = None
    signature: Signature | None = None
    sensor_id: str | None = None
    time_to_breach_s: float | None = None
    breach_point: GeoPoint | None = None

    @classmethod
    def of_alert(cls, alert: Alert) -> AlertEvidence:
        return cls(**{name: getattr(alert, name) for name in cls.model_fields})

    @classmethod
    def of_track(cls, track: Track, **extra: object) -> AlertEvidence:
        return cls(
            object_class=track.object_class,
            class_source=track.class_source,
            identity=track.identity,
            pilot=track.pilot,
            **extra,
        )

    def refreshed(self, track: Track) -> AlertEvidence:
        """This evidence with the object's class, identity and pilot as the track now has
        them; what only the alert knew (signature, sensor, predicted breach) is kept."""
        return AlertEvidence.of_track(
            track,
            signature=self.signature,
            sensor_id=self.sensor_id,
            time_to_breach_s=self.time_to_breach_s,
            breach_point=self.breach_point,
        )


def _alert(row: tuple) -> Alert:
    track = Track.model_validate_json(row[13]) if row[13] else None
    if row[18]:
        evidence = AlertEvidence.model_validate_json(row[18])
    elif track is not None:  # a row from before evidence was stored
        evidence = AlertEvidence.of_track(track)
    else:
        evidence = AlertEvidence()
    return Alert(
        alert_id=row[0],
        site_id=row[1],
        zone_id=row[2] or None,
        zone_level=ZoneLevel(row[3]),
        rule=row[4],
        object_key=row[5],
        track_id=row[6] or None,
        state=AlertState(row[7]),
        raised_t_unix=row[8],
        updated_t_unix=row[9],
        acknowledged_by=row[10],
        acknowledged_t_unix=row[11],
        note=row[12],
        track=track,
        reason=row[14] or "",
        resolved_by=row[15],
        resolved_t_unix=row[16],
        resolution_note=row[17],
        exercise=bool(row[19]),
        **evidence.model_dump(),
    )


class Store(Database):
    """Alerts, their audit trail, track history and counters in the deployment's SQLite file."""

    def __init__(self, path: str | Path) -> None:
        super().__init__(path, _SCHEMA)
        with self.write() as db:  # two processes may open an old-format file at once
            migrate(db, self.path)

    # -- alerts -----------------------------------------------------------------------
    def raise_alert(
        self,
        *,
        site_id: str,
        zone_id: str | None,
        zone_level: ZoneLevel,
        rule: str,
        object_key: str,
        track: Track | None,
        t_unix: float,
        reason: str,
        evidence: AlertEvidence | None = None,
        exercise: bool = False,
    ) -> Alert:
        if evidence is None:
            evidence = AlertEvidence.of_track(track) if track else AlertEvidence()
        with self.write():
            cur = self._db.execute(
                "INSERT INTO alerts (site_id, zone_id, zone_level, rule, object_key, track_id,"
                " state, raised_t, updated_t, track_json, reason, evidence_json, exercise)"
                " VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)",
                (
                    site_id,
                    zone_id or "",
                    zone_level.value,
                    rule,
                    object_key,
                    track.track_id if track else "",
                    AlertState.RAISED.value,
                    t_unix,
                    t_unix,
                    track.model_dump_json() if track else None,
                    reason,
                    evidence.model_dump_json(exclude_defaults=True),
                    int(exercise),
                ),
            )
            alert_id = int(cur.lastrowid)
            self._event(alert_id, t_unix, None, AlertState.RAISED, "engine", reason)
            return self._get(alert_id)

    def escalate(
        self,
        alert_id: int,
        t_unix: float,
        *,
        rule: str,
        reason: str,
        track: Track | None,
        evidence: AlertEvidence | None = None,
    ) -> Alert:
        """Raise the stakes of an open alert (a pre-alert's object entered its zone): it
        needs a new acknowledgement. A closed alert is returned unchanged."""
        with self.write():
            current = self._get(alert_id)
            if current.state not in _ESCALATABLE:
                return current
            if evidence is None:  # keep what the alert knew, refreshed from the track
                evidence = AlertEvidence.of_alert(current)
                if track is not None:
                    evidence = evidence.refreshed(track)
            self._db.execute(
                "UPDATE alerts SET state=?, updated_t=?, rule=?, reason=?,"
                " track_id=COALESCE(?, track_id), track_json=COALESCE(?, track_json),"
                " evidence_json=? WHERE alert_id=? AND state=?",
                (
                    AlertState.ESCALATED.value,
                    t_unix,
                    rule,
                    reason,
                    track.track_id if track else None,
                    track.model_dump_json() if track else None,
                    evidence.model_dump_json(exclude_defaults=True),
                    alert_id,
                    current.state.value,
                ),
            )
            self._event(alert_id, t_unix, current.state, AlertState.ESCALATED, "engine", reason)
            return self._get(alert_id)

    def acknowledge(self, alert_id: int, operator: str, note: str | None, t_unix: float) -> Alert:
        with self.write():
            current = self._get(alert_id)
            if current.state not in _ACKNOWLEDGEABLE:
                raise AlertStateError(
                    f"alert {alert_id} is {current.state.value}; only a raised or escalated "
                    "alert can be acknowledged"
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
                    current.state.value,
                ),
            )
            self._event(
                alert_id, t_unix, current.state, AlertState.ACKNOWLEDGED, operator, note or ""
            )
            return self._get(alert_id)

    def clear(self, alert_id: int, t_unix: float, reason: str, track: Track | None) -> Alert:
        """The engine saw the condition end; a cleared or resolved alert is returned as is."""
        with self.write():
            current = self._get(alert_id)
            if current.state not in OPEN_ALERT_STATES:
                return current
            self._db.execute(
                "UPDATE alerts SET state=?, updated_t=?, reason=?,"
                " track_json=COALESCE(?, track_json) WHERE alert_id=? AND state=?",
                (
                    AlertState.CLEARED.value,
                    t_unix,
                    reason,
                    track.model_dump_json() if track else None,
                    alert_id,
                    current.state.value,
                ),
            )
            self._event(alert_id, t_unix, current.state, AlertState.CLEARED, "engine", reason)
            return self._get(alert_id)

    def rekey(
        self, alert_id: int, t_unix: float, object_key: str, reason: str, track: Track
    ) -> Alert:
        """The object of an open alert became known by an identity (e.g. ``track:T5`` became
        ``rid:SERIAL``): the alert follows the new key, with an audit row whose state is
        unchanged. A closed alert is returned as is."""
        with self.write():
            current = self._get(alert_id)
            if current.state not in OPEN_ALERT_STATES:
                return current
            evidence = AlertEvidence.of_alert(current).refreshed(track)
            self._db.execute(
                "UPDATE alerts SET object_key=?, updated_t=?, track_id=?, track_json=?,"
                " evidence_json=? WHERE alert_id=? AND state=?",
                (
                    object_key,
                    t_unix,
                    track.track_id,
                    track.model_dump_json(),
                    evidence.model_dump_json(exclude_defaults=True),
                    alert_id,
                    current.state.value,
                ),
            )
            self._event(alert_id, t_unix, current.state, current.state, "engine", reason)
            return self._get(alert_id)

    def resolve(self, alert_id: int, operator: str, note: str | None, t_unix: float) -> Alert:
        """An operator closes a cleared alert, with a note on what it was."""
        with self.write():
            current = self._get(alert_id)
            if current.state is not AlertState.CLEARED:
                raise AlertStateError(
                    f"alert {alert_id} is {current.state.value}; only a cleared alert can be "
                    "resolved (wait until the engine clears it)"
                )
            self._db.execute(
                "UPDATE alerts SET state=?, updated_t=?, resolved_by=?, resolved_t=?,"
                " resolution_note=? WHERE alert_id=? AND state=?",
                (
                    AlertState.RESOLVED.value,
                    t_unix,
                    operator,
                    t_unix,
                    note,
                    alert_id,
                    AlertState.CLEARED.value,
                ),
            )
            self._event(
                alert_id, t_unix, AlertState.CLEARED, AlertState.RESOLVED, operator, note or ""
            )
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
        exercise: bool | None = None,
    ) -> tuple[list[Alert], int]:
        """Alerts newest first, and how many match in all; ``exercise`` None: both kinds."""
        where, args = [], []
        if exercise is not None:
            where.append("exercise=?")
            args.append(int(exercise))
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
        items, _ = self.list_alerts(list(OPEN_ALERT_STATES), limit=100_000)
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
            "INSERT INTO alert_events (alert_id, t, from_state, to_state, actor, reason,"
            " alert_json) VALUES (?,?,?,?,?,?,?)",
            (
                alert_id,
                t_unix,
                from_state.value if from_state else None,
                to_state.value,
                actor,
                reason,
                self._get(alert_id).model_dump_json(),
            ),
        )

    # -- track history and counters ---------------------------------------------------
    def add_track_points(self, tracks: list[Track]) -> None:
        with self.write():
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

    def prune_track_history(self, before_t_unix: float, batch: int = 10_000) -> int:
        """Delete track history older than before_t_unix, in short transactions (so the
        engine's alert writes never wait long for the lock); returns the rows deleted."""
        deleted = 0
        while True:
            with self.write():
                cur = self._db.execute(
                    "DELETE FROM track_history WHERE rowid IN (SELECT rowid FROM track_history"
                    " WHERE t < ? ORDER BY t LIMIT ?)",
                    (before_t_unix, batch),
                )
            deleted += cur.rowcount
            if cur.rowcount < batch:
                return deleted

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
        with self.write():
            row = self._db.execute("SELECT value FROM counters WHERE name=?", (name,)).fetchone()
            first = row[0] if row else 1
            self._db.execute(
                "INSERT INTO counters VALUES (?, ?) ON CONFLICT(name) DO UPDATE SET value=?",
                (name, first + count, first + count),
            )
            return int(first)
