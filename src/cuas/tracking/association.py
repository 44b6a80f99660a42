"""Association: which detection updates which track, by global nearest neighbour or JPDA.

GNN solves an optimal assignment of gated pairs per connected cluster of the gate graph
(one track and one detection need no solver); JPDA weighs every gated detection of an
established track by its association probability, for dense clutter. Established tracks
choose first, tentative ones take what is left.
"""

from __future__ import annotations

import numba
import numpy as np

from cuas.tracking.config import TrackerConfig
from cuas.tracking.filtering import ImmFilter
from cuas.tracking.gating import Gate
from cuas.tracking.jpda import association_probabilities, pair_log_likelihoods, pda_update_batch
from cuas.tracking.measurement import POSITION, measurement_cost_pairs
from cuas.tracking.table import TENTATIVE, TrackTable

# Cost of a forbidden pair: far above any sum of gated d2, so the assignment first maximises
# the number of gated pairs, then minimises their total d2.
_FORBIDDEN_COST = 1e9
# JPDA: a detection this likely to be an established track's is used by it and cannot start
# or feed a tentative track; a track this likely to have been detected counts a hit.
_JPDA_USED_BETA = 0.05
_JPDA_HIT_PROBABILITY = 0.5


@numba.njit(cache=True)
def cluster_pairs(ti: np.ndarray, dj: np.ndarray, n_tracks: int, n_dets: int) -> np.ndarray:
    """Connected component of each (track ti[p], detection dj[p]) edge of the gate graph.

    Union-find over nodes [tracks..., detections...]; labels are root node indices.
    """
    parent = np.arange(n_tracks + n_dets)

    def find(a: int) -> int:
        while parent[a] != a:
            parent[a] = parent[parent[a]]
            a = parent[a]
        return a

    for p in range(ti.shape[0]):
        a, b = find(ti[p]), find(n_tracks + dj[p])
        if a != b:
            parent[b] = a
    out = np.empty(ti.shape[0], np.int64)
    for p in range(ti.shape[0]):
        out[p] = find(ti[p])
    return out


def assign_gnn(
    track_rows: np.ndarray, ti: np.ndarray, dj: np.ndarray, d2: np.ndarray, out: np.ndarray
) -> None:
    """Optimal assignment over gated pairs, one small problem per connected cluster."""
    edge_label = cluster_pairs(ti, dj, track_rows.size, out.size)
    single = np.bincount(edge_label)[edge_label] == 1  # one track, one detection
    out[dj[single]] = track_rows[ti[single]]
    multi = ~single
    if not multi.any():
        return
    order = np.argsort(edge_label[multi], kind="stable")
    m_ti, m_dj, m_d2 = ti[multi][order], dj[multi][order], d2[multi][order]
    bounds = np.flatnonzero(np.diff(edge_label[multi][order])) + 1
    for e_ti, e_dj, e_d2 in zip(
        np.split(m_ti, bounds), np.split(m_dj, bounds), np.split(m_d2, bounds), strict=True
    ):
        tr, r_idx = np.unique(e_ti, return_inverse=True)
        de, c_idx = np.unique(e_dj, return_inverse=True)
        cost = np.full((tr.size, de.size), _FORBIDDEN_COST)
        cost[r_idx, c_idx] = e_d2
        from scipy.optimize import linear_sum_assignment  # first use: start-up stays short

        r, c = linear_sum_assignment(cost)
        assigned = cost[r, c] < _FORBIDDEN_COST
        out[de[c[assigned]]] = track_rows[tr[r[assigned]]]


class Association:
    """Gated GNN (or JPDA for established tracks) of a scan's free detections to free tracks."""

    def __init__(
        self, config: TrackerConfig, gate: Gate, motion: ImmFilter, counters: dict[str, int]
    ) -> None:
        self.config = config
        self.gate = gate
        self.motion = motion
        self.counters = counters  # jpda_fallback: clusters too large to enumerate, by GNN

    def associate(
        self,
        table: TrackTable,
        t_unix: float,
        track_rows: np.ndarray,
        det_idx: np.ndarray,
        codes: np.ndarray,
        z: np.ndarray,
        R: np.ndarray,
        sensor: np.ndarray,
        rot: np.ndarray,
        det_keyed: np.ndarray,
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Track row for each detection of det_idx (-1: none) by gated global nearest neighbour,
        or JPDA for established tracks; also which detections JPDA already applied, and the
        track rows JPDA counts as detected.

        Keyed detections reaching here carry a key no live track holds, so any keyed track is
        forbidden to them. Established tracks choose first and tentative ones (often clutter)
        take what is left, so a clutter track never steals a confirmed target's detection.
        Only pre-gated pairs are costed (and only their tracks predicted to the scan), and
        each stage is solved per connected cluster of the gate graph, so cost grows about
        linearly with targets.
        """
        out = np.full(det_idx.size, -1, np.int64)
        soft = np.zeros(det_idx.size, bool)
        jpda_hits = np.empty(0, np.int64)
        ti, dj = self.gate.candidate_pairs(
            table, t_unix, track_rows, det_idx, codes, z, R, sensor, rot
        )
        if ti.size == 0:
            return out, soft, jpda_hits
        candidates, ti = np.unique(ti, return_inverse=True)
        track_rows = track_rows[candidates]
        self.motion.predict_rows(table, track_rows, t_unix)
        d2 = measurement_cost_pairs(
            table.x[track_rows], table.P[track_rows], codes[det_idx], z[det_idx],
            R[det_idx], sensor, rot, ti, dj,
        )  # fmt: skip
        track_keyed = np.array([key is not None for key in table.key[track_rows]], bool)
        ok = self.gate.passes(d2, codes[det_idx[dj]], track_keyed[ti], det_keyed[dj])
        tentative = (table.status[track_rows] == TENTATIVE)[ti]
        established = ok & ~tentative
        if self.config.association == "jpda":
            jp = established & (codes[det_idx[dj]] == POSITION) & ~det_keyed[dj]
            if jp.any():
                jpda_hits, unsolved = self._jpda(
                    table, track_rows, det_idx, ti[jp], dj[jp], z, R, out, soft
                )
                established[np.flatnonzero(jp)[~unsolved]] = False
        for stage in (established, ok & tentative):
            stage &= out[dj] < 0  # detections the first stage took are gone
            if stage.any():
                assign_gnn(track_rows, ti[stage], dj[stage], d2[stage], out)
        return out, soft, jpda_hits

    def _jpda(
        self,
        table: TrackTable,
        track_rows: np.ndarray,
        det_idx: np.ndarray,
        ti: np.ndarray,
        dj: np.ndarray,
        z: np.ndarray,
        R: np.ndarray,
        out: np.ndarray,
        soft: np.ndarray,
    ) -> tuple[np.ndarray, np.ndarray]:
        """JPDA update of established tracks by gated position detections, per cluster.

        Positions only: their likelihoods are densities per m^3, comparable with one clutter
        density per m^3 whatever the sensor. Radar plots and bearings have likelihoods per
        m rad^2, per rad and so on, which would need a clutter density per model and sensor
        (and they are few per scan), so they keep GNN. Sets out (the likeliest track, where
        some track's beta reaches _JPDA_USED_BETA) and soft for the detections used. Returns
        the rows counted as detected, and which edges lie in clusters too large to enumerate
        (left to GNN).
        """
        cfg = self.config
        rows, dets = track_rows[ti], det_idx[dj]
        log_lik = pair_log_likelihoods(table.x, table.P, z, R, rows, dets)
        marg = association_probabilities(
            log_lik,
            ti,
            dj,
            cluster_pairs(ti, dj, track_rows.size, det_idx.size),
            track_rows.size,
            cfg.jpda_pd,
            cfg.gate_probability,
            cfg.jpda_clutter_density,
        )
        self.counters["jpda_fallback"] += marg.n_unsolved
        s = np.flatnonzero(marg.solved)
        s = s[np.argsort(ti[s], kind="stable")]  # edges grouped by track
        tracks, first = np.unique(ti[s], return_index=True)
        pda_update_batch(
            table.xm, table.Pm, table.mu, table.x, table.P, track_rows[tracks],
            np.r_[first, s.size].astype(np.int64), dets[s], marg.beta[s],
            marg.beta_miss[tracks], log_lik[s], z, R,
        )  # fmt: skip
        used = s[marg.beta[s] >= _JPDA_USED_BETA]
        used = used[np.argsort(marg.beta[used], kind="stable")]  # the largest beta writes last
        out[dj[used]] = rows[used]
        soft[dj[used]] = True
        detected = 1.0 - marg.beta_miss[tracks] >= _JPDA_HIT_PROBABILITY
        return track_rows[tracks[detected]], ~marg.solved
