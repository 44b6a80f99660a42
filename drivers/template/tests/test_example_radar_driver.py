"""The example driver on the tiny recording shipped with it: decode, skip, count, reject."""

from __future__ import annotations

import math
from importlib.resources import files

import pytest
from cuas_driver_template import ExampleRadarDriver, ExampleRadarOptions

from cuas.config import Orientation
from cuas.driver import DecodeError, MeasurementKind, SensorInfo
from cuas.replay.format import Frame, ReplayReader

SAMPLE = files("cuas_driver_template") / "data" / "sample.jsonl"


def _driver() -> ExampleRadarDriver:
    info = SensorInfo("radar-1", "example_radar", orientation=Orientation(yaw_deg=90.0))
    return ExampleRadarDriver(info, ExampleRadarOptions())


def test_the_shipped_recording_decodes_to_three_plots_of_one_track():
    driver = _driver()
    detections, malformed = [], 0
    for seq, rec in enumerate(r for r in ReplayReader(str(SAMPLE)) if isinstance(r, Frame)):
        try:
            detections += driver.decode(rec.data, rec.t_unix, seq)
        except DecodeError:
            malformed += 1
    assert malformed == 1  # the corrupted line
    assert driver.counters == {"other_lines": 1, "out_of_range": 1}
    assert [d.range_m for d in detections] == [1500.0, 1480.5, 1461.0]
    assert {d.identity.sensor_track_id for d in detections} == {"T1"}
    assert all(d.kind is MeasurementKind.RANGE_AZ_EL for d in detections)
    # boresight-relative 45 degrees on a radar facing east (yaw 90) is 135 degrees true
    assert detections[0].azimuth_rad == pytest.approx(math.radians(135.0))


@pytest.mark.parametrize(
    "line", [b"PLOT 1 2 3", b"PLOT x 1500 45 3", b"PLOT 1 1500 400 3", b"12345", b"\xff"]
)
def test_malformed_lines_raise_decode_error(line):
    with pytest.raises(DecodeError):
        _driver().decode(line, 0.0, 0)
