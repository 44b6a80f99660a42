"""Cursor-on-Target to a real UDP socket, parsed back with ElementTree."""

import socket
import xml.etree.ElementTree as ET
from datetime import datetime

import pytest

from cuas.config import ConfigError, CotConfig
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

NOW = 1_764_403_200.0  # 2025-11-29T08:00:00Z
HOSTILE = 'X<evil attr="1">&amp;\x00\x07]]>'
SHOWN = HOSTILE.replace("\x00", "\ufffd").replace("\x07", "\ufffd")  # as TAK gets it
PILOT = GeoPoint(lat_deg=42.8700, lon_deg=74.5990, alt_m=780.0)


def track(
    track_id: str = "12",
    status: TrackStatus = TrackStatus.CONFIRMED,
    cls: ObjectClass = ObjectClass.DRONE,
    serial: str | None = HOSTILE,
    pilot: GeoPoint | None = PILOT,
) -> Track:
    return Track(
        track_id=track_id,
        site_id="s",
        t_unix=NOW,
        status=status,
        position=GeoPoint(lat_deg=42.8751234, lon_deg=74.6045678, alt_m=905.5),
        enu_m=(10.0, 20.0, 125.0),
        velocity_enu_mps=(3.0, 4.0, 0.5),  # course atan2(3, 4) = 36.87 deg, 5 m/s over ground
        position_std_m=6.5,
        object_class=cls,
        class_source="remote_id",
        identity=Identity(rid_serial=serial, operator_id="OP<1>&"),
        pilot=pilot,
        sensors=["rid-1"],
    )


def alert(
    state: AlertState = AlertState.RAISED, level: ZoneLevel = ZoneLevel.CRITICAL, alert_id: int = 5
) -> Alert:
    return Alert(
        alert_id=alert_id,
        site_id="s",
        zone_id="bowl",
        zone_level=level,
        rule="drone_in_zone",
        object_key=f"rid:{HOSTILE}",
        track_id="12",
        state=state,
        raised_t_unix=NOW,
        updated_t_unix=NOW,
        track=track(),
    )


@pytest.fixture
def udp():
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(("127.0.0.1", 0))
    sock.settimeout(2.0)
    yield sock
    sock.close()


def sender(udp: socket.socket, **kw) -> CotSender:
    return CotSender(CotConfig(address="127.0.0.1", port=udp.getsockname()[1], **kw))


def receive(udp: socket.socket, quiet_s: float = 0.2) -> list[ET.Element]:
    """Every datagram until the socket stays quiet, each parsed as one CoT event."""
    events = []
    udp.settimeout(quiet_s)
    try:
        while True:
            data, _ = udp.recvfrom(65_535)
            assert data.startswith(b"<?xml")
            events.append(ET.fromstring(data))
    except TimeoutError:
        return events


def when(text: str) -> float:
    assert text.endswith("Z")
    return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()


def test_a_drone_is_a_hostile_air_track_with_its_pilot_linked(udp):
    out = sender(udp, stale_s=30)
    out.handle([track()], NOW)
    drone, pilot = receive(udp)

    assert drone.tag == "event" and drone.get("version") == "2.0"
    assert drone.get("type") == "a-h-A-M-F-Q" and drone.get("how") == "m-f"
    assert drone.get("uid") == "cuas.track.12"
    assert when(drone.get("time")) == NOW == when(drone.get("start"))
    assert when(drone.get("stale")) == NOW + 30
    point = drone.find("point")
    assert float(point.get("lat")) == pytest.approx(42.8751234, abs=1e-7)
    assert float(point.get("lon")) == pytest.approx(74.6045678, abs=1e-7)
    assert float(point.get("hae")) == 905.5
    assert float(point.get("ce")) == 6.5 == float(point.get("le"))
    course = drone.find("detail/track")
    assert float(course.get("course")) == pytest.approx(36.87, abs=0.05)
    assert float(course.get("speed")) == pytest.approx(5.0)
    # the hostile serial comes back as text, with XML-illegal characters replaced
    assert drone.find("detail/contact").get("callsign") == SHOWN
    remarks = drone.find("detail/remarks").text
    assert "OP<1>&" in remarks and "remote_id" in remarks and "rid-1" in remarks

    assert pilot.get("type") == "b-m-p-s-m" and pilot.get("uid") == "cuas.track.12.pilot"
    link = pilot.find("detail/link")
    assert (link.get("uid"), link.get("relation")) == ("cuas.track.12", "p-p")
    assert link.get("type") == "a-h-A-M-F-Q"
    ppoint = pilot.find("point")
    assert (float(ppoint.get("lat")), float(ppoint.get("lon"))) == (42.87, 74.599)
    assert when(pilot.get("stale")) > when(pilot.get("time"))


def test_hostile_ids_cannot_inject_markup(udp):
    out = sender(udp)
    serial = '"/><event uid="injected"/><x a="'
    out.handle([track(serial=serial)], NOW)
    raw, _ = udp.recvfrom(65_535)
    assert b'<event uid="injected"' not in raw
    event = ET.fromstring(raw)  # one well-formed document
    assert [e.get("uid") for e in event.iter("event")] == ["cuas.track.12"]
    assert event.find("detail/contact").get("callsign") == serial[:40]


def test_updates_are_rate_limited_per_uid_and_the_uid_is_stable(udp):
    out = sender(udp, min_interval_s=1.0)
    out.handle([track(pilot=None)], NOW)
    out.handle([track(pilot=None)], NOW + 0.3)  # too soon
    out.handle([track("13", pilot=None)], NOW + 0.3)  # another uid: not limited
    out.handle([track(status=TrackStatus.COASTING, pilot=None)], NOW + 0.5)  # a change
    out.handle([track(status=TrackStatus.COASTING, pilot=None)], NOW + 1.0)  # too soon
    out.handle([track(status=TrackStatus.COASTING, pilot=None)], NOW + 1.6)
    events = receive(udp)
    assert [(e.get("uid"), round(when(e.get("time")) - NOW, 2)) for e in events] == [
        ("cuas.track.12", 0.0),
        ("cuas.track.13", 0.3),
        ("cuas.track.12", 0.5),
        ("cuas.track.12", 1.6),
    ]
    assert out.counters["rate_limited"] == 2


def test_classes_statuses_and_the_end_of_a_track(udp):
    out = sender(udp)
    out.handle(
        [
            track("1", cls=ObjectClass.MANNED_AIRCRAFT, serial=None, pilot=None),
            track("2", cls=ObjectClass.BIRD, pilot=None),
            track("3", status=TrackStatus.TENTATIVE, pilot=None),
            track("4", cls=ObjectClass.UNKNOWN, serial=None, pilot=None),
        ],
        NOW,
    )
    assert [(e.get("uid"), e.get("type")) for e in receive(udp)] == [
        ("cuas.track.1", "a-n-A-C"),
        ("cuas.track.4", "a-u-A"),
    ]
    out.handle([track("1", status=TrackStatus.DELETED, serial=None, pilot=None)], NOW + 0.1)
    out.handle([track("3", status=TrackStatus.DELETED, pilot=None)], NOW + 0.1)  # never shown
    (gone,) = receive(udp)
    assert gone.get("uid") == "cuas.track.1" and gone.get("stale") == gone.get("time")


def test_alerts_are_markers_linked_to_the_track_refreshed_while_open(udp):
    out = sender(udp, stale_s=20)
    out.handle([alert()], NOW)
    (marker,) = receive(udp)
    assert marker.get("type") == "b-m-p-s-m" and marker.get("uid") == "cuas.alert.5"
    assert marker.find("detail/link").get("uid") == "cuas.track.12"
    assert marker.find("detail/color").get("argb") == "-65536"
    assert "bowl" in marker.find("detail/contact").get("callsign")
    assert SHOWN in marker.find("detail/remarks").text
    out.tick(NOW + 5)  # not yet half-way to stale
    assert receive(udp) == []
    out.tick(NOW + 10)
    (refreshed,) = receive(udp)
    assert when(refreshed.get("stale")) == NOW + 30
    out.handle([alert(AlertState.CLEARED)], NOW + 11)
    (cleared,) = receive(udp)
    assert cleared.get("stale") == cleared.get("time")
    out.tick(NOW + 40)
    assert receive(udp) == []


def test_critical_alerts_can_go_out_as_tak_emergencies(udp):
    out = sender(udp, emergency_level=ZoneLevel.CRITICAL)
    out.handle([alert(level=ZoneLevel.WARNING, alert_id=4)], NOW)
    out.handle([alert()], NOW)
    warning, critical = receive(udp)
    assert warning.get("type") == "b-m-p-s-m" and warning.find("detail/emergency") is None
    assert critical.get("type") == "b-a-o-tbl"
    assert critical.find("detail/emergency").get("type") == "911 Alert"
    out.handle([alert(AlertState.CLEARED)], NOW + 1)
    (cancel,) = receive(udp)
    assert cancel.get("type") == "b-a-o-can"
    assert cancel.find("detail/emergency").get("cancel") == "true"


def test_multicast_destination_sets_the_ttl_and_a_bad_address_names_the_key():
    out = CotSender(CotConfig(address="239.2.3.1", port=6969, ttl=3))
    try:
        assert out.sock.getsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_TTL) == 3
    finally:
        out.close()
    with pytest.raises(ConfigError, match=r"outbound\.cot\[2\]\.address"):
        CotSender(CotConfig(address="no-such-host.invalid", port=6969), 2)
