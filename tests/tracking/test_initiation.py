"""Initiation from plots: a radar plot starts where it points, its radial speed seeds velocity."""

import math

import numpy as np

from cuas.tracking.initiation import PlotInitiator
from cuas.tracking.measurement import POSITION, RANGE_AZ_EL_RATE
from cuas.tracking.table import TrackTable


def test_radar_plot_starts_a_track_with_velocity_along_the_line_of_sight() -> None:
    counters = {"tracks_started": 0}
    initiator = PlotInitiator(init_velocity_std_mps=25.0, counters=counters)
    table = TrackTable(n_modes=1)
    codes = np.array([RANGE_AZ_EL_RATE, POSITION])
    z = np.array([[1000.0, math.radians(90.0), 0.0, -12.0], [5.0, 6.0, 7.0, 0.0]])
    R = np.zeros((2, 4, 4))
    R[0] = np.diag([25.0, 1e-6, 1e-6, 0.25])
    R[1, :3, :3] = np.eye(3) * 9.0
    rows = initiator.start(
        table, 3.0, np.arange(2), codes, z, R, np.zeros(3), np.eye(3), [None, "k"], 0
    )
    np.testing.assert_array_equal(rows, [0, 1])
    np.testing.assert_allclose(table.x[0, :3], [1000.0, 0.0, 0.0], atol=1e-6)  # due east
    np.testing.assert_allclose(table.x[0, 3:], [-12.0, 0.0, 0.0], atol=1e-9)  # closing
    assert table.P[0, 3, 3] == 0.25 and table.P[0, 4, 4] == 25.0**2  # known along the LOS
    np.testing.assert_allclose(table.x[1], [5.0, 6.0, 7.0, 0.0, 0.0, 0.0])
    assert counters["tracks_started"] == 2 and table.key_to_id == {"k": 2}
