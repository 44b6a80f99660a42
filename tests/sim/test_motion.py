"""Object motion: every behaviour stays within its class limits and does what it says."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from cuas.sim.motion import simulate_motion
from cuas.sim.scenario import CLASS_LIMITS, load_scenario, parse_scenario

SCENARIOS = Path(__file__).resolve().parents[2] / "replay_data" / "scenarios"
SITE = {"reference": {"lat_deg": 42.8746, "lon_deg": 74.6036, "alt_m": 780.0}}
RADAR = {"id": "r", "driver": "asterix", "position": [0, 0, 10], "coverage": {"max_range_m": 5000}}


def scenario(*objects: dict[str, Any], duration_s: float = 120.0, seed: int = 1):
    raw = {
        "name": "t",
        "duration_s": duration_s,
        "seed": seed,
        "site": SITE,
        "objects": list(objects),
        "sensors": [RADAR],
    }
    return parse_scenario(raw, Path("t.toml"))


EVERY_BEHAVIOUR = scenario(
    {"type": "drone", "id": "a", "behaviour": "transit", "start": [-900, 0, 40],
     "waypoints": [[0, 0, 120], [0, 600, 30], [-300, 300, 60]], "speed_mps": 24},
    {"type": "drone", "id": "b", "behaviour": "loiter", "point": [100, 100, 50],
     "start": [600, -400, 20], "drift_m": 5},
    {"type": "drone", "id": "c", "behaviour": "orbit", "centre": [0, 0, 80], "radius_m": 100,
     "speed_mps": 15, "start": [-500, 300, 40]},
    {"type": "drone", "id": "d", "behaviour": "dive", "start": [-800, -800, 120],
     "waypoints": [[-300, 200, 120]], "target": [0, 0, 0], "dive_speed_mps": 25,
     "limits": {"max_speed_mps": 30}},
    {"type": "drone", "id": "e", "behaviour": "swarm", "count": 12, "formation": "vee",
     "start": [0, -1000, 80], "waypoints": [[0, 0, 80], [800, 200, 100]], "speed_mps": 14},
    {"type": "bird", "id": "f", "count": 6, "centre": [0, 0], "radius_m": 300},
    {"type": "manned_aircraft", "id": "g", "start": [-5000, 0, 800], "heading_deg": 10,
     "waypoints": [], "speed_mps": 120, "icao24": "4d2401"},
    {"type": "manned_aircraft", "id": "h", "start": [-5000, 0, 800], "speed_mps": 80,
     "waypoints": [[0, 0, 900], [0, 4000, 900]], "icao24": "4d2402"},
)  # fmt: skip


def _limits_violations(motion, spec_of) -> list[str]:
    """Every limit checked from the sampled paths alone (finite differences)."""
    dt, bad = motion.dt_s, []
    for i, obj in enumerate(motion.objects):
        spec = spec_of(obj.object_id)
        lim = spec.effective_limits()
        alive = motion.alive[i]
        v = motion.vel_enu_mps[i][alive]
        p = motion.pos_enu_m[i][alive]
        speed_h = np.hypot(v[:, 0], v[:, 1])
        if speed_h.max() > lim.max_speed_mps + 1e-6:
            bad.append(f"{obj.object_id}: speed {speed_h.max():.2f}")
        accel = np.linalg.norm(np.diff(v, axis=0), axis=1) / dt
        if accel.max() > lim.max_accel_mps2 + 1e-6:
            bad.append(f"{obj.object_id}: acceleration {accel.max():.2f}")
        moving = (speed_h[:-1] > 1.0) & (speed_h[1:] > 1.0)
        cross = v[:-1, 0] * v[1:, 1] - v[:-1, 1] * v[1:, 0]
        dot = v[:-1, 0] * v[1:, 0] + v[:-1, 1] * v[1:, 1]
        turn = np.abs(np.arctan2(cross, dot))[moving] / dt
        if turn.size and np.degrees(turn.max()) > lim.max_turn_rate_deg_s + 1e-6:
            bad.append(f"{obj.object_id}: turn {np.degrees(turn.max()):.1f} deg/s")
        if v[:, 2].max() > lim.max_climb_mps + 1e-6:
            bad.append(f"{obj.object_id}: climb {v[:, 2].max():.2f}")
        descent = getattr(spec, "dive_speed_mps", lim.max_descent_mps)
        if -v[:, 2].min() > descent + 1e-6:
            bad.append(f"{obj.object_id}: descent {-v[:, 2].min():.2f}")
        # positions are the integral of the velocities (trapezoid), so no teleporting
        step = np.linalg.norm(np.diff(p, axis=0), axis=1) / dt
        if step.max() > lim.max_speed_mps * 1.5 + 1e-6:
            bad.append(f"{obj.object_id}: jump {step.max():.1f} m/s")
    return bad


def _spec_lookup(sc):
    by_id = {o.id: o for o in sc.objects}
    return lambda object_id: by_id.get(object_id) or by_id[object_id.rsplit("-", 1)[0]]


def test_every_behaviour_stays_within_its_class_limits():
    motion = simulate_motion(EVERY_BEHAVIOUR)
    assert len(motion.objects) == 4 + 12 + 6 + 2
    assert _limits_violations(motion, _spec_lookup(EVERY_BEHAVIOUR)) == []


@pytest.mark.parametrize("path", sorted(SCENARIOS.glob("*.toml")), ids=lambda p: p.stem)
def test_shipped_scenarios_stay_within_limits(path):
    sc = load_scenario(path)
    motion = simulate_motion(sc)
    assert _limits_violations(motion, _spec_lookup(sc)) == []


def test_limits_are_the_documented_figures():
    drone = CLASS_LIMITS[EVERY_BEHAVIOUR.objects[0].object_class]
    assert (drone.max_speed_mps, drone.max_climb_mps, drone.max_descent_mps) == (25, 8, 6)


def test_a_turn_at_speed_is_bounded_by_acceleration_not_instant():
    # a 24 m/s drone told to reverse: with 6 m/s^2 it needs at least 48/6 = 8 s
    sc = scenario(
        {"type": "drone", "id": "a", "behaviour": "transit", "start": [0, 0, 50],
         "waypoints": [[0, 2000, 50], [0, -2000, 50]], "speed_mps": 24},
        duration_s=200,
    )  # fmt: skip
    motion = simulate_motion(sc)
    vn = motion.vel_enu_mps[0][:, 1]
    first_south = int(np.argmax(vn < -20))
    last_north = int(np.flatnonzero(vn > 20)[-1])
    assert (first_south - last_north) * motion.dt_s >= 40 / 6.0


def test_dive_reaches_its_target_and_ends_there():
    motion = simulate_motion(EVERY_BEHAVIOUR)
    i = [o.object_id for o in motion.objects].index("d")
    path = motion.pos_enu_m[i][motion.alive[i]]
    assert np.linalg.norm(path[-1]) < 3.0  # the target is the site origin, on the ground
    assert path[:, 2].min() > -1.0  # it did not go through the ground
    assert not motion.alive[i][-1]  # impact: it is gone afterwards
    # cruising at 120 m until the dive began
    assert np.allclose(path[: len(path) // 3, 2], 120.0, atol=2.0)


def test_orbit_holds_its_radius_and_speed():
    sc = scenario(
        {"type": "drone", "id": "o", "behaviour": "orbit", "centre": [200, -100, 60],
         "radius_m": 80, "speed_mps": 12, "direction": "ccw"},
    )  # fmt: skip
    motion = simulate_motion(sc)
    p, v = motion.pos_enu_m[0], motion.vel_enu_mps[0]
    rho = np.hypot(p[:, 0] - 200, p[:, 1] + 100)
    assert np.abs(rho - 80).max() < 2.0
    assert np.abs(np.hypot(v[:, 0], v[:, 1]) - 12).max() < 0.5
    angle = np.unwrap(np.arctan2(p[:, 1] + 100, p[:, 0] - 200))
    laps = (angle[-1] - angle[0]) / (2 * math.pi)
    assert laps == pytest.approx(120 * 12 / (2 * math.pi * 80), rel=0.03)  # ccw: positive


def test_orbit_from_afar_is_captured():
    motion = simulate_motion(EVERY_BEHAVIOUR)
    i = [o.object_id for o in motion.objects].index("c")
    p = motion.pos_enu_m[i]
    rho = np.hypot(p[:, 0], p[:, 1])
    assert abs(rho[0] - 100) > 400
    assert np.abs(rho[-300:] - 100).max() < 3.0


def test_transit_arrives_and_hovers_at_the_last_waypoint():
    sc = scenario(
        {"type": "drone", "id": "a", "behaviour": "transit", "start": [0, 0, 50],
         "waypoints": [[300, 400, 70]], "speed_mps": 10},
        duration_s=90,
    )  # fmt: skip
    motion = simulate_motion(sc)
    assert np.linalg.norm(motion.pos_enu_m[0, -1] - [300, 400, 70]) < 0.5
    assert np.linalg.norm(motion.vel_enu_mps[0, -1]) < 0.2


def test_swarm_keeps_its_formation_on_a_straight_leg():
    sc = scenario(
        {"type": "drone", "id": "s", "behaviour": "swarm", "count": 20, "formation": "grid",
         "spacing_m": 15, "start": [0, -1500, 80], "waypoints": [[0, 1500, 80]],
         "speed_mps": 10},
    )  # fmt: skip
    motion = simulate_motion(sc)
    pos, _, alive = motion.state_at(60.0)
    assert alive.all() and len(pos) == 20
    gaps = np.linalg.norm(pos[:, None, :2] - pos[None, :, :2], axis=2)
    np.fill_diagonal(gaps, np.inf)
    nearest = gaps.min(axis=1)
    assert np.allclose(nearest, 15.0, atol=1.5)  # a 5 x 4 grid at 15 m
    assert np.ptp(pos[:, 0]) == pytest.approx(60.0, abs=3.0)  # 5 abreast
    assert np.ptp(pos[:, 1]) == pytest.approx(45.0, abs=3.0)  # 4 deep


def test_bird_paths_depend_on_the_seed_only():
    a = simulate_motion(EVERY_BEHAVIOUR, seed=4)
    b = simulate_motion(EVERY_BEHAVIOUR, seed=4)
    c = simulate_motion(EVERY_BEHAVIOUR, seed=5)
    assert np.array_equal(a.pos_enu_m, b.pos_enu_m)
    birds = [i for i, o in enumerate(a.objects) if o.object_class.value == "bird"]
    assert not np.allclose(a.pos_enu_m[birds], c.pos_enu_m[birds])


def test_birds_wander_inside_their_area_and_height_band():
    motion = simulate_motion(EVERY_BEHAVIOUR)
    birds = [i for i, o in enumerate(motion.objects) if o.object_class.value == "bird"]
    p = motion.pos_enu_m[birds]
    assert np.hypot(p[..., 0], p[..., 1]).max() < 300 + 40  # overshoot on a turn at speed
    assert p[..., 2].min() > 10 - 5 and p[..., 2].max() < 120 + 5
    headings = np.arctan2(motion.vel_enu_mps[birds][..., 0], motion.vel_enu_mps[birds][..., 1])
    assert np.abs(np.diff(np.unwrap(headings, axis=1), axis=1)).sum() / len(birds) > 20  # erratic


def test_start_and_end_times_bound_an_object():
    sc = scenario(
        {"type": "drone", "id": "a", "behaviour": "loiter", "point": [0, 0, 50],
         "start_s": 10, "end_s": 30},
        duration_s=60,
    )  # fmt: skip
    motion = simulate_motion(sc)
    t = np.flatnonzero(motion.alive[0]) * motion.dt_s
    assert t[0] == pytest.approx(10.0) and t[-1] == pytest.approx(30.0)
