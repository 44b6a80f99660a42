"""Decoding rate per core through each driver's real frame entry, and `cuas replay` start-up.

Frames go through ``FrameDecoder`` (the driver host's decode step, as replay and the live
host use it), one process, one thread:

- ASTERIX CAT048: simulated radar scans (100 objects a scan: plots, radar tracks with
  I161/I170/I200, transponders with I090/I220, heights in I110) plus the real CroatiaControl
  plot from ../shared/data; peer: the same driver with ``decoder = "libasterix"``;
- SAPIENT DetectionReports (location and range/bearing, classified, with velocities) from
  a registered simulated node, plus Dstl's valid DetectionReport fixtures; peer:
  protobuf parsing plus sapient-pydantic's validation alone (the reference implementation);
- Remote ID DragonSync JSON: simulated receiver messages plus the real WarDragon samples;
  peer: ``json.loads`` of the same frames alone (the floor any JSON decoder pays).

``--baseline REF`` also runs the rate part on the drivers of git revision REF (exported to a
temporary folder, run in a subprocess) and prints new/old for each protocol.

Start-up: the wall time from launching ``python -m cuas replay`` on a one-frame CAT048
recording to the end of the run, and, in a process that does what ``cuas replay`` does, the
times from launch to its imports, its first decoded frame and its first engine step (the
tracker's first Numba dispatch loads Numba's compiler context), with whether libasterix's
generated module was imported. ``-X importtime``'s largest imports are listed.

Usage: python benchmarks/decode.py [--seconds S] [--baseline REF] [--json]
"""

from __future__ import annotations

import argparse
import base64
import json
import math
import os
import platform
import subprocess
import sys
import tarfile
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from types import SimpleNamespace

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared" / "data"
T0_UNIX = 1_764_406_800.0


# --- frames -------------------------------------------------------------------------------


def _observation(i: int, t_unix: float, rng: object, **extra: object) -> object:
    from cuas.schema import ObjectClass
    from cuas.sim.encode_common import Observation

    fields = dict(
        t_unix=t_unix,
        object_id=f"d{i}",
        object_class=ObjectClass.DRONE,
        lat_deg=42.88 + 1e-4 * i,
        lon_deg=74.61 - 1e-4 * i,
        alt_m=850.0 + i,
        vel_enu_mps=(5.0 - 0.1 * i, 3.0 + 0.05 * i, 0.5),
        range_m=rng.uniform(200.0, 3000.0),
        azimuth_rad=rng.uniform(0.0, 2 * math.pi),
        elevation_rad=rng.uniform(0.0, 0.3),
        radial_velocity_mps=None,
        rid_serial=None,
        operator_id=None,
        pilot=None,
        icao24=None,
        callsign=None,
        rf_band=None,
        rf_protocol=None,
        rssi_dbm=None,
        freq_mhz=None,
        sensor_track_id=None,
    )
    fields.update(extra)
    return Observation(**fields)


def _simulated(driver: str, scans: int, objects: int, extra: Callable[[int], dict]) -> list:
    import random

    from cuas.schema import GeoPoint
    from cuas.sim.encoders import ENCODERS

    rng = random.Random(48)
    position = GeoPoint(lat_deg=42.87, lon_deg=74.60, alt_m=800.0)
    spec = SimpleNamespace(id="bench", driver=driver, position=position, options={})
    state: dict = {}
    frames = []
    for scan in range(scans):
        t = T0_UNIX + scan
        observations = [_observation(i, t, rng, **extra(i)) for i in range(objects)]
        frames += [(t + 0.1, f) for f in ENCODERS[driver](spec, observations, state)]
    return frames


def asterix_frames() -> list:
    frames = _simulated(
        "asterix",
        20,
        100,
        lambda i: dict(
            sensor_track_id=i if i % 2 else None,
            icao24=f"{0x4B0000 + i:06x}" if i % 10 == 0 else None,
        ),
    )
    sample = SHARED / "asterix" / "cat048.raw"
    if sample.is_file():
        frames.append((T0_UNIX + 30.0, sample.read_bytes()))
    return frames


def sapient_frames() -> tuple[list, list]:
    """(set-up frames: registration and status, timed frames: detection reports)."""
    from google.protobuf import json_format
    from sapient_msg.bsi_flex_335_v2_0.sapient_message_pb2 import SapientMessage

    frames = _simulated("sapient", 20, 50, lambda i: {})
    frames += _simulated("sapient", 1, 50, lambda i: dict(range_m=None, elevation_rad=None))[1:]
    setup, reports = [], []
    for t, frame in frames:
        (reports if _is_detection(frame) else setup).append((t, frame))
    for path in sorted((SHARED / "sapient" / "valid").glob("*.json")):
        msg = json_format.Parse(path.read_text(), SapientMessage())
        if msg.WhichOneof("content") == "detection_report":
            reports.append(
                (msg.timestamp.seconds + msg.timestamp.nanos * 1e-9, msg.SerializeToString())
            )
        elif msg.WhichOneof("content") == "registration":
            setup.append((msg.timestamp.seconds, msg.SerializeToString()))
    return setup, reports


def _is_detection(frame: bytes) -> bool:
    from sapient_msg.bsi_flex_335_v2_0.sapient_message_pb2 import SapientMessage

    msg = SapientMessage()
    msg.ParseFromString(frame)
    return msg.WhichOneof("content") == "detection_report"


def dragonsync_frames() -> list:
    frames = _simulated(
        "dragonsync",
        20,
        100,
        lambda i: dict(rid_serial=f"1581F{i:010d}", rssi_dbm=-60.0 - i % 30, operator_id=f"OP{i}"),
    )
    folder = SHARED / "wardragon"
    sample = folder / "droneid_odid_wifi_sample.zmq.jsonl"
    if sample.is_file():
        frames += [(T0_UNIX, line.encode()) for line in sample.read_text().splitlines() if line]
    for name in ("dji_o4.json", "wifi_beacon.json", "system_attrs.json"):
        if (folder / name).is_file():
            frames.append((T0_UNIX, (folder / name).read_bytes()))
    return frames


# --- rates --------------------------------------------------------------------------------


def _decoder(driver: str, **options: object) -> object:
    from cuas.config import SensorConfig
    from cuas.driver.host import FrameDecoder
    from cuas.driver.registry import build_driver
    from cuas.schema import GeoPoint

    position = GeoPoint(lat_deg=42.87, lon_deg=74.60, alt_m=800.0)
    sensor = SensorConfig(
        id="bench", driver=driver, source="replay:", position=position, options=options
    )
    return FrameDecoder(build_driver(sensor))


def _rate(run: Callable[[], int], seconds: float) -> tuple[float, int]:
    """Items per CPU-second of ``run`` (which returns how many it did), best of timed passes.

    CPU time of this process, not wall time: on a shared machine the wall clock counts the
    time other jobs held the core.
    """
    count = run()  # warm-up: caches, first-use imports
    best = 0.0
    spent = 0.0
    passes = 0
    while spent < seconds or passes < 3:
        start = time.process_time()
        count = run()
        elapsed = time.process_time() - start
        spent += elapsed
        passes += 1
        best = max(best, count / elapsed)
    return best, count


def _through(decoder: object, frames: list) -> Callable[[], int]:
    def run() -> int:
        n = 0
        for t, frame in frames:
            n += len(decoder(t, frame))
        if decoder.counters["malformed"]:
            raise SystemExit(f"benchmark frames were refused: {dict(decoder.counters)}")
        return n

    return run


def calibration_ms() -> float:
    """CPU ms of a fixed pure-Python loop: how fast this core ran Python while the rates
    were measured (lower is faster); runs on different machines or loads compare by it."""

    def loop() -> int:
        total = 0
        for i in range(400_000):
            total += i & 7
        return total

    best = math.inf
    for _ in range(5):
        start = time.process_time()
        loop()
        best = min(best, time.process_time() - start)
    return best * 1e3


def rates(seconds: float, peers: bool) -> dict[str, dict[str, float]]:
    out: dict[str, dict[str, float]] = {"calibration": {"loop_ms": calibration_ms()}}
    frames = asterix_frames()
    rate, n = _rate(_through(_decoder("asterix"), frames), seconds)
    out["asterix_cat048"] = {"per_s": rate, "items": n}
    if peers:
        few = frames[:4] + frames[-1:]
        peer, _ = _rate(_through(_decoder("asterix", decoder="libasterix"), few), seconds / 2)
        out["asterix_cat048"]["peer_per_s"] = peer

    setup, reports = sapient_frames()
    decoder = _decoder("sapient")
    for t, frame in setup:
        decoder(t, frame)
    rate, n = _rate(_through(decoder, reports), seconds)
    out["sapient_detection_report"] = {"per_s": rate, "items": n}
    if peers:
        peer, _ = _rate(_sapient_reference(reports), seconds)
        out["sapient_detection_report"]["peer_per_s"] = peer

    frames = dragonsync_frames()
    rate, n = _rate(_through(_decoder("dragonsync"), frames), seconds)
    out["dragonsync_json"] = {"per_s": rate, "items": n, "frames": len(frames)}
    out["dragonsync_json"]["frames_per_s"] = rate * len(frames) / n
    if peers:
        peer, _ = _rate(lambda: sum(1 for _, f in frames if json.loads(f) is not None), seconds)
        out["dragonsync_json"]["peer_frames_per_s"] = peer
    out["calibration"]["loop_ms_after"] = calibration_ms()
    return out


def _sapient_reference(reports: list) -> Callable[[], int]:
    from sapient_msg.bsi_flex_335_v2_0.sapient_message_pb2 import SapientMessage
    from sapient_msg_pydantic.bsi_flex_335_v2_0.sapient_message import (
        SapientMessage as Reference,
    )

    def run() -> int:
        for _, frame in reports:
            msg = SapientMessage()
            msg.ParseFromString(frame)
            Reference.from_pb2(msg)
        return len(reports)

    return run


def baseline_rates(ref: str, seconds: float) -> dict[str, dict[str, float]]:
    """The rate part of this script on the drivers and core of git revision ``ref``."""
    with tempfile.TemporaryDirectory() as tmp:
        archive = subprocess.run(
            ["git", "-C", str(REPO), "archive", ref, "src", "drivers"],
            check=True,
            capture_output=True,
        ).stdout
        archive_path = Path(tmp) / "ref.tar"
        archive_path.write_bytes(archive)
        with tarfile.open(archive_path) as tar:
            tar.extractall(tmp, filter="data")
        env = {**os.environ, "PYTHONPATH": f"{tmp}/src{os.pathsep}{tmp}/drivers"}
        result = subprocess.run(
            [sys.executable, __file__, "--rates-only", "--seconds", str(seconds)],
            check=True,
            capture_output=True,
            text=True,
            env=env,
        )
        return json.loads(result.stdout)


# --- start-up -------------------------------------------------------------------------------

_FIRST_FRAME = """
import sys, time
from pathlib import Path
from cuas.config import load_config
from cuas.driver import host
from cuas.replay.pipeline import run_replay
marks = {"imports": time.time()}
decode = host.FrameDecoder.__call__
def first_decode(self, t_rx_unix, frame):
    out = decode(self, t_rx_unix, frame)
    marks.setdefault("decoded", time.time())
    return out
host.FrameDecoder.__call__ = first_decode
config = load_config(Path(sys.argv[1]))
run_replay(config, Path(sys.argv[2]), on_step=lambda t: marks.setdefault("stepped", time.time()))
print(marks["imports"], marks["decoded"], marks["stepped"], "asterix.generated" in sys.modules)
"""


def _one_frame_replay(folder: Path) -> Path:
    sample = SHARED / "asterix" / "cat048.raw"
    frame = sample.read_bytes() if sample.is_file() else asterix_frames()[0][1]
    path = folder / "one_plot.jsonl"
    header = {
        "type": "header",
        "format": "cuas-replay",
        "version": 1,
        "description": "one CAT048 frame (benchmarks/decode.py start-up)",
        "sensors": {"radar-1": {"driver": "asterix"}},
    }
    record = {
        "type": "frame",
        "t": T0_UNIX,
        "sensor": "radar-1",
        "b64": base64.b64encode(frame).decode(),
    }
    path.write_text(json.dumps(header) + "\n" + json.dumps(record) + "\n")
    return path


def startup(repeats: int = 3) -> dict:
    env = {**os.environ, "PYTHONPATH": f"{REPO / 'src'}{os.pathsep}{REPO / 'drivers'}"}
    config = REPO / "configs" / "demo.toml"
    with tempfile.TemporaryDirectory() as tmp:
        replay = _one_frame_replay(Path(tmp))
        whole, marks, libasterix = [], [], False
        for _ in range(repeats):
            start = time.time()
            subprocess.run(
                [sys.executable, "-m", "cuas", "replay", str(replay)],
                check=True,
                capture_output=True,
                env=env,
            )
            whole.append(time.time() - start)
            start = time.time()
            result = subprocess.run(
                [sys.executable, "-c", _FIRST_FRAME, str(config), str(replay)],
                check=True,
                capture_output=True,
                text=True,
                env=env,
            )
            *times, imported = result.stdout.split()
            marks.append([float(t) - start for t in times])
            libasterix = libasterix or imported == "True"
        importtime = subprocess.run(
            [sys.executable, "-X", "importtime", "-m", "cuas", "replay", str(replay)],
            check=True,
            capture_output=True,
            text=True,
            env=env,
        ).stderr
    median = sorted(marks)[len(marks) // 2]
    return {
        "replay_wall_s": sorted(whole)[len(whole) // 2],
        "imports_s": median[0],
        "first_frame_s": median[1],
        "first_step_s": median[2],
        "libasterix_imported": libasterix,
        "largest_imports": _largest_imports(importtime),
    }


def _largest_imports(text: str, n: int = 8) -> list[tuple[str, float]]:
    """Top-level-ish imports by cumulative time (those not inside another listed one)."""
    rows = []
    for line in text.splitlines():
        if not line.startswith("import time:") or "cumulative" in line:
            continue
        _, cumulative, name = line.split("|")
        rows.append((name.rstrip(), int(cumulative) / 1e6))
    top = [(name.strip(), s) for name, s in rows if len(name) - len(name.lstrip()) <= 3]
    return sorted(top, key=lambda r: -r[1])[:n]


# --- report ----------------------------------------------------------------------------------


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=2.0, help="timed seconds per rate")
    parser.add_argument("--baseline", help="git revision whose decoders to compare against")
    parser.add_argument("--rates-only", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    args = parser.parse_args()
    if args.rates_only:
        print(json.dumps(rates(args.seconds, peers=False)))
        return
    new = rates(args.seconds, peers=True)
    old = baseline_rates(args.baseline, args.seconds) if args.baseline else None
    boot = startup()
    if args.json:
        print(json.dumps({"rates": new, "baseline": old, "startup": boot}, indent=2))
        return
    calibration = new.pop("calibration")
    print(f"python {platform.python_version()}, {os.cpu_count()} CPUs, {platform.machine()}; ")
    print(
        f"calibration loop {calibration['loop_ms']:.1f} ms before, "
        f"{calibration['loop_ms_after']:.1f} ms after (CPU time of a fixed loop: lower is faster)"
    )
    print("per CPU-second of one core:")
    print(f"{'decoder':28s} {'per s':>9s}  {'peer per s':>10s} {'ratio':>7s}", end="")
    print(f"  {'old per s':>9s} {'new/old':>7s}" if old else "")
    peers = {
        "asterix_cat048": ("peer_per_s", "libasterix, plots"),
        "sapient_detection_report": ("peer_per_s", "pb2 + sapient-pydantic, reports"),
        "dragonsync_json": ("peer_frames_per_s", "json.loads, frames"),
    }
    for name, figures in new.items():
        key, peer_name = peers[name]
        ours = figures["frames_per_s"] if key == "peer_frames_per_s" else figures["per_s"]
        line = (
            f"{name:28s} {figures['per_s']:9.0f}  {figures[key]:10.0f} {ours / figures[key]:6.2f}x"
        )
        if old:
            line += f"  {old[name]['per_s']:9.0f} {figures['per_s'] / old[name]['per_s']:6.1f}x"
        print(line + f"   (peer: {peer_name})")
    dragonsync = new["dragonsync_json"]
    print(
        f"dragonsync: {dragonsync['frames_per_s']:.0f} frames/s, of which "
        f"{dragonsync['items']} of {dragonsync['frames']} carry a position (the rest IDs)"
    )
    print(
        f"start-up: `cuas replay` of one CAT048 frame {boot['replay_wall_s']:.2f} s wall; "
        f"after launch: imports done {boot['imports_s']:.2f} s, first frame decoded "
        f"{boot['first_frame_s']:.2f} s, first engine step done {boot['first_step_s']:.2f} s; "
        f"libasterix imported: {boot['libasterix_imported']}"
    )
    print(
        "largest imports (cumulative s): "
        + ", ".join(f"{n} {s:.2f}" for n, s in boot["largest_imports"])
    )


if __name__ == "__main__":
    main()
