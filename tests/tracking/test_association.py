"""GNN assignment per cluster of the gate graph: optimal, and no solver for lone pairs."""

import numpy as np

from cuas.tracking.association import assign_gnn, cluster_pairs


def test_clusters_are_the_connected_parts_of_the_gate_graph() -> None:
    # tracks 0-1 share detection 1; track 2 alone with detection 2
    ti, dj = np.array([0, 0, 1, 2]), np.array([0, 1, 1, 2])
    labels = cluster_pairs(ti, dj, 3, 3)
    assert labels[0] == labels[1] == labels[2] != labels[3]


def test_assignment_is_the_global_optimum_not_greedy() -> None:
    # greedy would give detection 0 to track 1 (d2 1) and leave track 0 with nothing
    ti = np.array([0, 1, 1, 2])
    dj = np.array([0, 0, 1, 2])
    d2 = np.array([3.0, 1.0, 3.0, 0.5])
    out = np.full(3, -1, np.int64)
    track_rows = np.array([10, 11, 12])
    assign_gnn(track_rows, ti, dj, d2, out)
    np.testing.assert_array_equal(out, [10, 11, 12])
