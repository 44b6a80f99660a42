"""Exercise mode (``cuas run --exercise SCENARIO``): a scenario injected into a live deployment.

The live sensors keep running. The scenario is simulated for the wall clock (its ``start``
becomes a moment just ahead), its sensors' frames are written in their own protocols to a
replay file in the data folder, and each simulated sensor joins the run as an exercise
sensor ``exercise-<id>`` whose source plays that file at the recorded times, through the
real driver. The driver host marks what those sensors produce, and the marking follows into
tracks and alerts (``cuas.schema``: ``exercise``).

Placement: every scenario position is an offset from the scenario's own site reference
(written as ``[east_m, north_m, up_m]``, or as a lat/lon table, which is read as the offset
from that reference). The exercise moves the reference onto the deployment's first site
reference (the origin of the tracking frame) and keeps each offset: east, north, and height
above the reference. A scenario drawn for another site therefore flies the same pattern over
this one; one drawn for this site (``[site] config`` naming this deployment) plays exactly
where it was drawn. The scenario's zones are not used: the deployment's own zones alert.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from cuas.config import DeploymentConfig, SensorConfig
from cuas.geo import EnuFrame
from cuas.schema import GeoPoint, Site
from cuas.sim.scenario import Scenario, ScenarioError, SiteRef, load_scenario
from cuas.sim.simulate import SimulationSummary, replay_config, simulate

log = logging.getLogger(__name__)

EXERCISE_PREFIX = "exercise-"
DEFAULT_DELAY_S = 10.0  # from `cuas run` to the scenario's time zero: the processes start


def exercise_sensor_id(scenario_sensor_id: str) -> str:
    return f"{EXERCISE_PREFIX}{scenario_sensor_id}"


def rereference(scenario: Scenario, site: Site) -> Scenario:
    """The scenario moved onto ``site``'s reference, every offset from the reference kept."""
    src, dst = (
        scenario.frame,
        EnuFrame(site.reference.lat_deg, site.reference.lon_deg, site.reference.alt_m or 0.0),
    )

    def move(point: GeoPoint) -> GeoPoint:
        alt = point.alt_m if point.alt_m is not None else src.alt0_m
        enu = src.from_geodetic(point.lat_deg, point.lon_deg, alt)
        lat, lon, h = dst.to_geodetic(enu)
        return GeoPoint(
            lat_deg=float(lat),
            lon_deg=float(lon),
            alt_m=float(h) if point.alt_m is not None else None,
        )

    def walk(value: Any) -> Any:
        if isinstance(value, GeoPoint):
            return move(value)
        if isinstance(value, BaseModel):
            fields = type(value).model_fields
            return value.model_copy(update={k: walk(getattr(value, k)) for k in fields})
        if isinstance(value, list):
            return [walk(v) for v in value]
        if isinstance(value, tuple):
            return tuple(walk(v) for v in value)
        return value

    moved = scenario.model_copy(
        update={
            "objects": walk(scenario.objects),
            "sensors": walk(scenario.sensors),
            "site": SiteRef(reference=site.reference),
        }
    )
    moved._site = Site(id=site.id, name=site.name, reference=site.reference)
    return moved


@dataclass(frozen=True)
class ExercisePlan:
    """A scenario placed at the deployment and timed, with the sensors that will play it."""

    scenario: Scenario  # re-referenced, its start on the wall clock
    source_path: Path  # the scenario file
    replay_path: Path  # where its frames are written
    sensors: list[SensorConfig]  # exercise sensors, ids prefixed, sources on replay_path

    @property
    def start_unix(self) -> float:
        return self.scenario.start_unix

    def simulate(self) -> SimulationSummary:
        """Write the exercise's replay file (gzip JSON Lines) for the sensors to play."""
        self.replay_path.parent.mkdir(parents=True, exist_ok=True)
        return simulate(self.scenario, self.replay_path)

    def describe(self) -> str:
        when = datetime.fromtimestamp(self.start_unix, UTC).strftime("%H:%M:%S UTC")
        return (
            f"exercise {self.scenario.name} ({self.source_path}): "
            f"{self.scenario.duration_s:g} s from {when}, placed at site "
            f"{self.scenario.site_model.id}; sensors {', '.join(s.id for s in self.sensors)}"
        )


def plan_exercise(
    config: DeploymentConfig,
    scenario_path: str | Path,
    *,
    delay_s: float = DEFAULT_DELAY_S,
    now_unix: float | None = None,
) -> ExercisePlan:
    """Load the scenario, place it at the deployment's first site, time it ``delay_s`` from
    now; ScenarioError (a ConfigError) names what cannot work."""
    path = Path(scenario_path)
    if not path.is_file():
        raise ScenarioError(f"{path}: no such scenario file (--exercise takes a scenario TOML)")
    if path.suffix.lower() != ".toml":
        raise ScenarioError(
            f"{path}: --exercise takes a scenario TOML (cuas simulate's input), not a replay file"
        )
    scenario = load_scenario(path)
    live = {s.id: i for i, s in enumerate(config.sensors)}
    for i, spec in enumerate(scenario.sensors):
        ident = exercise_sensor_id(spec.id)
        if ident in live:
            raise ScenarioError(
                f"{path}: sensors[{i}].id: {spec.id!r} would join the run as {ident!r}, which "
                f"sensors[{live[ident]}] of the deployment already is; rename one of them"
            )
    start_unix = (time.time() if now_unix is None else now_unix) + delay_s
    placed = rereference(scenario, config.sites[0])
    site = placed.site_model
    placed = placed.model_copy(update={"start": datetime.fromtimestamp(start_unix, UTC)})
    placed._site = site
    replay_path = config.data_dir / "exercise" / f"{scenario.name}-{int(start_unix)}.jsonl.gz"
    sensors = [
        s.model_copy(
            update={
                "id": exercise_sensor_id(s.id),
                "source": f"{s.source}&clock=recorded",
                "exercise": True,
            }
        )
        for s in replay_config(placed, replay_path).sensors
    ]
    return ExercisePlan(placed, path, replay_path, sensors)


def with_exercise(config: DeploymentConfig, sensors: list[dict[str, Any]]) -> DeploymentConfig:
    """``config`` with the exercise sensors (as ``SensorConfig.model_dump``) added."""
    if sensors:
        config.sensors = [*config.sensors, *(SensorConfig.model_validate(s) for s in sensors)]
    return config
