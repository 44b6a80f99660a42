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
    unknown = np.empty(0)
    np.testing.assert_array_equal(deleter.dead(table, 12.0, unknown), [False, False, False])
    assert table.status[1] == COASTING and table.status[0] == CONFIRMED
    np.testing.assert_array_equal(deleter.dead(table, 14.5, unknown), [False, False, True])
    np.testing.assert_array_equal(deleter.dead(table, 17.5, unknown), [False, True, True])


def test_a_track_seen_only_by_a_slow_radar_lives_a_few_of_its_revisits() -> None:
    """A radar turning once in 6 s: its tentative tracks wait 2.5 turns (15 s, not 4 s),
    confirmed ones coast after 1.5 turns and die after 3; a faster sensor on the track
    (a 1 s receiver) brings the limits back to the configured ones."""
    table = TrackTable(n_modes=1)
    cov = np.broadcast_to(np.eye(3), (3, 3, 3))
    table.add(0.0, np.zeros((3, 3)), cov, np.zeros((3, 3)), cov, [None] * 3, domain=0)
    radar, _ = table.column("radar")
    rid, _ = table.column("rid")
    table.sensor_t[:3, radar] = 0.0
    table.sensor_t[2, rid] = 0.0
    table.status[1] = CONFIRMED
    revisit_s = np.array([6.0, 1.0])
    deleter = UpdateTimeDeleter(coast_after_s=3.0, delete_after_s=12.0, tentative_delete_after_s=4)
    np.testing.assert_array_equal(deleter.dead(table, 5.0, revisit_s), [False, False, True])
    assert table.status[1] == CONFIRMED  # 5 s < 1.5 turns
    np.testing.assert_array_equal(deleter.dead(table, 14.9, revisit_s), [False, False, True])
    assert table.status[1] == COASTING
    np.testing.assert_array_equal(deleter.dead(table, 15.1, revisit_s), [True, False, True])
    np.testing.assert_array_equal(deleter.dead(table, 18.1, revisit_s), [True, True, True])
