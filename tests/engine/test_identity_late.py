"""Identity arriving after the first plots re-decides the track's alerts (fusion_scene.py).

A drone takes off inside the critical zone: the radar sees it from its first second and
labels it UAV, and confirms it at 2 s (3 of 5 plots); the Remote ID receiver hears location
messages (MAC only) from 0.6 s and the Basic ID burst (the serial) at 2.3 s, so the serial
reaches the track with the location message at 2.6 s, after the radar has confirmed it.
"""

import numpy as np
import pytest
from fusion_scene import T0, RemoteIdAir, radar_plot, run

from cuas.schema import AlertState, ObjectClass, ZoneLevel

SERIAL, MAC = "1581F5FJD229400", "60:60:1f:a3:41:7c"
FRIEND = {"kind": "rid_serial", "value": SERIAL, "label": "site survey drone"}


def take_off(t: float) -> np.ndarray:
    """From the ground 40 m north of the reference, climbing at 3 m/s, drifting east."""
    return np.array([1.5 * t, 40.0, min(3.0 * t, 60.0)])


def take_off_arrivals(
    seed: int,
    rid_from_s: float | None = 0.6,
    serial_from_s: float = 2.6,
    confidence: float = 0.8,
    until_s: float = 20.0,
) -> list:
    """Radar plots at 1 Hz from 0 s, labelled UAV with ``confidence``; Remote ID locations at
    1 Hz from ``rid_from_s`` (None: a drone without Remote ID), the serial (a Basic ID burst
    0.3 s before) on those from ``serial_from_s``."""
    rng = np.random.default_rng(seed)
    air = RemoteIdAir(MAC, SERIAL)
    arrivals = []
    for t in np.arange(0.0, until_s, 1.0):
        det = radar_plot(t, take_off(t), rng, ObjectClass.DRONE, confidence)
        arrivals.append((t + 0.05, det))
    for t in np.arange(rid_from_s, until_s, 1.0) if rid_from_s is not None else []:
        if abs(t - serial_from_s) < 0.01:
            arrivals += [(t - 0.3, d) for d in air.basic_id(t - 0.3)]
        vel = (take_off(t + 0.5) - take_off(t - 0.5)) / 1.0
        arrivals += [(t + 0.02, d) for d in air.location(t, take_off(t), vel, rng)]
    return arrivals


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_a_friend_taking_off_inside_the_critical_zone_pages_no_one(seed):
    result = run(take_off_arrivals(seed), 20.0, friends=[FRIEND])
    assert result.alerts() == []
    (track,) = {t.track_id: t for _, s in result.steps for t in s.tracks}.values()
    assert track.friendly is not None and SERIAL in track.friendly


@pytest.mark.parametrize("seed", [1, 2, 3])
@pytest.mark.parametrize(
    "rid_from_s, raised_after_s",
    [
        (0.6, 2.62),  # its own serial ends the grace: raised with that location message
        # no Remote ID at all: raised when the radar's labels decide it a drone (6 UAV labels
        # at confidence 0.8; cuas.engine.classification), after the grace has run (3 s)
        (None, 5.05),
    ],
)
def test_a_hostile_take_off_inside_the_critical_zone_is_alerted_within_the_grace(
    seed, rid_from_s, raised_after_s
):
    result = run(take_off_arrivals(seed, rid_from_s), 20.0)
    core = result.zone_alerts("core")
    assert len(core) == 1 and core[0].zone_level is ZoneLevel.CRITICAL
    # raised in the zone, or (plots under the zone's floor at lift-off) a pre-alert that
    # escalated as it climbed in: either way one open critical alert
    assert core[0].rule == "drone_in_zone"
    assert core[0].state in (AlertState.RAISED, AlertState.ESCALATED)
    born = core[0].track.first_t_unix
    assert born == pytest.approx(T0)  # the first radar plot started the track
    # the radar confirmed it at 2 s; the grace (3 s) holds it at most until 3 s
    assert core[0].raised_t_unix - born == pytest.approx(raised_after_s, abs=0.06)


def test_identity_arriving_after_an_alert_re_keys_it_and_clears_it_as_a_friend():
    # no grace, and the first Remote ID message (with the serial) reaches the track at 6.6 s:
    # the radar's alert goes out when its labels make it a drone (4 s), keyed by the track
    arrivals = take_off_arrivals(4, rid_from_s=6.6, serial_from_s=6.6, confidence=1.0)
    result = run(arrivals, 20.0, friends=[FRIEND], identity_grace_s=0.0)
    core = result.zone_alerts("core")
    assert len(core) == 1
    (alert,) = core
    events = result.store.events(alert.alert_id)
    assert events[0].to_state is AlertState.RAISED and events[0].t_unix - T0 < 6.6
    [rekey] = [e for e in events if "identified as" in e.reason]
    assert rekey.from_state == rekey.to_state  # audited, the state unchanged
    assert rekey.reason == f"track {alert.track_id} identified as rid:{SERIAL}"
    # cleared in the step the serial reached the track: at the 6.6 s location message
    cleared = events[-1]
    assert cleared.to_state is AlertState.CLEARED and cleared.t_unix == rekey.t_unix
    assert cleared.reason.startswith(f"friendly: friend list entry 1: rid_serial {SERIAL}")
    assert alert.state is AlertState.CLEARED and alert.object_key != f"track:{alert.track_id}"
