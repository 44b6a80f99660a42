"""The picture at a past time, rebuilt from the store: where each track was (its stored
history, about one point per track a second) and which alerts were open, in the state they
were in then (the audit table holds every transition with the alert right after it).
"""

from __future__ import annotations

from dataclasses import dataclass
from itertools import groupby
from operator import itemgetter

from pydantic import ValidationError

from cuas.schema import OPEN_ALERT_STATES, Alert, AlertState
from cuas.store.sqlite import Store

_OPEN = tuple(s.value for s in OPEN_ALERT_STATES)


@dataclass(frozen=True)
class HistorySpan:
    oldest_t_unix: float
    newest_t_unix: float


def history_span(store: Store) -> HistorySpan | None:
    """The times of the oldest and newest stored track point or alert transition; None when
    nothing is stored. One index seek each: SQLite seeks for a MIN() or MAX() only when it
    is the query's sole aggregate (both in one SELECT scan the whole index)."""
    with store.read() as db:
        row = db.execute(
            "SELECT (SELECT MIN(t) FROM track_history), (SELECT MIN(t) FROM alert_events),"
            " (SELECT MAX(t) FROM track_history), (SELECT MAX(t) FROM alert_events)"
        ).fetchone()
    oldest = [t for t in row[:2] if t is not None]
    newest = [t for t in row[2:] if t is not None]
    if not oldest:
        return None
    return HistorySpan(min(oldest), max(newest))


@dataclass(frozen=True)
class TrackAt:
    """A track's latest stored point at or before the time looked at, and its trail."""

    track_id: str
    t_unix: float
    lat_deg: float
    lon_deg: float
    alt_m: float | None
    status: str
    object_class: str
    trail: list[tuple[float, float, float, float | None]]  # (t_unix, lat, lon, alt_m), oldest first


def tracks_at(store: Store, t_unix: float, window_s: float, trail_s: float) -> list[TrackAt]:
    """Each track whose latest stored point at or before ``t_unix`` is at most ``window_s``
    older, with its points from ``t_unix - trail_s`` up to and including that one.

    Two range scans of the ``track_history(t)`` index: the latest point per track in the
    window (SQLite takes the other columns of a bare ``MAX()`` from the row that holds the
    maximum), then the trails, grouped and ordered in SQL.
    """
    with store.read() as db:
        latest = db.execute(
            "SELECT track_id, MAX(t), lat_deg, lon_deg, alt_m, status, object_class"
            " FROM track_history WHERE t >= ? AND t <= ? GROUP BY track_id",
            (t_unix - window_s, t_unix),
        ).fetchall()
        trails: dict[str, list[tuple]] = {}
        if latest and trail_s > 0:
            rows = db.execute(
                "SELECT track_id, t, lat_deg, lon_deg, alt_m FROM track_history"
                " WHERE t >= ? AND t <= ? ORDER BY track_id, t",
                (t_unix - trail_s, t_unix),
            )
            for track_id, points in groupby(rows, key=itemgetter(0)):
                trails[track_id] = [p[1:] for p in points]
    out = []
    for track_id, t, lat, lon, alt, status, object_class in latest:
        trail = [p for p in trails.get(track_id, ()) if p[0] < t]
        trail.append((t, lat, lon, alt))
        out.append(TrackAt(track_id, t, lat, lon, alt, status, object_class, trail))
    return out


def alerts_at(store: Store, t_unix: float) -> list[Alert]:
    """The alerts open at ``t_unix``, each as it stood after its latest transition at or
    before then.

    A cleared alert never reopens, so the candidates are the alerts raised by then that are
    open now or cleared after then; for each, its latest transition by then decides.
    """
    with store.read() as db:
        rows = db.execute(
            "WITH candidates(alert_id) AS ("
            f" SELECT alert_id FROM alerts WHERE state IN ({','.join('?' * len(_OPEN))})"
            "  AND raised_t <= ?"
            " UNION SELECT e.alert_id FROM alert_events e JOIN alerts a USING (alert_id)"
            "  WHERE e.t > ? AND e.to_state = ? AND a.raised_t <= ?)"
            " SELECT e.alert_id, e.t, e.to_state, e.alert_json"
            " FROM alert_events e JOIN candidates USING (alert_id)"
            " WHERE e.t <= ? ORDER BY e.alert_id, e.t, e.event_id",
            (*_OPEN, t_unix, t_unix, AlertState.CLEARED.value, t_unix, t_unix),
        ).fetchall()
    latest: dict[int, tuple] = {}
    for row in rows:
        latest[row[0]] = row  # ordered by time: the last one per alert wins
    alerts = []
    for alert_id, event_t, to_state, alert_json in latest.values():
        if to_state not in _OPEN:
            continue
        alerts.append(_as_it_stood(store, alert_id, event_t, AlertState(to_state), alert_json))
    alerts.sort(key=lambda a: (a.raised_t_unix, a.alert_id))
    return alerts


def _as_it_stood(
    store: Store, alert_id: int, event_t: float, state: AlertState, alert_json: str | None
) -> Alert:
    """The snapshot stored with the transition; for a row without a readable one (an older
    build wrote it), the alert as it is now, put back in that transition's state."""
    if alert_json is not None:
        try:
            return Alert.model_validate_json(alert_json)
        except ValidationError:
            pass
    current = store.get(alert_id)
    return current.model_copy(update={"state": state, "updated_t_unix": event_t})
