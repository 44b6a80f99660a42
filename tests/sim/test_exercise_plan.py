"""Placing and timing an exercise scenario at a live deployment (cuas.sim.exercise)."""

import time

import numpy as np
import pymap3d
import pytest

from cuas.config import load_config
from cuas.driver import SensorInfo
from cuas.replay.format import Frame, ReplayReader
from cuas.sim.exercise import plan_exercise
from cuas.sim.scenario import ScenarioError
from cuas_drivers.dragonsync import DragonSyncDriver, DragonSyncOptions

from support import DEMO_CONFIG

LIVE_REF = (42.87460, 74.60360, 780.0)  # configs/demo.toml's first site
ZURICH = (47.3769, 8.5417, 408.0)  # where the scenario below was drawn
SCENARIO = """
name = "elsewhere"
duration_s = 6
seed = 4

[site]
reference = {{ lat_deg = {0}, lon_deg = {1}, alt_m = {2} }}

[[objects]]
type = "drone"
id = "d1"
behaviour = "transit"
start = {{ lat_deg = {3}, lon_deg = {4}, alt_m = {5} }}
waypoints = [[300, 200, 60]]
speed_mps = 10
remote_id = {{ serial = "1581F5FJD239C00EX001" }}

[[sensors]]
id = "rid-1"
driver = "dragonsync"
position = [-120, 80, 15]
coverage = {{ max_range_m = 3000 }}
pd = 1.0
update_interval_s = 1.0
"""


def _scenario(tmp_path, start_enu=(-400.0, 250.0, 50.0)):
    lat, lon, alt = pymap3d.enu2geodetic(*start_enu, *ZURICH)
    path = tmp_path / "elsewhere.toml"
    path.write_text(SCENARIO.format(*ZURICH, float(lat), float(lon), float(alt)))
    return path


def _enu_at_live_site(lat, lon, alt):
    return np.array(pymap3d.geodetic2enu(lat, lon, alt, *LIVE_REF))


def test_a_scenario_drawn_elsewhere_keeps_its_offsets_from_the_live_site(tmp_path):
    config = load_config(DEMO_CONFIG)
    config.service.data_dir = str(tmp_path / "data")
    before = time.time()
    plan = plan_exercise(config, _scenario(tmp_path), delay_s=30)

    (sensor,) = plan.sensors
    assert sensor.id == "exercise-rid-1" and sensor.exercise is True
    assert sensor.source.endswith("?sensor=rid-1&clock=recorded")
    p = sensor.position
    assert _enu_at_live_site(p.lat_deg, p.lon_deg, p.alt_m) == pytest.approx(
        [-120, 80, 15], abs=0.05
    )
    # the drone's start was a lat/lon table: its offset from the scenario's reference is kept
    start = plan.scenario.objects[0].start
    assert _enu_at_live_site(start.lat_deg, start.lon_deg, start.alt_m) == pytest.approx(
        [-400, 250, 50], abs=0.05
    )
    assert plan.scenario.site_model.id == config.sites[0].id
    assert before + 30 <= plan.start_unix <= time.time() + 30

    plan.simulate()
    frames = [r for r in ReplayReader(plan.replay_path) if isinstance(r, Frame)]
    assert frames and {f.sensor_id for f in frames} == {"rid-1"}
    assert plan.start_unix <= frames[0].t_unix <= plan.start_unix + 6  # on the wall clock
    # what the real driver decodes from the broadcasts lies on the drone's path at this site
    driver = DragonSyncDriver(SensorInfo("rid-1", "dragonsync"), DragonSyncOptions())
    dets = [d for f in frames for d in driver.decode(f.data, f.t_unix, 0) if d.position]
    assert dets
    for d in dets:
        enu = _enu_at_live_site(d.position.lat_deg, d.position.lon_deg, d.position.alt_m)
        assert -420 < enu[0] < -330 and 200 < enu[1] < 265, enu  # 6 s at 10 m/s from the start


def test_exercise_sensor_ids_that_clash_with_live_ones_are_refused(tmp_path):
    config = load_config(DEMO_CONFIG)
    config.sensors[0].id = "exercise-rid-1"
    with pytest.raises(ScenarioError, match=r"sensors\[0\]\.id: 'rid-1' would join the run"):
        plan_exercise(config, _scenario(tmp_path))


def test_a_broken_scenario_names_the_key(tmp_path):
    path = _scenario(tmp_path)
    path.write_text(path.read_text().replace("speed_mps = 10", "speed_mps = 90"))
    with pytest.raises(ScenarioError, match=r"objects\[0\]\.speed_mps: 90 m/s"):
        plan_exercise(load_config(DEMO_CONFIG), path)
