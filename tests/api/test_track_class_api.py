"""Tracks the engine made from mixed evidence, served by the API with their class belief, its
sources and the spoof flag (real store, real bus, the app's HTTP client)."""

import sys
import time
from pathlib import Path

import numpy as np
import pytest
from fastapi.testclient import TestClient

from cuas.api.app import create_app
from cuas.bus import TOPIC_TRACKS, Publisher
from cuas.config import load_config
from cuas.schema import ObjectClass
from cuas.store.sqlite import Store

from support import DEMO_CONFIG, free_port

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "engine"))
from fusion_scene import AdsbFeed, RemoteIdAir, radar_plot, run  # noqa: E402


@pytest.fixture
def api(tmp_path):
    endpoint = f"tcp://127.0.0.1:{free_port()}"
    engine_pub = Publisher(endpoint, bind=True, src="engine")
    store = Store(tmp_path / "cuas.sqlite")
    app = create_app(load_config(DEMO_CONFIG), store, endpoint)
    with TestClient(app, base_url="http://127.0.0.1") as client:
        assert engine_pub.wait_for_subscriber(5.0), "API never subscribed to the engine output"
        yield client, engine_pub
    engine_pub.close()
    store.close()


def engine_tracks():
    """An airliner (ADS-B, radar calling it UAV) and a forged friend's serial by a drone."""
    rng = np.random.default_rng(3)
    feed, friend, forger = AdsbFeed(), RemoteIdAir("aa", "SER-F"), RemoteIdAir("aa", "SER-F")
    arrivals = [(0.1, d) for d in friend.basic_id(0.1)] + [(0.1, d) for d in forger.basic_id(0.1)]
    for t in np.arange(0.0, 20.0, 1.0):
        plane = np.array([-1500.0 + 70.0 * t, 300.0, 250.0])
        arrivals.append((t + 0.05, radar_plot(t, plane, rng, ObjectClass.DRONE, 0.9)))
        arrivals += [(t + 0.3, d) for d in feed.position(t + 0.25, "4CA7B3", plane)]
        here, there = np.array([900.0, 0.0, 50.0]), np.array([0.0, -100.0, 40.0])
        arrivals += [(t + 0.4, d) for d in friend.location(t + 0.4, here, np.zeros(3), rng)]
        arrivals += [(t + 0.7, d) for d in forger.location(t + 0.7, there, np.zeros(3), rng)]
    return run(arrivals, 20.0).steps[-1][1].tracks


def test_the_api_serves_each_track_s_class_belief_sources_and_flags(api):
    client, pub = api
    tracks = engine_tracks()
    pub.publish(TOPIC_TRACKS, tracks)
    served = None
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline and not served:
        served = client.get("/api/v1/tracks", params={"object_class": "manned_aircraft"}).json()
        time.sleep(0.05)
    [plane] = served
    assert plane["identity"]["icao24"] == "4ca7b3"
    assert plane["class_sources"] == ["adsb", "sapient"] and plane["class_source"] == "adsb"
    assert plane["class_belief"]["manned_aircraft"] > 0.99
    assert plane["first_t_unix"] is not None and plane["flags"] == []
    # both claimants of the disputed serial are flagged; the forger is the one by the site
    flagged = [t for t in tracks if "possible_spoof" in t.flags]
    assert len(flagged) == 2
    [forged] = [t for t in flagged if abs(t.enu_m[0]) < 200.0]
    body = client.get(f"/api/v1/tracks/{forged.track_id}").json()
    assert body["flags"] == ["possible_spoof"] and body["identity"]["rid_serial"] == "SER-F"
    assert body["object_class"] == "drone" and body["class_sources"] == ["remote_id"]
