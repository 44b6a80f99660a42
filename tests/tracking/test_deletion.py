"""Deletion by time since the last update: coasting first, then gone; tentative sooner."""

import numpy as np

from cuas.tracking.deletion import UpdateTimeDeleter
from cuas.tracking.table import COASTING, CONFIRMED, TrackTable


def test_confirmed_tracks_coast_then_die_and_tentative_ones_die_sooner() -> None:
    table = TrackTable(n_modes=1)
    cov = np.broadcast_to(np.eye(3), (3, 3, 3))
    table.add(0.0, np.zeros((3, 3)), cov, np.zeros((3, 3)), cov, [None] * 3, domain=0)
    table.status[:2] = CONFIRMED
    table.last_update[:3] = [10.0, 5.0, 10.0]
    deleter = UpdateTimeDeleter(coast_after_s=3.0, delete_after_s=12.0, tentative_delete_after_s=4)
    np.testing.assert_array_equal(deleter.dead(table, 12.0), [False, False, False])
    assert table.status[1] == COASTING and table.status[0] == CONFIRMED
    np.testing.assert_array_equal(deleter.dead(table, 14.5), [False, False, True])
    np.testing.assert_array_equal(deleter.dead(table, 17.5), [False, True, True])
