"""``cuas bench``: every scenario replayed, scored and timed, one table each.

The cases are the bundled demo recording and every scenario TOML in the scenarios
folder, turned into a replay file by ``cuas simulate`` when this build has it. Each case
runs twice through the in-process replay pipeline: once collecting tracks and alerts for
``cuas score``'s metrics, once with no output, timed, for the speed figures.
"""

from __future__ import annotations

import os
import platform
import sys
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import TYPE_CHECKING

from cuas.config import ConfigError, DeploymentConfig, load_config
from cuas.replay.format import ReplayFormatError
from cuas.score.metrics import ScoreError
from cuas.score.report import ProgressLine, ScoreReport, build_report

if TYPE_CHECKING:
    from cuas.score.outcome import ScenarioOutcome
    from cuas.sim.scenario import Expect

SECTION = "## bench"


@dataclass(frozen=True)
class Case:
    name: str
    replay: Path
    config: DeploymentConfig
    origin: str  # where it came from, for the table's caption
    expect: dict[str, Expect] = field(default_factory=dict)  # the scenario's [expect]


@dataclass(frozen=True)
class Result:
    case: Case
    report: ScoreReport
    detections: int
    wall_s: float
    recording_s: float
    outcome: ScenarioOutcome | None  # None: the case states no expected outcome


def _simulator() -> tuple[Callable, Callable, Callable] | None:
    """``cuas simulate``'s loader, generator and replay config, if this build has them."""
    try:
        from cuas.sim.scenario import load_scenario
        from cuas.sim.simulate import replay_config, simulate
    except ImportError:
        return None
    return load_scenario, simulate, replay_config


def simulated_cases(
    scenarios: list[Path], work_dir: Path, notes: list[str], failures: list[str]
) -> list[Case]:
    """Replay files for the scenario TOMLs, written into ``work_dir`` by ``cuas simulate``."""
    sim = _simulator()
    if sim is None:
        if scenarios:
            notes.append(
                f"`cuas simulate` is not in this build: {len(scenarios)} scenario file(s) "
                "skipped, only existing replay files benched"
            )
        return []
    load_scenario, simulate, replay_config = sim
    cases = []
    for i, path in enumerate(scenarios, 1):
        bar = ProgressLine(f"[{i}/{len(scenarios)}] simulating {path.stem}")
        try:
            scenario = load_scenario(path)
            replay = work_dir / f"{scenario.name}.jsonl"
            simulate(scenario, replay, progress=bar)
        except ConfigError as exc:  # ScenarioError is one
            bar.done("failed")
            failures.append(f"{path.name}: {exc}")
            continue
        bar.done()
        origin = f"`{_shown(path)}`, simulated (seed {scenario.seed}, {scenario.duration_s:g} s)"
        config = replay_config(scenario, replay)
        cases.append(Case(scenario.name, replay, config, origin, dict(scenario.expect)))
    return cases


def _shown(path: Path) -> str:
    """A path as a report may print it: relative to the working folder when inside it, so no
    machine's absolute path lands in a committed file."""
    try:
        return path.resolve().relative_to(Path.cwd().resolve()).as_posix()
    except ValueError:
        return path.name


def run_case(case: Case, label: str) -> Result:
    from cuas.replay.pipeline import run_replay

    report = build_report(case.config, case.replay, progress_label=f"{label} scoring")
    bar = ProgressLine(f"{label} timing ")
    t0 = report.t0_unix
    t1 = t0 + float(report.tracks.t_unix[-1] - report.tracks.t_unix[0])
    summary = run_replay(case.config, case.replay, on_step=bar.over(t0, t1))
    bar.done()
    outcome = None
    if case.expect:
        from cuas.score.outcome import check_outcome

        outcome = check_outcome(report.paths, report.alert_list, report.zones, case.expect)
    return Result(case, report, summary.detections, summary.wall_s, summary.duration_s, outcome)


def _fmt(value: float | None, spec: str, unit: str = "") -> str:
    return "-" if value is None else f"{value:{spec}}{unit}"


def case_table(result: Result) -> str:
    r = result.report
    acc, al = r.tracks.as_dict(), r.alerts.as_dict()
    rate = result.detections / max(result.wall_s, 1e-9)
    rows = [
        (
            "accuracy",
            f"GOSPA mean (c {r.c_m:g} m, p {r.p:g})",
            _fmt(acc["gospa_mean_m"], ".2f", " m"),
        ),
        ("accuracy", "OSPA mean", _fmt(acc["ospa_mean_m"], ".2f", " m")),
        (
            "accuracy",
            f"MOTA / MOTP (CLEAR MOT, threshold {r.c_m:g} m)",
            f"{_fmt(r.tracks.clear_mot.mota, '.3f')} / "
            f"{_fmt(r.tracks.clear_mot.motp_m, '.2f', ' m')}",
        ),
        (
            "accuracy",
            "continuity: object lifetime tracked",
            f"{100 * acc['continuity_mean']:.1f} %",
        ),
        ("accuracy", "tracks per object", _fmt(acc["tracks_per_object_mean"], ".2f")),
        (
            "accuracy",
            "ID switches / fragmentations",
            f"{acc['id_switches']} / {acc['fragmentations']}",
        ),
        ("accuracy", "tracks on no truth object", str(len(acc["unassigned_tracks"]))),
        ("alerts", "objects breaching a zone", str(al["breaching_objects"])),
        ("alerts", "missed", str(al["missed"])),
        ("alerts", "false", f"{al['false']} of {al['alerts']}"),
        (
            "alerts",
            "warning time mean (min)",
            _fmt(al["warning_s_mean"], "+.1f", " s")
            + f" ({_fmt(al['warning_s_min'], '+.1f', ' s')})",
        ),
        ("speed", "detections per second", f"{rate:,.0f}"),
        (
            "speed",
            "wall time",
            f"{result.wall_s:.2f} s for {result.recording_s:.0f} s of recording "
            f"({result.recording_s / max(result.wall_s, 1e-9):,.0f}x real time)",
        ),
    ]
    lines = [
        f"### {result.case.name}",
        "",
        f"{result.case.origin}: {len(r.paths)} truth objects, {result.detections:,} detections.",
        "",
        "| | metric | value |",
        "|---|---|---|",
    ]
    lines += [f"| {group} | {metric} | {value} |" for group, metric, value in rows]
    return "\n".join(lines)


def outcome_table(results: list[Result]) -> str:
    """One row per case: the alert outcome against its [expect], beside GOSPA and MOTA."""
    lines = [
        "### alert outcome",
        "",
        "Each scenario's `[expect]` tables (`cuas.score.outcome`): missed = a breaching drone "
        "with no critical alert before its breach and >= its lead (20 s) ahead, or, taking off "
        "inside, within 10 s; false = drone alerts on a friend, manned aircraft or bird "
        "(ghost: on no object at all); warning = breach - first alert; lead = breach - first "
        "critical alert; flaps = alerts beyond one per object and zone.",
        "",
        "| scenario | GOSPA mean | MOTA | drones to alert | missed | false (ghost) "
        "| warning min / mean | lead min | flaps | outcome |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for result in results:
        out = result.outcome
        if out is None:
            continue
        d = out.as_dict()
        acc = result.report.tracks
        verdict = "as expected" if not d["failures"] else f"{len(d['failures'])} failed"
        lines.append(
            f"| {result.case.name} | {_fmt(acc.as_dict()['gospa_mean_m'], '.1f', ' m')} "
            f"| {_fmt(acc.clear_mot.mota, '.3f')} | {d['expected_alerts']} | {d['missed']} "
            f"| {d['false_drone_alerts']} ({d['unmatched_alerts']}) "
            f"| {_fmt(d['warning_s_min'], '+.1f', ' s')} / "
            f"{_fmt(d['warning_s_mean'], '+.1f', ' s')} | {_fmt(d['lead_s_min'], '+.1f', ' s')} "
            f"| {d['flaps']} | {verdict} |"
        )
    return "\n".join(lines)


def machine() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    versions = ", ".join(f"{m} {metadata.version(m)}" for m in ("numba", "numpy", "scipy"))
    return f"{os.cpu_count()} CPUs, {cpu}, Python {platform.python_version()}, {versions}"


def section(
    results: list[Result], notes: list[str], failures: list[str], command: str = "cuas bench"
) -> str:
    lines = [
        SECTION,
        "",
        "Each scenario replayed as fast as possible through the real drivers, tracker and alert "
        "rules in one process (`cuas replay`), and scored against the truth in its file "
        "(`cuas score`: GOSPA and OSPA every publish interval; CLEAR MOT MOTA, MOTP, ID switches "
        "and fragmentations; continuity; alert misses, false alerts and warning time). Speed "
        "comes from a second, unscored run of the same file; it includes reading and decoding "
        "the frames.",
        "",
        f"Command: `{command}`",
        "",
        f"Machine: {machine()}.",
        "",
    ]
    lines += [f"Note: {n}" for n in notes] + [f"Failed: {f}" for f in failures]
    if notes or failures:
        lines.append("")
    if any(r.outcome is not None for r in results):
        lines += [outcome_table(results), ""]
        for r in results:
            lines += [f"- {r.case.name}: {f}" for f in (r.outcome.failures() if r.outcome else [])]
        lines.append("")
    for result in results:
        lines += [case_table(result), ""]
    return "\n".join(lines)


def replace_section(text: str, body: str) -> str:
    """``text`` with its ``## bench`` section (up to the next level-2 heading) set to ``body``,
    appended at the end when it has none; the rest of the file is left as it was."""
    lines = text.splitlines(keepends=True)
    start = next((i for i, line in enumerate(lines) if line.rstrip() == SECTION), None)
    body = body.rstrip("\n") + "\n"
    if start is None:
        sep = "" if not text else ("\n" if text.endswith("\n") else "\n\n")
        return text + sep + body
    end = next((i for i in range(start + 1, len(lines)) if lines[i].startswith("## ")), len(lines))
    tail = lines[end:]
    return "".join(lines[:start]) + body + ("\n" if tail else "") + "".join(tail)


def run_bench(
    scenarios_dir: Path | None,
    demo_replay: Path | None,
    demo_config: Path | None,
    out: Path | None,
    command: str = "cuas bench",
) -> int:
    """Score every case and print the section; ``command`` is the command line it states."""
    notes: list[str] = []
    failures: list[str] = []
    scenario_files = sorted(scenarios_dir.glob("*.toml")) if scenarios_dir else []
    with tempfile.TemporaryDirectory(prefix="cuas-bench-") as tmp:
        cases: list[Case] = []
        if demo_replay is not None and demo_config is not None and demo_replay.is_file():
            cases.append(
                Case("demo", demo_replay, load_config(demo_config), f"`{_shown(demo_replay)}`")
            )
        cases += simulated_cases(scenario_files, Path(tmp), notes, failures)
        results = []
        for i, case in enumerate(cases, 1):
            try:
                results.append(run_case(case, f"[{i}/{len(cases)}] {case.name}"))
            except (ConfigError, ScoreError, ReplayFormatError) as exc:
                print(file=sys.stderr)
                failures.append(f"{case.name}: {exc}")
    for line in notes + [f"failed: {f}" for f in failures]:
        print(f"cuas bench: {line}", file=sys.stderr)
    text = section(results, notes, failures, command)
    print(text)
    if out is not None:
        old = out.read_text(encoding="utf-8") if out.is_file() else ""
        out.write_text(replace_section(old, text), encoding="utf-8")
        print(f"wrote the {SECTION!r} section of {out}", file=sys.stderr)
    return 1 if failures or not results else 0
