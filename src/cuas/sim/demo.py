"""The bundled demo recording: Remote ID drones around a stadium, as a DragonSync feed.

Writes a replay file whose frames are exactly what a WarDragon/DroneID decoder publishes
on ZeroMQ port 4224 (one F3411 message per frame, list-of-blocks JSON with unit strings),
so the demo exercises the real driver. Deterministic from its seed; ground truth is
recorded beside the frames. Regenerate with ``python -m cuas.sim.demo replay_data/demo.jsonl.gz``.

This is a small fixed scenario, not the general simulator (``cuas simulate``).
"""

from __future__ import annotations

import argparse
import json
import math
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from cuas.geo import EnuFrame
from cuas.replay.format import ReplayWriter, Truth
from cuas.schema import ObjectClass

# Dolen Omurzakov Stadium, Bishkek (approximate centre of the pitch)
SITE_LAT_DEG = 42.87460
SITE_LON_DEG = 74.60360
SITE_ALT_M = 780.0
SENSOR_ID = "rid-1"
START_UNIX = 1_764_403_200.0  # 2025-11-29 08:00:00 UTC, a fixed epoch for determinism

Path3 = Callable[[float], np.ndarray]  # t seconds from start -> ENU metres


@dataclass(frozen=True)
class Drone:
    object_id: str
    serial: str
    mac: str
    operator_id: str
    pilot_enu_m: tuple[float, float]
    path: Path3
    start_s: float
    end_s: float


def transit_then_orbit(
    start_en: tuple[float, float],
    speed_mps: float,
    height_m: float,
    orbit_radius_m: float,
    orbit_s: float,
) -> Path3:
    """Fly straight to the origin at ``speed_mps``, orbit over it, then leave eastwards."""
    start = np.array(start_en, dtype=float)
    dist = float(np.linalg.norm(start)) - orbit_radius_m
    heading = -start / np.linalg.norm(start)
    t_arrive = dist / speed_mps
    omega = speed_mps / orbit_radius_m
    entry_angle = math.atan2(-heading[1], -heading[0])

    def at(t: float) -> np.ndarray:
        if t <= t_arrive:
            e, n = start + heading * speed_mps * t
        elif t <= t_arrive + orbit_s:
            a = entry_angle - omega * (t - t_arrive)
            e, n = orbit_radius_m * math.cos(a), orbit_radius_m * math.sin(a)
        else:
            a = entry_angle - omega * orbit_s
            e0, n0 = orbit_radius_m * math.cos(a), orbit_radius_m * math.sin(a)
            e, n = e0 + speed_mps * (t - t_arrive - orbit_s), n0
        return np.array([e, n, height_m])

    return at


def circle(centre_en: tuple[float, float], radius_m: float, speed_mps: float, height_m: float):
    omega = speed_mps / radius_m

    def at(t: float) -> np.ndarray:
        a = omega * t
        return np.array(
            [centre_en[0] + radius_m * math.cos(a), centre_en[1] + radius_m * math.sin(a), height_m]
        )

    return at


def demo_drones(duration_s: float) -> list[Drone]:
    return [
        Drone(
            "intruder",
            "1581F5FJD239C00DW22E",
            "60:60:1f:a3:41:7c",
            "KGZ-OP-4411",
            (-980.0, 640.0),
            transit_then_orbit((-850.0, 520.0), 16.0, 70.0, 60.0, 25.0),
            2.0,
            duration_s,
        ),
        Drone(
            "survey",
            "1668C7A92B004H3Q9P1X",
            "90:3a:e6:5b:02:11",
            "KGZ-OP-1207",
            (1250.0, -150.0),
            circle((1150.0, 250.0), 180.0, 9.0, 90.0),
            0.0,
            duration_s,
        ),
    ]


def _fmt(value: float, unit: str) -> str:
    return f"{value:.1f} {unit}"


def location_block(lat: float, lon: float, alt_m: float, vel: np.ndarray, t_hour_s: float) -> dict:
    """A Location/Vector block in the unit-string style of the DroneID zmq_decoder."""
    speed = float(math.hypot(vel[0], vel[1]))
    direction = math.degrees(math.atan2(vel[0], vel[1])) % 360.0
    return {
        "Location/Vector Message": {
            "protocol_version": "F3411.22",
            "op_status": "Airborne",
            "height_type": "Above Takeoff",
            "ew_dir_segment": "East" if direction < 180 else "West",
            "speed_multiplier": "0.25",
            "direction": int(round(direction)) % 360,
            "speed": _fmt(speed, "m/s"),
            "vert_speed": _fmt(float(vel[2]), "m/s"),
            "latitude": f"{lat:.7f}",
            "longitude": f"{lon:.7f}",
            "pressure_altitude": "Undefined",
            "geodetic_altitude": _fmt(alt_m, "m"),
            "height_agl": _fmt(alt_m - SITE_ALT_M, "m"),
            "vertical_accuracy": "<10 m",
            "horizontal_accuracy": "<10 m",
            "baro_accuracy": "<10 m",
            "speed_accuracy": "<1 m/s",
            "timestamp": f"{int(t_hour_s // 60)} min {t_hour_s % 60:.1f} s",
            "timestamp_accuracy": "0.1 s",
        }
    }


def write_demo(path: Path, duration_s: float = 90.0, seed: int = 7) -> None:
    """Write the demo recording: Remote ID at 1 Hz per drone, IDs every 3 s, truth at 1 Hz."""
    rng = np.random.default_rng(seed)
    frame = EnuFrame(SITE_LAT_DEG, SITE_LON_DEG, SITE_ALT_M)
    writer = ReplayWriter(
        path,
        description=(
            "cuas demo: two Remote ID drones near Dolen Omurzakov Stadium, Bishkek; "
            "'intruder' breaches the stadium, 'survey' orbits outside. DragonSync JSON."
        ),
        sensors={SENSOR_ID: {"driver": "dragonsync"}},
        created_unix=START_UNIX,
    )
    drones = demo_drones(duration_s)
    for k in range(int(duration_s)):
        for j, drone in enumerate(drones):
            t_rel = k + 0.13 + 0.37 * j + float(rng.uniform(0.0, 0.05))
            if not drone.start_s <= t_rel <= drone.end_s:
                continue
            t_fly = t_rel - drone.start_s
            t_unix = START_UNIX + t_rel
            enu = drone.path(t_fly)
            vel = (drone.path(t_fly + 0.5) - drone.path(t_fly - 0.5)) / 1.0
            lat, lon, alt = frame.to_geodetic(enu)
            writer.truth(
                Truth(
                    t_unix,
                    drone.object_id,
                    ObjectClass.DRONE,
                    float(lat),
                    float(lon),
                    float(alt),
                    (float(vel[0]), float(vel[1]), float(vel[2])),
                )
            )
            noisy = enu + rng.normal(0.0, [2.5, 2.5, 3.0])
            nlat, nlon, nalt = frame.to_geodetic(noisy)
            t_hour = t_unix % 3600.0
            messages: list[list[dict]] = [
                [location_block(float(nlat), float(nlon), float(nalt), vel, t_hour)]
            ]
            if k % 3 == j % 3:
                plat, plon, _ = frame.to_geodetic([*drone.pilot_enu_m, 1.5])
                messages += [
                    [
                        {
                            "Basic ID": {
                                "protocol_version": "F3411.22",
                                "id_type": "Serial Number (ANSI/CTA-2063-A)",
                                "ua_type": "Helicopter (or Multirotor)",
                                "id": drone.serial,
                            }
                        }
                    ],
                    [
                        {
                            "Operator ID Message": {
                                "protocol_version": "F3411.22",
                                "operator_id_type": "Operator ID",
                                "operator_id": drone.operator_id,
                            }
                        }
                    ],
                    [
                        {
                            "System Message": {
                                "operator_location_type": "Live GNSS",
                                "classification_type": "EU",
                                "latitude": round(float(plat), 7),
                                "longitude": round(float(plon), 7),
                                "area_count": 1,
                                "area_radius": 0,
                                "area_ceiling": "Undefined",
                                "area_floor": "Undefined",
                                "ua_classification_category_type": "Open",
                                "ua_classification_category_class": "Class 2",
                                "geodetic_altitude": _fmt(SITE_ALT_M + 1.5, "m"),
                            }
                        }
                    ],
                ]
                messages = messages[1:] + messages[:1]  # identity first, like a real burst
            for i, blocks in enumerate(messages):
                blocks[0]["MAC"] = drone.mac
                data = json.dumps(blocks).encode()
                writer.frame(t_unix + 0.004 * i, SENSOR_ID, data)
    writer.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", type=Path)
    parser.add_argument("--duration", type=float, default=90.0)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    write_demo(args.out, args.duration, args.seed)


if __name__ == "__main__":
    main()
