"""Friend lists: the store with its audit trail, config sync, expiry, and the engine's use."""

from datetime import UTC, datetime

import pytest
from alert_scene import FRAME, SITE, trk

from cuas.alerting.engine import AlertEngine
from cuas.alerting.friends import FriendKind, FriendMatcher, FriendSpec
from cuas.alerting.zones import build_zones
from cuas.config import AlertSection
from cuas.schema import AlertState, Identity, ObjectClass
from cuas.store.lists import FriendNotFound, FriendStore
from cuas.store.sqlite import Store

T_EXPIRY = 1_800_000_000.0


def spec(kind, value, label="", expires_t=None):
    expires = datetime.fromtimestamp(expires_t, UTC) if expires_t else None
    return FriendSpec(kind=kind, value=value, label=label, expires=expires)


def test_changes_are_stored_and_audited_with_who_and_when(tmp_path):
    path = tmp_path / "f.sqlite"
    friends = FriendStore(Store(path))
    entry, created = friends.put(spec("rid_serial", "1581F5FJD239C00DW22E", "club"), "anna", 10.0)
    assert created and entry.origin == "api" and entry.added_by == "anna"
    same, created = friends.put(spec("rid_serial", "1581F5FJD239C00DW22E", "club"), "bob", 11.0)
    assert not created and same.friend_id == entry.friend_id and same.added_by == "anna"
    changed, _ = friends.put(spec("rid_serial", "1581F5FJD239C00DW22E", "club", 2e9), "bob", 12.0)
    assert changed.expires_t_unix == 2e9 and changed.added_by == "bob"
    friends.remove(entry.friend_id, "carol", 13.0)
    with pytest.raises(FriendNotFound):
        friends.remove(entry.friend_id, "carol", 14.0)
    reopened = FriendStore(Store(path))
    events, total = reopened.events()
    # newest first; the unchanged second put was not a change, so it is not audited
    assert total == 3
    assert [(e.action, e.actor, e.t_unix) for e in events] == [
        ("removed", "carol", 13.0),
        ("updated", "bob", 12.0),
        ("added", "anna", 10.0),
    ]
    assert '"expires_t_unix": 2000000000.0' in events[1].detail
    assert reopened.list() == []


def test_config_entries_are_added_updated_and_removed_at_start_api_ones_kept(tmp_path):
    friends = FriendStore(Store(tmp_path / "f.sqlite"))
    friends.put(spec("icao24", "4CA7B3"), "anna", 1.0)
    friends.sync_config([spec("mac", "60:60:1f:a3:41:7c"), spec("operator_id", "OP-1")], 2.0)
    friends.sync_config([spec("mac", "60:60:1f:a3:41:7c"), spec("operator_id", "OP-1")], 3.0)
    friends.sync_config([spec("mac", "60:60:1f:a3:41:7c", "new label")], 4.0)
    listed = {(f.kind, f.value, f.origin, f.label) for f in friends.list()}
    assert listed == {
        (FriendKind.ICAO24, "4CA7B3", "api", ""),
        (FriendKind.MAC, "60:60:1f:a3:41:7c", "config", "new label"),
    }
    actions = [(e.action, e.actor, e.value) for e in reversed(friends.events()[0])]
    assert actions == [
        ("added", "anna", "4CA7B3"),
        ("added", "config", "60:60:1f:a3:41:7c"),
        ("added", "config", "OP-1"),
        ("updated", "config", "60:60:1f:a3:41:7c"),
        ("removed", "config", "OP-1"),
    ]


@pytest.mark.parametrize(
    "kind, value, message",
    [
        ("mac", "60:60:1f:a3:41", "not a MAC address"),
        ("icao24", "4ca7b", "not an ICAO"),
        ("icao24", "zzzzzz", "not an ICAO"),
        ("rid_serial", "   ", "must not be empty"),
    ],
)
def test_malformed_entries_are_refused_with_the_reason(kind, value, message):
    with pytest.raises(ValueError, match=message):
        FriendSpec(kind=kind, value=value)


def test_matcher_matches_any_id_of_an_identity_until_expiry(tmp_path):
    friends = FriendStore(Store(tmp_path / "f.sqlite"))
    friends.put(spec("operator_id", "KGZ-OP-4411", expires_t=T_EXPIRY), "anna", 1.0)
    friends.put(spec("icao24", "4ca7b3"), "anna", 1.0)
    matcher = FriendMatcher(friends.list())
    drone = Identity(rid_serial="X1", operator_id="kgz-op-4411")
    assert matcher.match(drone, T_EXPIRY - 1).kind is FriendKind.OPERATOR_ID
    assert matcher.match(drone, T_EXPIRY) is None
    assert matcher.match(Identity(icao24="4CA7B3"), T_EXPIRY).kind is FriendKind.ICAO24
    assert matcher.match(Identity(mac="not-a-mac"), 0.0) is None
    assert friends.list(T_EXPIRY)[0].expired and not friends.list(T_EXPIRY - 1)[0].expired


def _engine(store, friends=()):
    return AlertEngine(
        build_zones([SITE], FRAME), store, AlertSection(friends=list(friends)), FRAME
    )


def test_friendly_drone_raises_no_alert_and_is_marked_until_its_entry_expires(tmp_path):
    store = Store(tmp_path / "f.sqlite")
    entry = spec("rid_serial", "ABC", "police drone", expires_t=T_EXPIRY)
    eng = _engine(store, [entry])
    t = T_EXPIRY - 10.0
    assert eng.evaluate(t, [trk("T1", 0, 0, t=t, key="rid:ABC")], []) == []
    assert "police drone" in eng.friendly["T1"] and "rid_serial ABC" in eng.friendly["T1"]
    # a stranger beside it still raises
    assert len(eng.evaluate(t, [trk("T2", 0, 0, t=t, key="rid:XYZ")], [])) == 2
    # the entry expires: the same drone now raises its alerts
    t = T_EXPIRY + 1.0
    changed = eng.evaluate(t, [trk("T1", 0, 0, t=t, key="rid:ABC")], [])
    raised = [a for a in changed if a.state is AlertState.RAISED]
    assert {a.object_key for a in raised} == {"rid:ABC"} and len(raised) == 2
    assert eng.friendly == {}


def test_an_alerted_drone_added_to_the_friend_list_has_its_alerts_cleared(tmp_path):
    store = Store(tmp_path / "f.sqlite")
    eng = _engine(store)
    raised = eng.evaluate(0.0, [trk("T1", 0, 0, key="rid:ABC")], [])
    # another process (the API) adds the friend; the engine reloads within a second
    FriendStore(Store(tmp_path / "f.sqlite")).put(spec("rid_serial", "abc"), "anna", 0.5)
    cleared = eng.evaluate(1.0, [trk("T1", 0, 0, t=1.0, key="rid:ABC")], [])
    assert {a.alert_id for a in cleared} == {a.alert_id for a in raised}
    assert all(a.state is AlertState.CLEARED and "friendly" in a.reason for a in cleared)


def test_manned_aircraft_never_raise_drone_alerts_even_if_listed_as_drone_classes():
    with pytest.raises(ValueError, match="manned_aircraft never raises drone alerts"):
        AlertSection(drone_classes=["drone", "manned_aircraft"])
    with pytest.raises(ValueError, match="unknown class 'drones'"):
        AlertSection(drone_classes=["drones"])


def test_adsb_aircraft_over_the_site_raises_nothing(tmp_path):
    eng = _engine(Store(tmp_path / "f.sqlite"))
    plane = trk("T1", 0, 0, cls=ObjectClass.MANNED_AIRCRAFT, identity=Identity(icao24="4ca7b3"))
    assert eng.evaluate(0.0, [plane], []) == []
