"""`cuas replay --speed max` end to end on a radar-heavy recording, and where its time goes.

Simulates ``benchmarks/scenarios/radar_100.toml`` (100 drones for 60 s: a rotating radar in
ASTERIX CAT048 with clutter, two RF direction finders, a Remote ID receiver; about 11,000
detections), then

- runs ``cuas replay FILE --speed max`` as its own process: wall time from start to exit
  (start-up included), and the replay's own detections per second (its ``wall_s``);
- runs the same replay in-process under cProfile and prints the time per part of the
  code (decoding: the drivers and libasterix; tracker: ``cuas.tracking``, the kernel alone;
  engine: ``cuas.engine``; alert rules: ``cuas.alerting``; replay file reading; pydantic;
  other), with the top functions; "kernel share" is the tracker's part, the ratio of the
  whole to the kernel alone.

    python benchmarks/replay.py                       # simulate, replay, profile
    python benchmarks/replay.py --file rec.jsonl.gz   # an existing recording
"""

from __future__ import annotations

import argparse
import contextlib
import cProfile
import io
import json
import platform
import pstats
import subprocess
import sys
import tempfile
import time
from pathlib import Path

SCENARIO = Path(__file__).resolve().parent / "scenarios" / "radar_100.toml"
PARTS = (  # (part, substrings of a profiled function's file); first match wins
    ("decoding", ("cuas_drivers", "/asterix/", "cuas/driver/")),
    ("tracker", ("cuas/tracking/",)),
    ("engine", ("cuas/engine/", "cuas/plausibility")),
    ("alert rules", ("cuas/alerting/", "cuas/store/")),
    ("replay file", ("cuas/replay/", "gzip", "json")),
    ("pydantic", ("pydantic",)),
    ("numpy", ("numpy",)),
)


def simulate(out: Path) -> None:
    cmd = [sys.executable, "-m", "cuas", "simulate", str(SCENARIO), "-o", str(out)]
    subprocess.run(cmd, check=True, capture_output=True, text=True)


def replay_process(path: Path) -> tuple[float, dict]:
    """`cuas replay --speed max` as a process: its wall time and its JSON summary."""
    t0 = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-m", "cuas", "replay", str(path), "--speed", "max"],
        check=True,
        capture_output=True,
        text=True,
    )
    return time.perf_counter() - t0, json.loads(done.stdout)


def part_of(filename: str, name: str) -> str:
    where = f"{filename}:{name}"
    for part, needles in PARTS:
        if any(n in where for n in needles):
            return part
    return "other"


def profile(path: Path) -> tuple[float, pstats.Stats]:
    """The replay in-process under cProfile (imports done before); profiled seconds."""
    from cuas.cli import main as cli_main

    profiler = cProfile.Profile()
    with contextlib.redirect_stdout(io.StringIO()):  # the summary JSON is not wanted here
        t0 = time.perf_counter()
        profiler.enable()
        cli_main(["replay", str(path), "--speed", "max"])
        profiler.disable()
        wall = time.perf_counter() - t0
    return wall, pstats.Stats(profiler)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--file", type=Path, help="a recording (default: simulate radar_100)")
    parser.add_argument("--top", type=int, default=15, help="functions listed by own time")
    args = parser.parse_args()
    print(f"python {platform.python_version()}, {platform.processor() or platform.machine()}")
    with tempfile.TemporaryDirectory() as tmp:
        path = args.file or Path(tmp) / "radar_100.jsonl.gz"
        if args.file is None:
            simulate(path)
        process_s, summary = replay_process(path)
        det = summary["detections"]
        print(
            f"recording {summary['recording_s']:.1f} s, {summary['frames']} frames, {det} "
            f"detections; {summary['tracks']} tracks ({summary['confirmed_tracks']} "
            f"confirmed), {summary['alerts']} alerts"
        )
        print(
            f"cuas replay --speed max: {process_s:.2f} s as a process (start-up included), "
            f"replay {summary['wall_s']:.2f} s: {det / summary['wall_s']:.0f} det/s, "
            f"{summary['recording_s'] / summary['wall_s']:.1f}x real time"
        )
        wall, stats = profile(path)
    own: dict[str, float] = {}
    for (filename, _, name), (_, _, tottime, _, _) in stats.stats.items():  # type: ignore[attr-defined]
        own[part_of(filename, name)] = own.get(part_of(filename, name), 0.0) + tottime
    total = sum(own.values())
    print(f"profile (cProfile, in-process, {wall:.1f} s with profiling overhead), own time:")
    for part, seconds in sorted(own.items(), key=lambda kv: -kv[1]):
        print(f"  {part:<12} {seconds:>7.2f} s {100 * seconds / total:>5.1f} %")
    print(f"  kernel share (tracker / all): {own.get('tracker', 0.0) / total:.2f}")
    print(f"top {args.top} functions by own time:")
    stats.sort_stats("tottime").print_stats(args.top)


if __name__ == "__main__":
    main()
