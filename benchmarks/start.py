"""Cold and warm start of `cuas run` on the bundled demo: seconds to the first served dashboard
and to the first live track, with an empty Numba cache (cold: what the first start after an
install without `cuas warmup` costs) and then with the cache that run left (warm).

    python benchmarks/start.py [--runs N]

The demo recording's first detection comes some seconds after its start; that offset is
printed too, since no start can show a track before it. Each run has its own API port, store
(and so bus sockets) and cache folder; the ratio cold/warm is of the same machine in the
same minutes.
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
DEMO_CONFIG = ROOT / "configs" / "demo.toml"
DEMO_RECORDING = ROOT / "replay_data" / "demo.jsonl.gz"
LIMIT_S = 600.0


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def first_detection_offset_s() -> float:
    """Seconds from the recording's first frame to its first frame for a sensor with
    something in it (the demo's drone appears a while after the receiver starts)."""
    times = []
    with gzip.open(DEMO_RECORDING, "rt", encoding="utf-8") as f:
        for line in f:
            rec = json.loads(line)
            if rec.get("type") == "frame":
                times.append(rec["t"])
            elif rec.get("type") == "truth" and times:
                return rec["t"] - times[0]
    return 0.0


def config_text(data_dir: Path) -> str:
    text = DEMO_CONFIG.read_text(encoding="utf-8")
    for old, new in (
        ("port = 8000", f"port = {free_port()}"),
        ('data_dir = "../var/demo"', f'data_dir = "{data_dir.as_posix()}"'),
        ("replay:../replay_data/", f"replay:{(ROOT / 'replay_data').as_posix()}/"),
    ):
        assert old in text, f"configs/demo.toml no longer has {old!r}"
        text = text.replace(old, new, 1)
    return text


def one_start(workdir: Path, cache_dir: Path) -> tuple[float, float]:
    """(seconds to the dashboard, seconds to the first track) of one `cuas run`."""
    text = config_text(workdir / "data")
    config = workdir / "deploy.toml"
    config.write_text(text, encoding="utf-8")
    base = f"http://127.0.0.1:{text.split('port = ', 1)[1].split()[0]}"
    env = {**os.environ, "NUMBA_CACHE_DIR": str(cache_dir)}
    t0 = time.perf_counter()
    proc = subprocess.Popen(
        [sys.executable, "-m", "cuas", "run", "--config", str(config)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    dashboard_s = track_s = None
    try:
        while time.perf_counter() - t0 < LIMIT_S and track_s is None:
            try:
                if dashboard_s is None and httpx.get(base + "/", timeout=2).status_code == 200:
                    dashboard_s = time.perf_counter() - t0
                if dashboard_s is not None and httpx.get(base + "/api/v1/tracks", timeout=2).json():
                    track_s = time.perf_counter() - t0
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
    finally:
        os.killpg(proc.pid, signal.SIGINT)
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
    if dashboard_s is None or track_s is None:
        raise SystemExit(f"no dashboard or no track within {LIMIT_S:g} s")
    return dashboard_s, track_s


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=1, help="cold+warm pairs (default 1)")
    args = parser.parse_args()
    print(f"demo recording: first drone {first_detection_offset_s():.1f} s after its start")
    cold, warm = [], []
    for _ in range(args.runs):
        with tempfile.TemporaryDirectory() as tmp:
            cache = Path(tmp) / "numba-cache"
            for name, into in (("cold", cold), ("warm", warm)):
                workdir = Path(tmp) / name
                workdir.mkdir()
                into.append(one_start(workdir, cache))
                print(f"{name}: dashboard {into[-1][0]:6.1f} s, first track {into[-1][1]:6.1f} s")
    for name, runs in (("cold", cold), ("warm", warm)):
        d = statistics.median(r[0] for r in runs)
        t = statistics.median(r[1] for r in runs)
        print(f"median {name}: dashboard {d:6.1f} s, first track {t:6.1f} s")
    ratio = statistics.median(r[1] for r in cold) / statistics.median(r[1] for r in warm)
    print(f"first track, cold/warm: {ratio:.1f}x")


if __name__ == "__main__":
    main()
