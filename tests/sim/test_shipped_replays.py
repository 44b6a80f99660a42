"""The shipped scenario replays are what ``cuas simulate`` writes today from the TOML beside
them, so an encoder or simulator change cannot leave stale recordings behind.

Compared by content, so that the test holds on any x86-64 CPU: the simulator's numbers come
from numpy's and libm's transcendental functions, whose last bit may differ between CPUs
(SIMD paths), and a value that sits on a rounding boundary of a protocol field then lands one
step apart. Records are compared line by line; lines that differ must still say the same:
header exact; truth and frame times exact; other numbers within 1e-8 relative (1e-6
absolute), below any protocol's resolution but above a last-digit flip; binary frames
decoded through the sensor's real driver (with the deployment the file carries) and their
detections compared the same way. Decompressed first: the deflate stream may differ between
zlib builds while the records are the same.
"""

from __future__ import annotations

import gzip
import json
import math
import re
from pathlib import Path
from typing import Any

import pytest

from cuas.cli import main
from cuas.driver.host import FrameDecoder
from cuas.driver.registry import build_driver
from cuas.replay.deployment import carried_deployment
from cuas.replay.format import Frame, ReplayReader
from cuas.sim.scenario import load_scenario
from cuas.sim.simulate import simulate

REL_TOL, ABS_TOL = 1e-8, 1e-6
_NUMBER = re.compile(r"-?\d+(?:\.\d+)?(?:[eE][-+]?\d+)?")

SCENARIOS = Path(__file__).resolve().parents[2] / "replay_data" / "scenarios"
SHIPPED = sorted(SCENARIOS.glob("*.toml"))


def _regenerate_hint(toml: Path) -> str:
    replay = toml.with_suffix(".jsonl.gz").relative_to(SCENARIOS.parents[1])
    return (
        f"{replay} is not what `cuas simulate` writes from {toml.name} today; regenerate it "
        f"from the repo root with `.venv/bin/cuas simulate {toml.relative_to(SCENARIOS.parents[1])}"
        f" -o {replay}` (or, for all of them: `for f in replay_data/scenarios/*.toml; do "
        ".venv/bin/cuas simulate $f -o ${f%.toml}.jsonl.gz; done`)"
    )


def _same_value(a: Any, b: Any, path: str = "") -> str | None:
    """None when ``a`` and ``b`` say the same (numbers within the tolerance), else where not."""
    if isinstance(a, bool) or isinstance(b, bool) or a is None or b is None:
        return None if a == b else path
    if isinstance(a, int | float) and isinstance(b, int | float):
        exact = path.endswith((".t", ".t_unix", "t_unix"))
        ok = a == b if exact else math.isclose(a, b, rel_tol=REL_TOL, abs_tol=ABS_TOL)
        return None if ok else f"{path}: {a!r} != {b!r}"
    if isinstance(a, str) and isinstance(b, str):
        if a == b:
            return None
        if _NUMBER.sub("#", a) != _NUMBER.sub("#", b):
            return f"{path}: {a[:120]!r} != {b[:120]!r}"
        nums = zip(_NUMBER.findall(a), _NUMBER.findall(b), strict=True)
        return next((d for x, y in nums if (d := _same_value(float(x), float(y), path))), None)
    if isinstance(a, dict) and isinstance(b, dict):
        if a.keys() != b.keys():
            return f"{path}: keys {sorted(a)} != {sorted(b)}"
        return next((d for k in a if (d := _same_value(a[k], b[k], f"{path}.{k}"))), None)
    if isinstance(a, list | tuple) and isinstance(b, list | tuple):
        if len(a) != len(b):
            return f"{path}: {len(a)} items != {len(b)}"
        return next(
            (d for i, (x, y) in enumerate(zip(a, b, strict=True))
             if (d := _same_value(x, y, f"{path}[{i}]"))),
            None,
        )  # fmt: skip
    return None if a == b else f"{path}: {a!r} != {b!r}"


def _decoders(path: Path) -> dict[str, FrameDecoder]:
    config = carried_deployment(ReplayReader(path).header, path)
    assert config is not None, f"{path} carries no deployment"
    return {s.id: FrameDecoder(build_driver(s)) for s in config.sensors}


def content_difference(shipped: Path, now: Path) -> str | None:
    """Where two replay files stop saying the same, or None (see the module docstring)."""
    a_lines = gzip.decompress(shipped.read_bytes()).splitlines()
    b_lines = gzip.decompress(now.read_bytes()).splitlines()
    if a_lines == b_lines:
        return None
    if len(a_lines) != len(b_lines):
        return f"shipped has {len(a_lines)} records, regenerated {len(b_lines)}"
    if a_lines[0] != b_lines[0]:
        return f"headers differ:\n  shipped {a_lines[0][:300]!r}\n  now     {b_lines[0][:300]!r}"
    # every frame goes through a decoder of each file (drivers keep state between frames)
    dec_a, dec_b = _decoders(shipped), _decoders(now)
    frames_a = (r for r in ReplayReader(shipped) if isinstance(r, Frame))
    frames_b = (r for r in ReplayReader(now) if isinstance(r, Frame))
    for i, (x, y) in enumerate(zip(a_lines[1:], b_lines[1:], strict=True), 2):
        rx, ry = json.loads(x), json.loads(y)
        if rx.get("type") == "frame":
            fa, fb = next(frames_a), next(frames_b)
            det_a = [d.model_dump(mode="json") for d in dec_a[fa.sensor_id](fa.t_unix, fa.data)]
            det_b = [d.model_dump(mode="json") for d in dec_b[fb.sensor_id](fb.t_unix, fb.data)]
            if x == y:
                continue
            rx.pop("b64", None), ry.pop("b64", None)
            diff = _same_value(rx, ry, f"line {i}") or _same_value(det_a, det_b, f"line {i}")
        else:
            diff = None if x == y else _same_value(rx, ry, f"line {i}")
        if diff:
            return f"first different record, {diff}"
    return None


def test_content_comparison_ignores_a_last_digit_and_catches_a_real_change(tmp_path):
    """The comparison itself: a flipped last digit in a truth latitude and in a SAPIENT
    double passes; a moved truth point and a changed frame do not."""
    toml = SCENARIOS / "hostile_takeoff.toml"
    shipped = toml.with_suffix(".jsonl.gz")
    lines = gzip.decompress(shipped.read_bytes()).decode().splitlines()

    def variant(name: str, edit) -> Path:
        out = [*lines]
        i = next(k for k, line in enumerate(out) if edit(json.loads(line)) is not None)
        out[i] = json.dumps(edit(json.loads(out[i])), separators=(",", ":"))
        path = tmp_path / name
        path.write_bytes(gzip.compress(("\n".join(out) + "\n").encode()))
        return path

    def flip_lat(rec: dict) -> dict | None:
        if rec.get("type") != "truth":
            return None
        return {**rec, "lat_deg": round(rec["lat_deg"] + 1e-8, 8)}

    def move_lat(rec: dict) -> dict | None:
        if rec.get("type") != "truth":
            return None
        return {**rec, "lat_deg": rec["lat_deg"] + 1e-5}  # about a metre

    def shift_rid(rec: dict) -> dict | None:
        if rec.get("sensor") != "rid-1" or "Location/Vector" not in rec.get("data", ""):
            return None
        lat = json.loads(rec["data"])[0]["Location/Vector Message"]["latitude"]
        moved = f"{float(lat) + 1e-4:.7f}"  # about 11 m
        return {**rec, "data": rec["data"].replace(lat, moved)}

    assert content_difference(shipped, variant("flip.jsonl.gz", flip_lat)) is None
    assert "lat_deg" in content_difference(shipped, variant("move.jsonl.gz", move_lat))
    assert content_difference(shipped, variant("rid.jsonl.gz", shift_rid)) is not None


def test_every_scenario_ships_its_replay():
    assert len(SHIPPED) >= 7
    missing = [p.name for p in SHIPPED if not p.with_suffix(".jsonl.gz").is_file()]
    assert not missing, f"no replay shipped for {missing}: " + _regenerate_hint(SHIPPED[0])


@pytest.mark.parametrize("toml", SHIPPED, ids=lambda p: p.stem)
def test_shipped_replay_is_what_simulate_writes_today(toml, tmp_path):
    out = tmp_path / toml.with_suffix(".jsonl.gz").name
    simulate(load_scenario(toml), out)  # the scenario's own seed, as `cuas simulate` uses it
    diff = content_difference(toml.with_suffix(".jsonl.gz"), out)
    assert diff is None, _regenerate_hint(toml) + "\n" + diff


def test_the_named_command_writes_the_shipped_bytes(tmp_path, capsys):
    """The command the failure message names, run as a user runs it (in-process CLI), on the
    smallest scenario."""
    toml = SCENARIOS / "rf_only_intruder.toml"
    out = tmp_path / "rf_only_intruder.jsonl.gz"
    assert main(["simulate", str(toml), "-o", str(out)]) == 0
    assert f"wrote {out}" in capsys.readouterr().out
    assert content_difference(toml.with_suffix(".jsonl.gz"), out) is None, _regenerate_hint(toml)
