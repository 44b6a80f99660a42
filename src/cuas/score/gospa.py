"""GOSPA: the generalised optimal sub-pattern assignment metric for sets of points.

Rahmathullah, Garcia-Fernandez and Svensson (2017), with alpha = 2, which splits the
metric into localisation error, missed targets and false tracks. For estimates X and
truths Y, cut-off c and order p:

    d = ( min over assignments  sum_assigned min(d(x,y), c)^p
          + (c^p / 2) * (number missed + number false) ) ^ (1/p)

where pairs farther apart than c count as one miss plus one false track. Checked against
Stone Soup's GOSPAMetric in the tests.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray
from scipy.optimize import linear_sum_assignment


@dataclass(frozen=True)
class Gospa:
    distance: float
    localisation: float  # sum of min(d, c)^p over assigned pairs
    missed: int
    false: int


def gospa(estimates: NDArray, truths: NDArray, c: float, p: float = 1.0) -> Gospa:
    """GOSPA (alpha = 2) between (m,d) estimates and (n,d) truths, Euclidean base distance."""
    x = np.asarray(estimates, dtype=float)
    y = np.asarray(truths, dtype=float)
    m, n = len(x), len(y)
    penalty = c**p / 2.0
    if m == 0 or n == 0:
        total = penalty * (m + n)
        return Gospa(total ** (1.0 / p), 0.0, n, m)
    dist = np.linalg.norm(x[:, None, :] - y[None, :, :], axis=-1)
    cost = np.minimum(dist, c) ** p
    rows, cols = linear_sum_assignment(cost)
    assigned = dist[rows, cols] < c  # at the cut-off a pair is a miss plus a false track
    localisation = float(cost[rows, cols][assigned].sum())
    n_assigned = int(assigned.sum())
    missed, false = n - n_assigned, m - n_assigned
    total = localisation + penalty * (missed + false)
    return Gospa(total ** (1.0 / p), localisation, missed, false)
