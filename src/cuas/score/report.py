"""``cuas score``: run (or read) a replay's tracks and alerts, score them against its truth,
and present the result as a table, as JSON, and as PNG plots.
"""

from __future__ import annotations

import io
import json
import math
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import numpy as np

from cuas.alerting.zones import ZoneShape, build_zones
from cuas.config import DeploymentConfig
from cuas.geo import EnuFrame
from cuas.replay.format import ReplayReader, Truth
from cuas.schema import Alert
from cuas.score.alerts import DEFAULT_APPROACH_M, AlertScore, first_alerts, score_alerts
from cuas.score.metrics import (
    DEFAULT_C_M,
    DEFAULT_P,
    ScoreError,
    TrackRecords,
    TrackScore,
    TruthPath,
    check_params,
    read_output_jsonl,
    score_tracks,
    truth_paths,
)

MATPLOTLIB_HINT = "pip install 'cuas[plots]'"


class ProgressLine:
    """A one-line progress bar on stderr, redrawn at most five times a second; drawn only on
    a terminal (in a log it would be noise), where ``done`` writes one plain line instead."""

    def __init__(self, label: str, stream: IO[str] | None = None) -> None:
        self.label = label
        self.stream = stream or sys.stderr
        self.drawn = self.stream.isatty()
        self._next_draw = 0.0

    def __call__(self, fraction: float) -> None:
        now = time.monotonic()
        if not self.drawn or now < self._next_draw:
            return
        self._next_draw = now + 0.2
        frac = min(max(fraction, 0.0), 1.0)
        self.stream.write(f"\r{self.label} [{'#' * int(frac * 30):<30}] {frac:4.0%}")
        self.stream.flush()

    def over(self, t0_unix: float, t1_unix: float) -> Callable[[float], None]:
        """The bar as a ``run_replay`` step callback, from recording times t0..t1."""
        span = max(t1_unix - t0_unix, 1e-9)
        return lambda t_unix: self((t_unix - t0_unix) / span)

    def done(self, text: str = "done") -> None:
        bar = f"\r{self.label} [{'#' * 30}] " if self.drawn else f"{self.label}: "
        self.stream.write(f"{bar}{text}\n")
        self.stream.flush()


class OutputCollector(io.TextIOBase):
    """A text sink for ``run_replay(out=...)`` keeping the track and alert records, parsed."""

    def __init__(self) -> None:
        super().__init__()
        self.tracks = TrackRecords()
        self.alerts: list[Alert] = []
        self._partial = ""

    def writable(self) -> bool:
        return True

    def write(self, text: str) -> int:
        lines = (self._partial + text).split("\n")
        self._partial = lines.pop()
        for line in lines:
            if line:
                self.add(json.loads(line))
        return len(text)

    def add(self, record: dict[str, Any]) -> None:
        kind = record.pop("type", None)
        if kind == "track":
            self.tracks.add(record)
        elif kind == "alert":
            self.alerts.append(Alert.model_validate(record))


@dataclass
class ScoreReport:
    replay: Path
    tracks_file: Path | None
    c_m: float
    p: float
    step_s: float
    approach_m: float
    t0_unix: float
    paths: list[TruthPath]
    zones: list[ZoneShape]
    track_records: TrackRecords
    alert_list: list[Alert]
    tracks: TrackScore
    alerts: AlertScore
    run: dict[str, Any] | None  # the replay summary, when the replay ran in-process

    def as_dict(self) -> dict[str, Any]:
        return {
            "replay": str(self.replay),
            "tracks_file": None if self.tracks_file is None else str(self.tracks_file),
            "params": {
                "c_m": self.c_m,
                "p": self.p,
                "step_s": self.step_s,
                "approach_m": self.approach_m,
            },
            "t0_unix": self.t0_unix,
            "truth_objects": len(self.paths),
            "accuracy": self.tracks.as_dict(),
            "alerts": self.alerts.as_dict(),
            "series": {
                "t_unix": [round(float(t), 3) for t in self.tracks.t_unix],
                "gospa_m": [round(float(v), 3) for v in self.tracks.gospa_m],
                "ospa_m": [round(float(v), 3) for v in self.tracks.ospa_m],
                "missed": self.tracks.gospa_missed.astype(int).tolist(),
                "false": self.tracks.gospa_false.astype(int).tolist(),
                "id_switches": self.tracks.switches.astype(int).tolist(),
            },
            "run": self.run,
        }


def read_truth(replay: Path) -> list[Truth]:
    truth = [r for r in ReplayReader(replay) if isinstance(r, Truth)]
    if not truth:
        raise ScoreError(
            f"{replay}: no truth records, so there is nothing to score against; score a "
            "recording made with ground truth (the demo, or one written by cuas simulate)"
        )
    return truth


def build_report(
    config: DeploymentConfig,
    replay: Path,
    *,
    tracks_file: Path | None = None,
    c_m: float = DEFAULT_C_M,
    p: float = DEFAULT_P,
    approach_m: float = DEFAULT_APPROACH_M,
    progress_label: str | None = None,
) -> ScoreReport:
    """Score a replay: its tracks and alerts from ``tracks_file`` or from running it here
    (with a progress bar on stderr when ``progress_label`` is given)."""
    check_params(c_m, p)
    if approach_m < 0:
        raise ScoreError(f"approach distance must be 0 m or more, got {approach_m!r}")
    ref = config.sites[0].reference
    frame = EnuFrame(ref.lat_deg, ref.lon_deg, ref.alt_m or 0.0)  # the engine's frame
    paths = truth_paths(read_truth(replay), frame)
    t0 = min(float(p_.t_unix[0]) for p_ in paths)
    t1 = max(float(p_.t_unix[-1]) for p_ in paths)
    collector = OutputCollector()
    run: dict[str, Any] | None = None
    if tracks_file is not None:
        for record in read_output_jsonl(tracks_file):
            collector.add(record)
    else:
        from cuas.replay.pipeline import run_replay  # the tracker: Numba, slow to import

        bar = ProgressLine(progress_label) if progress_label else None
        summary = run_replay(config, replay, out=collector, on_step=bar and bar.over(t0, t1))
        if bar:
            bar.done()
        run = summary.as_dict()
        run["detections_per_s"] = round(summary.detections / max(summary.wall_s, 1e-9), 1)
    step_s = config.tracker.publish_interval_s
    zones = build_zones(config.sites, frame)
    alerts = first_alerts(collector.alerts)
    return ScoreReport(
        replay=replay,
        tracks_file=tracks_file,
        c_m=c_m,
        p=p,
        step_s=step_s,
        approach_m=approach_m,
        t0_unix=t0,
        paths=paths,
        zones=zones,
        track_records=collector.tracks,
        alert_list=alerts,
        tracks=score_tracks(paths, collector.tracks, c_m=c_m, p=p, step_s=step_s),
        alerts=score_alerts(
            paths,
            alerts,
            zones,
            config.alerts.drone_classes,
            c_m=c_m,
            approach_m=approach_m,
        ),
        run=run,
    )


def _num(value: float | None, fmt: str = ".1f", unit: str = "") -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    return f"{value:{fmt}}{unit}"


def _rel(report: ScoreReport, t_unix: float | None) -> str:
    return "-" if t_unix is None else f"{t_unix - report.t0_unix:+.1f} s"


def _rows(header: list[str], rows: list[list[str]], left: int = 2) -> list[str]:
    """Aligned text columns: the first ``left`` to the left, numbers to the right."""
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
    out = []
    for row in [header, *rows]:
        cells = [
            c.ljust(w) if i < left else c.rjust(w)
            for i, (c, w) in enumerate(zip(row, widths, strict=True))
        ]
        out.append("  " + "  ".join(cells).rstrip())
    return out


def format_table(report: ScoreReport) -> str:
    acc = report.tracks.as_dict()
    mot = report.tracks.clear_mot  # unrounded, for the figures below
    al = report.alerts.as_dict()
    warn_mean, warn_min = (
        _num(al["warning_s_mean"], "+.1f", " s"),
        _num(al["warning_s_min"], "+.1f", " s"),
    )
    span = float(report.tracks.t_unix[-1] - report.tracks.t_unix[0]) if acc["steps"] else 0.0
    lines = [f"score: {report.replay}"]
    if report.run is not None:
        r = report.run
        lines.append(
            f"run: {r['frames']} frames, {r['detections']} detections in {r['wall_s']:.2f} s "
            f"({r['detections_per_s']:,.0f} detections/s), {r['tracks']} tracks, "
            f"{r['alerts']} alerts"
        )
    else:
        lines.append(f"tracks and alerts read from {report.tracks_file}")
    lines += [
        "",
        f"accuracy (c = {report.c_m:g} m, p = {report.p:g}; every {report.step_s:g} s over "
        f"{span:.1f} s, {len(report.paths)} truth objects)",
        f"  GOSPA mean       {_num(acc['gospa_mean_m'], '.2f', ' m')}   (missed "
        f"{_num(acc['gospa_missed_mean'], '.2f')}, false {_num(acc['gospa_false_mean'], '.2f')} "
        "per step)",
        f"  OSPA mean        {_num(acc['ospa_mean_m'], '.2f', ' m')}",
        f"  MOTA             {_num(mot.mota, '.3f')}   (threshold {report.c_m:g} m; "
        f"{mot.misses} misses, {mot.false_tracks} false tracks, {mot.switches} switches in "
        f"{mot.truths} object-steps)",
        f"  MOTP             {_num(mot.motp_m, '.2f', ' m')}   (mean distance of matched pairs)",
        f"  continuity       {_num(100 * acc['continuity_mean'], '.1f', ' %')} of object "
        "lifetime covered by a track (mean)",
        f"  ID switches      {acc['id_switches']}   (an object matched to a track other than "
        "its last one)",
        f"  fragmentations   {acc['fragmentations']}   (an object matched, missed, then matched "
        "again)",
        f"  tracks on no truth object: {len(acc['unassigned_tracks'])}",
        "",
    ]
    lines += _rows(
        ["object", "class", "lifetime", "tracks", "coverage", "switches", "gaps"],
        [
            [
                o["object"],
                o["class"],
                f"{o['lifetime_s']:.1f} s",
                str(o["track_count"]),
                f"{100 * o['coverage']:.1f} %",
                str(o["id_switches"]),
                str(o["fragmentations"]),
            ]
            for o in acc["objects"]
        ],
    )
    lines += [
        "",
        f"alerts (times from the first truth record; approach = within {report.approach_m:g} m)",
        f"  alerts {al['alerts']}, breaching objects {al['breaching_objects']}, "
        f"missed {al['missed']}, false {al['false']}, warning time mean "
        f"{warn_mean} (min {warn_min})",
    ]
    if al["site_alerts"]:
        counts = ", ".join(f"{rule} {n}" for rule, n in sorted(al["site_alerts"].items()))
        lines.append(f"  site-level alerts (not judged): {counts}")
    if al["objects"]:
        lines.append("")
        lines += _rows(
            ["object", "most critical zone", "breach", "first alert", "warning", "alerts"],
            [
                [
                    o["object"],
                    str(o["most_critical_zone"]),
                    _rel(report, o["breach_t_unix"]),
                    _rel(report, o["first_alert_t_unix"]),
                    _num(o["warning_s"], "+.1f", " s") if o["alert_ids"] else "MISSED",
                    ",".join(str(i) for i in o["alert_ids"]) or "-",
                ]
                for o in al["objects"]
            ],
        )
    for f in al["false_alerts"]:
        lines.append(
            f"  false alert {f['alert_id']} ({f['zone']}, track {f['track']}, raised "
            f"{_rel(report, f['raised_t_unix'])}): {f['reason']}"
        )
    return "\n".join(lines)


def write_plots(report: ScoreReport, out_dir: Path) -> list[Path]:
    """tracks_enu.png (tracks over truth, zones, alerts) and gospa.png (metrics over time)."""
    try:
        from matplotlib.figure import Figure
    except ImportError:
        raise ScoreError(
            f"--plots needs matplotlib, which is not installed (the 'plots' extra): "
            f"{MATPLOTLIB_HINT}"
        ) from None
    out_dir.mkdir(parents=True, exist_ok=True)
    level_colour = {"watch": "#f2e394", "warning": "#f5b971", "critical": "#ef7a7a"}

    fig = Figure(figsize=(8, 8), layout="constrained")
    ax = fig.add_subplot()
    for shape in report.zones:
        poly = np.vstack([shape.polygon_en, shape.polygon_en[:1]])
        ax.fill(poly[:, 0], poly[:, 1], color=level_colour[shape.zone.level.value], alpha=0.35)
        ax.plot(poly[:, 0], poly[:, 1], color="0.4", lw=0.8)
        ax.annotate(shape.zone.id, poly[0, :2], fontsize=8, color="0.3")
    for path in report.paths:
        ax.plot(path.enu_m[:, 0], path.enu_m[:, 1], color="black", lw=2.5, alpha=0.5)
        ax.annotate(path.object_id, path.enu_m[0, :2], fontsize=9)
    recs = report.track_records
    if len(recs):
        ids = np.array(recs.track_id)
        enu = np.array(recs.enu_m)
        scored = np.array([s in ("confirmed", "coasting") for s in recs.status], dtype=bool)
        for track_id in dict.fromkeys(ids[scored]):
            sel = scored & (ids == track_id)
            ax.plot(enu[sel, 0], enu[sel, 1], ".-", ms=3, lw=0.8, label=track_id)
    for alert in report.alert_list:
        if alert.track is not None:
            ax.plot(*alert.track.enu_m[:2], "v", color="red", ms=9)
    ax.plot(0, 0, "+", color="0.2", ms=12)
    ax.set_aspect("equal", adjustable="datalim")
    ax.set_xlabel("east (m)")
    ax.set_ylabel("north (m)")
    ax.set_title(f"{report.replay.name}: truth (grey), tracks, alerts (red triangles)")
    if len(recs) and len(set(recs.track_id)) <= 20:
        ax.legend(fontsize=8, loc="best")
    tracks_png = out_dir / "tracks_enu.png"
    fig.savefig(tracks_png, dpi=110)

    fig = Figure(figsize=(10, 6), layout="constrained")
    top, bottom = fig.subplots(2, 1, sharex=True, height_ratios=[2, 1])
    t = report.tracks.t_unix - report.t0_unix
    top.plot(t, report.tracks.gospa_m, label=f"GOSPA (c {report.c_m:g} m, p {report.p:g})")
    top.plot(t, report.tracks.ospa_m, label="OSPA")
    for alert in report.alert_list:
        top.axvline(alert.raised_t_unix - report.t0_unix, color="red", ls="--", lw=0.8)
    for obj in report.alerts.breaching:
        worst = obj.worst_breach
        if worst is not None and worst.breach_t_unix is not None:
            top.axvline(worst.breach_t_unix - report.t0_unix, color="black", ls=":", lw=1.0)
    top.set_ylabel("metres")
    top.set_title("GOSPA and OSPA over time (red: alerts raised; dotted: worst breaches)")
    top.legend(fontsize=8)
    bottom.step(t, report.tracks.gospa_missed, where="post", label="missed")
    bottom.step(t, report.tracks.gospa_false, where="post", label="false")
    hops = np.flatnonzero(report.tracks.switches)
    if len(hops):
        bottom.vlines(
            t[hops], 0, report.tracks.switches[hops], color="purple", lw=1.5, label="ID switches"
        )
    bottom.set_ylabel("count")
    bottom.set_xlabel("seconds from the first truth record")
    bottom.legend(fontsize=8)
    gospa_png = out_dir / "gospa.png"
    fig.savefig(gospa_png, dpi=110)
    return [tracks_png, gospa_png]
