"""The bundled demo recording through the real driver, tracker and alert rules."""

import hashlib
import io

import numpy as np
import pytest

from cuas.config import load_config
from cuas.geo import EnuFrame
from cuas.replay.format import Frame, ReplayReader, ReplayWriter, Truth
from cuas.replay.pipeline import run_replay
from cuas.schema import AlertState, ZoneLevel

from support import DEMO_CONFIG, DEMO_RECORDING


@pytest.fixture(scope="module")
def demo():
    out = io.StringIO()
    summary = run_replay(load_config(DEMO_CONFIG), DEMO_RECORDING, out=out)
    return summary, out.getvalue()


def test_demo_intruder_raises_warning_then_critical_and_survey_drone_none(demo):
    summary, _ = demo
    alerts = sorted(summary.alerts.values(), key=lambda a: a.raised_t_unix)
    assert [(a.zone_id, a.zone_level) for a in alerts] == [
        ("perimeter", ZoneLevel.WARNING),
        ("bowl", ZoneLevel.CRITICAL),
    ]
    serials = {a.track.identity.rid_serial for a in alerts}
    assert serials == {"1581F5FJD239C00DW22E"}  # the intruder, never the survey drone
    t0 = next(iter(ReplayReader(DEMO_RECORDING))).t_unix
    assert alerts[0].raised_t_unix - t0 < 60.0, "the demo must alert within its first minute"


def test_demo_has_one_confirmed_track_per_drone_and_no_malformed_input(demo):
    summary, _ = demo
    assert len(summary.confirmed_tracks) == 2
    assert len(summary.tracks_seen) == 2
    assert summary.malformed_frames == 0 and summary.malformed_lines == 0


def test_demo_tracks_follow_ground_truth(demo):
    _, text = demo
    import json

    truth: dict[str, list[Truth]] = {}
    for rec in ReplayReader(DEMO_RECORDING):
        if isinstance(rec, Truth):
            truth.setdefault(rec.object_id, []).append(rec)
    frame = EnuFrame(42.87460, 74.60360, 780.0)
    errors = []
    for line in text.splitlines():
        obj = json.loads(line)
        if obj["type"] != "track" or obj["status"] != "confirmed":
            continue
        serial = obj["identity"]["rid_serial"]
        name = "intruder" if serial == "1581F5FJD239C00DW22E" else "survey"
        ts = np.array([t.t_unix for t in truth[name]])
        k = int(np.argmin(np.abs(ts - obj["t_unix"])))
        if abs(ts[k] - obj["t_unix"]) > 0.05:
            continue
        near = truth[name][k]
        ref = frame.from_geodetic(near.lat_deg, near.lon_deg, near.alt_m)
        errors.append(np.linalg.norm(np.array(obj["enu_m"]) - ref))
    assert len(errors) > 50
    # Measurement noise is 2.5-3 m per axis; a working filter stays well inside 10 m RMS.
    assert float(np.sqrt(np.mean(np.square(errors)))) < 10.0


def test_replay_is_deterministic_at_any_speed(tmp_path):
    short = tmp_path / "short.jsonl"
    reader = ReplayReader(DEMO_RECORDING)
    writer = ReplayWriter(short, sensors=reader.header.sensors, created_unix=1.0)
    frames = [r for r in reader if isinstance(r, Frame)]
    t0 = frames[0].t_unix
    for f in frames:
        if f.t_unix - t0 < 45.0:
            writer.frame(f.t_unix, f.sensor_id, f.data)
    writer.close()
    config = load_config(DEMO_CONFIG)
    hashes = []
    for speed in (None, 40.0):
        out = io.StringIO()
        run_replay(config, short, speed=speed, out=out)
        hashes.append(hashlib.sha256(out.getvalue().encode()).hexdigest())
    assert hashes[0] == hashes[1]


def test_malformed_frames_in_a_recording_are_counted_and_the_rest_flows(tmp_path):
    path = tmp_path / "mixed.jsonl"
    reader = ReplayReader(DEMO_RECORDING)
    writer = ReplayWriter(path, sensors=reader.header.sensors)
    for i, rec in enumerate(r for r in reader if isinstance(r, Frame)):
        writer.frame(rec.t_unix, rec.sensor_id, rec.data)
        if i % 10 == 0:
            writer.frame(rec.t_unix, rec.sensor_id, b"\x00\xffgarbage")
            writer.frame(rec.t_unix, rec.sensor_id, b'[{"Location/Vector Message": 5}]')
    writer.close()
    summary = run_replay(load_config(DEMO_CONFIG), path)
    assert summary.malformed_frames == 2 * 36
    # each zone's pre-alert escalated when the intruder entered it, as in the clean run
    assert {a.state for a in summary.alerts.values()} == {AlertState.ESCALATED}
    assert len(summary.alerts) == 2 and len(summary.confirmed_tracks) == 2
