"""The track table: rows in id order, keys indexed, deletion compacts without reordering."""

import numpy as np

from cuas.tracking.table import TENTATIVE, TrackTable


def add(table: TrackTable, m: int, keys: list[str | None]) -> np.ndarray:
    pos = np.arange(3 * m, dtype=float).reshape(m, 3)
    cov = np.broadcast_to(np.eye(3), (m, 3, 3))
    return table.add(5.0, pos, cov, np.zeros((m, 3)), cov * 4.0, keys, domain=0)


def test_added_tracks_are_tentative_rows_in_id_order_and_grow_past_the_capacity() -> None:
    table = TrackTable(n_modes=3, first_track_id=100)
    rows = add(table, 70, [None] * 69 + ["rid:A"])
    np.testing.assert_array_equal(rows, np.arange(70))
    np.testing.assert_array_equal(table.id[:70], np.arange(100, 170))
    assert (table.status[:70] == TENTATIVE).all() and table.n == 70
    np.testing.assert_allclose(table.mu[:70], 1.0 / 3.0)
    np.testing.assert_allclose(table.P[5, 3:, 3:], np.eye(3) * 4.0)
    assert table.row_of_key("rid:A") == 69 and table.row_of_key("rid:B") is None


def test_remove_keeps_order_and_forgets_the_keys_of_the_dead() -> None:
    table = TrackTable(n_modes=1)
    add(table, 4, ["a", None, "c", "d"])
    col, new = table.column("radar")
    assert (col, new) == (0, True) and table.column("radar") == (0, False)
    table.sensor_t[2, col] = 7.0
    table.remove(np.array([True, False, False, True]))
    np.testing.assert_array_equal(table.id[: table.n], [2, 3])
    assert table.key_to_id == {"c": 3} and table.row_of_key("c") == 1
    assert table.sensor_t[1, col] == 7.0
    np.testing.assert_array_equal(table.rows_of(np.array([3, 4, 1, 2])), [0, 1])
