"""Our GOSPA against Stone Soup's GOSPAMetric on the same point sets."""

from datetime import datetime

import numpy as np
import pytest

from cuas.score.gospa import gospa

ospametric = pytest.importorskip(
    "stonesoup.metricgenerator.ospametric", reason="stonesoup (test extra) not installed"
)


def _stonesoup(x: np.ndarray, y: np.ndarray, c: float, p: float) -> dict:
    from stonesoup.types.groundtruth import GroundTruthState
    from stonesoup.types.state import State

    t = datetime(2026, 1, 1)
    xs = [State(v.reshape(-1, 1), timestamp=t) for v in x]
    ys = [GroundTruthState(v.reshape(-1, 1), timestamp=t) for v in y]
    metric = ospametric.GOSPAMetric(c=c, p=p)
    return metric.compute_gospa_metric(xs, ys)[0].value


@pytest.mark.parametrize("p", [1.0, 2.0])
def test_gospa_matches_stone_soup_on_random_sets(p):
    rng = np.random.default_rng(11)
    c = 20.0
    for _ in range(40):
        x = rng.uniform(0, 60, (int(rng.integers(0, 7)), 3))
        y = rng.uniform(0, 60, (int(rng.integers(0, 7)), 3))
        if len(x) + len(y) == 0:
            continue  # Stone Soup needs at least one state to know the time
        ours = gospa(x, y, c, p)
        ref = _stonesoup(x, y, c, p)
        penalty = c**p / 2
        assert ours.distance == pytest.approx(ref["distance"], rel=1e-9, abs=1e-9)
        assert ours.localisation == pytest.approx(ref["localisation"], rel=1e-9, abs=1e-9)
        assert ours.missed * penalty == pytest.approx(ref["missed"], abs=1e-9)
        assert ours.false * penalty == pytest.approx(ref["false"], abs=1e-9)


def test_gospa_components_on_a_hand_worked_case():
    truths = np.array([[0.0, 0.0, 0.0], [100.0, 0.0, 0.0]])
    estimates = np.array([[3.0, 4.0, 0.0], [500.0, 0.0, 0.0]])  # one 5 m off, one far away
    g = gospa(estimates, truths, c=10.0, p=1.0)
    assert (g.localisation, g.missed, g.false) == (5.0, 1, 1)
    assert g.distance == pytest.approx(5.0 + 10.0 / 2 * 2)
