"""``cuas simulate``: a scenario through motion, sensor models and protocol encoders to a file.

Each sensor scans at its own rate and phase; what it observes (each object at its own time:
a radar's beam crossing, an RF or Remote ID report's own instant, ``cuas.sim.sensors``) is
sent in batches as the sensor sends them (per sector swept, per report), each turned by its
driver's encoder (``cuas.sim.encoders.ENCODERS``) into the exact frames that driver decodes
and written at its receive time: batch time + latency (+ jitter, drawn per batch). So
frames of different sensors arrive out of order with respect to what they saw, as in
the field, while each sensor's own frames stay in order (one link each). A sensor in an
outage sends nothing at all. Truth for every object is written at a fixed rate. The
file is a replay file (``cuas.replay.format``), identical byte for byte for one seed.
"""

from __future__ import annotations

import heapq
import math
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from cuas.config import (
    DeploymentConfig,
    SensorConfig,
    SensorCoverage,
    SensorNoise,
)
from cuas.geo import EnuFrame
from cuas.replay.deployment import header_deployment
from cuas.replay.format import ReplayWriter, Truth
from cuas.sim.encode_common import SCAN_TIME_KEY, EncoderState
from cuas.sim.motion import Motion, simulate_motion
from cuas.sim.scenario import Scenario, ScenarioError, SensorSpec
from cuas.sim.sensors import SensorModel

Encoder = Callable[..., list[bytes]]


@dataclass
class SimulationSummary:
    scenario: str
    seed: int
    duration_s: float
    objects: Counter[str] = field(default_factory=Counter)  # by class
    truth_records: int = 0
    frames: Counter[str] = field(default_factory=Counter)  # by sensor
    observations: Counter[str] = field(default_factory=Counter)  # by sensor, clutter included
    scans_in_outage: Counter[str] = field(default_factory=Counter)

    def lines(self) -> list[str]:
        objects = ", ".join(f"{n} {cls}" for cls, n in sorted(self.objects.items()))
        out = [
            f"scenario {self.scenario} (seed {self.seed}): {self.duration_s:g} s, {objects}",
            f"truth records: {self.truth_records}",
        ]
        for sensor in sorted(self.frames.keys() | self.observations.keys()):
            outage = self.scans_in_outage[sensor]
            out.append(
                f"  {sensor}: {self.frames[sensor]} frames, {self.observations[sensor]} "
                f"observations" + (f", {outage} scans lost to outages" if outage else "")
            )
        return out


def _encoders(scenario: Scenario) -> list[Encoder]:
    """Each sensor's encoder; missing ones are named with the sensor that needs them."""
    try:
        from cuas.sim.encoders import ENCODERS
    except ImportError as exc:
        raise ScenarioError(
            f"{scenario.name}: no protocol encoders in this build ({exc})"
        ) from None
    found = []
    for i, spec in enumerate(scenario.sensors):
        encoder = ENCODERS.get(spec.driver)
        if encoder is None:
            raise ScenarioError(
                f"{scenario.name}: sensors[{i}].driver: the simulator has no encoder for "
                f"{spec.driver!r} (it has: {', '.join(sorted(ENCODERS))})"
            )
        found.append(encoder)
    return found


def simulate(
    scenario: Scenario,
    out: Path,
    *,
    seed: int | None = None,
    progress: Callable[[float], None] | None = None,
    encoders: list[Encoder] | None = None,
) -> SimulationSummary:
    """Write the scenario's replay file to ``out`` (gzip if it ends in .gz).

    ``progress`` gets the fraction of simulated time done, about a hundred times a run.
    ``encoders`` (one per sensor) default to the built-in ones for each sensor's driver.
    """
    seed = scenario.seed if seed is None else seed
    encoders = encoders if encoders is not None else _encoders(scenario)
    motion = simulate_motion(scenario, seed)
    models = [SensorModel(s, i, scenario, motion, seed) for i, s in enumerate(scenario.sensors)]
    summary = SimulationSummary(scenario.name, seed, scenario.duration_s)
    summary.objects.update(o.object_class.value for o in motion.objects)

    # every event in time order: truth samples (-1) and each sensor's scans (its index)
    times = [np.arange(0.0, scenario.duration_s + 1e-9, scenario.truth_interval_s)]
    owners = [np.full(len(times[0]), -1)]
    for i, model in enumerate(models):
        scans = model.scan_times_s(scenario.duration_s)
        times.append(scans)
        owners.append(np.full(len(scans), i))
    t_all, who_all = np.concatenate(times), np.concatenate(owners)
    order = np.lexsort((who_all, t_all))

    writer = ReplayWriter(
        out,
        description=scenario.description or f"cuas simulate {scenario.name}",
        sensors={
            s.id: {
                "driver": s.driver,
                "kind": s.kind,
                "position": s.position.model_dump(),
                "scenario": scenario.name,
            }
            for s in scenario.sensors
        },
        created_unix=scenario.start_unix,
        deployment=header_deployment(replay_config(scenario)),
    )
    site_frame = scenario.frame
    states: list[EncoderState] = [{} for _ in models]
    jitter_rngs = [np.random.default_rng([seed, 3, i]) for i in range(len(models))]
    last_rx = [-math.inf] * len(models)
    pending: list[tuple[float, int, Truth | tuple[str, bytes]]] = []
    seq = 0
    step = max(1, len(order) // 100)
    try:
        for n, e in enumerate(order):
            t_s, who = float(t_all[e]), int(who_all[e])
            t_unix = scenario.start_unix + t_s
            if who < 0:
                for truth in _truth(motion, site_frame, t_s, t_unix):
                    heapq.heappush(pending, (t_unix, seq, truth))
                    seq += 1
                    summary.truth_records += 1
            else:
                spec, model = scenario.sensors[who], models[who]
                if spec.in_outage(t_s):
                    summary.scans_in_outage[spec.id] += 1
                else:
                    observations = model.observe(t_s, motion)
                    summary.observations[spec.id] += len(observations)
                    for t_batch, batch in model.batches(t_s, observations):
                        states[who][SCAN_TIME_KEY] = t_batch
                        frames = encoders[who](spec, batch, states[who])
                        jitter = float(jitter_rngs[who].uniform(0.0, spec.latency_jitter_s))
                        t_rx = max(t_batch + spec.latency_s + jitter, last_rx[who])
                        last_rx[who] = t_rx
                        for frame in frames:
                            heapq.heappush(pending, (t_rx, seq, (spec.id, frame)))
                            seq += 1
                        summary.frames[spec.id] += len(frames)
            # nothing still to come can be received before now
            while pending and pending[0][0] <= t_unix:
                _write(writer, heapq.heappop(pending))
            if progress is not None and n % step == 0:
                progress(t_s / scenario.duration_s)
        while pending:
            _write(writer, heapq.heappop(pending))
    finally:
        writer.close()
    if progress is not None:
        progress(1.0)
    return summary


def _truth(motion: Motion, frame: EnuFrame, t_s: float, t_unix: float) -> list[Truth]:
    pos, vel, alive = motion.state_at(t_s)
    idx = np.flatnonzero(alive)
    if not len(idx):
        return []
    lat, lon, alt = frame.to_geodetic(pos[idx])
    return [
        Truth(
            t_unix,
            motion.objects[i].object_id,
            motion.objects[i].object_class,
            float(lat[j]),
            float(lon[j]),
            float(alt[j]),
            (float(vel[i, 0]), float(vel[i, 1]), float(vel[i, 2])),
        )
        for j, i in enumerate(idx)
    ]


def _write(writer: ReplayWriter, item: tuple[float, int, Truth | tuple[str, bytes]]) -> None:
    t_unix, _, record = item
    if isinstance(record, Truth):
        writer.truth(record)
    else:
        writer.frame(t_unix, record[0], record[1])


def replay_config(scenario: Scenario, replay_path: Path | str | None = None) -> DeploymentConfig:
    """A deployment config that replays the simulated file: the scenario's site and sensors,
    with what the simulation knows of each (revisit period, coverage). Sources name
    ``replay_path`` when given (for ``cuas run``), else just ``replay:``."""
    sensors = []
    for s in scenario.sensors:
        n = s.noise
        sensors.append(
            SensorConfig(
                id=s.id,
                driver=s.driver,
                source="replay:" if replay_path is None else f"replay:{replay_path}?sensor={s.id}",
                position=s.position,
                coverage=sensor_coverage(s),
                revisit_s=s.update_interval_s,
                # the config's noise must be positive: a noiseless simulated sensor gets a floor
                noise=SensorNoise(
                    position_m=max(n.position_m, 0.5),
                    range_m=max(n.range_m, 0.5),
                    azimuth_deg=max(n.azimuth_deg, 0.05),
                    elevation_deg=max(n.elevation_deg, 0.05),
                    radial_velocity_mps=max(n.radial_velocity_mps, 0.1),
                ),
                pd=max(s.pd, 0.01),
                clutter_per_scan=s.clutter_per_scan,
                latency_s=s.latency_s + s.latency_jitter_s / 2,
                options=dict(s.options),
            )
        )
    return DeploymentConfig(sites=[scenario.site_model], sensors=sensors, alerts=scenario.alerts)


def sensor_coverage(spec: SensorSpec) -> SensorCoverage | None:
    """The config's coverage of a simulated sensor: range and elevation limits (the top is a
    radar's cone of silence). None for a sector sensor: the config centres a sector on
    ``orientation.yaw_deg``, which the drivers also add to relative bearings, while the
    simulated sensors report true bearings."""
    cov = spec.coverage
    if cov.azimuth_deg is not None and (cov.azimuth_deg[1] - cov.azimuth_deg[0]) % 360.0:
        return None
    return SensorCoverage(
        range_m=cov.max_range_m,
        min_range_m=cov.min_range_m,
        min_elevation_deg=cov.min_elevation_deg,
        max_elevation_deg=spec.max_elevation_deg,
    )
