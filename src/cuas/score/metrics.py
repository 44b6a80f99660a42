"""Track metrics against ground truth: GOSPA and OSPA over time, CLEAR MOT, continuity.

Truth and tracks are compared on a regular time grid in the site's east-north-up frame.
Truth is interpolated linearly between its records; a track published at time t holds
(moved on by its velocity) until the engine's next publication. At each grid time:
- GOSPA and OSPA use the optimal assignment with cut-off c (a pair at or beyond c is none);
- the CLEAR MOT correspondence (Bernardin and Stiefelhagen 2008, section 2.1) with the same
  distance as threshold keeps an object's last track while it stays within the threshold,
  and assigns only the rest optimally. From it come MOTA, MOTP and, per truth object, the
  tracks that followed it, the fraction of its life a track covered, the ID switches (a
  match to a track other than its last matched one) and the fragmentations (matched, then
  unmatched, then matched again).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray
from scipy.optimize import linear_sum_assignment

from cuas.geo import EnuFrame
from cuas.replay.format import Truth
from cuas.schema import ObjectClass, Track, TrackStatus
from cuas.score.gospa import gospa

DEFAULT_C_M = 50.0
DEFAULT_P = 1.0
MAX_TRUTH_GAP_S = 5.0  # truth records further apart than this: the object is absent between
SCORED_STATUSES = {TrackStatus.CONFIRMED.value, TrackStatus.COASTING.value}


class ScoreError(ValueError):
    """The input cannot be scored; the message says what is missing and how to get it."""


def check_params(c_m: float, p: float) -> None:
    if not c_m > 0:
        raise ScoreError(f"cut-off c must be greater than 0 m, got {c_m!r}")
    if not (p >= 1 and np.isfinite(p)):
        raise ScoreError(f"order p must be a finite number of at least 1, got {p!r}")


def assign(
    estimates: NDArray, truths: NDArray, c_m: float, p: float
) -> tuple[NDArray, NDArray, NDArray]:
    """Optimal assignment minimising the sum of min(d, c)^p, as in GOSPA and OSPA.

    Returns (estimate rows, truth columns, distances) of every assigned pair, including
    pairs at or beyond the cut-off; callers keep ``distance < c_m`` as real pairs.
    """
    x = np.asarray(estimates, dtype=float).reshape(-1, 3)
    y = np.asarray(truths, dtype=float).reshape(-1, 3)
    if len(x) == 0 or len(y) == 0:
        empty = np.zeros(0, dtype=np.int64)
        return empty, empty, np.zeros(0)
    dist = np.linalg.norm(x[:, None, :] - y[None, :, :], axis=-1)
    rows, cols = linear_sum_assignment(np.minimum(dist, c_m) ** p)
    return rows, cols, dist[rows, cols]


def ospa(estimates: NDArray, truths: NDArray, c_m: float, p: float = DEFAULT_P) -> float:
    """OSPA (Schuhmacher, Vo and Vo 2008) of order p with cut-off c, Euclidean base distance.

    For m <= n points: ( (min over assignments sum min(d, c)^p + c^p (n - m)) / n )^(1/p);
    0 when both sets are empty. Checked against Stone Soup's OSPAMetric in the tests.
    """
    _, _, dist = assign(estimates, truths, c_m, p)
    return _ospa(dist, len(estimates), len(truths), c_m, p)


def _ospa(assigned_dist: NDArray, m: int, n: int, c_m: float, p: float) -> float:
    """OSPA from the distances of the optimal assignment of m estimates to n truths."""
    larger = max(m, n)
    if larger == 0:
        return 0.0
    total = float(np.sum(np.minimum(assigned_dist, c_m) ** p)) + c_m**p * (larger - min(m, n))
    return (total / larger) ** (1.0 / p)


class ClearMotMatcher:
    """The CLEAR MOT object-to-track correspondence, one time step after another.

    Bernardin and Stiefelhagen 2008, section 2.1.1: (1) an object's last correspondence is
    kept while the object and that track are both present and at most ``threshold_m`` apart;
    (2) the objects and tracks left over are paired by an optimal assignment, the most pairs
    within the threshold first and the least total distance (metres, not squared) among
    those. As in py-motmetrics, an object's last track is remembered through the steps it is
    missed, and step (1) goes through the objects in the order given (a track two objects
    last had goes to the first).
    """

    def __init__(self, threshold_m: float) -> None:
        self.threshold_m = threshold_m
        self.last_track: dict[int, str] = {}  # object -> track of its latest match

    def match(
        self, objects: list[int], tracks: list[str], dist_m: NDArray
    ) -> list[tuple[int, int]]:
        """(object row, track column) pairs for this step; ``dist_m`` is objects x tracks."""
        valid = np.asarray(dist_m, dtype=float) <= self.threshold_m
        object_free = np.ones(len(objects), dtype=bool)
        track_free = np.ones(len(tracks), dtype=bool)
        column = {track_id: j for j, track_id in enumerate(tracks)}
        pairs: list[tuple[int, int]] = []
        for i, obj in enumerate(objects):
            j = column.get(self.last_track.get(obj, ""))
            if j is not None and track_free[j] and valid[i, j]:
                pairs.append((i, j))
                object_free[i] = track_free[j] = False
        rows, cols = np.flatnonzero(object_free), np.flatnonzero(track_free)
        sub_valid = valid[np.ix_(rows, cols)]
        if sub_valid.any():
            # a pair beyond the threshold costs more than any r pairs within it (r the most
            # pairs possible), so the optimum has the most valid pairs, then the least distance
            forbidden = 2.0 * min(sub_valid.shape) * self.threshold_m + 1.0
            cost = np.where(sub_valid, dist_m[np.ix_(rows, cols)], forbidden)
            r, c = linear_sum_assignment(cost)
            keep = sub_valid[r, c]
            pairs += [(int(i), int(j)) for i, j in zip(rows[r[keep]], cols[c[keep]], strict=True)]
        for i, j in pairs:
            self.last_track[objects[i]] = tracks[j]
        return pairs


@dataclass(frozen=True)
class TruthPath:
    """One truth object's records, in the site frame, sorted by time."""

    object_id: str
    object_class: ObjectClass
    t_unix: NDArray  # (n,)
    enu_m: NDArray  # (n, 3)
    alt_m: NDArray  # (n,) WGS84 metres, for zone altitude bands

    def at(self, t_unix: NDArray) -> tuple[NDArray, NDArray]:
        """Interpolated (k,3) ENU and (k,) altitude at the given times; NaN where absent."""
        t = np.atleast_1d(np.asarray(t_unix, dtype=float))
        enu = np.full((len(t), 3), np.nan)
        alt = np.full(len(t), np.nan)
        if len(self.t_unix) == 0:
            return enu, alt
        hi = np.searchsorted(self.t_unix, t, side="left")
        exact = (hi < len(self.t_unix)) & (self.t_unix[np.minimum(hi, len(self.t_unix) - 1)] == t)
        lo = np.maximum(hi - 1, 0)
        inside = (hi > 0) & (hi < len(self.t_unix))
        gap = self.t_unix[np.minimum(hi, len(self.t_unix) - 1)] - self.t_unix[lo]
        present = exact | (inside & (gap <= MAX_TRUTH_GAP_S))
        for axis in range(3):
            enu[present, axis] = np.interp(t[present], self.t_unix, self.enu_m[:, axis])
        alt[present] = np.interp(t[present], self.t_unix, self.alt_m)
        return enu, alt


def truth_paths(records: Iterable[Truth], frame: EnuFrame) -> list[TruthPath]:
    """Group truth records by object and convert them to the site frame."""
    by_object: dict[str, list[Truth]] = {}
    for rec in records:
        by_object.setdefault(rec.object_id, []).append(rec)
    paths = []
    for object_id, recs in by_object.items():
        recs.sort(key=lambda r: r.t_unix)
        t = np.array([r.t_unix for r in recs])
        t, first = np.unique(t, return_index=True)  # one record per time
        recs = [recs[i] for i in first]
        lat = np.array([r.lat_deg for r in recs])
        lon = np.array([r.lon_deg for r in recs])
        alt = np.array([r.alt_m for r in recs])
        enu = frame.from_geodetic(lat, lon, alt).reshape(-1, 3)
        paths.append(TruthPath(object_id, recs[-1].object_class, t, enu, alt))
    return paths


@dataclass
class TrackRecords:
    """Track publications (the ``track`` records of ``cuas replay --out``), as arrays."""

    track_id: list[str] = field(default_factory=list)
    t_unix: list[float] = field(default_factory=list)
    status: list[str] = field(default_factory=list)
    enu_m: list[tuple[float, float, float]] = field(default_factory=list)
    velocity_enu_mps: list[tuple[float, float, float]] = field(default_factory=list)

    def add(self, track: Track | dict[str, Any]) -> None:
        rec = track.model_dump(mode="json") if isinstance(track, Track) else track
        self.track_id.append(str(rec["track_id"]))
        self.t_unix.append(float(rec["t_unix"]))
        self.status.append(str(rec["status"]))
        e, n, u = rec["enu_m"]
        ve, vn, vu = rec["velocity_enu_mps"]
        self.enu_m.append((float(e), float(n), float(u)))
        self.velocity_enu_mps.append((float(ve), float(vn), float(vu)))

    def __len__(self) -> int:
        return len(self.t_unix)

    def publish_times(self) -> NDArray:
        """Times the engine published its track list (deleted-track records carry the time
        of the track's last update instead, so they are left out)."""
        t = np.array(self.t_unix)
        alive = np.array([s != TrackStatus.DELETED.value for s in self.status], dtype=bool)
        return np.unique(t[alive]) if len(t) else np.zeros(0)


def read_output_jsonl(path: Path) -> Iterator[dict[str, Any]]:
    """Records of a ``cuas replay --out`` file; a line that is not a JSON object is an error."""
    if not Path(path).is_file():
        raise ScoreError(f"{path}: no such tracks file (write one with `cuas replay --out`)")
    with Path(path).open(encoding="utf-8") as fh:
        for lineno, line in enumerate(fh, 1):
            if not line.strip():
                continue
            try:
                obj = json.loads(line)
            except json.JSONDecodeError as exc:
                raise ScoreError(
                    f"{path} line {lineno}: not JSON ({exc}); pass the file `cuas replay --out` "
                    "wrote"
                ) from None
            if not isinstance(obj, dict) or "type" not in obj:
                raise ScoreError(f"{path} line {lineno}: not a track or alert record")
            yield obj


@dataclass(frozen=True)
class Grid:
    """Scored tracks and present truths at each grid time."""

    t_unix: NDArray  # (K,)
    track_ids: list[list[str]]  # per step
    track_enu_m: list[NDArray]  # per step (m_k, 3)
    truth_idx: list[NDArray]  # per step, indices into the truth paths
    truth_enu_m: list[NDArray]  # per step (n_k, 3)


def time_grid(paths: list[TruthPath], step_s: float) -> NDArray:
    if not paths:
        return np.zeros(0)
    t0 = min(float(p.t_unix[0]) for p in paths)
    t1 = max(float(p.t_unix[-1]) for p in paths)
    return t0 + step_s * np.arange(int(np.floor((t1 - t0) / step_s + 1e-9)) + 1)


def sample(paths: list[TruthPath], tracks: TrackRecords, grid_t: NDArray) -> Grid:
    """Truth and scored tracks at each grid time (tracks moved on by their velocity)."""
    k_steps = len(grid_t)
    truth_pos = [p.at(grid_t)[0] for p in paths]  # per object (K, 3)
    truth_idx, truth_enu = [], []
    for k in range(k_steps):
        idx = np.array(
            [i for i, pos in enumerate(truth_pos) if not np.isnan(pos[k, 0])], dtype=np.int64
        )
        truth_idx.append(idx)
        truth_enu.append(np.array([truth_pos[i][k] for i in idx]).reshape(-1, 3))
    ids: list[list[str]] = [[] for _ in range(k_steps)]
    pos: list[list[NDArray]] = [[] for _ in range(k_steps)]
    if len(tracks) and k_steps:
        t = np.array(tracks.t_unix)
        scored = np.array([s in SCORED_STATUSES for s in tracks.status], dtype=bool)
        pubs = tracks.publish_times()
        nxt = np.searchsorted(pubs, t, side="right")
        step_s = float(grid_t[1] - grid_t[0]) if k_steps > 1 else 1.0
        # a publication holds until the next one (or one grid step after the last)
        until = np.where(nxt < len(pubs), pubs[np.minimum(nxt, len(pubs) - 1)], t + step_s)
        k_lo = np.searchsorted(grid_t, t, side="left")
        k_hi = np.searchsorted(grid_t, until, side="left")
        enu = np.array(tracks.enu_m)
        vel = np.array(tracks.velocity_enu_mps)
        for r in np.flatnonzero(scored & (k_hi > k_lo)):
            for k in range(k_lo[r], k_hi[r]):
                ids[k].append(tracks.track_id[r])
                pos[k].append(enu[r] + vel[r] * (grid_t[k] - t[r]))
    track_enu = [np.array(p).reshape(-1, 3) for p in pos]
    return Grid(grid_t, ids, track_enu, truth_idx, truth_enu)


@dataclass
class ObjectContinuity:
    object_id: str
    object_class: str
    lifetime_s: float
    steps: int  # grid steps the object was present
    covered_steps: int  # steps a track was assigned to it
    tracks: list[str]  # tracks that followed it, in order of first assignment
    id_switches: int
    fragmentations: int

    @property
    def coverage(self) -> float:
        return self.covered_steps / self.steps if self.steps else 0.0

    def as_dict(self) -> dict[str, Any]:
        return {
            "object": self.object_id,
            "class": self.object_class,
            "lifetime_s": round(self.lifetime_s, 3),
            "tracks": self.tracks,
            "track_count": len(self.tracks),
            "coverage": round(self.coverage, 4),
            "id_switches": self.id_switches,
            "fragmentations": self.fragmentations,
        }


def continuity(path: TruthPath, matched: list[str | None]) -> ObjectContinuity:
    """Continuity of one object from its CLEAR MOT match at each step it was present (None:
    missed). An ID switch is a match to a track other than the last matched one, however
    long ago; a fragmentation is a run of misses between two matches (as in py-motmetrics and
    the MOT16 benchmark's FM)."""
    followed: list[str] = []
    switches = fragments = 0
    previous: str | None = None
    gap_open = False
    for track_id in matched:
        if track_id is None:
            gap_open = previous is not None
            continue
        if track_id not in followed:
            followed.append(track_id)
        if previous is not None:
            switches += track_id != previous
            fragments += gap_open
        previous, gap_open = track_id, False
    covered = sum(a is not None for a in matched)
    return ObjectContinuity(
        path.object_id,
        path.object_class.value,
        float(path.t_unix[-1] - path.t_unix[0]),
        len(matched),
        covered,
        followed,
        switches,
        fragments,
    )


@dataclass(frozen=True)
class ClearMot:
    """CLEAR MOT totals over all steps (Bernardin and Stiefelhagen 2008, section 2.1.2)."""

    truths: int  # sum over steps of the objects present (g_t)
    matches: int  # sum of c_t
    misses: int  # sum of m_t
    false_tracks: int  # sum of fp_t: scored tracks matched to no object
    switches: int  # sum of mme_t
    distance_sum_m: float  # sum of d_t^i over the matches

    @property
    def mota(self) -> float | None:
        """1 - (misses + false tracks + switches) / objects present; at most 1, may be < 0."""
        if not self.truths:
            return None
        return 1.0 - (self.misses + self.false_tracks + self.switches) / self.truths

    @property
    def motp_m(self) -> float | None:
        """Mean distance of the matched pairs, metres."""
        return self.distance_sum_m / self.matches if self.matches else None

    def as_dict(self) -> dict[str, Any]:
        def rounded(value: float | None) -> float | None:
            return None if value is None else round(value, 4)

        return {
            "mota": rounded(self.mota),
            "motp_m": rounded(self.motp_m),
            "matches": self.matches,
            "misses": self.misses,
            "false_tracks": self.false_tracks,
            "id_switches": self.switches,
        }


@dataclass
class TrackScore:
    c_m: float
    p: float
    step_s: float
    t_unix: NDArray
    gospa_m: NDArray
    gospa_localisation: NDArray  # sum of d^p over assigned pairs, per step
    gospa_missed: NDArray
    gospa_false: NDArray
    ospa_m: NDArray
    truths: NDArray  # objects present per step
    tracks: NDArray  # scored tracks per step
    switches: NDArray  # CLEAR MOT ID switches per step
    clear_mot: ClearMot  # with threshold c_m
    objects: list[ObjectContinuity]
    unassigned_tracks: list[str]  # scored tracks never matched to any truth

    @property
    def id_switches(self) -> int:
        return sum(o.id_switches for o in self.objects)

    @property
    def fragmentations(self) -> int:
        return sum(o.fragmentations for o in self.objects)

    @property
    def continuity_mean(self) -> float:
        return float(np.mean([o.coverage for o in self.objects])) if self.objects else 0.0

    def as_dict(self) -> dict[str, Any]:
        def mean(a: NDArray) -> float | None:
            return round(float(np.mean(a)), 4) if len(a) else None

        return {
            "steps": len(self.t_unix),
            "gospa_mean_m": mean(self.gospa_m),
            "gospa_localisation_mean": mean(self.gospa_localisation),
            "gospa_missed_mean": mean(self.gospa_missed),
            "gospa_false_mean": mean(self.gospa_false),
            "ospa_mean_m": mean(self.ospa_m),
            "clear_mot": self.clear_mot.as_dict(),
            "continuity_mean": round(self.continuity_mean, 4),
            "tracks_per_object_mean": (
                round(float(np.mean([len(o.tracks) for o in self.objects])), 4)
                if self.objects
                else None
            ),
            "id_switches": self.id_switches,
            "fragmentations": self.fragmentations,
            "unassigned_tracks": self.unassigned_tracks,
            "objects": [o.as_dict() for o in self.objects],
        }


def score_tracks(
    paths: list[TruthPath],
    tracks: TrackRecords,
    *,
    c_m: float = DEFAULT_C_M,
    p: float = DEFAULT_P,
    step_s: float = 0.5,
) -> TrackScore:
    """GOSPA and OSPA (cut-off c, order p) and CLEAR MOT (threshold c) every ``step_s``."""
    check_params(c_m, p)
    grid = sample(paths, tracks, time_grid(paths, step_s))
    k_steps = len(grid.t_unix)
    g_dist, g_loc, g_miss, g_false, o_dist = (np.zeros(k_steps) for _ in range(5))
    switches = np.zeros(k_steps, dtype=np.int64)
    matched: list[list[str | None]] = [[] for _ in paths]
    matcher = ClearMotMatcher(c_m)
    n_matches = n_false = 0
    distance_sum_m = 0.0
    ever_matched: set[str] = set()
    all_tracks: dict[str, None] = {}  # ordered set
    for k in range(k_steps):
        x, y = grid.track_enu_m[k], grid.truth_enu_m[k]
        g = gospa(x, y, c_m, p)
        g_dist[k], g_loc[k], g_miss[k], g_false[k] = g.distance, g.localisation, g.missed, g.false
        _, _, dist = assign(x, y, c_m, p)
        o_dist[k] = _ospa(dist, len(x), len(y), c_m, p)

        objects = [int(i) for i in grid.truth_idx[k]]
        track_ids = grid.track_ids[k]
        d_m = np.linalg.norm(y[:, None, :] - x[None, :, :], axis=-1)  # objects x tracks
        before = dict(matcher.last_track)
        pairs = dict(matcher.match(objects, track_ids, d_m))
        for row, obj in enumerate(objects):
            col = pairs.get(row)
            matched[obj].append(None if col is None else track_ids[col])
            if col is not None:
                switches[k] += before.get(obj, track_ids[col]) != track_ids[col]
                distance_sum_m += float(d_m[row, col])
        n_matches += len(pairs)
        n_false += len(track_ids) - len(pairs)
        ever_matched.update(track_ids[col] for col in pairs.values())
        all_tracks.update(dict.fromkeys(track_ids))
    truths = np.array([len(i) for i in grid.truth_idx], dtype=np.int64)
    clear_mot = ClearMot(
        truths=int(truths.sum()),
        matches=n_matches,
        misses=int(truths.sum()) - n_matches,
        false_tracks=n_false,
        switches=int(switches.sum()),
        distance_sum_m=distance_sum_m,
    )
    return TrackScore(
        c_m,
        p,
        step_s,
        grid.t_unix,
        g_dist,
        g_loc,
        g_miss,
        g_false,
        o_dist,
        truths,
        np.array([len(i) for i in grid.track_ids]),
        switches,
        clear_mot,
        [continuity(path, matched[i]) for i, path in enumerate(paths)],
        [t for t in all_tracks if t not in ever_matched],
    )
