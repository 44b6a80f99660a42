"""Alert transitions in the order they happened, read back from the store's audit table.

Every transition, whoever made it (the engine, or an operator through the API), is one
``alert_events`` row with an increasing id and the alert as it stood right after it. Writes
are serialised by SQLite's write lock, so ids become visible in increasing order: a reader
that remembers the last id it handled misses nothing and sees nothing twice.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass

from pydantic import ValidationError

from cuas.schema import Alert, AlertEvent, AlertState
from cuas.store.sqlite import Store

log = logging.getLogger(__name__)

# The transitions only an operator makes; the engine publishes its own as it makes them.
OPERATOR_STATES = frozenset({AlertState.ACKNOWLEDGED, AlertState.RESOLVED})
BATCH = 500  # transitions per poll at most


@dataclass(frozen=True)
class Transition:
    event_id: int
    event: AlertEvent
    alert: Alert  # the alert right after this transition


def last_event_id(store: Store) -> int:
    """The id of the latest transition, 0 in a store without any."""
    with store.read() as db:
        return int(db.execute("SELECT COALESCE(MAX(event_id), 0) FROM alert_events").fetchone()[0])


class AlertStream:
    """Reads transitions after a cursor. The cursor moves only on ``advance``, so a caller
    that failed to hand a batch on reads it again.

    A poll that finds nothing is one seek on the primary key, a few microseconds; gating it
    on ``PRAGMA data_version`` measured no cheaper, so it is not done.
    """

    def __init__(self, store: Store, after_event_id: int) -> None:
        self.store = store
        self.after_event_id = after_event_id
        self._fallbacks = 0

    def poll(self, limit: int = BATCH) -> list[Transition]:
        """Up to ``limit`` transitions after the cursor, oldest first."""
        with self.store.read() as db:
            rows = db.execute(
                "SELECT event_id, alert_id, t, from_state, to_state, actor, reason, alert_json"
                " FROM alert_events WHERE event_id > ? ORDER BY event_id LIMIT ?",
                (self.after_event_id, limit),
            ).fetchall()
        return [self._transition(row) for row in rows]

    def advance(self, event_id: int) -> None:
        self.after_event_id = max(self.after_event_id, event_id)

    def _transition(self, row: tuple) -> Transition:
        event_id, alert_id, t_unix, from_state, to_state, actor, reason, alert_json = row
        event = AlertEvent(
            alert_id=alert_id,
            t_unix=t_unix,
            from_state=AlertState(from_state) if from_state else None,
            to_state=AlertState(to_state),
            actor=actor,
            reason=reason,
        )
        return Transition(event_id, event, self._alert(event, alert_json))

    def _alert(self, event: AlertEvent, alert_json: str | None) -> Alert:
        """The stored snapshot; for a row written without one (an older build), or one this
        build cannot read, the alert as it is now, put in the transition's state."""
        if alert_json is not None:
            try:
                return Alert.model_validate_json(alert_json)
            except ValidationError as exc:
                reason = f"unreadable snapshot ({exc.errors()[0]['msg']})"
        else:
            reason = "no snapshot"
        self._fallbacks += 1
        if self._fallbacks == 1:
            log.warning(
                "alert %d: %s in its audit row; sending the alert as it is now instead "
                "(further ones not logged)",
                event.alert_id,
                reason,
            )
        current = self.store.get(event.alert_id)  # the foreign key keeps it there
        return current.model_copy(update={"state": event.to_state, "updated_t_unix": event.t_unix})


class OperatorTransitions:
    """Acknowledgements and resolutions made since the last call, for the engine to publish
    on its output bus beside its own transitions (it makes every other kind itself).

    Starts after the latest transition and keeps its cursor in memory: like everything on
    the bus, this is a live feed; the outbound process's webhooks are the durable one.
    """

    def __init__(self, store: Store, poll_s: float = 0.1) -> None:
        self.poll_s = poll_s
        self._stream = AlertStream(store, last_event_id(store))
        self._next_t = 0.0  # time.monotonic() of the next poll

    def due(self) -> list[Alert]:
        """The alerts operators changed since the last poll; [] between polls."""
        now = time.monotonic()
        if now < self._next_t:
            return []
        batch = self._stream.poll()
        self._next_t = now if len(batch) == BATCH else now + self.poll_s
        if batch:
            self._stream.advance(batch[-1].event_id)
        return [tr.alert for tr in batch if tr.event.to_state in OPERATOR_STATES]
