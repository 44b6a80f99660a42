"""Alert metrics against ground truth: missed and false alerts, and warning time.

A truth object of an alerting class (``[alerts] drone_classes``) breaches a zone when
its interpolated position is inside the zone polygon and altitude band, tested with the
alert engine's own geometry (``cuas.alerting.zones``). An alert belongs to the truth
object nearest its track snapshot at raise time, if that is within the cut-off c. It is
a true alert when that object is of an alerting class and breaches or approaches (comes
within ``approach_m`` of) the alert's zone; otherwise a false alert. A breaching object
with no alert is a missed alert. Warning time is the first breach of the most critical
zone the object breaches minus its first alert: positive when the alert came first.
Alerts of site-level rules (RF presence, sensor coverage) have no position; they are
counted by rule, not judged.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import NDArray

from cuas.alerting.zones import ZoneShape
from cuas.schema import Alert, AlertState, ZoneLevel
from cuas.score.metrics import DEFAULT_C_M, TruthPath

DEFAULT_APPROACH_M = 100.0
BREACH_STEP_S = 0.1  # truth is sampled this finely for breach and approach times
LEVEL_RANK = {"watch": 0, "warning": 1, "critical": 2}  # zones of other levels never alert


def first_alerts(records: Iterable[Alert]) -> list[Alert]:
    """One alert per id, as raised: the first record of each id (its raise-time snapshot)."""
    seen: dict[int, Alert] = {}
    for alert in records:
        kept = seen.get(alert.alert_id)
        if kept is None or (
            kept.state is not AlertState.RAISED and alert.state is AlertState.RAISED
        ):
            seen[alert.alert_id] = alert
    return sorted(seen.values(), key=lambda a: (a.raised_t_unix, a.alert_id))


def distance_to_polygon_m(points_en: NDArray, polygon_en: NDArray) -> NDArray:
    """Horizontal distance (n,) from points (n,2) to the edges of a polygon (m,2)."""
    a = polygon_en[None, :, :]
    b = np.roll(polygon_en, -1, axis=0)[None, :, :]
    ab = b - a
    ap = points_en[:, None, :] - a
    u = np.clip(np.sum(ap * ab, axis=-1) / np.maximum(np.sum(ab * ab, axis=-1), 1e-12), 0, 1)
    nearest = a + u[..., None] * ab
    return np.min(np.linalg.norm(points_en[:, None, :] - nearest, axis=-1), axis=1)


@dataclass(frozen=True)
class ZoneContact:
    """When one object first breached, and first came near, one zone."""

    site_id: str
    zone_id: str
    level: ZoneLevel
    breach_t_unix: float | None
    approach_t_unix: float | None


def zone_contacts(path: TruthPath, zones: list[ZoneShape], approach_m: float) -> list[ZoneContact]:
    """The zones an object breaches or approaches, with the first time of each."""
    if len(path.t_unix) == 0:
        return []
    t = np.union1d(np.arange(path.t_unix[0], path.t_unix[-1], BREACH_STEP_S), path.t_unix)
    enu, alt = path.at(t)
    present = ~np.isnan(alt)
    t, enu, alt = t[present], enu[present], alt[present]
    contacts = []
    for shape in (z for z in zones if z.zone.level.value in LEVEL_RANK):
        inside = shape.contains(enu[:, :2], alt)
        height = alt - (shape.site.reference.alt_m or 0.0)
        near_band = (height >= shape.zone.floor_m - approach_m) & (
            height <= shape.zone.ceiling_m + approach_m
        )
        near = inside | (
            near_band & (distance_to_polygon_m(enu[:, :2], shape.polygon_en) <= approach_m)
        )
        if not near.any():
            continue
        contacts.append(
            ZoneContact(
                shape.site.id,
                shape.zone.id,
                shape.zone.level,
                float(t[np.argmax(inside)]) if inside.any() else None,
                float(t[np.argmax(near)]),
            )
        )
    return contacts


@dataclass
class ObjectAlerts:
    object_id: str
    object_class: str
    contacts: list[ZoneContact]
    alerts: list[Alert] = field(default_factory=list)  # true alerts matched to it

    @property
    def breaches(self) -> list[ZoneContact]:
        return [c for c in self.contacts if c.breach_t_unix is not None]

    @property
    def worst_breach(self) -> ZoneContact | None:
        """The first breach of the most critical zone breached."""
        if not self.breaches:
            return None
        return min(self.breaches, key=lambda c: (-LEVEL_RANK[c.level.value], c.breach_t_unix))

    @property
    def first_alert_t_unix(self) -> float | None:
        return min((a.raised_t_unix for a in self.alerts), default=None)

    @property
    def warning_s(self) -> float | None:
        worst, first = self.worst_breach, self.first_alert_t_unix
        if worst is None or first is None:
            return None
        assert worst.breach_t_unix is not None
        return worst.breach_t_unix - first

    def as_dict(self) -> dict[str, Any]:
        worst = self.worst_breach
        breached = {(c.site_id, c.zone_id) for c in self.breaches}
        alerted = {(a.site_id, a.zone_id) for a in self.alerts}
        return {
            "object": self.object_id,
            "class": self.object_class,
            "breaches": [
                {
                    "site": c.site_id,
                    "zone": c.zone_id,
                    "level": c.level.value,
                    "first_t_unix": c.breach_t_unix,
                }
                for c in self.breaches
            ],
            "most_critical_zone": None if worst is None else worst.zone_id,
            "breach_t_unix": None if worst is None else worst.breach_t_unix,
            "alert_ids": [a.alert_id for a in self.alerts],
            "first_alert_t_unix": self.first_alert_t_unix,
            "warning_s": None if self.warning_s is None else round(self.warning_s, 3),
            "zones_breached_without_alert": sorted(z for _, z in breached - alerted),
        }


@dataclass(frozen=True)
class FalseAlert:
    alert: Alert
    reason: str

    def as_dict(self) -> dict[str, Any]:
        a = self.alert
        return {
            "alert_id": a.alert_id,
            "zone": a.zone_id,
            "track": a.track_id,
            "raised_t_unix": a.raised_t_unix,
            "reason": self.reason,
        }


@dataclass
class AlertScore:
    alerts: int
    breaching: list[ObjectAlerts]  # objects of an alerting class that breach a zone
    approach_alerts: int  # true alerts on objects that came near a zone but never entered one
    false: list[FalseAlert]
    site_alerts: dict[str, int]  # alerts of site-level rules (no zone, no track), by rule

    @property
    def missed(self) -> list[ObjectAlerts]:
        return [o for o in self.breaching if not o.alerts]

    @property
    def warning_times_s(self) -> list[float]:
        return [o.warning_s for o in self.breaching if o.warning_s is not None]

    def as_dict(self) -> dict[str, Any]:
        warn = self.warning_times_s
        return {
            "alerts": self.alerts,
            "breaching_objects": len(self.breaching),
            "alerted_objects": len(self.breaching) - len(self.missed),
            "missed": len(self.missed),
            "missed_objects": [o.object_id for o in self.missed],
            "false": len(self.false),
            "approach_alerts": self.approach_alerts,
            "site_alerts": self.site_alerts,
            "warning_s_mean": round(float(np.mean(warn)), 3) if warn else None,
            "warning_s_min": round(float(np.min(warn)), 3) if warn else None,
            "objects": [o.as_dict() for o in self.breaching],
            "false_alerts": [f.as_dict() for f in self.false],
        }


def nearest_object(alert: Alert, paths: list[TruthPath], c_m: float) -> int | None:
    """Index of the truth object nearest the alert's track snapshot at raise time, if within
    ``c_m``; None when there is none (or no snapshot)."""
    if alert.track is None or not paths:
        return None
    at = np.array([alert.raised_t_unix])
    track_enu = np.array(alert.track.enu_m)
    dist = np.array([np.linalg.norm(p.at(at)[0][0] - track_enu) for p in paths])
    dist = np.where(np.isnan(dist), np.inf, dist)
    return int(np.argmin(dist)) if dist.min() < c_m else None


def score_alerts(
    paths: list[TruthPath],
    alerts: list[Alert],
    zones: list[ZoneShape],
    alert_classes: Iterable[str],
    *,
    c_m: float = DEFAULT_C_M,
    approach_m: float = DEFAULT_APPROACH_M,
) -> AlertScore:
    """Match each zone alert (as raised) to a truth object and score both sides; alerts of
    site-level rules (RF presence, sensor coverage) carry no position and are only counted."""
    classes = set(alert_classes)
    objects = [
        ObjectAlerts(p.object_id, p.object_class.value, zone_contacts(p, zones, approach_m))
        for p in paths
    ]
    false: list[FalseAlert] = []
    approach_alerts = 0
    site_alerts: Counter[str] = Counter()
    for alert in alerts:
        if alert.zone_id is None:
            site_alerts[alert.rule] += 1
            continue
        if alert.track is None:
            false.append(FalseAlert(alert, "no track snapshot to match"))
            continue
        nearest = nearest_object(alert, paths, c_m)
        if nearest is None:
            false.append(FalseAlert(alert, f"no truth object within {c_m:g} m of the track"))
            continue
        obj = objects[nearest]
        if obj.object_class not in classes:
            false.append(FalseAlert(alert, f"{obj.object_id} is a {obj.object_class}"))
            continue
        contact = next(
            (c for c in obj.contacts if (c.site_id, c.zone_id) == (alert.site_id, alert.zone_id)),
            None,
        )
        if contact is None:
            false.append(
                FalseAlert(
                    alert, f"{obj.object_id} never comes within {approach_m:g} m of the zone"
                )
            )
            continue
        obj.alerts.append(alert)
        approach_alerts += not obj.breaches
    breaching = [o for o in objects if o.object_class in classes and o.breaches]
    zone_alerts = len(alerts) - sum(site_alerts.values())
    return AlertScore(zone_alerts, breaching, approach_alerts, false, dict(site_alerts))
