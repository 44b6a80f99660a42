"""The shipped scenario replays are what ``cuas simulate`` writes today from the TOML beside
them, so an encoder or simulator change cannot leave stale recordings behind.

Compared decompressed: the writer puts no name or time in the gzip header, but the deflate
stream may differ between zlib builds while the records are the same.
"""

from __future__ import annotations

import gzip
from pathlib import Path

import pytest

from cuas.cli import main
from cuas.sim.scenario import load_scenario
from cuas.sim.simulate import simulate

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


def _first_difference(a: bytes, b: bytes) -> str:
    lines_a, lines_b = a.splitlines(), b.splitlines()
    for i, (x, y) in enumerate(zip(lines_a, lines_b, strict=False)):
        if x != y:
            return (
                f"first different record, line {i + 1}:\n  shipped {x[:300]!r}\n"
                f"  now     {y[:300]!r}"
            )
    return f"shipped has {len(lines_a)} records, regenerated {len(lines_b)}"


def test_every_scenario_ships_its_replay():
    assert len(SHIPPED) >= 7
    missing = [p.name for p in SHIPPED if not p.with_suffix(".jsonl.gz").is_file()]
    assert not missing, f"no replay shipped for {missing}: " + _regenerate_hint(SHIPPED[0])


@pytest.mark.parametrize("toml", SHIPPED, ids=lambda p: p.stem)
def test_shipped_replay_is_what_simulate_writes_today(toml, tmp_path):
    out = tmp_path / toml.with_suffix(".jsonl.gz").name
    simulate(load_scenario(toml), out)  # the scenario's own seed, as `cuas simulate` uses it
    shipped = gzip.decompress(toml.with_suffix(".jsonl.gz").read_bytes())
    now = gzip.decompress(out.read_bytes())
    assert shipped == now, _regenerate_hint(toml) + "\n" + _first_difference(shipped, now)


def test_the_named_command_writes_the_shipped_bytes(tmp_path, capsys):
    """The command the failure message names, run as a user runs it (in-process CLI), on the
    smallest scenario."""
    toml = SCENARIOS / "rf_only_intruder.toml"
    out = tmp_path / "rf_only_intruder.jsonl.gz"
    assert main(["simulate", str(toml), "-o", str(out)]) == 0
    assert f"wrote {out}" in capsys.readouterr().out
    assert gzip.decompress(out.read_bytes()) == gzip.decompress(
        toml.with_suffix(".jsonl.gz").read_bytes()
    ), _regenerate_hint(toml)
