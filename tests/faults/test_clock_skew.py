"""A sensor with a wrong clock: its skew measured and shown, its times replaced by receive
times past a limit (flagged), and the sensor reported degraded (which raises a sensor alert).

Before: ADS-B (SBS) lines from a clock an hour fast went to the engine with their stated
times and were held in its reorder buffer for an hour (memory without bound); lines a day
slow were dropped as late with no counter; the sensor looked "ok" throughout.
"""

from __future__ import annotations

import socket
import time
from datetime import UTC, datetime

from cuas.config import SensorConfig
from cuas.driver import SensorInfo
from cuas.driver.host import SensorRunner
from cuas.driver.sources import open_source
from cuas.schema import Detection, SensorState, SensorStatus
from cuas_drivers.sbs import SbsDriver, SbsOptions

from support import free_port

HOUR_S = 3600.0


def _line(t_unix: float, k: int) -> bytes:
    """An SBS airborne-position line generated at ``t_unix`` (UTC)."""
    when = datetime.fromtimestamp(t_unix, UTC)
    date, clock = when.strftime("%Y/%m/%d"), when.strftime("%H:%M:%S.%f")[:-3]
    fields = ["MSG", "3", "1", "1", "4249B5", "1", date, clock, date, clock, ""]
    fields += ["1500", "", "", f"{42.87 + 1e-4 * k:.5f}", "74.60", "", "", "", "", "", "0"]
    return (",".join(fields) + "\r\n").encode()


def _run(offset_s: float, count: int, last_offset_s: float | None = None):
    """Feed ``count`` lines from a clock ``offset_s`` off ours (the last one ``last_offset_s``
    off, if given) to a real driver host over UDP; the detections (with the receive window)
    and the sensor's latest status."""
    port = free_port()
    url = f"udp://127.0.0.1:{port}"
    driver = SbsDriver(SensorInfo("adsb-1", "sbs"), SbsOptions(time_zone="UTC"))
    detections: list[Detection] = []
    statuses: list[SensorStatus] = []
    runner = SensorRunner(
        SensorConfig(id="adsb-1", driver="sbs", source=url),
        driver,
        open_source(url, "adsb-1", driver.framing, "."),
        detections.extend,
        statuses.append,
    )
    runner.start()
    try:
        deadline = time.monotonic() + 10
        while not statuses and time.monotonic() < deadline:
            time.sleep(0.01)
        t_first = time.time()
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as tx:
            for k in range(count):
                off = last_offset_s if last_offset_s is not None and k == count - 1 else offset_s
                tx.sendto(_line(time.time() + off, k), ("127.0.0.1", port))
        deadline = time.monotonic() + 10
        while len(detections) < count and time.monotonic() < deadline:
            time.sleep(0.01)
        t_last = time.time()
        return detections, (t_first, t_last), runner.status()
    finally:
        runner.stop_event.set()
        runner.join(5)


def test_a_clock_an_hour_fast_is_measured_and_its_times_replaced_by_receive_times():
    detections, (t_first, t_last), status = _run(HOUR_S, 5)
    assert len(detections) == 5
    assert all(t_first <= d.t_unix <= t_last for d in detections), "held for an hour"
    assert all("clock_skew" in d.flags for d in detections)
    assert status.counters["clock_offset_s"] == HOUR_S
    assert status.counters["time_from_receive"] == 5
    assert status.state is SensorState.DEGRADED
    assert status.detail == "clock 3600 s ahead of ours; using receive times"


def test_a_clock_a_day_slow_is_measured_too_and_nothing_vanishes():
    detections, (t_first, t_last), status = _run(-24 * HOUR_S, 5)
    assert len(detections) == 5
    assert all(t_first <= d.t_unix <= t_last for d in detections)
    assert status.counters["clock_offset_s"] == -24 * HOUR_S
    assert status.state is SensorState.DEGRADED
    assert "86400 s behind ours" in status.detail


def test_a_good_clock_keeps_its_times_and_a_single_stale_report_is_counted():
    detections, (t_first, t_last), status = _run(0.0, 9, last_offset_s=-120.0)
    assert len(detections) == 9
    assert all(t_first - 1 <= d.t_unix <= t_last for d in detections[:-1])
    assert detections[-1].t_unix < t_first - 100  # its own time, for the tracker to judge
    assert not any("clock_skew" in d.flags for d in detections)
    assert status.counters["dated_past"] == 1
    assert status.counters["clock_offset_s"] == 0
    assert status.state is SensorState.OK
