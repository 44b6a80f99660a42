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


def take_off_arrivals(seed: int, rid_from_s: float | None = 0.6, until_s: float = 20.0) -> list:
    """Radar plots at 1 Hz from 0 s; Remote ID locations at 1 Hz from ``rid_from_s`` (None:
    a drone without Remote ID), the serial (Basic ID burst at 2.3 s) on those from 2.6 s."""
    rng = np.random.default_rng(seed)
    air = RemoteIdAir(MAC, SERIAL)
    arrivals = []
    for t in np.arange(0.0, until_s, 1.0):
        det = radar_plot(t, take_off(t), rng, ObjectClass.DRONE, 0.8)
        arrivals.append((t + 0.05, det))
    for t in np.arange(rid_from_s, until_s, 1.0) if rid_from_s is not None else []:
        if abs(t - 2.6) < 0.01:
            arrivals += [(2.3, d) for d in air.basic_id(2.3)]
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
        (None, 3.0),  # no Remote ID at all: raised when the grace has run from the first plot
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
    # the radar confirmed it at 2 s; the grace (3 s) holds it at most until 3 s, and the
    # first step at or after that raises it (quick steps at arrivals, full ones every 0.5 s)
    assert core[0].raised_t_unix - born == pytest.approx(raised_after_s, abs=0.06)


def test_identity_arriving_after_an_alert_re_keys_it_and_clears_it_as_a_friend():
    # no grace, and the first Remote ID message (with the serial) reaches the track at 2.6 s:
    # the radar's alert goes out at confirmation, keyed by the track
    arrivals = take_off_arrivals(4, rid_from_s=2.6)
    result = run(arrivals, 20.0, friends=[FRIEND], identity_grace_s=0.0)
    core = result.zone_alerts("core")
    assert len(core) == 1
    (alert,) = core
    events = result.store.events(alert.alert_id)
    assert [e.to_state for e in events] == [
        AlertState.RAISED,
        AlertState.RAISED,  # the audited re-key, state unchanged
        AlertState.CLEARED,
    ]
    assert "identified as" in events[1].reason
    assert events[2].reason.startswith("friendly: friend list entry")
    assert SERIAL in events[2].reason
    # cleared in the step the serial reached the track: at the 2.6 s location message
    assert events[2].t_unix == pytest.approx(events[1].t_unix)
    assert alert.state is AlertState.CLEARED and alert.object_key != f"track:{alert.track_id}"
