"""Joint probabilistic data association (JPDA): soft association for established tracks.

In dense clutter a hard nearest-neighbour choice sometimes feeds a track a false plot and
drags it off its target. JPDA instead weighs every detection in a track's gate by the
probability that it is the track's, computed jointly over all tracks that share
detections (a connected cluster of the gate graph), and updates each track with the
mixture. Position detections only (code 0): the clutter density is then one number per m^3
of ENU space, the same for every sensor model.

Joint event probability, with pd the probability of detection, pg the gate probability and
lam the clutter density (false detections per m^3 per scan):

    P(event) ~ prod_{t detected by j} pd N(z_j; H x_t, S_tj) / lam * prod_{t missed} (1 - pd pg)

and beta_tj, beta_t0 are its marginals: detection j is track t's, track t saw nothing.
"""

import math
from dataclasses import dataclass

import numba
import numpy as np

from cuas.tracking.imm import imm_combine, reweigh_modes
from cuas.tracking.measurement import POSITION, ZDIM_MAX, _innovation, ekf_update

#: clusters with more joint association events than this are left to GNN
MAX_JOINT_EVENTS = 4096
_LOG_2PI = math.log(2.0 * math.pi)


@numba.njit(cache=True)
def _log(p: float) -> float:
    """log p, and -inf for an impossible event (p = 0) instead of an error."""
    return math.log(p) if p > 0.0 else -math.inf


@dataclass(frozen=True)
class JpdaMarginals:
    beta: np.ndarray  # (p,) P(detection dj[p] is track ti[p]'s)
    beta_miss: np.ndarray  # (n_tracks,) P(track detected nothing); 1 if no edge was solved
    solved: np.ndarray  # (p,) False where the edge's cluster had more than max_events events
    n_unsolved: int  # clusters left unsolved


@numba.njit(cache=True)
def pair_log_likelihoods(
    x: np.ndarray, P: np.ndarray, z: np.ndarray, R: np.ndarray, ti: np.ndarray, dj: np.ndarray
) -> np.ndarray:
    """log N(z[dj[p]]; H x[ti[p]], H P[ti[p]] H' + R[dj[p]]) per pair p, for position
    detections: z (k, 4) and R (k, 4, 4) padded as in a MeasurementBatch."""
    out = np.empty(ti.shape[0])
    y = np.empty(ZDIM_MAX)
    H = np.empty((ZDIM_MAX, 6))
    S = np.empty((ZDIM_MAX, ZDIM_MAX))
    Si = np.empty((ZDIM_MAX, ZDIM_MAX))
    sensor = np.zeros(3)
    rot = np.eye(3)
    for p in range(ti.shape[0]):
        i, j = ti[p], dj[p]
        dz, d2, logdet = _innovation(POSITION, x[i], P[i], z[j], R[j], sensor, rot, y, H, S, Si)
        out[p] = -0.5 * (d2 + logdet + dz * _LOG_2PI)
    return out


@numba.njit(cache=True)
def _cluster_marginals(
    w: np.ndarray, w_miss: np.ndarray, max_events: int, beta: np.ndarray, beta_miss: np.ndarray
) -> bool:
    """beta (nt, nd), beta_miss (nt,) <- marginals of one cluster by enumerating its events.

    w[t, j] is the weight of "track t took detection j" (0 outside the gate), w_miss[t] > 0
    that of "track t missed". Depth-first over tracks; every partial event extends to a
    full one (a track may always miss), so the work is bounded by max_events leaves.
    Returns False, with the outputs undefined, when there are more than max_events events.
    """
    nt, nd = w.shape
    beta[:, :] = 0.0
    beta_miss[:] = 0.0
    used = np.zeros(nd, np.bool_)
    choice = np.full(nt, -2)  # -2 not started, -1 missed, j took detection j
    weight = np.empty(nt + 1)  # weight[t]: product over tracks before t
    weight[0] = 1.0
    total = 0.0
    n_events = 0
    t = 0
    while t >= 0:
        c = choice[t]
        if c >= 0:
            used[c] = False
        c += 1
        while c >= 0 and c < nd and (used[c] or w[t, c] == 0.0):
            c += 1
        if c == nd:
            choice[t] = -2
            t -= 1
            continue
        choice[t] = c
        if c >= 0:
            used[c] = True
            weight[t + 1] = weight[t] * w[t, c]
        else:
            weight[t + 1] = weight[t] * w_miss[t]
        if t < nt - 1:
            t += 1
            continue
        n_events += 1
        if n_events > max_events:
            return False
        e = weight[nt]
        total += e
        for s in range(nt):
            if choice[s] >= 0:
                beta[s, choice[s]] += e
            else:
                beta_miss[s] += e
    beta /= total
    beta_miss /= total
    return True


@numba.njit(cache=True)
def _marginals_by_cluster(
    ti: np.ndarray,
    dj: np.ndarray,
    log_w: np.ndarray,
    log_miss: float,
    bounds: np.ndarray,
    n_tracks: int,
    n_dets: int,
    max_events: int,
    beta: np.ndarray,
    beta_miss: np.ndarray,
    solved: np.ndarray,
) -> int:
    """Fill beta, solved per edge and beta_miss per track, for edges grouped by cluster:
    edges bounds[c]:bounds[c + 1] form cluster c. Returns the number of unsolved clusters."""
    local_t = np.full(n_tracks, -1)
    local_d = np.full(n_dets, -1)
    n_unsolved = 0
    for c in range(bounds.shape[0] - 1):
        lo, hi = bounds[c], bounds[c + 1]
        tracks = np.unique(ti[lo:hi])
        dets = np.unique(dj[lo:hi])
        for a in range(tracks.shape[0]):
            local_t[tracks[a]] = a
        for b in range(dets.shape[0]):
            local_d[dets[b]] = b
        # Each event has exactly one factor per track, so scaling a track's weights (and its
        # miss weight) by a common factor leaves the marginals unchanged: keep them near 1.
        top = np.full(tracks.shape[0], log_miss)
        for e in range(lo, hi):
            top[local_t[ti[e]]] = max(top[local_t[ti[e]]], log_w[e])
        w = np.zeros((tracks.shape[0], dets.shape[0]))
        for e in range(lo, hi):
            w[local_t[ti[e]], local_d[dj[e]]] = math.exp(log_w[e] - top[local_t[ti[e]]])
        w_miss = np.exp(log_miss - top)
        b = np.empty_like(w)
        b_miss = np.empty(tracks.shape[0])
        ok = _cluster_marginals(w, w_miss, max_events, b, b_miss)
        if ok:
            for e in range(lo, hi):
                beta[e] = b[local_t[ti[e]], local_d[dj[e]]]
            for a in range(tracks.shape[0]):
                beta_miss[tracks[a]] = b_miss[a]
        else:
            n_unsolved += 1
        for e in range(lo, hi):
            solved[e] = ok
    return n_unsolved


def association_probabilities(
    log_lik: np.ndarray,
    ti: np.ndarray,
    dj: np.ndarray,
    labels: np.ndarray,
    n_tracks: int,
    pd: float,
    gate_probability: float,
    clutter_density_m3: float,
    max_events: int = MAX_JOINT_EVENTS,
) -> JpdaMarginals:
    """Marginal association probabilities of gated (track ti[p], detection dj[p]) pairs.

    log_lik[p] is log N(y; 0, S) of the pair; labels[p] its connected cluster (any labelling
    in which clusters share no track and no detection). Clusters with more than max_events
    joint events are not solved: their edges come back with solved False, for GNN.
    """
    if ti.size == 0:
        return JpdaMarginals(np.zeros(0), np.ones(n_tracks), np.zeros(0, bool), 0)
    order = np.argsort(labels, kind="stable")
    bounds = np.r_[0, np.flatnonzero(np.diff(labels[order])) + 1, order.size].astype(np.int64)
    n_dets = int(dj.max()) + 1
    log_w = math.log(pd) - math.log(clutter_density_m3) + log_lik[order]  # log(pd N / lam)
    log_miss = math.log(1.0 - pd * gate_probability)
    beta = np.zeros(order.size)
    beta_miss = np.ones(n_tracks)
    solved = np.zeros(order.size, bool)
    n_unsolved = _marginals_by_cluster(
        ti[order], dj[order], log_w, log_miss, bounds, n_tracks, n_dets, max_events,
        beta, beta_miss, solved,
    )  # fmt: skip
    back = np.empty_like(order)
    back[order] = np.arange(order.size)
    return JpdaMarginals(beta[back], beta_miss, solved[back], n_unsolved)


@numba.njit(cache=True)
def pda_update_batch(
    xm: np.ndarray,
    Pm: np.ndarray,
    mu: np.ndarray,
    x: np.ndarray,
    P: np.ndarray,
    rows: np.ndarray,
    bounds: np.ndarray,
    dets: np.ndarray,
    beta: np.ndarray,
    beta_miss: np.ndarray,
    log_lik: np.ndarray,
    z: np.ndarray,
    R: np.ndarray,
) -> None:
    """In place: the PDA update of track rows[i] by detections dets[bounds[i]:bounds[i + 1]]
    with weights beta there and beta_miss[i], in every IMM mode; then mode probabilities and
    the combined state.

    Each mode's posterior is the moment-matched mixture of its Kalman updates by each
    detection and of its prior (for no detection). With one R for all detections this is
    exactly the textbook PDA update, x + K sum_j beta_j y_j with the spread-of-innovations
    term in P, and it stays right when detections carry different R. Every mode uses the
    track's betas (from the combined state), a common IMM-PDA simplification. Mode m is
    reweighted by beta_miss + sum_j beta_j N_m(j) / N(j), N_m of the mode's prediction and
    N of the combined one: for a lone track it is the PDA mixture likelihood up to a factor.
    """
    M = mu.shape[1]
    sensor = np.zeros(3)
    rot = np.eye(3)
    log_mode = np.empty(M)
    for i in range(rows.shape[0]):
        k = rows[i]
        lo, hi = bounds[i], bounds[i + 1]
        n = hi - lo
        xs = np.empty((n, 6))
        Ps = np.empty((n, 6, 6))
        terms = np.empty(n + 1)  # log of the mode-likelihood terms
        for m in range(M):
            for e in range(n):
                j = dets[lo + e]
                xs[e] = xm[k, m]
                Ps[e] = Pm[k, m]
                ll = ekf_update(xs[e], Ps[e], POSITION, z[j], R[j], sensor, rot)
                terms[e] = _log(beta[lo + e]) + ll - log_lik[lo + e]
            terms[n] = _log(beta_miss[i])
            top = terms.max()
            log_mode[m] = top + math.log(np.exp(terms - top).sum())
            x0 = xm[k, m].copy()
            P0 = Pm[k, m].copy()
            mean = beta_miss[i] * x0
            for e in range(n):
                mean += beta[lo + e] * xs[e]
            # P = sum_e beta_e (P_e + (x_e - mean)(x_e - mean)'), prior included as e = miss
            d = x0 - mean
            cov = beta_miss[i] * (P0 + np.outer(d, d))
            for e in range(n):
                d = xs[e] - mean
                cov += beta[lo + e] * (Ps[e] + np.outer(d, d))
            xm[k, m] = mean
            Pm[k, m] = cov
        reweigh_modes(mu[k], log_mode)
        imm_combine(xm[k], Pm[k], mu[k], x[k], P[k])
