"""Alert latency: from a detection entering a driver to its alert on the WebSocket.

Runs the real service (`cuas run`: drivers, engine and API as processes) on loopback with
free ports and a temporary config, and feeds its Remote ID receiver the way a WarDragon
decoder does: DragonSync JSON on ZeroMQ PUB sockets. A feeder process sends background load
(1,000 drones circling 2-4 km out, outside every zone) at a set rate of detections a second
to one receiver, and every PROBE_EVERY_S a new probe drone appears inside the critical zone
and reports at 20 Hz to a second receiver (so a probe's send times are not queued behind
the load in the feeder's own socket; both receivers share the driver process, the buses,
the engine and the API).
A confirmed drone track in a zone raises an alert, and confirmation takes
`confirm_hits` detections, so the probe's confirm_hits-th detection is the first that can
make the alert: latency is from its send to the alert arriving on the WebSocket. The alert
is also timed on the engine's output bus, which splits the latency into the engine part
(driver, ingest bus, reorder buffer, tracker, alert rules, SQLite) and the API part.

Each load runs with the shipped tracker settings (`[tracker] reorder_lag_s = 0`: detections
go to the tracker at once) and with `reorder_lag_s = 0.05`, a site that holds every
detection back 50 ms to put jittery sensors back in time order.

Usage: python benchmarks/alert_latency.py [--rates 1000,10000] [--probes 100]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import math
import multiprocessing as mp
import os
import platform
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import websockets
import zmq

from cuas.bus import TOPIC_ALERTS, decode

LAT0, LON0, ALT0 = 42.87460, 74.60360, 780.0  # the demo site's reference (stadium centre)
M_PER_DEG_LAT = 110_540.0
M_PER_DEG_LON = 111_320.0 * math.cos(math.radians(LAT0))
PROBE_HZ = 20.0
PROBE_REPORTS = 8  # per probe; confirmation needs confirm_hits of them
PROBE_EVERY_S = 0.5  # a probe has stopped reporting before the next one starts
CONFIRM_HITS = 3  # the tracker's default [tracker] confirm_hits
WARMUP_S = 4.0
SETTLE_S = 3.0

CONFIG = """
[service]
data_dir = "{data_dir}"
log_level = "warning"

[api]
host = "127.0.0.1"
port = {api_port}

[bus]
ingest = "tcp://127.0.0.1:{ingest_port}"
output = "tcp://127.0.0.1:{output_port}"

[tracker]
{tracker}

[[sites]]
id = "dolen-omurzakov"
name = "Dolen Omurzakov Stadium, Bishkek"
reference = {{ lat_deg = {lat0}, lon_deg = {lon0}, alt_m = {alt0} }}

[[sites.zones]]
id = "bowl"
name = "Stadium bowl (circle, 110 m)"
level = "critical"
floor_m = 0.0
ceiling_m = 400.0
polygon = {bowl}

[[sensors]]
id = "rid-1"
driver = "dragonsync"
source = "zmq+tcp://127.0.0.1:{probe_port}"
position = {{ lat_deg = {lat0}, lon_deg = {lon0}, alt_m = 805.0 }}

[[sensors]]
id = "rid-far"
driver = "dragonsync"
source = "zmq+tcp://127.0.0.1:{feed_port}"
position = {{ lat_deg = {lat0}, lon_deg = {lon0}, alt_m = 805.0 }}
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def latlon(east_m: float, north_m: float) -> tuple[float, float]:
    """Small-offset ENU -> WGS84 around the reference (error well under a metre at 4 km)."""
    return LAT0 + north_m / M_PER_DEG_LAT, LON0 + east_m / M_PER_DEG_LON


def bowl_polygon(radius_m: float = 110.0, sides: int = 24) -> str:
    points = []
    for i in range(sides):
        a = 2 * math.pi * i / sides
        lat, lon = latlon(radius_m * math.sin(a), radius_m * math.cos(a))
        points.append(f"[{lat:.7f}, {lon:.7f}]")
    return "[" + ", ".join(points) + "]"


def dragonsync(mac: str, serial: str, lat: float, lon: float, alt_m: float) -> bytes:
    """One Remote ID message as a DragonSync/WarDragon decoder publishes it (list of blocks)."""
    return (
        f'[{{"MAC": "{mac}", "Basic ID": {{"id_type": "Serial Number (ANSI/CTA-2063-A)", '
        f'"id": "{serial}"}}}}, {{"Location/Vector Message": {{"latitude": {lat:.7f}, '
        f'"longitude": {lon:.7f}, "geodetic_altitude": {alt_m:.1f}, '
        f'"horizontal_accuracy": "<3 m", "vertical_accuracy": "<3 m"}}}}]'
    ).encode()


def probe_spot(i: int) -> tuple[float, float, float]:
    """Distinct hovering spots inside the bowl (ENU m): 12 bearings x 10 heights."""
    a = 2 * math.pi * (i % 12) / 12
    return 60.0 * math.sin(a), 60.0 * math.cos(a), 40.0 + 30.0 * ((i // 12) % 10)


def feeder(
    feed_url: str,
    probe_url: str,
    rate_hz: float,
    drones: int,
    probes: int,
    ready: mp.Event,
    out: mp.Queue,
) -> None:
    """Background load and probes, each on its PUB socket; returns each probe's send times."""
    socks = []
    for url in (feed_url, probe_url):
        socks.append(zmq.Context.instance().socket(zmq.PUB))
        socks[-1].setsockopt(zmq.SNDHWM, 1_000_000)
        socks[-1].bind(url)
    sock, probe_sock = socks
    ready.wait()
    t0 = time.time()
    bg_sent = 0
    sends: dict[str, list[float]] = {}
    probe_start = t0 + WARMUP_S
    t_end = probe_start + probes * PROBE_EVERY_S + PROBE_REPORTS / PROBE_HZ + SETTLE_S
    while (now := time.time()) < t_end:
        due = int((now - t0) * rate_hz) - bg_sent
        for _ in range(due):  # drone k circles at 10 m/s on a ring 2-4 km out
            k = bg_sent % drones
            radius_m = 2000.0 + 200.0 * (k % 10)
            a = 2 * math.pi * k / drones + 10.0 * (now - t0) / radius_m
            lat, lon = latlon(radius_m * math.sin(a), radius_m * math.cos(a))
            sock.send(
                dragonsync(
                    f"02:00:00:00:{k // 256:02x}:{k % 256:02x}",
                    f"BG{k:06d}",
                    lat,
                    lon,
                    ALT0 + 100.0,
                )
            )
            bg_sent += 1
        for i in range(probes):  # probe i reports at 20 Hz from its start, PROBE_REPORTS times
            n = int((now - probe_start - i * PROBE_EVERY_S) * PROBE_HZ) + 1
            serial = f"PROBE{i:05d}"
            if n <= 0:
                break
            times = sends.setdefault(serial, [])
            if len(times) < min(n, PROBE_REPORTS):
                east, north, up = probe_spot(i)
                lat, lon = latlon(east, north)
                probe_sock.send(
                    dragonsync(
                        f"06:00:00:00:{i // 256:02x}:{i % 256:02x}", serial, lat, lon, ALT0 + up
                    )
                )
                times.append(time.time())
        time.sleep(0.001)
    out.put((bg_sent, time.time() - t0, sends))
    for s in socks:
        s.close(linger=1000)


@dataclass
class Seen:
    """First arrival of each probe's alert, on the bus and on the WebSocket."""

    bus: dict[str, float] = field(default_factory=dict)
    ws: dict[str, float] = field(default_factory=dict)
    hits: dict[str, int] = field(default_factory=dict)
    stop: threading.Event = field(default_factory=threading.Event)


def watch_bus(endpoint: str, seen: Seen) -> None:
    sock = zmq.Context.instance().socket(zmq.SUB)
    sock.setsockopt(zmq.SUBSCRIBE, TOPIC_ALERTS.encode())
    sock.connect(endpoint)
    try:
        while not seen.stop.is_set():
            if not sock.poll(100):
                continue
            frames = sock.recv_multipart()
            t = time.time()  # before decoding, which the WebSocket side does not time either
            for alert in decode(frames).items:
                serial = alert.track.identity.rid_serial if alert.track else None
                if serial and serial.startswith("PROBE") and alert.state.value == "raised":
                    seen.bus.setdefault(serial, t)
    finally:
        sock.close(linger=0)


def watch_websocket(url: str, seen: Seen) -> None:
    async def run() -> None:
        async with websockets.connect(url, max_size=None, open_timeout=10) as ws:
            while not seen.stop.is_set():
                try:
                    text = await asyncio.wait_for(ws.recv(), 0.2)
                except TimeoutError:
                    continue
                t = time.time()
                if not text.startswith('{"type":"alerts"'):
                    continue  # tracks and sensors: not parsed, to keep this client quick
                for alert in json.loads(text)["items"]:
                    track = alert.get("track") or {}
                    serial = (track.get("identity") or {}).get("rid_serial") or ""
                    if serial.startswith("PROBE") and alert["state"] == "raised":
                        seen.ws.setdefault(serial, t)
                        seen.hits.setdefault(serial, track.get("hits", 0))

    asyncio.run(run())


def percentile(values: list[float], q: float) -> float:
    """Nearest-rank percentile (q in 0..100) of a non-empty list."""
    ordered = sorted(values)
    return ordered[max(0, math.ceil(q / 100 * len(ordered)) - 1)]


def run_scenario(rate_hz: float, drones: int, probes: int, tracker: str, log_dir: Path) -> dict:
    with tempfile.TemporaryDirectory(prefix="cuas-latency-") as tmp:
        names = ("api_port", "ingest_port", "output_port", "feed_port", "probe_port")
        ports = {k: free_port() for k in names}
        config = Path(tmp) / "deploy.toml"
        config.write_text(
            CONFIG.format(
                data_dir=Path(tmp, "data").as_posix(),
                tracker=tracker,
                lat0=LAT0,
                lon0=LON0,
                alt0=ALT0,
                bowl=bowl_polygon(),
                **ports,
            )
        )
        ctx = mp.get_context("spawn")
        ready, out = ctx.Event(), ctx.Queue()
        feed = ctx.Process(
            target=feeder,
            args=(
                f"tcp://127.0.0.1:{ports['feed_port']}",
                f"tcp://127.0.0.1:{ports['probe_port']}",
                rate_hz,
                drones,
                probes,
                ready,
                out,
            ),
        )
        feed.start()
        log = open(log_dir / f"cuas-run-{int(rate_hz)}-{drones}.log", "w")  # noqa: SIM115
        service = subprocess.Popen(
            [sys.executable, "-m", "cuas", "run", "--config", str(config)],
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        base = f"http://127.0.0.1:{ports['api_port']}"
        seen = Seen()
        watchers: list[threading.Thread] = []
        try:
            deadline = time.monotonic() + 90
            while True:
                with contextlib.suppress(httpx.HTTPError):
                    if httpx.get(f"{base}/api/v1/health", timeout=1).status_code == 200:
                        break
                if time.monotonic() > deadline or service.poll() is not None:
                    raise RuntimeError(f"cuas run did not come up; see {log.name}")
                time.sleep(0.2)
            watchers = [
                threading.Thread(
                    target=watch_bus, args=(f"tcp://127.0.0.1:{ports['output_port']}", seen)
                ),
                threading.Thread(
                    target=watch_websocket,
                    args=(f"ws://127.0.0.1:{ports['api_port']}/api/v1/stream", seen),
                ),
            ]
            for w in watchers:
                w.start()
            time.sleep(1.0)  # subscriptions settle before the first frame
            load0 = os.getloadavg()[0]
            ready.set()
            bg_sent, elapsed_s, sends = out.get(timeout=600)
            sensors = httpx.get(f"{base}/api/v1/sensors", timeout=5).json()
            health = httpx.get(f"{base}/api/v1/health", timeout=5).json()
        finally:
            seen.stop.set()
            for w in watchers:
                w.join(5)
            feed.join(10)
            with contextlib.suppress(ProcessLookupError):
                os.killpg(service.pid, signal.SIGINT)
            with contextlib.suppress(subprocess.TimeoutExpired):
                service.wait(20)
            with contextlib.suppress(ProcessLookupError):
                os.killpg(service.pid, signal.SIGKILL)
            log.close()

    ws_ms, bus_ms, api_ms = [], [], []
    for serial, times in sends.items():
        if serial in seen.ws and len(times) >= CONFIRM_HITS:
            t_sent = times[CONFIRM_HITS - 1]
            ws_ms.append((seen.ws[serial] - t_sent) * 1000)
            if serial in seen.bus:
                bus_ms.append((seen.bus[serial] - t_sent) * 1000)
                api_ms.append((seen.ws[serial] - seen.bus[serial]) * 1000)
    frames = sum(s.get("counters", {}).get("frames", 0) for s in sensors)
    return {
        "drones": drones,
        "bg_rate": bg_sent / elapsed_s,
        "probes": len(sends),
        "alerted": len(ws_ms),
        "ws_ms": ws_ms,
        "bus_ms": bus_ms,
        "api_ms": api_ms,
        "hits_over": sum(1 for h in seen.hits.values() if h > CONFIRM_HITS),
        "frames": frames,
        "sent": bg_sent + sum(len(t) for t in sends.values()),
        "bus_lost": health["counters"].get("bus_lost", 0),
        "load": load0,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rates", default="1000,10000", help="background detections/s")
    parser.add_argument("--drones", default="1000,100", help="background drones (tracks)")
    parser.add_argument("--probes", type=int, default=60, help="probe drones per run")
    args = parser.parse_args()
    variants = [("0 (shipped)", ""), ("0.05", "reorder_lag_s = 0.05")]
    print(
        f"python {platform.python_version()}, {os.cpu_count()} CPUs, {platform.machine()}; "
        f"a probe every {PROBE_EVERY_S} s reporting at {PROBE_HZ:g} Hz; latency from the "
        f"probe's detection #{CONFIRM_HITS} (the first that can confirm it) to the alert",
        flush=True,
    )
    rows = []
    with tempfile.TemporaryDirectory(prefix="cuas-latency-logs-") as logs:
        for drones in (int(d) for d in args.drones.split(",")):
            for label, tracker in variants:
                for rate in (float(r) for r in args.rates.split(",")):
                    r = run_scenario(rate, drones, args.probes, tracker, Path(logs))
                    rows.append((label, r))
                    print(f"  done: {drones} drones, lag {label}, {rate:.0f}/s", file=sys.stderr)
    print(
        f"{'drones':>6} {'reorder lag s':<14} {'load/s':>7} {'alerts':>7} {'WS p50':>8} "
        f"{'WS p99':>8} {'max':>8} {'engine p50':>10} {'p99':>8} {'API p50':>8} {'p99':>6} "
        f"{'hits>3':>6} {'frames/sent':>13} {'loadavg':>7}"
    )
    for label, r in rows:
        lead = (
            f"{r['drones']:>6} {label:<14} {r['bg_rate']:>7.0f} {r['alerted']:>3}/{r['probes']:<3}"
        )
        if not r["ws_ms"]:
            print(f"{lead} no alert arrived")
            continue
        print(
            f"{lead} {statistics.median(r['ws_ms']):>8.1f} {percentile(r['ws_ms'], 99):>8.1f} "
            f"{max(r['ws_ms']):>8.1f} {statistics.median(r['bus_ms']):>10.1f} "
            f"{percentile(r['bus_ms'], 99):>8.1f} {statistics.median(r['api_ms']):>8.1f} "
            f"{percentile(r['api_ms'], 99):>6.1f} {r['hits_over']:>6} "
            f"{r['frames']:>6}/{r['sent']:<6} {r['load']:>7.1f}"
        )
    print(
        "latencies in ms; engine = detection sent -> alert on the engine's output bus, "
        "API = bus -> WebSocket; hits>3 = alerts whose track needed more than 3 detections; "
        "frames = what the drivers received of what was sent; loadavg = 1-min load at start"
    )


if __name__ == "__main__":
    main()
