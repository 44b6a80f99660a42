"""Every shipped scenario, replayed through the real path (the shipped file, the real drivers,
the deployment the file carries, as ``cuas replay FILE`` does), gives the alert outcome its
``[expect]`` tables promise: issue 10's bar. A scenario that fails today because of a fusion
fault being fixed is an expected failure naming the fault; it flips when the fix lands.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from cuas.score.outcome import replay_outcome
from cuas.sim.scenario import load_scenario

SCENARIOS = Path(__file__).resolve().parents[2] / "replay_data" / "scenarios"
SHIPPED = sorted(SCENARIOS.glob("*.toml"))

FAULTS = {
    "swarm_20": "issue 10: a 15 m grid of 20 drones is not resolved into one track per drone "
    "(tracks merge and swap: members missed or alerted late, alerts repeated); no fix assigned",
}


def _case(toml: Path):
    reason = FAULTS.get(toml.stem)
    marks = [pytest.mark.xfail(strict=True, reason=reason)] if reason else []
    return pytest.param(toml, id=toml.stem, marks=marks)


@pytest.mark.parametrize("toml", [_case(p) for p in SHIPPED])
def test_scenario_gives_its_expected_alert_outcome(toml):
    scenario = load_scenario(toml)
    assert scenario.expect, f"{toml.name} states no [expect] outcome"
    outcome = replay_outcome(toml.with_suffix(".jsonl.gz"), scenario.expect)
    assert {o.object_id for o in outcome.objects}, "no truth object has an expectation"
    failures = outcome.failures()
    if failures:  # no traceback: the list says what went wrong
        pytest.fail(f"{toml.name}:\n  " + "\n  ".join(failures), pytrace=False)
