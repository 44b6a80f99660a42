"""Time the look-back picture (``GET /api/v1/picture?t=``) on a real SQLite file holding
an hour of history for 1,000 simultaneous tracks, against the same track query forced to
scan the table (what it cost before the ``track_history(t)`` index).

The history is written in the store's own layout, one point per track a second (what the
API process stores); alerts go through the store's own transitions (raised, acknowledged,
cleared). Figures: the store queries alone, and the whole HTTP request through the app
(FastAPI's in-process test client: routing, validation and JSON, no socket).

Usage: python benchmarks/lookback.py [--tracks 1000] [--seconds 3600] [--alerts 2000]
"""

import argparse
import random
import statistics
import tempfile
import time
from pathlib import Path

from fastapi.testclient import TestClient

from cuas.api.app import create_app
from cuas.config import load_config
from cuas.schema import ZoneLevel
from cuas.store.lookback import alerts_at, tracks_at
from cuas.store.sqlite import Store

REPO = Path(__file__).resolve().parents[1]
T0 = 1_764_403_200.0
WINDOW_S, TRAIL_S = 5.0, 30.0
QUERIES = 30


def fill(store: Store, tracks: int, seconds: int, alerts: int, rng: random.Random) -> None:
    for s in range(seconds):
        rows = [
            (
                f"T{i}",
                T0 + s + i / tracks,
                42.87 + i * 1e-5 + s * 1e-6,
                74.60,
                850.0,
                "confirmed",
                "drone",
            )
            for i in range(tracks)
        ]
        with store.write() as db:
            db.executemany("INSERT INTO track_history VALUES (?,?,?,?,?,?,?)", rows)
    for k in range(alerts):
        t_raise = T0 + rng.uniform(0, seconds - 60)
        alert = store.raise_alert(
            site_id="s",
            zone_id="bowl",
            zone_level=ZoneLevel.CRITICAL,
            rule="drone_in_zone",
            object_key=f"k{k}",
            track=None,
            t_unix=t_raise,
            reason="in",
        )
        store.acknowledge(alert.alert_id, "op", None, t_raise + rng.uniform(1, 20))
        if rng.random() < 0.9:
            store.clear(alert.alert_id, t_raise + rng.uniform(25, 60), "left", None)


def scan_tracks(store: Store, t: float) -> int:
    """The peer: tracks_at's two queries without the index on t (full table scans)."""
    with store.read() as db:
        latest = db.execute(
            "SELECT track_id, MAX(t), lat_deg, lon_deg, alt_m, status, object_class"
            " FROM track_history NOT INDEXED WHERE t >= ? AND t <= ? GROUP BY track_id",
            (t - WINDOW_S, t),
        ).fetchall()
        trails = db.execute(
            "SELECT track_id, t, lat_deg, lon_deg, alt_m FROM track_history NOT INDEXED"
            " WHERE t >= ? AND t <= ? ORDER BY track_id, t",
            (t - TRAIL_S, t),
        ).fetchall()
    return len(latest) + len(trails)


def median_ms(fn, times: list[float]) -> float:
    samples = []
    for t in times:
        start = time.perf_counter()
        fn(t)
        samples.append(time.perf_counter() - start)
    return statistics.median(samples) * 1e3


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tracks", type=int, default=1000)
    parser.add_argument("--seconds", type=int, default=3600)
    parser.add_argument("--alerts", type=int, default=2000)
    args = parser.parse_args()
    rng = random.Random(7)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "cuas.sqlite"
        store = Store(path)
        start = time.perf_counter()
        fill(store, args.tracks, args.seconds, args.alerts, rng)
        print(
            f"history: {args.tracks} tracks x {args.seconds} s = {args.tracks * args.seconds:,}"
            f" points, {args.alerts} alerts; {path.stat().st_size / 1e6:.0f} MB,"
            f" written in {time.perf_counter() - start:.0f} s"
        )
        times = [T0 + rng.uniform(60, args.seconds) for _ in range(QUERIES)]
        shown = len(tracks_at(store, times[0], WINDOW_S, TRAIL_S))
        open_then = len(alerts_at(store, times[0]))
        t_tracks = median_ms(lambda t: tracks_at(store, t, WINDOW_S, TRAIL_S), times)
        t_alerts = median_ms(lambda t: alerts_at(store, t), times)
        t_scan = median_ms(lambda t: scan_tracks(store, t), times[:5])

        app = create_app(load_config(REPO / "configs" / "demo.toml"), store, None)
        with TestClient(app) as client:
            sizes = []

            def get(t: float) -> None:
                r = client.get("/api/v1/picture", params={"t": t})
                r.raise_for_status()
                sizes.append(len(r.content))

            t_http = median_ms(get, times)
        store.close()
    size_mb = statistics.median(sizes) / 1e6
    print(f"picture at t: {shown} tracks with {TRAIL_S:g} s trails, {open_then} open alerts")
    print(f"  tracks_at (index on t)      {t_tracks:8.1f} ms median of {QUERIES}")
    print(f"  same, full table scans      {t_scan:8.1f} ms  ({t_scan / t_tracks:.0f}x the indexed)")
    print(f"  alerts_at                   {t_alerts:8.1f} ms")
    print(f"  GET /api/v1/picture         {t_http:8.1f} ms  ({size_mb:.1f} MB of JSON)")


if __name__ == "__main__":
    main()
