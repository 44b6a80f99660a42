"""``cuas score`` and ``cuas bench`` run as a user runs them, on the bundled demo recording.

The demo's ground truth (cuas.sim.demo): 'intruder' flies from (-850, 520) m straight at
the pitch at 16 m/s from 2 s after the start, through the perimeter and into the bowl,
then orbits 60 m out; 'survey' circles 180 m around (1150, 250) m, far outside both zones.
"""

import json
import math
import subprocess
import sys

import numpy as np
import pytest

from cuas.alerting.zones import build_zones
from cuas.cli import main
from cuas.config import load_config
from cuas.geo import EnuFrame
from cuas.score.bench import replace_section
from cuas.sim.demo import START_UNIX

from support import DEMO_CONFIG, DEMO_RECORDING

REPORT_KEYS = {"replay", "tracks_file", "params", "t0_unix", "truth_objects", "accuracy"}
REPORT_KEYS |= {"alerts", "series", "run"}
ACCURACY_KEYS = {"steps", "gospa_mean_m", "gospa_localisation_mean", "gospa_missed_mean"}
ACCURACY_KEYS |= {"gospa_false_mean", "ospa_mean_m", "continuity_mean", "tracks_per_object_mean"}
ACCURACY_KEYS |= {"id_switches", "fragmentations", "unassigned_tracks", "objects", "clear_mot"}
ALERT_KEYS = {"alerts", "breaching_objects", "alerted_objects", "missed", "missed_objects"}
ALERT_KEYS |= {"false", "approach_alerts", "warning_s_mean", "warning_s_min", "objects"}
ALERT_KEYS |= {"false_alerts", "site_alerts"}


def cuas(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "cuas", *args], capture_output=True, text=True, timeout=120
    )


def _bowl_entry_s() -> float:
    """When the intruder's straight leg enters the bowl polygon, from the demo's geometry
    (start offset 2 s, start point, speed), found on the configured polygon independently of
    the scorer: a fine walk along the line of flight."""
    config = load_config(DEMO_CONFIG)
    ref = config.sites[0].reference
    frame = EnuFrame(ref.lat_deg, ref.lon_deg, ref.alt_m)
    bowl = next(z for z in build_zones(config.sites, frame) if z.zone.id == "bowl")
    start = np.array([-850.0, 520.0])
    heading = -start / np.linalg.norm(start)
    t = np.arange(0.0, 80.0, 0.01)
    points = start + heading * 16.0 * t[:, None]
    inside = bowl.contains(points, np.full(len(t), ref.alt_m + 70.0))
    return 2.0 + float(t[np.argmax(inside)])


@pytest.fixture(scope="module")
def demo_report() -> dict:
    result = cuas("score", "--replay", str(DEMO_RECORDING), "--json")
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def test_score_json_has_the_documented_keys(demo_report):
    assert set(demo_report) == REPORT_KEYS
    assert set(demo_report["accuracy"]) == ACCURACY_KEYS
    assert set(demo_report["alerts"]) == ALERT_KEYS
    series = {"t_unix", "gospa_m", "ospa_m", "missed", "false", "id_switches"}
    assert set(demo_report["series"]) == series
    mot_keys = {"mota", "motp_m", "matches", "misses", "false_tracks", "id_switches"}
    assert set(demo_report["accuracy"]["clear_mot"]) == mot_keys
    assert demo_report["params"] == {"c_m": 50.0, "p": 1.0, "step_s": 0.5, "approach_m": 100.0}
    assert len(demo_report["series"]["gospa_m"]) == demo_report["accuracy"]["steps"] > 100
    assert demo_report["run"]["detections"] > 0


def test_the_intruder_is_alerted_before_it_enters_the_bowl_and_nothing_else_alerts(demo_report):
    alerts = demo_report["alerts"]
    assert (alerts["breaching_objects"], alerts["missed"], alerts["false"]) == (1, 0, 0)
    (intruder,) = alerts["objects"]
    assert intruder["object"] == "intruder"  # the survey drone never breaches
    assert intruder["most_critical_zone"] == "bowl"
    assert {b["zone"] for b in intruder["breaches"]} == {"bowl", "perimeter"}
    assert intruder["breach_t_unix"] - START_UNIX == pytest.approx(_bowl_entry_s(), abs=0.3)
    warning = intruder["warning_s"]
    assert math.isfinite(warning) and warning > 0
    assert warning == pytest.approx(
        intruder["breach_t_unix"] - intruder["first_alert_t_unix"], abs=1e-3
    )


def test_each_demo_drone_is_followed_by_one_track(demo_report):
    acc = demo_report["accuracy"]
    objects = {o["object"]: o for o in acc["objects"]}
    assert set(objects) == {"intruder", "survey"}
    for obj in objects.values():
        assert obj["track_count"] == 1 and obj["coverage"] > 0.9
    assert (acc["id_switches"], acc["fragmentations"], acc["unassigned_tracks"]) == (0, 0, [])
    # one track per drone, no false track: MOTA is the covered fraction of object-steps
    mot = acc["clear_mot"]
    assert (mot["id_switches"], mot["false_tracks"]) == (0, 0)
    assert mot["mota"] == pytest.approx(mot["matches"] / (mot["matches"] + mot["misses"]), abs=1e-4)
    assert mot["mota"] > 0.9 and 0 < mot["motp_m"] < 50.0
    assert 0 < acc["ospa_mean_m"] < 50.0


@pytest.fixture(scope="module")
def demo_out(tmp_path_factory) -> str:
    out = tmp_path_factory.mktemp("replay") / "out.jsonl"
    result = cuas("replay", str(DEMO_RECORDING), "--out", str(out))
    assert result.returncode == 0, result.stderr
    return str(out)


def test_scoring_a_replay_out_file_gives_the_in_process_answer(demo_out, demo_report):
    result = cuas("score", "--replay", str(DEMO_RECORDING), "--tracks", demo_out, "--json")
    assert result.returncode == 0, result.stderr
    from_file = json.loads(result.stdout)
    assert from_file["run"] is None and from_file["tracks_file"] == demo_out
    assert from_file["accuracy"] == demo_report["accuracy"]
    assert from_file["alerts"] == demo_report["alerts"]


def test_table_and_plots(tmp_path, demo_out):
    plots = tmp_path / "plots"
    args = ["--tracks", demo_out, "--plots", str(plots), "-c", "20"]
    result = cuas("score", "--replay", str(DEMO_RECORDING), *args)
    assert result.returncode == 0, result.stderr
    texts = ("GOSPA mean", "OSPA mean", "MOTA", "MOTP", "threshold 20 m", "ID switches")
    for text in (*texts, "c = 20 m", "intruder", "bowl"):
        assert text in result.stdout
    for name in ("tracks_enu.png", "gospa.png"):
        data = (plots / name).read_bytes()
        assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 10_000


def test_score_refuses_a_recording_without_truth_and_bad_parameters(tmp_path, capsys):
    bare = tmp_path / "bare.jsonl"
    bare.write_text(
        '{"type": "header", "format": "cuas-replay", "version": 1, "sensors": '
        '{"rid-1": {"driver": "dragonsync"}}}\n'
        '{"type": "frame", "t": 1.0, "sensor": "rid-1", "data": "[]"}\n'
    )
    result = cuas("score", "--replay", str(bare))
    assert result.returncode == 2 and "no truth records" in result.stderr
    assert "Traceback" not in result.stderr
    assert main(["score", "--replay", str(DEMO_RECORDING), "-p", "0.5"]) == 2
    assert "order p must be" in capsys.readouterr().err
    assert main(["score", "--replay", str(DEMO_RECORDING), "--tracks", str(bare.parent / "x")]) == 2
    assert "no such tracks file" in capsys.readouterr().err


def test_replace_section_keeps_the_rest_of_the_file():
    text = "# Results\n\n## kernels\n\nk\n\n## bench\n\nold\n### demo\nold\n\n## later\n\nl\n"
    new = replace_section(text, "## bench\n\nnew\n")
    assert new == "# Results\n\n## kernels\n\nk\n\n## bench\n\nnew\n\n## later\n\nl\n"
    assert replace_section(new, "## bench\n\nnew\n") == new
    assert replace_section("# R\n", "## bench\n\nx") == "# R\n\n## bench\n\nx\n"


def test_bench_writes_its_section_and_benches_a_simulated_scenario(tmp_path):
    pytest.importorskip("cuas.sim.simulate", reason="cuas simulate is not in this build")
    scenarios = tmp_path / "scenarios"
    scenarios.mkdir()
    (scenarios / "short_transit.toml").write_text(
        f"""
name = "short_transit"
duration_s = 40
seed = 4
[site]
config = "{DEMO_CONFIG.as_posix()}"
[[objects]]
type = "drone"
id = "crosser"
behaviour = "transit"
start = [-500, 0, 60]
waypoints = [[500, 0, 60]]
speed_mps = 20
remote_id = {{ serial = "1581F5FJD239C00DW22E" }}
[[sensors]]
id = "rid-1"
driver = "dragonsync"
position = [0, 0, 10]
coverage = {{ max_range_m = 2000 }}
pd = 1.0
"""
    )
    (scenarios / "broken.toml").write_text('name = "broken"\n')
    results = tmp_path / "RESULTS.md"
    results.write_text("# Benchmark results\n\n## kernels\n\nkept\n")
    result = cuas("bench", "--scenarios", str(scenarios), "--out", str(results))
    assert result.returncode == 1, result.stderr  # the broken scenario is reported, not fatal
    assert "broken.toml" in result.stderr and "[2/2] short_transit" in result.stderr
    written = results.read_text()
    assert written.startswith("# Benchmark results\n\n## kernels\n\nkept\n\n## bench\n")
    for text in ("### demo", "### short_transit", "GOSPA mean", "detections per second"):
        assert text in written
    short = written.split("### short_transit")[1]
    assert "| alerts | objects breaching a zone | 1 |" in short
    assert "| alerts | missed | 0 |" in short
