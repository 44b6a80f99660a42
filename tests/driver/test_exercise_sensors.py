"""Exercise sensors in the driver host: the host, not the driver, marks what they produce,
their input stays out of the live capture, and a scenario file plays at its recorded times."""

from __future__ import annotations

import json
import socket
import time
from pathlib import Path

import pytest

from cuas.config import SensorConfig
from cuas.driver import Detection, Driver, MeasurementKind, SensorInfo
from cuas.driver.host import DriverHost
from cuas.driver.sources import RawFrame, ReplaySource, open_source
from cuas.replay.format import Frame, ReplayReader, ReplayWriter
from cuas.schema import SOURCE_ENDED, SensorStatus
from cuas_drivers.dragonsync import DragonSyncOptions

from support import free_port


class ContraryDriver(Driver):
    """Claims the opposite of the truth: every detection it makes says exercise=<not told>."""

    name = "contrary"

    def decode(self, frame: bytes, t_rx_unix: float, frame_seq: int) -> list[Detection]:
        claim = not self.sensor.sensor_id.startswith("exercise-")
        return [
            Detection(
                sensor_id=self.sensor.sensor_id,
                t_unix=t_rx_unix,
                kind=MeasurementKind.PRESENCE,
                exercise=claim,
            )
        ]


def _sensor(sensor_id: str, port: int, exercise: bool) -> tuple[SensorConfig, Driver]:
    cfg = SensorConfig(
        id=sensor_id, driver="contrary", source=f"udp://127.0.0.1:{port}", exercise=exercise
    )
    return cfg, ContraryDriver(SensorInfo(sensor_id, "contrary"), DragonSyncOptions())


def _wait(condition, what: str, timeout_s: float = 5.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.01)


def test_the_host_marks_detections_and_status_and_records_only_live_input(tmp_path):
    live_port, ex_port = free_port(), free_port()
    detections: list[Detection] = []
    statuses: list[SensorStatus] = []
    capture = tmp_path / "capture.jsonl"
    recorder = ReplayWriter(capture, sensors={"rid-1": {"driver": "contrary"}})
    host = DriverHost(
        [_sensor("rid-1", live_port, False), _sensor("exercise-rid-1", ex_port, True)],
        detections.extend,
        statuses.append,
        tmp_path,
        recorder,
    )
    host.start()
    try:
        _wait(lambda: len({s.sensor_id for s in statuses}) == 2, "both links up")
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as tx:
            for port in (live_port, ex_port, live_port, ex_port):
                tx.sendto(b"frame", ("127.0.0.1", port))
        _wait(lambda: len(detections) == 4, "four detections")
    finally:
        host.stop()
        recorder.close()
    marks = {(d.sensor_id, d.exercise) for d in detections}
    assert marks == {("rid-1", False), ("exercise-rid-1", True)}  # the driver's claim ignored
    assert {(s.sensor_id, s.exercise) for s in statuses} == marks
    recorded = [r.sensor_id for r in ReplayReader(capture) if isinstance(r, Frame)]
    assert recorded == ["rid-1", "rid-1"]


def _scenario_file(path: Path, times: list[float]) -> Path:
    writer = ReplayWriter(path, sensors={"rid-1": {"driver": "dragonsync"}})
    for i, t in enumerate(times):
        writer.frame(t, "rid-1", json.dumps([{"MAC": f"60:60:1f:00:00:0{i}"}]).encode())
    writer.close()
    return path


def test_recorded_clock_skips_the_past_and_plays_each_frame_at_its_own_time(tmp_path):
    now = time.time()
    times = [now - 5.0, now - 0.5, now + 0.3, now + 0.6]
    url = f"replay:{_scenario_file(tmp_path / 's.jsonl', times)}?clock=recorded"
    source = open_source(url, "rid-1", ContraryDriver.framing, tmp_path)
    assert isinstance(source, ReplaySource)
    source.open()
    got: list[RawFrame] = []
    deadline = time.time() + 3.0
    while len(got) < 2 and time.time() < deadline:
        got += source.read(0.2)
        if got:
            assert time.time() >= got[-1].t_rx_unix - 0.02  # never handed out early
    source.close()
    # the recorded times (as the file keeps them, to the microsecond)
    assert [f.t_rx_unix for f in got] == pytest.approx(times[2:], abs=1e-6)
    assert [json.loads(f.data)[0]["MAC"][-1] for f in got] == ["2", "3"]


def test_a_played_out_scenario_says_its_source_ended(tmp_path):
    path = _scenario_file(tmp_path / "s.jsonl", [time.time() - 1.0])
    statuses: list[SensorStatus] = []
    cfg = SensorConfig(
        id="exercise-rid-1",
        driver="contrary",
        source=f"replay:{path}?sensor=rid-1&clock=recorded",
        exercise=True,
    )
    driver = ContraryDriver(SensorInfo(cfg.id, "contrary"), DragonSyncOptions())
    host = DriverHost([(cfg, driver)], lambda batch: None, statuses.append, tmp_path)
    host.start()
    _wait(lambda: not host.alive(), "the source to end")
    host.stop()
    assert statuses[-1].counters[SOURCE_ENDED] == 1 and statuses[-1].exercise
    assert "in the past" in statuses[-1].detail


@pytest.mark.parametrize("query", ["clock=recorded&loop=1", "clock=recorded&speed=2", "clock=x"])
def test_recorded_clock_refuses_loop_speed_and_unknown_clocks(tmp_path, query):
    with pytest.raises(ValueError, match="clock"):
        open_source(f"replay:x.jsonl?{query}", "rid-1", ContraryDriver.framing, tmp_path)
