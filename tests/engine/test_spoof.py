"""An identity is a claim: a forged Remote ID with a friend's serial (fusion_scene.py).

The friend hovers in the outer ring, 800 m east of the reference, broadcasting its Remote
ID at 1 Hz. From 10 s a hostile drone hovers inside the critical zone, seen by the radar
(labelled UAV), and a transmitter beside it replays the friend's serial and MAC with its
own position: the same identity, 800 m away, a second after the friend was last heard.
"""

import numpy as np
import pytest
from fusion_scene import CORE_M, RemoteIdAir, radar_plot, run

from cuas.schema import FLAG_POSSIBLE_SPOOF, ObjectClass, ZoneLevel

SERIAL, MAC = "1581F5FJD229400", "60:60:1f:a3:41:7c"
FRIEND = {"kind": "rid_serial", "value": SERIAL, "label": "site survey drone"}
FRIEND_AT = np.array([800.0, 0.0, 50.0])
HOSTILE_AT = np.array([-50.0, 60.0, 40.0])


def forged_arrivals(seed: int, until_s: float = 40.0) -> list:
    rng = np.random.default_rng(seed)
    friend, forger = RemoteIdAir(MAC, SERIAL), RemoteIdAir(MAC, SERIAL)
    arrivals = []
    zero = np.zeros(3)
    arrivals += [(0.1, d) for d in friend.basic_id(0.1)]
    arrivals += [(10.1, d) for d in forger.basic_id(10.1)]
    for t in np.arange(0.5, until_s, 1.0):
        arrivals += [(t + 0.02, d) for d in friend.location(t, FRIEND_AT, zero, rng)]
        if t >= 10.0:
            arrivals += [(t + 0.52, d) for d in forger.location(t + 0.5, HOSTILE_AT, zero, rng)]
            plot = radar_plot(t + 0.3, HOSTILE_AT, rng, ObjectClass.DRONE, 0.8)
            arrivals.append((t + 0.35, plot))
    return arrivals


@pytest.mark.parametrize("seed", range(3))
def test_a_forged_friend_serial_inside_the_critical_zone_is_a_flagged_separate_object(seed):
    result = run(forged_arrivals(seed), 40.0, friends=[FRIEND])
    tracks = {}
    for _, step in result.steps:
        for track in step.tracks:
            tracks.setdefault(track.track_id, []).append(track)
    # the friend's track never left the friend: no teleport to the forger
    near_friend = [
        ts for ts in tracks.values() if np.linalg.norm(ts[-1].enu_m[:2] - FRIEND_AT[:2]) < 60.0
    ]
    assert len(near_friend) == 1 and near_friend[0][-1].friendly is not None
    for track in near_friend[0]:
        assert np.linalg.norm(np.array(track.enu_m[:2]) - FRIEND_AT[:2]) < 60.0
    # the forged messages made (or joined the radar's) track of another object, flagged; the
    # identity is disputed, so the friend's own track is flagged from then on too
    spoofed = [ts[-1] for ts in tracks.values() if ts is not near_friend[0]]
    assert len(spoofed) == 1 and FLAG_POSSIBLE_SPOOF in spoofed[0].flags
    assert FLAG_POSSIBLE_SPOOF in near_friend[0][-1].flags
    assert np.hypot(*spoofed[0].enu_m[:2]) < CORE_M
    assert spoofed[0].identity.rid_serial == SERIAL
    # and the friend's serial silences nothing: the critical zone's alert names the doubt
    core = result.zone_alerts("core")
    assert len(core) == 1 and core[0].zone_level is ZoneLevel.CRITICAL
    assert core[0].track_id == spoofed[0].track_id
    assert "possible spoofed Remote ID" in result.store.events(core[0].alert_id)[0].reason
    assert result.engine.counters["identity_claims_implausible"] >= 25
