"""Entry times of constant-velocity paths into grown zones, against hand-worked geometry
and against brute-force sampling of the path."""

import numpy as np
import pytest

from cuas.alerting.breach import band_interval, circle_entry_time, polygon_entry_time

SQUARE = np.array([[-100, -100], [100, -100], [100, 100], [-100, 100]], dtype=float)


def window(n, horizon=30.0):
    return np.zeros(n), np.full(n, horizon)


@pytest.mark.parametrize(
    "p, v, margin, expected",
    [
        ((-300, 0), (10, 0), 6.0, 19.4),  # head-on into the west edge
        ((-300, -300), (10, 10), 6.0, 20.0 - 6.0 / (10 * np.sqrt(2))),  # at the corner's disc
        ((-300, 106), (10, 0), 6.0, 20.0),  # grazing the top edge's capsule at its corner
        ((-300, 107), (10, 0), 6.0, np.inf),  # passes 7 m above: outside a 6 m margin
        ((-300, 0), (-10, 0), 6.0, np.inf),  # flying away
        ((-103, 0), (0, 0), 6.0, 0.0),  # hovering within the margin
        ((-700, 0), (10, 0), 0.0, np.inf),  # entry at 60 s: beyond the 30 s horizon
    ],
)
def test_polygon_entry_times_by_hand(p, v, margin, expected):
    t = polygon_entry_time(
        np.array([p], float), np.array([v], float), np.array([margin]), SQUARE, window(1)
    )
    assert t[0] == pytest.approx(expected)


def test_polygon_entry_agrees_with_sampling_the_path_on_a_concave_zone():
    u_shape = np.array(
        [[0, 0], [100, 0], [100, 100], [70, 100], [70, 30], [30, 30], [30, 100], [0, 100]], float
    )
    rng = np.random.default_rng(4)
    n = 200
    p = rng.uniform(-150, 250, (n, 2))
    v = rng.normal(0, 8, (n, 2))
    margin = rng.uniform(0, 10, n)
    t = polygon_entry_time(p, v, margin, u_shape, window(n))
    ts = np.arange(0.0, 30.0 + 1e-9, 0.01)
    for i in range(n):
        path = p[i] + v[i] * ts[:, None]
        a = u_shape[None, :, :]
        d = np.roll(u_shape, -1, axis=0)[None, :, :] - a
        rel = path[:, None, :] - a
        u = np.clip(np.sum(rel * d, -1) / np.sum(d * d, -1), 0, 1)
        dist = np.linalg.norm(rel - u[..., None] * d, axis=-1).min(axis=1)
        touching = np.flatnonzero(dist <= margin[i])
        if np.isfinite(t[i]):
            assert len(touching) and abs(ts[touching[0]] - t[i]) < 0.02 + 1e-9
        else:
            assert len(touching) == 0


def test_circle_entry_times_include_the_margin_and_the_inside():
    p = np.array([[0, 400], [0, 100], [300, 106]], float)
    v = np.array([[0, -10], [0, 0], [-10, 0]], float)
    t = circle_entry_time(p, v, np.array([5.0, 0.0, 6.0]), np.zeros(2), 100.0, window(3))
    assert t.tolist() == pytest.approx([29.5, 0.0, 30.0])


def test_band_interval_rising_and_level():
    lo, hi = band_interval(np.array([50.0, 150.0]), np.array([5.0, 0.0]), 100.0, 300.0, 0.0)
    assert lo.tolist() == [10.0, -np.inf] and hi.tolist() == [50.0, np.inf]
    lo, hi = band_interval(np.array([350.0]), np.array([0.0]), 100.0, 300.0, 10.0)
    assert lo[0] > hi[0]  # level flight above the ceiling: never in the band
