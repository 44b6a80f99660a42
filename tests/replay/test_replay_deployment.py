"""A replay file carries the deployment it was made with; ``cuas replay FILE`` uses it, and a
config that lacks a recorded sensor is an error naming it (not a silent 0 tracks)."""

from __future__ import annotations

import json
from pathlib import Path

from cuas.cli import main
from cuas.config import load_config
from cuas.replay.deployment import carried_deployment, header_deployment
from cuas.replay.format import ReplayReader, ReplayWriter
from cuas.sim.scenario import load_scenario
from cuas.sim.simulate import replay_config

ROOT = Path(__file__).resolve().parents[2]
SCENARIOS = ROOT / "replay_data" / "scenarios"
DEMO_CONFIG = ROOT / "configs" / "demo.toml"


def test_the_carried_deployment_round_trips_without_live_sources(tmp_path):
    config = load_config(DEMO_CONFIG)
    path = tmp_path / "r.jsonl"
    ReplayWriter(path, deployment=header_deployment(config)).close()
    back = carried_deployment(ReplayReader(path).header, path)
    assert back is not None
    assert back.sites == config.sites
    assert [s.model_copy(update={"source": "replay:"}) for s in config.sensors] == back.sensors
    assert "replay:../replay_data" not in path.read_text()  # the live source stays home


def test_simulated_sensors_carry_their_revisit_and_coverage():
    sc = load_scenario(SCENARIOS / "staggered_swarm.toml")
    sensors = {s.id: s for s in replay_config(sc).sensors}
    radar = sensors["radar-node"]
    assert radar.revisit_s == 2.0 and radar.coverage is not None
    assert radar.coverage.range_m == 3000 and radar.coverage.max_elevation_deg == 70.0
    assert sensors["rid-1"].revisit_s == 1.0 and sensors["rid-1"].coverage.range_m == 2500


def test_cuas_replay_of_a_shipped_scenario_needs_no_other_argument(capsys):
    replay = SCENARIOS / "rf_only_intruder.jsonl.gz"
    assert main(["replay", str(replay)]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["confirmed_tracks"] >= 1 and report["detections"] > 100


def test_a_config_without_the_recorded_sensors_is_an_error_naming_them(capsys):
    replay = SCENARIOS / "swarm_20.jsonl.gz"
    assert main(["replay", str(replay), "--config", str(DEMO_CONFIG)]) == 2
    err = capsys.readouterr().err
    assert "'df-south', 'df-west', 'radar-1'" in err and "--config" in err
