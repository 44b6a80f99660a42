"""A scenario's expected alert outcome (its ``[expect]`` tables) checked against a replay.

For every truth object with an expectation (``cuas.sim.scenario.Expect``; a group's key
covers its members ``<id>-NN``), from the alerts of a replay run and the truth in the file:

* missed: expected ``critical`` but no critical alert early enough: before the breach and
  ``min_lead_s`` ahead of it, or, for an object that appears inside the zone (a take-off),
  within ``max_delay_s`` of appearing;
* false drone alerts: any zone alert on an object expected ``none`` (a friend, a manned
  aircraft, a bird), and zone alerts on no truth object at all (counted apart);
* warning time: the first critical breach minus the object's first alert, any zone;
* pre-alert lead: the first critical breach minus its first critical-zone alert;
* flapping: alerts beyond ``max_alerts_per_zone`` for one object and zone.

Alerts are matched to the truth object nearest their track snapshot at raise time, as
``cuas score`` does (``cuas.score.alerts.nearest_object``).
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from cuas.alerting.zones import ZoneShape, build_zones
from cuas.geo import EnuFrame
from cuas.replay.deployment import carried_deployment
from cuas.replay.format import ReplayReader
from cuas.schema import Alert, ZoneLevel
from cuas.score.alerts import first_alerts, nearest_object, zone_contacts
from cuas.score.metrics import DEFAULT_C_M, ScoreError, TruthPath, truth_paths
from cuas.score.report import OutputCollector, read_truth
from cuas.sim.scenario import Expect

BORN_INSIDE_S = 2.0  # an object inside the zone this soon after it appears took off there
DEFAULT_MAX_DELAY_S = 10.0


@dataclass
class ObjectOutcome:
    object_id: str
    object_class: str
    expect: Expect
    appear_t_unix: float
    breach_t_unix: float | None  # first breach of a critical zone
    alerts: list[Alert] = field(default_factory=list)  # zone alerts matched to it, as raised

    @property
    def born_inside(self) -> bool:
        return self.breach_t_unix is not None and (
            self.breach_t_unix - self.appear_t_unix <= BORN_INSIDE_S
        )

    @property
    def first_critical_t_unix(self) -> float | None:
        return min(
            (a.raised_t_unix for a in self.alerts if a.zone_level is ZoneLevel.CRITICAL),
            default=None,
        )

    @property
    def warning_s(self) -> float | None:
        if self.breach_t_unix is None or not self.alerts:
            return None
        return self.breach_t_unix - min(a.raised_t_unix for a in self.alerts)

    @property
    def lead_s(self) -> float | None:
        first = self.first_critical_t_unix
        return None if self.breach_t_unix is None or first is None else self.breach_t_unix - first

    @property
    def flaps(self) -> int:
        per_zone = Counter((a.site_id, a.zone_id) for a in self.alerts)
        return sum(max(0, n - self.expect.max_alerts_per_zone) for n in per_zone.values())

    @property
    def missed(self) -> bool:
        if self.expect.alert != "critical":
            return False
        first = self.first_critical_t_unix
        if self.breach_t_unix is None or first is None:
            return True
        if self.born_inside:
            delay = self.expect.max_delay_s or DEFAULT_MAX_DELAY_S
            return first - self.appear_t_unix > delay
        return self.breach_t_unix - first < self.expect.min_lead_s

    @property
    def false_alerts(self) -> int:
        return len(self.alerts) if self.expect.alert == "none" else 0

    def failures(self) -> list[str]:
        out = []
        name = f"{self.object_id} ({self.object_class})"
        if self.expect.alert == "critical" and self.breach_t_unix is None:
            out.append(f"{name}: expected to breach a critical zone but never does (scenario)")
        elif self.missed:
            first = self.first_critical_t_unix
            if first is None:
                out.append(f"{name}: no critical alert")
            elif self.born_inside:
                out.append(
                    f"{name}: critical alert {first - self.appear_t_unix:.1f} s after it "
                    f"appeared inside the zone (at most {self.expect.max_delay_s or 10:g} s)"
                )
            else:
                out.append(
                    f"{name}: critical alert {self.lead_s:+.1f} s before the breach "
                    f"(at least {self.expect.min_lead_s:g} s)"
                )
        if self.false_alerts:
            zones = ", ".join(f"{a.zone_id} ({a.rule})" for a in self.alerts)
            out.append(f"{name}: {self.false_alerts} drone alert(s), expected none: {zones}")
        if self.flaps:
            per_zone = Counter(a.zone_id for a in self.alerts)
            out.append(
                f"{name}: flapping, {self.flaps} alert(s) beyond "
                f"{self.expect.max_alerts_per_zone} per zone ({dict(per_zone)})"
            )
        return out


@dataclass
class ScenarioOutcome:
    objects: list[ObjectOutcome]
    unmatched_alerts: int  # zone alerts on no truth object (clutter, ghosts)

    def failures(self) -> list[str]:
        return [f for o in self.objects for f in o.failures()]

    @property
    def missed(self) -> int:
        return sum(o.missed for o in self.objects)

    @property
    def expected_alerts(self) -> int:
        return sum(o.expect.alert == "critical" for o in self.objects)

    @property
    def false_drone_alerts(self) -> int:
        return sum(o.false_alerts for o in self.objects)

    @property
    def flaps(self) -> int:
        return sum(o.flaps for o in self.objects)

    def _values(self, attr: str) -> list[float]:
        values = (getattr(o, attr) for o in self.objects if o.expect.alert == "critical")
        return [v for v in values if v is not None]

    def as_dict(self) -> dict[str, Any]:
        warn, lead = self._values("warning_s"), self._values("lead_s")
        return {
            "expected_alerts": self.expected_alerts,
            "missed": self.missed,
            "false_drone_alerts": self.false_drone_alerts,
            "unmatched_alerts": self.unmatched_alerts,
            "warning_s_min": round(min(warn), 1) if warn else None,
            "warning_s_mean": round(float(np.mean(warn)), 1) if warn else None,
            "lead_s_min": round(min(lead), 1) if lead else None,
            "flaps": self.flaps,
            "failures": self.failures(),
        }


def expectation_for(object_id: str, expect: dict[str, Expect]) -> Expect | None:
    """The object's own expectation, else its group's (``gulls`` covers ``gulls-03``)."""
    if object_id in expect:
        return expect[object_id]
    group = re.sub(r"-\d+$", "", object_id)
    return expect.get(group) if group != object_id else None


def check_outcome(
    paths: list[TruthPath],
    alerts: list[Alert],
    zones: list[ZoneShape],
    expect: dict[str, Expect],
    *,
    c_m: float = DEFAULT_C_M,
) -> ScenarioOutcome:
    """Score a run's alerts (every record, any order) against the scenario's expectations."""
    critical = [z for z in zones if z.zone.level is ZoneLevel.CRITICAL]
    outcomes: dict[int, ObjectOutcome] = {}
    for i, path in enumerate(paths):
        want = expectation_for(path.object_id, expect)
        if want is None:
            continue
        breaches = [
            c.breach_t_unix
            for c in zone_contacts(path, critical, 0.0)
            if c.breach_t_unix is not None
        ]
        outcomes[i] = ObjectOutcome(
            path.object_id,
            path.object_class.value,
            want,
            float(path.t_unix[0]),
            min(breaches, default=None),
        )
    unmatched = 0
    for alert in first_alerts(alerts):
        if alert.zone_id is None:
            continue  # site-level rules (RF presence, coverage) name no object
        i = nearest_object(alert, paths, c_m)
        if i is None:
            unmatched += 1
        elif i in outcomes:
            outcomes[i].alerts.append(alert)
    return ScenarioOutcome(list(outcomes.values()), unmatched)


def replay_outcome(replay: Path, expect: dict[str, Expect]) -> ScenarioOutcome:
    """Replay a scenario's file with the deployment it carries (as ``cuas replay FILE``
    does) and check its expectations."""
    from cuas.replay.pipeline import run_replay  # the tracker: Numba, slow to import

    header = ReplayReader(replay).header
    config = carried_deployment(header, replay)
    if config is None:
        raise ScoreError(f"{replay}: carries no deployment; regenerate it with cuas simulate")
    collector = OutputCollector()
    run_replay(config, replay, out=collector)
    ref = config.sites[0].reference
    frame = EnuFrame(ref.lat_deg, ref.lon_deg, ref.alt_m or 0.0)
    paths = truth_paths(read_truth(replay), frame)
    return check_outcome(paths, collector.alerts, build_zones(config.sites, frame), expect)
