"""GET /api/v1/picture: the picture at a past time, over HTTP against a real server and a
real store file written at known times."""

import time

import httpx
import pytest

from cuas.api.auth import Role
from cuas.api.routes.picture import HistoryRange, Picture
from cuas.schema import GeoPoint, ObjectClass, Track, TrackStatus, ZoneLevel

T0 = float(int(time.time()) - 600)  # ten minutes ago
LAT0, LON0 = 42.8746, 74.6036


def point(track_id: str, s: int) -> Track:
    return Track(
        track_id=track_id,
        site_id="dolen-omurzakov",
        t_unix=T0 + s,
        status=TrackStatus.CONFIRMED,
        position=GeoPoint(lat_deg=LAT0 + s * 1e-5, lon_deg=LON0, alt_m=850.0),
        enu_m=(0.0, 0.0, 70.0),
        velocity_enu_mps=(0.0, 1.1, 0.0),
        position_std_m=2.0,
        object_class=ObjectClass.DRONE,
    )


@pytest.fixture
def looked_back(serve):
    """A keyed server whose store holds T1 for 60 s and an alert on it raised at 10 s,
    acknowledged at 20 s, cleared at 30 s."""
    served = serve(require_key_on_loopback=True)
    for s in range(61):
        served.store.add_track_points([point("T1", s)])
    alert = served.store.raise_alert(
        site_id="dolen-omurzakov",
        zone_id="bowl",
        zone_level=ZoneLevel.CRITICAL,
        rule="drone_in_zone",
        object_key="rid:A",
        track=point("T1", 10),
        t_unix=T0 + 10,
        reason="inside",
    )
    served.store.acknowledge(alert.alert_id, "ops-anna", None, T0 + 20)
    served.store.clear(alert.alert_id, T0 + 30, "left", None)
    client = httpx.Client(base_url=served.base, headers={"X-API-Key": served.key(Role.VIEWER)})
    yield client, alert.alert_id
    client.close()


def test_the_picture_at_each_time_shows_the_track_and_the_alert_as_they_were(looked_back):
    client, alert_id = looked_back
    for s, state in ((15, "raised"), (25, "acknowledged"), (35, None)):
        r = client.get("/api/v1/picture", params={"t": T0 + s, "trail_s": 10})
        assert r.status_code == 200, r.text
        picture = Picture.model_validate(r.json())  # the body is what the schema says
        assert picture.t_unix == T0 + s
        [track] = picture.tracks
        assert track.track_id == "T1" and track.t_unix == T0 + s
        assert track.position.lat_deg == pytest.approx(LAT0 + s * 1e-5)
        assert [p[0] - T0 for p in track.trail] == list(range(s - 10, s + 1))
        assert [(a.alert_id, a.state.value) for a in picture.alerts] == (
            [(alert_id, state)] if state else []
        )


def test_range_gives_the_stored_span_and_the_server_clock(looked_back):
    client, _ = looked_back
    before = time.time()
    got = HistoryRange.model_validate(client.get("/api/v1/picture/range").json())
    assert (got.oldest_t_unix, got.newest_t_unix) == (T0, T0 + 60)
    assert before <= got.now_t_unix <= time.time()


@pytest.mark.parametrize(
    ("t", "status", "says"),
    [
        (time.time() + 3600, 404, "in the future"),
        (T0 - 1, 404, "before the oldest stored history"),
        ("yesterday", 422, "valid number"),
        ("nan", 422, "finite number"),
        (-5, 422, "greater than 0"),
    ],
)
def test_a_bad_future_or_too_early_time_is_refused_with_a_reason(looked_back, t, status, says):
    client, _ = looked_back
    r = client.get("/api/v1/picture", params={"t": t})
    assert r.status_code == status
    assert says in str(r.json()["detail"])


def test_it_needs_a_viewer_key_and_says_so_on_an_empty_store(serve):
    served = serve(require_key_on_loopback=True)
    assert httpx.get(f"{served.base}/api/v1/picture", params={"t": T0}).status_code == 401
    r = httpx.get(
        f"{served.base}/api/v1/picture",
        params={"t": T0},
        headers={"X-API-Key": served.key(Role.VIEWER)},
    )
    assert r.status_code == 404 and "no history stored yet" in r.json()["detail"]


def test_the_openapi_schema_documents_it_with_examples(serve):
    served = serve()
    op = httpx.get(f"{served.base}/openapi.json").json()["paths"]["/api/v1/picture"]["get"]
    t_param = next(p for p in op["parameters"] if p["name"] == "t")
    assert t_param["required"] and t_param["examples"]
    assert {"200", "401", "403", "404", "422"} <= set(op["responses"])
    schema = httpx.get(f"{served.base}/openapi.json").json()["components"]["schemas"]["Picture"]
    Picture.model_validate(schema["examples"][0])
