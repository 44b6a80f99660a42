"""The SAPIENT (BSI Flex 335 v2.0) fusion-node driver: Dstl's ICD fixtures, units and frames,
node health, a real TCP session with ASMs, and fuzzing.

The fixtures in tests/data/sapient are Dstl's test-harness JSON messages (Apache-2.0, see
SOURCES.md there). Each is parsed with protobuf's JSON mapping, serialised and framed exactly
as an ASM sends it on TCP (uint32 little-endian length + protobuf bytes), then fed to the
driver through the same splitter the host uses. UTM reference values come from PROJ 9.5.1
(pyproj 3.7.2), an implementation independent of the driver's.
"""

from __future__ import annotations

import itertools
import json
import math
import re
import socket
import struct
import time
import uuid
from pathlib import Path
from typing import Any

import pytest
from google.protobuf import json_format
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cuas.config import Orientation, SensorConfig
from cuas.driver import DecodeError, Detection, MeasurementKind, ObjectClass, SensorInfo
from cuas.driver.framing import split_u32le
from cuas.driver.host import SensorRunner
from cuas.driver.sources import open_source
from cuas.schema import GeoPoint, SensorState
from cuas_drivers import sapient_codec as codec
from cuas_drivers.sapient import (
    SapientDriver,
    SapientOptions,
    UtmZone,
    classify,
    geodetic_to_utm,
    grid_convergence_rad,
    parse_utm_zone,
    utm_to_geodetic,
    utm_zone_of,
)

from support import free_port

FIXTURES = Path(__file__).resolve().parents[1] / "data" / "sapient"
VALID = sorted((FIXTURES / "valid").glob("*.json"))
INVALID = sorted((FIXTURES / "invalid").glob("*.json"))
#: a field of a draft of v2.0 that the published .proto files dropped; the harness keeps it
#: in its DetectionReport fixtures, so those are read without it unless it is their subject
DRAFT_FIELD = "detectionLocation"
SITE = GeoPoint(lat_deg=51.1739726374, lon_deg=-1.82237671048, alt_m=100.0)  # Stonehenge
ASM_ID = "a8654cdf-4328-47de-81fa-c495589e30c9"
T0 = 1_764_400_000.0
_ulids = (f"01{i:024d}" for i in itertools.count())  # 26 Crockford base-32 digits


def _ulid() -> str:
    return next(_ulids)


# --- building and framing messages -----------------------------------------------------


def _message(content: dict[str, Any], node_id: str = ASM_ID, t: float = T0) -> Any:
    msg = codec.SapientMessage()
    json_format.ParseDict({"nodeId": node_id, **content}, msg)
    msg.timestamp.FromNanoseconds(int(t * 1e9))
    return msg


def _frame(msg: Any) -> bytes:
    payload = msg.SerializeToString()
    return struct.pack("<I", len(payload)) + payload


def _registration(
    node_id: str = ASM_ID,
    *,
    t: float = T0,
    node_type: str = "NODE_TYPE_RADAR",
    interval: float = 1.0,
    interval_units: str = "TIME_UNITS_SECONDS",
    speed_units: str = "SPEED_UNITS_MS",
    zone: str | None = None,
    freq_units: str | None = None,
    name: str = "radar-1",
    **extra: Any,
) -> Any:
    location_type = {
        "locationUnits": "LOCATION_COORDINATE_SYSTEM_LAT_LNG_DEG_M",
        "locationDatum": "LOCATION_DATUM_WGS84_E",
        **({"zone": zone} if zone else {}),
    }
    detection_definition: dict[str, Any] = {
        "locationType": location_type,
        "velocityType": {
            "enuVelocityUnits": {"eastNorthRateUnits": speed_units, "upRateUnits": speed_units},
            "locationDatum": "LOCATION_DATUM_WGS84_E",
        },
    }
    if freq_units:
        detection_definition["detectionReport"] = [
            {
                "category": "DETECTION_REPORT_CATEGORY_SIGNAL",
                "type": "centreFrequency",
                "units": freq_units,
            }
        ]
    seconds = {"units": "TIME_UNITS_SECONDS", "value": 1}
    registration = {
        "nodeDefinition": [{"nodeType": node_type}],
        "icdVersion": "BSI Flex 335 v2.0",
        "name": name,
        "capabilities": [{"category": "Detection", "type": "Range", "value": "5", "units": "km"}],
        "statusDefinition": {
            "statusInterval": {"units": interval_units, "value": interval},
            "locationDefinition": location_type,
        },
        "modeDefinition": [
            {
                "modeName": "Default",
                "modeType": "MODE_TYPE_DEFAULT",
                "settleTime": seconds,
                "detectionDefinition": [detection_definition],
                "task": {
                    "regionDefinition": {
                        "regionType": ["REGION_TYPE_AREA_OF_INTEREST"],
                        "settleTime": seconds,
                        "regionArea": [location_type],
                    }
                },
            }
        ],
        "configData": [{"manufacturer": "ACME", "model": "R1"}],
        **extra,
    }
    return _message({"registration": registration}, node_id, t)


def _status(node_id: str = ASM_ID, *, t: float = T0, system: str = "SYSTEM_OK", **extra: Any):
    report = {"reportId": _ulid(), "system": system, "info": "INFO_NEW", "mode": "Default"}
    return _message({"statusReport": {**report, **extra}}, node_id, t)


def _location(lat: float = 51.2, lon: float = -1.8, alt: float | None = 150.0, **extra: Any):
    loc: dict[str, Any] = {
        "x": lon,
        "y": lat,
        "coordinateSystem": "LOCATION_COORDINATE_SYSTEM_LAT_LNG_DEG_M",
        "datum": "LOCATION_DATUM_WGS84_E",
    }
    if alt is not None:
        loc["z"] = alt
    return {**loc, **extra}


def _detection(node_id: str = ASM_ID, *, t: float = T0, object_id: str | None = None, **fields):
    report = {"reportId": _ulid(), "objectId": object_id or _ulid(), **fields}
    if "location" not in fields and "rangeBearing" not in fields:
        report["location"] = _location()
    return _message({"detectionReport": report}, node_id, t)


def _driver(position: GeoPoint | None = SITE, yaw_deg: float = 0.0, **options: Any):
    info = SensorInfo(
        sensor_id="sapient-1",
        driver="sapient",
        position=position,
        orientation=Orientation(yaw_deg=yaw_deg),
    )
    return SapientDriver(info, SapientOptions(**options))


def _feed(driver: SapientDriver, framed: bytes, t_rx: float = T0) -> list[Detection]:
    """Cut the stream as the host does, then decode every frame."""
    out: list[Detection] = []
    for seq, frame in enumerate(split_u32le(bytearray(framed), driver.max_frame_bytes)):
        out += driver.decode(frame, t_rx, seq)
    return out


def _replies(driver: SapientDriver) -> list[Any]:
    out = []
    for data in driver.take_replies():
        (length,) = struct.unpack_from("<I", data)
        assert length == len(data) - 4
        out.append(codec.parse(data[4:]))
    return out


def _one(driver: SapientDriver, msg: Any, t_rx: float = T0) -> Detection:
    [det] = _feed(driver, _frame(msg), t_rx)
    assert Detection.model_validate_json(det.model_dump_json()) == det
    return det


def _registered(**kw: Any) -> SapientDriver:
    options = {k: kw.pop(k) for k in list(kw) if k in SapientOptions.model_fields}
    driver = _driver(**{k: kw.pop(k) for k in ("position", "yaw_deg") if k in kw}, **options)
    _feed(driver, _frame(_registration(**kw)))
    [ack] = _replies(driver)
    assert ack.registration_ack.acceptance, list(ack.registration_ack.ack_response_reason)
    return driver


# --- Dstl fixtures ----------------------------------------------------------------------


def _load_fixture(path: Path) -> tuple[Any | None, str | None]:
    """(message, None), or (None, why the JSON is not a v2.0 SapientMessage)."""
    text = path.read_text(encoding="utf-8")
    msg = codec.SapientMessage()
    try:
        json_format.Parse(text, msg)
        return msg, None
    except json_format.ParseError as exc:
        if DRAFT_FIELD not in str(exc) or DRAFT_FIELD.lower() in path.name.lower():
            return None, str(exc)
    msg = codec.SapientMessage()
    data = json.loads(text)
    data["detectionReport"].pop(DRAFT_FIELD)
    json_format.ParseDict(data, msg)
    return msg, None


def test_fixtures_are_the_dstl_set():
    assert len(VALID) == 38 and len(INVALID) == 97
    assert "Apache-2.0" in (FIXTURES / "SOURCES.md").read_text()


@pytest.mark.parametrize("path", VALID, ids=lambda p: p.name)
def test_every_valid_fixture_is_accepted(path):
    msg, error = _load_fixture(path)
    assert error is None
    kind = msg.WhichOneof("content")
    driver = _driver()
    detections = _feed(driver, _frame(msg))  # raises DecodeError if refused
    assert driver.counters[f"rx_{kind}"] == 1 and driver.counters["icd_invalid"] == 0
    replies = _replies(driver)
    if kind == "registration":
        [ack] = replies
        assert ack.registration_ack.acceptance is True
        assert ack.destination_id == msg.node_id and ack.node_id == driver.fusion_node_id
        assert driver.nodes[msg.node_id].status_interval_s == pytest.approx(5.0)
    else:
        assert replies == []
    assert len(detections) == (1 if kind == "detection_report" else 0)
    for det in detections:
        assert det.identity.sensor_track_id == msg.detection_report.object_id
        assert det.class_source == "sapient"
        # the fixtures are from 2023: far from the receive time, so the clock is not trusted
        assert det.t_unix == T0 and "timestamp_untrusted" in det.flags


_GENERIC = {"missing", "error", "invalid", "empty", "fullmessage", "json", "badid", "2", "sub"}
#: fixtures whose name does not end in the field the rule is about
_RULE_TOKEN = {
    # named TrackInfo.Type but its type is present and its mandatory value is not
    "0117.TrackInfo.Type.Missing.json": "track_info[0].value",
    "0075.TaskDefinition.RegionDefinition.json": "region_definition",
    "0049.DetectionDefinition.LocationType.json": "location_type",
    "0047.ConfigurationData.Manufacturer.json": "manufacturer",
    "0139.Task.Region.RegionArea.json": "region_area",
    "0137.Task.Region.RegionId.json": "region_id",
    "0159.Alert.AlertId.json": "alert_id",
    "0161.Alert.File.Type.json": "associated_file[0].type",
    "0079.RegionDefinition.SettleTime.Error.json": "settle_time",
    "0189.BadId.Registration.DependantNodes.json": "dependent_nodes",
    "0177.BadIdAssociatedDetection.ObjectId.json": "object_id",
    "0173.Registration.SubClass.Level.subClass.LevelMissing.json": "level",
    "0185.BadId.DetectionReport.NodeId.json": "node_id",
    "0001.Timestamp.Error.json": "timestamp",
    "0151.Parameter.Value2.Missing.json": "parameter.value",
    "0069.TaxonomyDockDefinition.ExtensionSubclass.Name.Missing.json": "Subclass_name",
    "0071.VelocityType.VelocityUnits.Missing.json": "velocity_units_oneof",
    "0111.DetectionReport.DetectionLocation.Missing.json": DRAFT_FIELD,
}


def _rule_token(name: str) -> str:
    if name in _RULE_TOKEN:
        return _RULE_TOKEN[name]
    words = [w for w in name.split(".")[1:] if w.lower() not in _GENERIC]
    return words[-1]


def _normal(text: str) -> str:
    return re.sub(r"[^a-z0-9]", "", text.lower())


def _names_rule(reason: str, token: str) -> bool:
    """A field path token must appear as written; a bare name must be a whole field name."""
    if "." in token or "[" in token:
        return _normal(token) in _normal(reason)
    return _normal(token) in {_normal(word) for word in re.findall(r"\w+", reason)}


def _rejection(path: Path) -> tuple[str, SapientDriver | None]:
    """Why the fixture is refused: at JSON parse, or by the driver (with the driver)."""
    msg, error = _load_fixture(path)
    if msg is None:
        return f"JSON: {error}", None
    driver = _driver()
    with pytest.raises(DecodeError) as excinfo:
        _feed(driver, _frame(msg))
    assert driver.counters["icd_invalid"] == 1
    return str(excinfo.value), driver


@pytest.mark.parametrize("path", INVALID, ids=lambda p: p.name)
def test_every_invalid_fixture_is_rejected_with_a_reason_naming_the_rule(path):
    reason, driver = _rejection(path)
    assert _names_rule(reason, _rule_token(path.name)), reason
    if driver is None:
        return
    replies = _replies(driver)
    msg, _ = _load_fixture(path)
    if msg.WhichOneof("content") == "registration":
        [ack] = replies
        assert ack.registration_ack.acceptance is False
        [why] = ack.registration_ack.ack_response_reason
        assert _names_rule(why, _rule_token(path.name)), why
    elif msg.WhichOneof("content") in (None, "error"):
        assert replies == []  # no content to answer, or never answer an Error with one
    else:
        [error] = replies
        assert error.error.packet == msg.SerializeToString()
        assert _names_rule(error.error.error_message[0], _rule_token(path.name))


def test_fixture_counts(capsys):
    accepted = sum(1 for p in VALID if _accepts(p))
    rejected = {p.name: _rejection(p)[0] for p in INVALID}
    at_parse = [name for name, why in rejected.items() if why.startswith("JSON:")]
    with capsys.disabled():
        print(
            f"\nSAPIENT fixtures: accepted valid {accepted}/{len(VALID)}, rejected invalid "
            f"{len(rejected)}/{len(INVALID)} ({len(at_parse)} at JSON parse: {', '.join(at_parse)})"
        )
    assert accepted == len(VALID) and len(rejected) == len(INVALID)
    assert at_parse == [
        "0001.Timestamp.Error.json",
        "0111.DetectionReport.DetectionLocation.Missing.json",
    ]


def _accepts(path: Path) -> bool:
    msg, error = _load_fixture(path)
    if error is not None:
        return False
    try:
        _feed(_driver(), _frame(msg))
    except DecodeError:
        return False
    return True


# --- the rules sapient-pydantic leaves to us ----------------------------------------------


def _refused(msg: Any, driver: SapientDriver | None = None) -> str:
    driver = driver or _driver()
    with pytest.raises(DecodeError) as excinfo:
        _feed(driver, _frame(msg))
    return str(excinfo.value)


def test_a_timestamp_out_of_range_is_refused():
    msg = _status()
    msg.timestamp.nanos = 1_500_000_000  # the binary form of the JSON fixture's "AAA"
    assert "timestamp: timestamp out of range" in _refused(msg)


def test_derived_detection_needs_a_timestamp_and_dependent_nodes_are_uuids():
    derived = {"nodeId": str(uuid.uuid4()), "objectId": _ulid()}
    assert "derived_detection[0].timestamp: mandatory" in _refused(
        _detection(derivedDetection=[derived])
    )
    ok = {**derived, "timestamp": "2025-11-29T07:06:40Z"}
    assert len(_feed(_driver(), _frame(_detection(derivedDetection=[ok])))) == 1
    reason = _refused(_registration(dependentNodes=["01H4R63D7NVN8444Z5M77WEBY6"]))
    assert "dependent_nodes[0]" in reason and "UUID" in reason


def test_a_wrong_icd_version_gets_a_negative_registration_ack():
    msg = _registration()
    msg.registration.icd_version = "BSI Flex 335 v1.0"
    driver = _driver()
    assert "icd_version" in _refused(msg, driver)
    [ack] = _replies(driver)
    assert ack.registration_ack.acceptance is False and ack.destination_id == ASM_ID
    assert (
        "'BSI Flex 335 v1.0' is not 'BSI Flex 335 v2.0'"
        in ack.registration_ack.ack_response_reason[0]
    )
    assert ASM_ID not in driver.nodes and driver.counters["registrations_refused"] == 1
    variant = _registration()
    variant.registration.icd_version = "BSI_Flex_335_v2.0"  # the v1 fixtures' spelling
    _feed(driver, _frame(variant))
    assert _replies(driver)[0].registration_ack.acceptance is True


@pytest.mark.parametrize(
    "mutate, reason",
    [
        (
            lambda m: setattr(m.detection_report.location, "datum", 0),
            "location.datum: mandatory field is LOCATION_DATUM_UNSPECIFIED",
        ),
        (
            lambda m: setattr(m.detection_report.location, "coordinate_system", 3),
            "coordinate_system: 3 is not a defined",
        ),
        (
            lambda m: setattr(m.detection_report.location, "y", math.nan),
            "location.y: nan is not a finite number",
        ),
        (
            lambda m: setattr(m.detection_report, "detection_confidence", 1.5),
            "detection_confidence: 1.5 is outside 0..1",
        ),
        (
            lambda m: setattr(m, "node_id", "not-a-uuid"),
            "node_id: 'not-a-uuid' is not a valid UUID",
        ),
        (
            lambda m: setattr(m.detection_report, "report_id", "   "),
            "report_id: mandatory field is empty",
        ),
    ],
)
def test_enum_number_and_identifier_rules(mutate, reason):
    msg = _detection()
    mutate(msg)
    assert reason in _refused(msg)


def test_a_status_interval_must_be_positive():
    assert "status_interval.value: a status interval must be positive" in _refused(
        _registration(interval=0.0)
    )


def test_codec_walker_and_sapient_pydantic_agree_on_the_fixtures():
    """Both validators refuse every parseable invalid fixture except the rules only we add."""
    from sapient_msg_pydantic.bsi_flex_335_v2_0.sapient_message import SapientMessage

    ours_only = []
    for path in INVALID:
        msg, error = _load_fixture(path)
        if msg is None:
            continue
        assert list(codec.icd_findings(msg)), path.name
        try:
            SapientMessage.from_pb2(msg)
            ours_only.append(path.name)
        except Exception:
            pass
    for path in VALID:
        msg, _ = _load_fixture(path)
        assert list(codec.icd_findings(msg)) == [] and SapientMessage.from_pb2(msg)
    assert ours_only == [
        "0129.DerivedDetection.Timestamp.Missing.json",
        "0189.BadId.Registration.DependantNodes.json",
    ]


def test_the_quick_check_agrees_with_the_walk_on_every_fixture_and_each_damaged_field():
    """keeps_icd (no reasons built) says yes exactly when icd_findings finds nothing: on the
    fixtures, and on each valid fixture with every set field cleared in turn."""
    checked, outcomes = 0, set()
    for path in VALID + INVALID:
        msg, _ = _load_fixture(path)
        if msg is None:
            continue
        variants = [msg]
        if path in VALID:
            for field, _ in msg.ListFields():
                variant = type(msg)()
                variant.CopyFrom(msg)
                variant.ClearField(field.name)
                variants.append(variant)
            content = msg.WhichOneof("content")
            for field, _ in getattr(msg, content).ListFields():
                variant = type(msg)()
                variant.CopyFrom(msg)
                getattr(variant, content).ClearField(field.name)
                variants.append(variant)
        for variant in variants:
            keeps = codec.keeps_icd(variant)
            assert keeps == (list(codec.icd_findings(variant)) == []), path
            checked += 1
            outcomes.add(keeps)
    assert checked > len(VALID) + len(INVALID) and outcomes == {True, False}


# --- registration, status and health ---------------------------------------------------------


def test_registration_is_remembered_and_acknowledged_to_its_sender():
    driver = _registered(interval=500, interval_units="TIME_UNITS_MILLISECONDS", name="Radar A")
    node = driver.nodes[ASM_ID]
    assert node.registered and node.name == "Radar A" and node.node_types == ["NODE_TYPE_RADAR"]
    assert node.icd_version == "BSI Flex 335 v2.0" and node.status_interval_s == 0.5
    assert driver.counters["rx_registration"] == driver.counters["registrations_accepted"] == 1
    ack = codec.parse(codec.registration_ack(driver.fusion_node_id, ASM_ID, True, [], T0)[4:])
    assert ack.timestamp.seconds == int(T0) and uuid.UUID(ack.node_id)


def test_health_follows_heartbeats_and_the_nodes_own_state():
    driver = _driver()
    assert driver.health(T0) == (SensorState.DEGRADED, "no SAPIENT node has registered")
    _feed(driver, _frame(_registration(interval=2.0, name="Radar A")), T0)
    assert driver.health(T0 + 5.9) is None  # within 3 intervals of registering
    state, detail = driver.health(T0 + 6.5)
    assert state is SensorState.DEGRADED
    assert detail == f"no StatusReport from node {ASM_ID} (Radar A) for 6 s (interval 2 s)"
    _feed(driver, _frame(_status(t=T0 + 7)), T0 + 7)
    assert driver.health(T0 + 8) is None
    warning = _status(
        t=T0 + 9,
        system="SYSTEM_WARNING",
        status=[
            {
                "statusLevel": "STATUS_LEVEL_WARNING_STATUS",
                "statusType": "STATUS_TYPE_WEATHER",
                "statusValue": "heavy rain",
            }
        ],
    )
    _feed(driver, _frame(warning), T0 + 9)
    assert driver.health(T0 + 9) == (
        SensorState.DEGRADED,
        f"node {ASM_ID} (Radar A) reports WARNING: WEATHER heavy rain",
    )
    _feed(driver, _frame(_status(t=T0 + 10, system="SYSTEM_GOODBYE")), T0 + 10)
    assert driver.health(T0 + 10) == (SensorState.OFFLINE, f"node {ASM_ID} (Radar A) said GOODBYE")
    other = str(uuid.uuid4())
    _feed(driver, _frame(_registration(other, name="Camera B")), T0 + 10)
    state, detail = driver.health(T0 + 10)
    assert state is SensorState.DEGRADED and "GOODBYE" in detail  # one of two nodes left
    _feed(driver, _frame(_registration(ASM_ID, name="Radar A")), T0 + 11)  # back again
    assert driver.health(T0 + 11) is None
    assert driver.counters["rx_status_report"] == 3


def test_a_node_reporting_a_location_away_from_the_configured_one_is_named():
    driver = _registered()
    near = _status(nodeLocation=_location(SITE.lat_deg + 0.0002, SITE.lon_deg, alt=None))
    _feed(driver, _frame(near))
    assert driver.health(T0) is None and driver.nodes[ASM_ID].location.lat_deg > SITE.lat_deg
    far = _status(nodeLocation=_location(SITE.lat_deg + 0.01, SITE.lon_deg, alt=None))
    _feed(driver, _frame(far))
    state, detail = driver.health(T0)
    assert state is SensorState.DEGRADED
    assert re.search(r"reports a location 111\d m from the configured sensor position", detail)
    rb = {
        "azimuth": 10,
        "range": 100,
        "coordinateSystem": "RANGE_BEARING_COORDINATE_SYSTEM_DEGREES_M",
        "datum": "RANGE_BEARING_DATUM_TRUE",
    }
    assert "node_location_differs" in _one(driver, _detection(rangeBearing=rb)).flags


def test_unregistered_nodes_are_flagged_or_refused():
    det = _one(_driver(), _detection())
    assert "node_unregistered" in det.flags
    driver = _driver(require_registration=True)
    assert "has not registered" in _refused(_detection(), driver)
    _feed(driver, _frame(_registration()))
    assert _one(driver, _detection()).flags == []


def test_remembered_nodes_are_bounded():
    driver = _driver(max_nodes=3)
    for _ in range(10):
        _feed(driver, _frame(_status(str(uuid.uuid4()))))
    assert len(driver.nodes) == 3 and driver.counters["nodes_forgotten"] == 7


# --- DetectionReport -> Detection ------------------------------------------------------------


def test_a_lat_lng_degree_location_is_a_position_with_errors_in_metres():
    driver = _registered()
    # errors in degrees of longitude/latitude (the coordinates' own units)
    loc = _location(51.2, -1.8, 150.0, xError=1e-4, yError=2e-4, zError=7.0)
    det = _one(driver, _detection(location=loc, detectionConfidence=0.9))
    assert det.kind is MeasurementKind.POSITION and det.t_unix == T0 and det.flags == []
    assert det.position == GeoPoint(lat_deg=51.2, lon_deg=-1.8, alt_m=150.0)
    phi = math.radians(51.2)
    a, e2 = 6378137.0, 0.00669437999014
    m = a * (1 - e2) / (1 - e2 * math.sin(phi) ** 2) ** 1.5
    n = a / math.sqrt(1 - e2 * math.sin(phi) ** 2)
    east = math.radians(1e-4) * n * math.cos(phi)  # ~7.0 m
    north = math.radians(2e-4) * m  # ~22.3 m
    assert det.covariance[0][0] == pytest.approx(east**2, rel=1e-9)
    assert det.covariance[1][1] == pytest.approx(north**2, rel=1e-9)
    assert det.covariance[2][2] == pytest.approx(49.0) and det.covariance[0][1] == 0.0


def test_a_lat_lng_radian_location_and_missing_errors_and_altitude():
    driver = _registered()
    loc = {
        "x": math.radians(-1.8),
        "y": math.radians(51.2),
        "coordinateSystem": "LOCATION_COORDINATE_SYSTEM_LAT_LNG_RAD_M",
        "datum": "LOCATION_DATUM_WGS84_E",
    }
    det = _one(driver, _detection(location=loc))
    assert det.position.lat_deg == pytest.approx(51.2) and det.position.lon_deg == pytest.approx(
        -1.8
    )
    assert det.position.alt_m is None
    # no errors given: the sensor's configured noise; no altitude: the wide vertical default
    assert det.covariance[0][0] == det.covariance[1][1] == pytest.approx(10.0**2)
    assert det.covariance[2][2] == pytest.approx(50.0**2)


def test_errors_that_can_only_be_metres_are_read_as_metres_and_flagged():
    det = _one(_registered(), _detection(location=_location(xError=5.0, yError=5.0)))
    assert det.covariance[0][0] == pytest.approx(25.0) and det.covariance[1][1] == pytest.approx(
        25.0
    )
    assert det.flags == ["location_error_units_guessed_m"]


def test_absurd_errors_are_clamped_and_zero_errors_mean_none_stated():
    huge = _location(zError=1e149, xError=0.0, yError=0.0)
    det = _one(_registered(), _detection(location=huge))
    assert det.covariance[2][2] == 1e12 and det.flags == ["error_clamped"]
    assert det.covariance[0][0] == det.covariance[1][1] == pytest.approx(100.0)
    det = _one(_registered(), _detection(rangeBearing={**RB_TRUE, "rangeError": 1e300}))
    assert det.covariance[0][0] == 1e12 and det.flags == ["error_clamped"]


# (lat, lon, zone, northern, easting, northing, convergence_deg) from PROJ 9.5.1 "+proj=utm";
# PROJ's convergence is the opposite sign of ours (grid bearing of true north).
PROJ_UTM = [
    (
        51.1739726374,
        -1.82237671048,
        30,
        True,
        582322.7154224226,
        5669830.717612613,
        0.9174824264744029,
    ),
    (43.642567, -79.387139, 17, True, 630084.3008341494, 4833438.585674325, 1.1132835184803438),
    (-33.856784, 151.215297, 56, False, 334900.2612919739, 6252290.522406041, 0.9945166909077838),
    (60.0, 5.5, 32, True, 304838.8272687752, 6656575.859115896, -3.032036056195179),
    (51.5, 2.9, 30, True, 909371.868477586, 5721950.538582983, 4.623764405887587),
    (-45.0, -69.0, 19, False, 500000.0, 5017049.599773448, 0.0),
    (78.2, 15.6, 33, True, 513696.94541704346, 8680760.053195585, 0.587321331797422),
]


@pytest.mark.parametrize("lat, lon, zone, north, easting, northing, conv", PROJ_UTM)
def test_utm_matches_proj_to_the_millimetre(lat, lon, zone, north, easting, northing, conv):
    z = UtmZone(zone, north)
    e, n = geodetic_to_utm(lat, lon, z)
    assert abs(e - easting) < 1e-4 and abs(n - northing) < 1e-4
    back_lat, back_lon = utm_to_geodetic(easting, northing, z)
    assert abs(back_lat - lat) * 111_000 < 1e-3 and abs(back_lon - lon) * 111_000 < 1e-3
    assert math.degrees(grid_convergence_rad(lat, lon, z)) == pytest.approx(-conv, abs=1e-7)


def test_utm_zones():
    assert parse_utm_zone("30U") == UtmZone(30, True, "U")
    assert parse_utm_zone(" 56h ") == UtmZone(56, False, "H")
    assert parse_utm_zone("30") == UtmZone(30, True, None)
    for bad in ("61U", "30I", "U30", ""):
        with pytest.raises(ValueError, match="utm_zone"):
            parse_utm_zone(bad)
    assert utm_zone_of(51.17, -1.82) == UtmZone(30, True, "U")
    assert utm_zone_of(60.0, 5.5).number == 32 and utm_zone_of(78.2, 15.6).number == 33
    assert utm_zone_of(-33.86, 151.2) == UtmZone(56, False, "H")


def test_a_utm_location_is_placed_with_its_errors_rotated_to_true_north():
    lat, lon, zone, north, easting, northing, conv = PROJ_UTM[0]
    loc = {
        "x": easting,
        "y": northing,
        "z": 120.0,
        "xError": 3.0,
        "yError": 12.0,
        "coordinateSystem": "LOCATION_COORDINATE_SYSTEM_UTM_M",
        "datum": "LOCATION_DATUM_WGS84_E",
        "utmZone": "30U",
    }
    det = _one(_registered(), _detection(location=loc))
    assert det.position.lat_deg == pytest.approx(lat, abs=1e-8)
    assert det.position.lon_deg == pytest.approx(lon, abs=1e-8) and det.flags == []
    cov = det.covariance
    assert cov[0][0] + cov[1][1] == pytest.approx(9.0 + 144.0)  # rotation keeps the trace
    g = math.radians(conv)  # grid north lies east of true north here
    assert cov[0][1] == pytest.approx(math.cos(g) * -math.sin(g) * (9.0 - 144.0), rel=1e-6)
    assert cov[0][1] > 0  # the long (grid north) axis leans east of true north


def test_utm_zone_comes_from_the_message_the_registration_or_the_sensor_position():
    _, _, _, _, easting, northing, _ = PROJ_UTM[0]
    loc = {
        "x": easting,
        "y": northing,
        "coordinateSystem": "LOCATION_COORDINATE_SYSTEM_UTM_M",
        "datum": "LOCATION_DATUM_WGS84_E",
    }
    for driver in (_registered(zone="30U"), _registered(position=SITE)):
        det = _one(driver, _detection(location=loc))
        assert det.position.lat_deg == pytest.approx(51.1739726374, abs=1e-8)
    assert "without utm_zone" in _refused(_detection(location=loc), _driver(position=None))
    far = {**loc, "x": 5_000_000.0, "utmZone": "30U"}
    assert "outside any zone" in _refused(_detection(location=far))


def test_the_fixture_placeholder_utm_location_is_kept_but_flagged():
    msg, _ = _load_fixture(FIXTURES / "valid" / "DetectionReport.FullMessage.json")
    det = _one(_driver(), msg, T0)
    # easting 51 m, northing -1.8 m in 30U: just south of the equator, outside band U
    assert det.position.lat_deg == pytest.approx(0.0, abs=1e-4)
    assert "utm_band_mismatch" in det.flags


def test_geoid_altitudes_are_raised_to_the_ellipsoid_when_the_undulation_is_known():
    geoid = _location(alt=100.0, datum="LOCATION_DATUM_WGS84_G")
    det = _one(_registered(), _detection(location=geoid))
    assert det.position.alt_m == 100.0 and "altitude_above_geoid" in det.flags
    det = _one(_registered(geoid_undulation_m=47.5), _detection(location=geoid))
    assert det.position.alt_m == 147.5 and det.flags == []


RB_TRUE = {
    "azimuth": 30.0,
    "elevation": 5.0,
    "range": 1.5,
    "azimuthError": 0.5,
    "elevationError": 1.0,
    "rangeError": 0.02,
    "coordinateSystem": "RANGE_BEARING_COORDINATE_SYSTEM_DEGREES_KM",
    "datum": "RANGE_BEARING_DATUM_TRUE",
}


def test_a_range_bearing_is_relative_to_the_sensor_in_metres_and_radians():
    det = _one(_registered(), _detection(rangeBearing=RB_TRUE))
    assert det.kind is MeasurementKind.RANGE_AZ_EL and det.position is None
    assert det.range_m == pytest.approx(1500.0)
    assert det.azimuth_rad == pytest.approx(math.radians(30.0))
    assert det.elevation_rad == pytest.approx(math.radians(5.0))
    expected = [[20.0**2, 0, 0], [0, math.radians(0.5) ** 2, 0], [0, 0, math.radians(1.0) ** 2]]
    assert sum(det.covariance, []) == pytest.approx(sum(expected, []))
    radians_m = {
        "azimuth": -math.pi / 2,
        "range": 800.0,
        "coordinateSystem": "RANGE_BEARING_COORDINATE_SYSTEM_RADIANS_M",
        "datum": "RANGE_BEARING_DATUM_TRUE",
    }
    det = _one(_registered(), _detection(rangeBearing=radians_m))
    assert det.azimuth_rad == pytest.approx(1.5 * math.pi) and det.range_m == 800.0
    assert det.elevation_rad is None
    assert det.covariance[0][0] == pytest.approx(100.0)  # configured noise: 10 m, 1 degree
    assert det.covariance[1][1] == pytest.approx(math.radians(1.0) ** 2)


def test_azimuth_datums_are_turned_to_true_north():
    def azimuth(driver, datum):
        return _one(driver, _detection(rangeBearing={**RB_TRUE, "datum": datum})).azimuth_rad

    assert "magnetic_declination_deg" in _refused(
        _detection(rangeBearing={**RB_TRUE, "datum": "RANGE_BEARING_DATUM_MAGNETIC"})
    )
    driver = _registered(magnetic_declination_deg=-2.5)
    assert azimuth(driver, "RANGE_BEARING_DATUM_MAGNETIC") == pytest.approx(math.radians(27.5))
    # grid north at Stonehenge is 0.917 degrees east of true north (PROJ_UTM[0])
    grid = azimuth(_registered(), "RANGE_BEARING_DATUM_GRID")
    assert math.degrees(grid) == pytest.approx(30.0 + PROJ_UTM[0][6], abs=1e-6)
    platform = azimuth(_registered(yaw_deg=350.0), "RANGE_BEARING_DATUM_PLATFORM")
    assert math.degrees(platform) == pytest.approx(20.0)
    unplaced = _one(
        _driver(position=None),
        _detection(rangeBearing={**RB_TRUE, "datum": "RANGE_BEARING_DATUM_GRID"}),
    )
    assert "azimuth_grid_uncorrected" in unplaced.flags


def test_a_bearing_without_range_and_a_report_with_neither():
    bearing = {k: v for k, v in RB_TRUE.items() if not k.startswith("range")}
    det = _one(_registered(), _detection(rangeBearing=bearing))
    assert det.kind is MeasurementKind.BEARING and det.range_m is None
    assert det.azimuth_rad == pytest.approx(math.radians(30.0))
    assert det.elevation_rad == pytest.approx(math.radians(5.0))
    assert sum(det.covariance, []) == pytest.approx(
        [math.radians(0.5) ** 2, 0, 0, math.radians(1.0) ** 2]
    )
    azimuth_only = {k: v for k, v in bearing.items() if not k.startswith("elevation")}
    det = _one(_registered(), _detection(rangeBearing=azimuth_only))
    assert det.elevation_rad is None and det.covariance == [[math.radians(0.5) ** 2]]
    nothing = {
        "coordinateSystem": "RANGE_BEARING_COORDINATE_SYSTEM_DEGREES_M",
        "datum": "RANGE_BEARING_DATUM_TRUE",
    }
    assert _one(_registered(), _detection(rangeBearing=nothing)).kind is MeasurementKind.PRESENCE


@pytest.mark.parametrize(
    "field, value, reason",
    [("elevation", 95.0, "beyond the vertical"), ("range", -1.0, "range -1.0 is negative")],
)
def test_impossible_range_bearings_are_refused(field, value, reason):
    assert reason in _refused(_detection(rangeBearing={**RB_TRUE, field: value}))


def _tree(*nodes: tuple) -> list[dict[str, Any]]:
    """('Air Vehicle', 0.9, [('UAV Rotary Wing', 0.7, [...]), ...]) -> classification JSON."""

    def sub(node: tuple, level: int) -> dict[str, Any]:
        name, conf, *children = node
        out: dict[str, Any] = {"type": name, "level": level}
        if conf is not None:
            out["confidence"] = conf
        if children:
            out["subClass"] = [sub(c, level + 1) for c in children[0]]
        return out

    out = []
    for node in nodes:
        top = sub(node, 0)
        top.pop("level")
        out.append(top)
    return out


@pytest.mark.parametrize(
    "classification, expected, confidence",
    [
        (_tree(("UAV", 0.8)), ObjectClass.DRONE, 0.8),
        (
            _tree(("Air Vehicle", 0.9, [("UAV Rotary Wing", 0.7, [("Military", 0.6)])])),
            ObjectClass.DRONE,
            0.6,
        ),
        (
            _tree(("Air Vehicle", 0.9, [("Manned Fixed Wing", 0.8), ("UAV Fixed Wing", 0.1)])),
            ObjectClass.MANNED_AIRCRAFT,
            0.8,
        ),
        (_tree(("Animal", 0.9, [("Bird", 0.85, [("Pigeon", None)])])), ObjectClass.BIRD, 0.85),
        (_tree(("Bird", 0.3), ("Drone", 0.6), ("Human", 0.1)), ObjectClass.DRONE, 0.6),
        (_tree(("Air Vehicle", 0.95)), ObjectClass.UNKNOWN, None),
        (_tree(("Human", 0.8, [("Male", 0.6)])), ObjectClass.UNKNOWN, None),
        (
            _tree(("Equipment", 0.9, [("RF Transmitter", 0.9, [("UAV Transmitter", 0.7)])])),
            ObjectClass.DRONE,
            0.7,
        ),
        (
            _tree(("Equipment", 0.9, [("RF Transmitter", 0.9, [("UAS Control Station", 0.9)])])),
            ObjectClass.UNKNOWN,
            None,
        ),
        (_tree(("  uav   rotary WING ", None)), ObjectClass.DRONE, None),
    ],
)
def test_classification_takes_the_most_confident_leaf(classification, expected, confidence):
    det = _one(_registered(), _detection(classification=classification))
    assert det.object_class is expected and det.class_source == "sapient"
    assert det.class_confidence == (pytest.approx(confidence) if confidence is not None else None)


def test_classify_reports_the_chosen_path():
    msg = _detection(classification=_tree(("Air Vehicle", 0.9, [("UAV Rotary Wing", 0.7)])))
    chosen = classify(msg.detection_report.classification)
    assert (
        chosen.label == "Air Vehicle/UAV Rotary Wing" and chosen.object_class is ObjectClass.DRONE
    )
    assert classify([]) is None
    det = _one(_registered(), _detection())
    assert det.object_class is ObjectClass.UNKNOWN and det.class_source is None


def test_velocity_follows_the_registered_speed_units():
    vel = {"eastRate": 36.0, "northRate": -18.0, "upRate": 3.6}
    det = _one(_registered(speed_units="SPEED_UNITS_KPH"), _detection(enuVelocity=vel))
    assert det.velocity_enu_mps == pytest.approx((10.0, -5.0, 1.0))
    det = _one(_registered(), _detection(enuVelocity={"eastRate": 3.0, "northRate": 4.0}))
    assert det.velocity_enu_mps == (3.0, 4.0, 0.0)


def test_passive_rf_signals_become_a_signature():
    signals = [
        {"amplitude": -70.0, "centreFrequency": 2_437_000_000.0},
        {"amplitude": -55.0, "centreFrequency": 5_800_000_000.0},
    ]
    rf = _registered(node_type="NODE_TYPE_PASSIVE_RF")
    det = _one(rf, _detection(signal=signals))
    assert det.signature.freq_mhz == pytest.approx(5800.0) and det.signature.rssi_dbm == -55.0
    declared = _registered(node_type="NODE_TYPE_PASSIVE_RF", freq_units="GHz")
    det = _one(declared, _detection(signal=[{"amplitude": -60.0, "centreFrequency": 2.4}]))
    assert det.signature.freq_mhz == pytest.approx(2400.0)
    assert _one(_registered(), _detection(signal=signals)).signature is None  # a radar


def test_the_sensor_clock_is_used_unless_it_is_absurd():
    driver = _registered()
    det = _one(driver, _detection(t=T0 - 0.25), t_rx=T0)
    assert det.t_unix == pytest.approx(T0 - 0.25) and det.flags == []
    det = _one(driver, _detection(t=T0 - 3600), t_rx=T0)
    assert det.t_unix == T0 and det.flags == ["timestamp_untrusted"]
    assert driver.counters["timestamp_untrusted"] == 1


def test_a_lost_object_is_not_a_new_measurement():
    driver = _registered()
    assert _feed(driver, _frame(_detection(state="Lost"))) == []
    assert driver.counters["objects_lost"] == 1


def test_identity_is_the_sensors_object_id():
    oid = _ulid()
    assert _one(_registered(), _detection(object_id=oid)).identity.sensor_track_id == oid


def test_unparseable_frames_are_decode_errors_and_counted():
    driver = _driver()
    with pytest.raises(DecodeError, match="not a SapientMessage"):
        driver.decode(b"\xff\xff\xff\xff", T0, 0)
    with pytest.raises(DecodeError, match="one of registration"):
        driver.decode(b"", T0, 1)  # an empty message has no content
    assert driver.counters["unparseable"] == 1 and driver.counters["icd_invalid"] == 1
    assert driver.take_replies() == []


# --- a real session over TCP -----------------------------------------------------------------


class Asm:
    """A SAPIENT edge node: a TCP client speaking framed protobuf."""

    def __init__(self, port: int, node_id: str | None = None) -> None:
        self.node_id = node_id or str(uuid.uuid4())
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=5)

    def send(self, msg: Any) -> None:
        self.sock.sendall(_frame(msg))

    def send_raw(self, data: bytes) -> None:
        self.sock.sendall(data)

    def receive(self) -> Any:
        head = self.sock.recv(4, socket.MSG_WAITALL)
        (length,) = struct.unpack("<I", head)
        return codec.parse(self.sock.recv(length, socket.MSG_WAITALL))

    def register(self, **kw: Any) -> Any:
        self.send(_registration(self.node_id, t=time.time(), **kw))
        return self.receive()

    def close(self) -> None:
        self.sock.close()


@pytest.fixture
def sapient_runner(tmp_path):
    port = free_port()
    url = f"tcp-listen://127.0.0.1:{port}"
    driver = _driver()
    detections: list[Detection] = []
    runner = SensorRunner(
        SensorConfig(id="sapient-1", driver="sapient", source=url, position=SITE),
        driver,
        open_source(url, "sapient-1", driver.framing, tmp_path),
        detections.extend,
        lambda status: None,
    )
    runner.start()
    deadline = time.monotonic() + 5
    while runner.state is not SensorState.OK and time.monotonic() < deadline:
        time.sleep(0.02)
    assert runner.state is SensorState.OK
    try:
        yield runner, port, detections
    finally:
        runner.stop_event.set()
        runner.join(5)


def _wait(predicate, timeout_s: float = 5.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not predicate() and time.monotonic() < deadline:
        time.sleep(0.02)
    assert predicate()


def test_an_asm_registers_reports_and_goes_quiet_over_tcp(sapient_runner):
    runner, port, detections = sapient_runner
    assert runner.status().detail == "no SAPIENT node has registered"
    asm = Asm(port)
    try:
        ack = asm.register(interval=0.5, name="Radar A")
        assert ack.WhichOneof("content") == "registration_ack" and ack.registration_ack.acceptance
        assert ack.destination_id == asm.node_id
        for i in range(5):
            asm.send(_status(asm.node_id, t=time.time()))
            asm.send(_detection(asm.node_id, t=time.time(), location=_location(51.2 + i * 1e-4)))
            time.sleep(0.05)
        _wait(lambda: len(detections) == 5)
        assert [d.position.lat_deg for d in detections] == pytest.approx(
            [51.2 + i * 1e-4 for i in range(5)]
        )
        assert all(d.flags == [] and d.sensor_id == "sapient-1" for d in detections)
        status = runner.status()
        assert status.state is SensorState.OK, status.detail
        assert (
            status.counters["rx_status_report"] == 5 and status.counters["rx_detection_report"] == 5
        )
        assert status.counters["replies_sent"] == 1
        time.sleep(2.0)  # heartbeats stop: more than 3 intervals of 0.5 s
        status = runner.status()
        assert status.state is SensorState.DEGRADED
        assert status.detail.startswith(f"no StatusReport from node {asm.node_id} (Radar A) for")
    finally:
        asm.close()


def test_malformed_frames_are_counted_while_good_ones_flow(sapient_runner):
    runner, port, detections = sapient_runner
    good, bad = Asm(port), Asm(port)
    try:
        assert good.register().registration_ack.acceptance
        invalid = _detection(bad.node_id, t=time.time())
        invalid.detection_report.ClearField("report_id")
        for i in range(6):
            good.send(_detection(good.node_id, t=time.time()))
            if i == 1:
                bad.send_raw(struct.pack("<I", 6) + b"\xff\xfe\xfd\xfc\xfb\xfa")  # not protobuf
            if i == 2:
                bad.send(invalid)
            if i == 3:
                bad.send_raw(struct.pack("<I", 50_000_000) + b"\x00" * 16)  # absurd length
        _wait(lambda: len(detections) == 6)
        error = bad.receive()  # the ICD-invalid report is answered with an Error
        assert error.WhichOneof("content") == "error" and error.destination_id == bad.node_id
        assert "report_id: mandatory field missing" in error.error.error_message[0]
        _wait(lambda: runner.decoder.counters["malformed"] == 3)
        counters = runner.status().counters
        assert counters["unparseable"] == 1 and counters["icd_invalid"] == 1
        assert counters["rx_detection_report"] == 6 and counters["detections"] == 6
    finally:
        good.close()
        bad.close()


def test_two_asms_on_two_connections_at_once(sapient_runner):
    runner, port, detections = sapient_runner
    radar, rf = Asm(port), Asm(port)
    try:
        # interleave the registrations' bytes: each connection is framed on its own
        reg_radar = _frame(_registration(radar.node_id, t=time.time(), name="Radar"))
        reg_rf = _frame(
            _registration(rf.node_id, t=time.time(), name="RF", node_type="NODE_TYPE_PASSIVE_RF")
        )
        radar.send_raw(reg_radar[:10])
        rf.send_raw(reg_rf[:7])
        time.sleep(0.1)
        radar.send_raw(reg_radar[10:])
        rf.send_raw(reg_rf[7:])
        ack_radar, ack_rf = radar.receive(), rf.receive()
        assert ack_radar.destination_id == radar.node_id and ack_rf.destination_id == rf.node_id
        for _ in range(3):
            radar.send(_detection(radar.node_id, t=time.time(), rangeBearing=RB_TRUE))
            rf.send(
                _detection(
                    rf.node_id,
                    t=time.time(),
                    signal=[{"amplitude": -60.0, "centreFrequency": 2437.0}],
                )
            )
        _wait(lambda: len(detections) == 6)
        kinds = sorted(d.kind.value for d in detections)
        assert kinds == ["position"] * 3 + ["range_az_el"] * 3
        assert [d.signature.freq_mhz for d in detections if d.signature] == [2437.0] * 3
        assert set(runner.decoder.driver.nodes) == {radar.node_id, rf.node_id}
        assert runner.status().state is SensorState.OK
    finally:
        radar.close()
        rf.close()


# --- fuzzing -------------------------------------------------------------------------------

_FUZZ = settings(
    max_examples=300, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow]
)


def _decode_or_reject(driver: SapientDriver, frame: bytes, seq: int) -> None:
    try:
        dets = driver.decode(frame, T0, seq)
    except DecodeError:
        return
    assert isinstance(dets, list)
    for det in dets:
        assert Detection.model_validate_json(det.model_dump_json()) == det
    driver.health(T0)


@_FUZZ
@given(st.lists(st.binary(max_size=512), min_size=1, max_size=4))
def test_arbitrary_bytes_only_ever_raise_decode_error(frames):
    driver = _driver(max_nodes=4)
    for seq, frame in enumerate(frames):
        _decode_or_reject(driver, frame, seq)


_SEEDS = [
    _registration(node_type="NODE_TYPE_PASSIVE_RF").SerializeToString(),
    _status(nodeLocation=_location()).SerializeToString(),
    _detection(
        rangeBearing=RB_TRUE,
        classification=_tree(("Air Vehicle", 0.9, [("UAV Rotary Wing", 0.7)])),
        enuVelocity={"eastRate": 1.0, "northRate": 2.0},
        signal=[{"amplitude": -60.0, "centreFrequency": 2437.0}],
    ).SerializeToString(),
    _detection(location=_location(xError=1e-5, yError=1e-5, zError=3.0)).SerializeToString(),
]


@_FUZZ
@given(st.data())
def test_byte_damaged_real_messages_only_ever_raise_decode_error(data):
    driver = _driver(max_nodes=4)
    _feed(driver, _frame(_registration(node_type="NODE_TYPE_PASSIVE_RF")))
    frame = bytearray(data.draw(st.sampled_from(_SEEDS)))
    for _ in range(data.draw(st.integers(1, 4))):
        at = data.draw(st.integers(0, len(frame) - 1))
        frame[at : at + data.draw(st.integers(0, 3))] = data.draw(st.binary(max_size=3))
    _decode_or_reject(driver, bytes(frame), 0)


# mostly plausible values, so most reports get past validation into the unit conversions
_NUMBERS = st.one_of(st.floats(-200, 200), st.floats(-1e7, 1e7), st.floats())
_UNIT = st.one_of(st.floats(0, 1), st.floats())
_LOC_SYSTEMS = st.sampled_from([1, 2, 5] * 3 + [0, 3, 9])
_RB_SYSTEMS = st.sampled_from([1, 2, 3, 4] * 3 + [0, 5])
_LOC_DATUMS = st.sampled_from([1, 2] * 3 + [0, 7])
_RB_DATUMS = st.sampled_from([1, 2, 3, 4] * 3 + [0, 5])


@st.composite
def _fuzzed_detection(draw) -> Any:
    msg = _detection(t=T0 + draw(st.floats(-1e6, 1e6)))
    report = msg.detection_report
    if draw(st.booleans()):
        loc = report.location
        for name in ("x", "y", "z", "x_error", "y_error", "z_error"):
            if draw(st.booleans()):
                setattr(loc, name, draw(_NUMBERS))
        loc.coordinate_system = draw(_LOC_SYSTEMS)
        loc.datum = draw(_LOC_DATUMS)
        if draw(st.booleans()):
            loc.utm_zone = draw(st.sampled_from(["30U", "30", "31N", "61X", "zz", "", "1C"]))
    else:
        rb = report.range_bearing
        for name in (
            "azimuth",
            "elevation",
            "range",
            "azimuth_error",
            "elevation_error",
            "range_error",
        ):
            if draw(st.booleans()):
                setattr(rb, name, draw(_NUMBERS))
        rb.coordinate_system = draw(_RB_SYSTEMS)
        rb.datum = draw(_RB_DATUMS)
    for _ in range(draw(st.integers(0, 3))):
        cls = report.classification.add(
            type=draw(st.sampled_from(["UAV", "Bird", "x", "Air Vehicle", ""]))
        )
        if draw(st.booleans()):
            cls.confidence = draw(_UNIT)
        sub = cls.sub_class.add(
            type=draw(st.sampled_from(["UAV Rotary Wing", "Other", ""])), level=1
        )
        if draw(st.booleans()):
            sub.confidence = draw(_UNIT)
    if draw(st.booleans()):
        report.enu_velocity.east_rate = draw(_NUMBERS)
        report.enu_velocity.north_rate = draw(_NUMBERS)
    if draw(st.booleans()):
        report.signal.add(amplitude=draw(_NUMBERS), centre_frequency=draw(_NUMBERS))
    if draw(st.booleans()):
        report.detection_confidence = draw(_UNIT)
    return msg


@_FUZZ
@given(st.lists(_fuzzed_detection(), min_size=1, max_size=3), st.booleans())
def test_well_formed_reports_with_any_numbers_only_ever_raise_decode_error(messages, rf):
    driver = _driver(magnetic_declination_deg=1.0 if rf else None)
    _feed(
        driver, _frame(_registration(node_type="NODE_TYPE_PASSIVE_RF" if rf else "NODE_TYPE_RADAR"))
    )
    for seq, msg in enumerate(messages):
        _decode_or_reject(driver, msg.SerializeToString(), seq)


def test_deeply_nested_classifications_do_not_overflow():
    msg = _detection()
    node = msg.detection_report.classification.add(type="Air Vehicle", confidence=0.9)
    for level in range(1, 90):
        node = node.sub_class.add(type="UAV" if level == 89 else "Other", level=level)
    det = _one(_registered(), msg)
    assert det.object_class is ObjectClass.DRONE and det.class_confidence == pytest.approx(0.9)
