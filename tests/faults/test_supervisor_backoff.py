"""The supervisor's restart backoff: it grows while a part keeps dying, and starts over
after a healthy run. Before, the delay never reset: after a few crashes hours apart, every
later crash cost the full 30 s of blindness."""

from cuas.supervisor import HEALTHY_RUN_S, RESTART_BACKOFF_MAX_S, _Part


def _crash(part: _Part, ran_s: float) -> float:
    """The delay after a run of ``ran_s``; then the restart, as the supervisor does it."""
    died = part.started + ran_s
    delay = part.restart_delay_s(died)
    part.restarts += 1
    part.started = died + delay
    return delay


def test_backoff_doubles_while_a_part_keeps_crashing_and_is_capped():
    part = _Part("engine", started=100.0)
    delays = [_crash(part, ran_s=0.5) for _ in range(8)]
    assert delays == [1.0, 2.0, 4.0, 8.0, 16.0, RESTART_BACKOFF_MAX_S, 30.0, 30.0]


def test_backoff_starts_over_after_a_healthy_minute():
    part = _Part("engine", started=100.0)
    for _ in range(6):
        _crash(part, ran_s=0.5)
    assert _crash(part, ran_s=HEALTHY_RUN_S - 1.0) == RESTART_BACKOFF_MAX_S
    assert _crash(part, ran_s=HEALTHY_RUN_S + 1.0) == 1.0
    assert _crash(part, ran_s=0.5) == 2.0
