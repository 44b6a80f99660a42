"""The persistent webhook queue: every delivery is written here before it is attempted.

Its own tables in the deployment's SQLite file (WAL, one short ``BEGIN IMMEDIATE``
transaction per write, as in ``cuas.store.sqlite``). A delivery is ``pending`` until it is
``delivered`` or ``dead`` (refused for good, or too old); a process that is killed leaves
its pending rows, and the next one resumes them with the same delivery id. One outbound
process per store file: which rows are in flight is kept in memory, not in the file.

Beside the queue, a named cursor: the last alert transition (``alert_events`` id) whose
deliveries were queued. It moves in the transaction that queues them, so after a kill
every transition was queued exactly once or not at all.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path

from cuas.store.database import Database

_SCHEMA = """
CREATE TABLE IF NOT EXISTS webhook_outbox (
    delivery_id TEXT PRIMARY KEY,
    subscription TEXT NOT NULL,
    kind TEXT NOT NULL,
    body BLOB NOT NULL,
    created_t REAL NOT NULL,
    deadline_t REAL NOT NULL,
    state TEXT NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    next_attempt_t REAL NOT NULL,
    last_error TEXT,
    done_t REAL
);
CREATE INDEX IF NOT EXISTS webhook_outbox_due
    ON webhook_outbox(subscription, state, next_attempt_t);
CREATE INDEX IF NOT EXISTS webhook_outbox_done ON webhook_outbox(state, done_t);
CREATE TABLE IF NOT EXISTS outbound_cursor (name TEXT PRIMARY KEY, event_id INTEGER NOT NULL);
"""

_COLUMNS = (
    "delivery_id, subscription, kind, body, created_t, deadline_t, state, attempts, "
    "next_attempt_t, last_error, done_t"
)


class DeliveryState(StrEnum):
    PENDING = "pending"
    DELIVERED = "delivered"
    DEAD = "dead"


@dataclass(frozen=True)
class Delivery:
    delivery_id: str
    subscription: str
    kind: str  # "alert" | "track" | "sensor"
    body: bytes  # the exact bytes POSTed and signed
    created_t_unix: float
    deadline_t_unix: float  # give up (dead-letter) once a retry would fall after this
    state: DeliveryState = DeliveryState.PENDING
    attempts: int = 0
    next_attempt_t_unix: float = 0.0
    last_error: str | None = None
    done_t_unix: float | None = None


def _delivery(row: tuple) -> Delivery:
    return Delivery(
        delivery_id=row[0],
        subscription=row[1],
        kind=row[2],
        body=bytes(row[3]),
        created_t_unix=row[4],
        deadline_t_unix=row[5],
        state=DeliveryState(row[6]),
        attempts=row[7],
        next_attempt_t_unix=row[8],
        last_error=row[9],
        done_t_unix=row[10],
    )


class Outbox(Database):
    """Thread-safe access to the webhook queue in the deployment's SQLite file."""

    def __init__(self, path: str | Path) -> None:
        super().__init__(path, _SCHEMA)

    def cursor(self, name: str, start_event_id: int) -> int:
        """The cursor's position; a cursor met for the first time starts at ``start_event_id``."""
        with self.write():
            self._db.execute(
                "INSERT OR IGNORE INTO outbound_cursor VALUES (?, ?)", (name, start_event_id)
            )
            row = self._db.execute(
                "SELECT event_id FROM outbound_cursor WHERE name=?", (name,)
            ).fetchone()
        return int(row[0])

    def enqueue(
        self, deliveries: Sequence[Delivery], cursor: tuple[str, int] | None = None
    ) -> None:
        """Store new deliveries, and move ``cursor`` (name, event id) to the transition they
        came from, in one transaction; durable when this returns."""
        if not deliveries and cursor is None:
            return
        with self.write():
            if cursor is not None:
                moved = self._db.execute(
                    "UPDATE outbound_cursor SET event_id=? WHERE name=?", (cursor[1], cursor[0])
                ).rowcount
                if moved != 1:
                    raise LookupError(f"outbound cursor {cursor[0]!r} was never started")
            self._db.executemany(
                f"INSERT INTO webhook_outbox ({_COLUMNS}) VALUES (?,?,?,?,?,?,?,?,?,?,?)",
                [
                    (
                        d.delivery_id,
                        d.subscription,
                        d.kind,
                        d.body,
                        d.created_t_unix,
                        d.deadline_t_unix,
                        DeliveryState.PENDING.value,
                        0,
                        d.created_t_unix,
                        None,
                        None,
                    )
                    for d in deliveries
                ],
            )

    def due(
        self, subscription: str, now_unix: float, limit: int, exclude: set[str]
    ) -> list[Delivery]:
        """Pending deliveries whose time has come, oldest first, skipping those in flight."""
        with self._lock:
            rows = self._db.execute(
                f"SELECT {_COLUMNS} FROM webhook_outbox WHERE subscription=? AND state=?"
                " AND next_attempt_t<=? ORDER BY next_attempt_t, created_t, rowid LIMIT ?",
                (subscription, DeliveryState.PENDING.value, now_unix, limit + len(exclude)),
            ).fetchall()
        return [_delivery(r) for r in rows if r[0] not in exclude][:limit]

    def mark_delivered(self, delivery_id: str, attempts: int, t_unix: float) -> None:
        self._finish(delivery_id, DeliveryState.DELIVERED, attempts, t_unix, None)

    def mark_dead(self, delivery_id: str, attempts: int, t_unix: float, reason: str) -> None:
        self._finish(delivery_id, DeliveryState.DEAD, attempts, t_unix, reason)

    def _finish(
        self,
        delivery_id: str,
        state: DeliveryState,
        attempts: int,
        t_unix: float,
        error: str | None,
    ) -> None:
        with self.write():
            self._db.execute(
                "UPDATE webhook_outbox SET state=?, attempts=?, done_t=?,"
                " last_error=COALESCE(?, last_error) WHERE delivery_id=? AND state=?",
                (state.value, attempts, t_unix, error, delivery_id, DeliveryState.PENDING.value),
            )

    def reschedule(
        self, delivery_id: str, attempts: int, next_attempt_t_unix: float, error: str
    ) -> None:
        with self.write():
            self._db.execute(
                "UPDATE webhook_outbox SET attempts=?, next_attempt_t=?, last_error=?"
                " WHERE delivery_id=? AND state=?",
                (
                    attempts,
                    next_attempt_t_unix,
                    error,
                    delivery_id,
                    DeliveryState.PENDING.value,
                ),
            )

    def orphan(self, known_subscriptions: set[str], t_unix: float) -> int:
        """Dead-letter pending rows of subscriptions no longer configured; returns how many."""
        with self.write():
            names = list(known_subscriptions)
            cur = self._db.execute(
                "UPDATE webhook_outbox SET state=?, done_t=?,"
                " last_error='subscription no longer configured'"
                f" WHERE state=? AND subscription NOT IN ({','.join('?' * len(names))})",
                (DeliveryState.DEAD.value, t_unix, DeliveryState.PENDING.value, *names),
            )
            return cur.rowcount

    def prune(self, delivered_before_unix: float, dead_before_unix: float) -> int:
        """Forget delivered and dead rows finished before the given times."""
        with self.write():
            cur = self._db.execute(
                "DELETE FROM webhook_outbox WHERE (state=? AND done_t<?) OR (state=? AND done_t<?)",
                (
                    DeliveryState.DELIVERED.value,
                    delivered_before_unix,
                    DeliveryState.DEAD.value,
                    dead_before_unix,
                ),
            )
            return cur.rowcount

    def get(self, delivery_id: str) -> Delivery | None:
        with self._lock:
            row = self._db.execute(
                f"SELECT {_COLUMNS} FROM webhook_outbox WHERE delivery_id=?", (delivery_id,)
            ).fetchone()
        return _delivery(row) if row else None

    def deliveries(
        self, subscription: str | None = None, state: DeliveryState | None = None
    ) -> list[Delivery]:
        where, args = [], []
        if subscription is not None:
            where.append("subscription=?")
            args.append(subscription)
        if state is not None:
            where.append("state=?")
            args.append(state.value)
        clause = f" WHERE {' AND '.join(where)}" if where else ""
        with self._lock:
            rows = self._db.execute(
                f"SELECT {_COLUMNS} FROM webhook_outbox{clause} ORDER BY created_t", args
            ).fetchall()
        return [_delivery(r) for r in rows]

    def counts(self) -> dict[str, int]:
        """How many deliveries are in each state."""
        with self._lock:
            rows = self._db.execute(
                "SELECT state, COUNT(*) FROM webhook_outbox GROUP BY state"
            ).fetchall()
        return {state: int(n) for state, n in rows}
