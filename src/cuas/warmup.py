"""Compile the tracker's Numba kernels before they are needed, and say so while it happens.

A cold Numba cache costs a minute or more of compiling on a small machine. ``cuas warmup``
(run by quickstart.py after installing) and the engine's own start run a short synthetic
scene through a throwaway engine, so the kernels are compiled (or loaded from the cache)
before the first live detection, and every compilation is reported as it starts.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from pathlib import Path

from numba.core import event

from cuas.bundled import demo_file
from cuas.config import DeploymentConfig, load_config
from cuas.schema import Detection, GeoPoint, Identity, MeasurementKind

SCENE_STEPS = 15  # enough scans to confirm tracks (M of N) and coast them
SCENE_STEP_S = 1.0
SPEED_MPS = 12.0


class CompileReport(event.Listener):
    """Calls ``say(text)`` as each of our kernels starts compiling and counts them."""

    def __init__(self, say: Callable[[str], None]) -> None:
        self.say = say
        self.compiled = 0

    def on_start(self, ev: event.Event) -> None:
        func = ev.data["dispatcher"].py_func
        if not func.__module__.startswith("cuas"):
            return  # numpy's and Numba's own helpers, compiled within ours
        self.compiled += 1
        self.say(
            f"compiling tracker kernel {self.compiled}: {func.__qualname__} (once per install)"
        )

    def on_end(self, ev: event.Event) -> None:
        pass


def report_compiles(say: Callable[[str], None]) -> CompileReport:
    """Install a CompileReport for the rest of the process (the engine's lifetime)."""
    report = CompileReport(say)
    event.register("numba:compile", report)
    return report


def _scene(config: DeploymentConfig, t0_unix: float) -> list[list[Detection]]:
    """Per step: an identified and an anonymous position report, a radar plot and a bearing,
    of objects flying east past the first site's reference."""
    ref = config.sites[0].reference
    sensor_id = config.sensors[0].id if config.sensors else "warmup"
    m_per_deg_lat = 111_132.0
    m_per_deg_lon = m_per_deg_lat * math.cos(math.radians(ref.lat_deg))
    steps = []
    for k in range(SCENE_STEPS):
        t = t0_unix + k * SCENE_STEP_S
        east_m = -200.0 + SPEED_MPS * k * SCENE_STEP_S

        def at(north_m: float, east_m: float = east_m) -> GeoPoint:
            return GeoPoint(
                lat_deg=ref.lat_deg + north_m / m_per_deg_lat,
                lon_deg=ref.lon_deg + east_m / m_per_deg_lon,
                alt_m=(ref.alt_m or 0.0) + 80.0,
            )

        position = MeasurementKind.POSITION
        steps.append(
            [
                Detection(
                    sensor_id=sensor_id,
                    t_unix=t,
                    kind=position,
                    position=at(100.0),
                    identity=Identity(rid_serial="WARMUP0000000001"),
                ),
                Detection(sensor_id=sensor_id, t_unix=t, kind=position, position=at(-300.0)),
                Detection(
                    sensor_id=sensor_id,
                    t_unix=t,
                    kind=MeasurementKind.RANGE_AZ_EL,
                    range_m=math.hypot(east_m, 600.0),
                    azimuth_rad=math.atan2(east_m, 600.0),
                    elevation_rad=0.1,
                ),
                Detection(
                    sensor_id=sensor_id,
                    t_unix=t,
                    kind=MeasurementKind.BEARING,
                    azimuth_rad=math.atan2(east_m, -900.0),
                ),
            ]
        )
    return steps


def warm_kernels(config: DeploymentConfig) -> None:
    """Run the synthetic scene through a throwaway engine with an in-memory store."""
    from cuas.engine.fusion import FusionEngine
    from cuas.store.sqlite import Store

    store = Store(":memory:")
    try:
        engine = FusionEngine(config, store)
        t0_unix = time.time() - SCENE_STEPS * SCENE_STEP_S
        for k, batch in enumerate(_scene(config, t0_unix)):
            engine.ingest(batch)
            engine.step(t0_unix + (k + 1) * SCENE_STEP_S, full=True)
    finally:
        store.close()


def run_warmup(config_path: Path | None, say: Callable[[str], None]) -> int:
    """``cuas warmup``: the kernels for ``config_path`` (the bundled demo by default)."""
    config = load_config(config_path or demo_file(Path("configs") / "demo.toml"))
    say("warming up: compiling the tracker's kernels, or loading them from the cache ...")
    t0 = time.perf_counter()
    with event.install_listener("numba:compile", CompileReport(say)) as report:
        warm_kernels(config)
    took_s = time.perf_counter() - t0
    if report.compiled:
        say(f"compiled {report.compiled} kernels in {took_s:.0f} s; later starts load them")
    else:
        say(f"kernels ready from the cache ({took_s:.1f} s)")
    return 0
