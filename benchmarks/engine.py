"""The fusion engine against its own tracker kernel and Stone Soup, on radar plots.

Decoded detections in, tracks and alerts out, the alert rules evaluated as the engine
process does: N drones (straight legs and coordinated turns in a 5.6 km square, 40-280 m
up) seen by one rotating radar at the site reference (1 s scans, Pd 0.9, range/azimuth/
elevation noise 5 m / 0.2 deg / 0.3 deg, Poisson clutter per scan), the plots given to
``FusionEngine.ingest`` as the bus hands them over (``Detection`` objects with their 3x3
covariance), a quick step after each scan, a full step and a published picture (tracks
and alerts encoded for the bus) every ``publish_interval_s`` of wall-clock time, as in
``cuas.engine.service``. The site has a critical circle and a warning square at the
centre; radar tracks are of class "unknown", which this site counts as a drone class, so
every track is a candidate for the zone rules (the worst case for the alert path).

Measured in the same run on the same plots:

- engine: the above (``FusionEngine.ingest`` + ``step`` + bus encoding of what it publishes);
- kernel: ``Tracker.process_measurements`` + ``advance`` per scan on prebuilt arrays
  (the same measurement models and noise) — the floor the engine's own work adds to;
- Stone Soup: its GNN tracker (``cuas.score.stonesoup_ref``) on the plots converted to
  3-D positions, over its first ``--stonesoup-scans`` scans (it is slow).

    python benchmarks/engine.py                    # N = 100 and 1000
    python benchmarks/engine.py --n 100 --scans 60 --stonesoup-scans 0
"""

from __future__ import annotations

import argparse
import math
import platform
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from cuas.bus import encode
from cuas.config import DeploymentConfig
from cuas.engine.fusion import FusionEngine
from cuas.schema import Detection, MeasurementKind
from cuas.sim.targets import Scan, Scene, SceneConfig, make_scene
from cuas.store.sqlite import Store
from cuas.tracking import Tracker, TrackerConfig
from cuas.tracking.measurement import RANGE_AZ_EL, MeasurementBatch

LAT0, LON0, ALT0 = 42.87460, 74.60360, 780.0
RANGE_STD_M, AZ_STD_DEG, EL_STD_DEG = 5.0, 0.2, 0.3
T0_UNIX = 1_790_000_000.0


@dataclass
class RadarScan:
    t_unix: float
    polar: np.ndarray  # (k, 3) range_m, azimuth_rad (from north, clockwise), elevation_rad
    detections: list[Detection]


def deployment(clutter_per_scan: float) -> DeploymentConfig:
    """One site with a critical circle and a warning square; one radar at its reference."""
    d_lat, d_lon = 1000.0 / 110_540.0, 1000.0 / (111_320.0 * math.cos(math.radians(LAT0)))
    square = [
        (LAT0 - d_lat, LON0 - d_lon),
        (LAT0 - d_lat, LON0 + d_lon),
        (LAT0 + d_lat, LON0 + d_lon),
        (LAT0 + d_lat, LON0 - d_lon),
    ]
    return DeploymentConfig.model_validate(
        {
            "alerts": {"drone_classes": ["drone", "unknown"]},
            "sites": [
                {
                    "id": "site",
                    "name": "Benchmark site",
                    "reference": {"lat_deg": LAT0, "lon_deg": LON0, "alt_m": ALT0},
                    "zones": [
                        {
                            "id": "core",
                            "name": "Core",
                            "level": "critical",
                            "circle": {"lat_deg": LAT0, "lon_deg": LON0, "radius_m": 300.0},
                        },
                        {"id": "area", "name": "Area", "level": "warning", "polygon": square},
                    ],
                }
            ],
            "sensors": [
                {
                    "id": "radar",
                    "driver": "asterix",
                    "source": "udp://127.0.0.1:0",
                    "position": {"lat_deg": LAT0, "lon_deg": LON0, "alt_m": ALT0},
                    "noise": {
                        "range_m": RANGE_STD_M,
                        "azimuth_deg": AZ_STD_DEG,
                        "elevation_deg": EL_STD_DEG,
                    },
                    "clutter_per_scan": clutter_per_scan,
                }
            ],
        }
    )


def radar_scans(scene: Scene, seed: int) -> list[RadarScan]:
    """Each scan: the detected targets' true positions seen in polar with noise, plus
    Poisson clutter uniform over the scene's volume, shuffled."""
    cfg = scene.config
    rng = np.random.default_rng(seed)
    cov = np.diag([RANGE_STD_M**2, math.radians(AZ_STD_DEG) ** 2, math.radians(EL_STD_DEG) ** 2])
    out = []
    for k in range(cfg.n_scans):
        truth = scene.truth_enu_m[k][rng.random(cfg.n_targets) < cfg.pd]
        n_clutter = rng.poisson(cfg.clutter_per_scan)
        half = cfg.area_half_width_m
        clutter = np.column_stack(
            [
                rng.uniform(-half, half, (n_clutter, 2)),
                rng.uniform(20.0, cfg.ceiling_m, n_clutter),
            ]
        )
        enu = np.vstack([truth, clutter])
        rng.shuffle(enu)
        horiz = np.hypot(enu[:, 0], enu[:, 1])
        polar = np.column_stack(
            [
                np.hypot(horiz, enu[:, 2]),
                np.arctan2(enu[:, 0], enu[:, 1]),
                np.arctan2(enu[:, 2], horiz),
            ]
        )
        polar += rng.normal(0.0, 1.0, polar.shape) * np.sqrt(np.diag(cov))
        polar[:, 1] %= 2.0 * math.pi
        t_unix = T0_UNIX + k * cfg.scan_interval_s
        dets = [
            Detection(
                sensor_id="radar",
                t_unix=t_unix,
                kind=MeasurementKind.RANGE_AZ_EL,
                range_m=float(r),
                azimuth_rad=float(a),
                elevation_rad=float(e),
                covariance=cov.tolist(),
            )
            for r, a, e in polar
        ]
        out.append(RadarScan(t_unix, polar, dets))
    return out


def run_engine(scans: list[RadarScan], clutter: float, interval_s: float) -> dict[str, float]:
    """The engine as its process runs it; returns seconds and what it produced."""
    config = deployment(clutter)
    with tempfile.TemporaryDirectory() as tmp:
        store = Store(Path(tmp) / "cuas.db")
        engine = FusionEngine(config, store)
        n_det = n_alerts = n_published = n_full = 0
        wall = 0.0
        last_full = -math.inf
        for scan in scans:
            t0 = time.perf_counter()
            engine.ingest(scan.detections)
            full = t0 - last_full >= interval_s
            result = engine.step(scan.t_unix, full=full)
            if full:
                last_full = t0
                published = result.tracks
                n_full += 1
            else:
                alerted = {a.track_id for a in result.alerts}
                published = [t for t in result.tracks if t.track_id in alerted]
            out = [
                encode("tracks", "engine", 0, published),
                encode("alerts", "engine", 0, result.alerts),
            ]
            if result.lost:
                out.append(encode("tracks", "engine", 0, result.lost))
            wall += time.perf_counter() - t0
            n_det += len(scan.detections)
            n_alerts += len(result.alerts)
            n_published += len(published)
        live = len(engine.tracker.estimates()[0])
        store.close()
    return {
        "s": wall,
        "det": n_det,
        "alerts": n_alerts,
        "published": n_published,
        "full_steps": n_full,
        "live": live,
    }


def run_kernel(scans: list[RadarScan], clutter: float) -> float:
    """Tracker.process_measurements + advance per scan, on prebuilt measurement arrays."""
    config = deployment(clutter)
    section = config.tracker.model_dump(exclude={"publish_interval_s", "reorder_lag_s"})
    tracker = Tracker(TrackerConfig(**section))
    cov = scans[0].detections[0].covariance
    batches = []
    for scan in scans:
        k = len(scan.polar)
        z = np.zeros((k, 4))
        z[:, :3] = scan.polar
        R = np.zeros((k, 4, 4))
        R[:, :3, :3] = cov
        codes = np.full(k, RANGE_AZ_EL, np.int64)
        batches.append(MeasurementBatch(codes, z, R, np.zeros(3), np.eye(3)))
    wall = 0.0
    for scan, batch in zip(scans, batches, strict=True):
        keys = [None] * len(scan.polar)
        t0 = time.perf_counter()
        tracker.process_measurements(scan.t_unix, "radar", batch, keys)
        tracker.advance(scan.t_unix)
        wall += time.perf_counter() - t0
    return wall


def run_stone_soup(scene: Scene, scans: list[RadarScan], n_scans: int) -> float:
    """Stone Soup's GNN tracker on the same plots as 3-D positions; detections per second."""
    from cuas.score.stonesoup_ref import run_stonesoup

    cart = []
    for scan in scans[:n_scans]:
        r, a, e = scan.polar.T
        z = np.column_stack([r * np.cos(e) * np.sin(a), r * np.cos(e) * np.cos(a), r * np.sin(e)])
        cart.append(Scan(scan.t_unix - T0_UNIX, z, np.zeros(len(z), bool)))
    sub = Scene(scene.config, scene.truth_enu_m[:n_scans], scene.truth_vel_mps[:n_scans], cart)
    return run_stonesoup(sub).detections_per_s


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, nargs="+", default=[100, 1000])
    parser.add_argument("--scans", type=int, default=120)
    parser.add_argument("--clutter", type=float, default=20.0, help="false plots per scan")
    parser.add_argument("--publish-interval", type=float, default=0.5, help="s, wall clock")
    parser.add_argument(
        "--stonesoup-scans", type=int, nargs="+", default=[20, 4], help="per N; 0 skips it"
    )
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    caps = dict(zip(args.n, args.stonesoup_scans + [0] * len(args.n), strict=False))

    import numba

    print(
        f"python {platform.python_version()}, numba {numba.__version__}, "
        f"{platform.processor() or platform.machine()}; clutter {args.clutter:g}/scan, "
        f"{args.scans} scans of 1 s, full step every {args.publish_interval:g} s wall"
    )
    warm = make_scene(SceneConfig(n_targets=5, n_scans=5, seed=1))  # compile before timing
    warm_scans = radar_scans(warm, 1)
    run_engine(warm_scans, args.clutter, args.publish_interval)
    run_kernel(warm_scans, args.clutter)
    print(
        f"{'N':>5} {'det':>7} {'engine det/s':>12} {'kernel det/s':>12} {'engine/kernel':>13} "
        f"{'stonesoup det/s':>15} {'engine/SS':>9} {'full':>5} {'alerts':>6} {'tracks':>6}"
    )
    for n in args.n:
        scene = make_scene(
            SceneConfig(
                n_targets=n, n_scans=args.scans, clutter_per_scan=args.clutter, seed=args.seed
            )
        )
        scans = radar_scans(scene, args.seed)
        eng = run_engine(scans, args.clutter, args.publish_interval)
        kernel_s = run_kernel(scans, args.clutter)
        eng_rate = eng["det"] / eng["s"]
        kernel_rate = eng["det"] / kernel_s
        ss = run_stone_soup(scene, scans, caps[n]) if caps[n] else math.nan
        print(
            f"{n:>5} {eng['det']:>7} {eng_rate:>12.0f} {kernel_rate:>12.0f} "
            f"{eng_rate / kernel_rate:>13.2f} {ss:>15.0f} {eng_rate / ss:>9.0f} "
            f"{eng['full_steps']:>5} {eng['alerts']:>6} {eng['live']:>6}"
        )


if __name__ == "__main__":
    main()
