"""Cursor-on-Target for exercise tracks and alerts, home points and friendly drones."""

import socket
import xml.etree.ElementTree as ET

import pytest

from cuas.config import CotConfig
from cuas.outbound.cot import CotSender
from cuas.schema import (
    Alert,
    AlertState,
    GeoPoint,
    Identity,
    ObjectClass,
    Track,
    TrackStatus,
    ZoneLevel,
)

NOW = 1_764_403_200.0
HOME = GeoPoint(lat_deg=42.8712, lon_deg=74.5981, alt_m=781.0)
PILOT = GeoPoint(lat_deg=42.8700, lon_deg=74.5990, alt_m=780.0)


def track(**kw) -> Track:
    fields = {
        "track_id": "T7",
        "site_id": "s",
        "t_unix": NOW,
        "status": TrackStatus.CONFIRMED,
        "position": GeoPoint(lat_deg=42.875, lon_deg=74.604, alt_m=900.0),
        "enu_m": (10.0, 20.0, 120.0),
        "velocity_enu_mps": (3.0, 4.0, 0.0),
        "position_std_m": 4.0,
        "object_class": ObjectClass.DRONE,
        "class_source": "remote_id",
        "identity": Identity(rid_serial="1581F5FJD239C00OR8IT"),
    }
    return Track(**{**fields, **kw})


@pytest.fixture
def udp():
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(("127.0.0.1", 0))
    yield sock
    sock.close()


def send(udp: socket.socket, items, **cot) -> dict[str, ET.Element]:
    """Send through a real CotSender, return every event received, by uid."""
    port = udp.getsockname()[1]
    out = CotSender(CotConfig(address="127.0.0.1", port=port, uid_prefix="site9", **cot))
    out.handle(items, NOW)
    events = {}
    udp.settimeout(0.3)
    try:
        while True:
            event = ET.fromstring(udp.recvfrom(65_535)[0])
            events[event.get("uid")] = event
    except TimeoutError:
        return events


def test_exercise_track_and_its_points_carry_opex_and_say_exercise(udp):
    events = send(udp, [track(exercise=True, pilot=PILOT, home=HOME)])
    assert set(events) == {"site9.track.T7", "site9.track.T7.pilot", "site9.track.T7.home"}
    for event in events.values():
        # CoT Event schema 2.0: opex "e" (exercise), optionally "-name"
        assert event.get("opex") == "e-site9"
        assert event.find("detail/remarks").text.startswith("EXERCISE: ")
    assert events["site9.track.T7"].find("detail/contact").get("callsign").startswith("EX ")


def test_live_track_has_no_opex_nor_exercise_words(udp):
    events = send(udp, [track(pilot=PILOT)])
    for event in events.values():
        assert event.get("opex") is None
        assert "EXERCISE" not in event.find("detail/remarks").text
        assert not event.find("detail/contact").get("callsign").startswith("EX ")


def test_home_point_is_a_marker_linked_to_its_drone(udp):
    events = send(udp, [track(home=HOME)])
    home = events["site9.track.T7.home"]
    assert home.get("type") == "b-m-p-s-m"
    point = home.find("point")
    assert (float(point.get("lat")), float(point.get("lon"))) == (42.8712, 74.5981)
    link = home.find("detail/link")
    assert (link.get("uid"), link.get("relation")) == ("site9.track.T7", "p-p")
    assert home.find("detail/contact").get("callsign") == "HOME 1581F5FJD239C00OR8IT"
    assert "home point" in home.find("detail/remarks").text
    assert "site9.track.T7.pilot" not in events  # no pilot known, no pilot event


def test_a_friendly_drone_is_a_friendly_air_track_naming_its_entry(udp):
    entry = "friend list entry 3: rid_serial 1581F5FJD239C00OR8IT (police drone)"
    drone = send(udp, [track(friendly=entry)])["site9.track.T7"]
    assert drone.get("type") == "a-f-A-M-F-Q"
    assert entry in drone.find("detail/remarks").text


def exercise_alert(exercise: bool = True) -> Alert:
    return Alert(
        alert_id=4,
        site_id="s",
        zone_id="bowl",
        zone_level=ZoneLevel.CRITICAL,
        rule="drone_in_zone",
        object_key="track:T7",
        track_id="T7",
        state=AlertState.RAISED,
        raised_t_unix=NOW,
        updated_t_unix=NOW,
        track=track(exercise=exercise),
        exercise=exercise,
    )


def test_exercise_alert_marker_carries_opex(udp):
    marker = send(udp, [exercise_alert()])["site9.alert.4"]
    assert marker.get("opex") == "e-site9"
    assert marker.find("detail/remarks").text.startswith("EXERCISE: cuas alert 4")
    assert marker.find("detail/contact").get("callsign") == "EX ALERT CRITICAL bowl"


@pytest.mark.parametrize(
    "exercise, drills_too, emergency",
    [
        (False, False, True),
        (True, False, False),  # a drill is a marker, not a 911, unless the site asks
        (True, True, True),
    ],
)
def test_exercise_alerts_are_tak_emergencies_only_when_asked(udp, exercise, drills_too, emergency):
    cot = {"emergency_level": ZoneLevel.WARNING, "exercise_emergencies": drills_too}
    event = send(udp, [exercise_alert(exercise)], **cot)["site9.alert.4"]
    assert (event.find("detail/emergency") is not None) is emergency
    assert (event.get("type") == "b-a-o-tbl") is emergency
