"""Tracking accuracy against Stone Soup's standard GNN tracker on identical detections."""

import numpy as np
import pytest

from cuas.score.stonesoup_ref import run_cuas, run_stonesoup
from cuas.sim.targets import SceneConfig, make_scene

pytest.importorskip("stonesoup", reason="stonesoup (test extra) not installed")

WARMUP = 5


@pytest.mark.parametrize(
    "cfg",
    [
        SceneConfig(n_targets=8, n_scans=60, clutter_per_scan=5.0, seed=21),
        SceneConfig(n_targets=20, n_scans=40, clutter_per_scan=10.0, noise_std_m=8.0, seed=5),
    ],
    ids=["8-drones-clutter-5", "20-drones-clutter-10"],
)
def test_gospa_no_worse_than_stone_soup(cfg):
    scene = make_scene(cfg)
    ours = run_cuas(scene).gospa_per_scan(scene)[WARMUP:].mean()
    theirs = run_stonesoup(scene).gospa_per_scan(scene)[WARMUP:].mean()
    assert ours <= theirs, f"GOSPA cuas {ours:.2f} > stonesoup {theirs:.2f}"


def test_a_thousand_targets_with_clutter_are_all_tracked():
    """Correctness at scale, not speed: every target ends with one confirmed track."""
    cfg = SceneConfig(n_targets=1000, n_scans=12, clutter_per_scan=50.0, seed=9)
    scene = make_scene(cfg)
    result = run_cuas(scene)
    final = result.estimates[-1]
    truth = scene.truth_enu_m[-1]
    dist = np.linalg.norm(final[:, None, :] - truth[None, :, :], axis=2)
    covered = (dist.min(axis=0) < 30.0).mean()
    assert covered > 0.98, f"only {covered:.1%} of targets have a track within 30 m"
    assert len(final) < 1.03 * cfg.n_targets, f"{len(final)} tracks for 1000 targets"
