"""The DragonSync / WarDragon Remote ID driver, on real decoder output and on garbage.

The real samples are read from ../shared/data/wardragon (never copied here: the ZeroMQ
sample is derived from GPL code). The raw over-the-air bytes in the same file are decoded
by a small ASTM F3411 decoder written here, independently of the driver, so the driver's
positions are checked against the standard rather than against its own output.
"""

from __future__ import annotations

import contextlib
import copy
import json
import math
import struct
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cuas.driver import DecodeError, Detection, MeasurementKind, ObjectClass, SensorInfo
from cuas.schema import GeoPoint
from cuas_drivers.dragonsync import DragonSyncDriver, DragonSyncOptions

SHARED_DATA = Path(__file__).resolve().parents[2].parent / "shared" / "data"
WARDRAGON = SHARED_DATA / "wardragon"
ODID_SAMPLE = "droneid_odid_wifi_sample.zmq.jsonl"
DECODER_HOP = "zmq_decoder:4224"
RECEIVER_HOP = "wifi_receiver:4223"
T0 = 1_764_400_000.0


def _driver(position: GeoPoint | None = None, **options: Any) -> DragonSyncDriver:
    info = SensorInfo(sensor_id="rid-1", driver="dragonsync", position=position)
    return DragonSyncDriver(info, DragonSyncOptions(**options))


def _sample_path(name: str) -> Path:
    path = WARDRAGON / name
    if not path.is_file():
        pytest.skip(f"shared protocol sample not found: ../shared/data/wardragon/{name}")
    return path


def _records(hop: str) -> list[dict[str, Any]]:
    lines = _sample_path(ODID_SAMPLE).read_text(encoding="utf-8").splitlines()
    return [rec for rec in map(json.loads, lines) if rec["hop"] == hop]


def _blocks(msg: Any) -> dict[str, Any]:
    """The named blocks of one decoder message, whichever of its two shapes it has."""
    if isinstance(msg, dict):
        return msg
    out: dict[str, Any] = {}
    for item in msg:
        out.update(item)
    return out


def _leading_number(text: Any) -> float:
    """'20.5 m/s' -> 20.5, '<30 m' -> 30.0, 288 -> 288.0 (for reading the sample itself)."""
    return float(str(text).lstrip("<>").split()[0].rstrip("m"))


def _decode_sample(driver: DragonSyncDriver) -> list[tuple[dict[str, Any], list[Detection]]]:
    out = []
    for seq, rec in enumerate(_records(DECODER_HOP)):
        frame = json.dumps(rec["msg"]).encode()
        out.append((rec, driver.decode(frame, rec["pcap_time"], seq)))
    return out


def _assert_jsonable(det: Detection) -> None:
    """A detection must survive the JSON the bus and the replay files carry it in."""
    assert isinstance(det, Detection)
    assert Detection.model_validate_json(det.model_dump_json()) == det


# --- the real DroneID sample ---------------------------------------------------------


def test_odid_sample_location_messages_become_positions_with_remembered_identity_and_pilot():
    driver = _driver()
    decoded = _decode_sample(driver)
    operator_id = None
    pilot = None
    n_locations = 0
    n_detections = 0
    for seq, (rec, dets) in enumerate(decoded):
        blocks = _blocks(rec["msg"])
        if "Operator ID Message" in blocks:
            operator_id = blocks["Operator ID Message"]["operator_id"]
        if "System Message" in blocks:
            system = blocks["System Message"]
            pilot = (float(system["latitude"]), float(system["longitude"]))
        n_detections += len(dets)
        if "Location/Vector Message" not in blocks:
            assert dets == [], f"only Location/Vector messages carry a position: {blocks}"
            continue
        n_locations += 1
        loc = blocks["Location/Vector Message"]
        assert len(dets) == 1
        det = dets[0]
        _assert_jsonable(det)
        assert det.kind is MeasurementKind.POSITION
        assert det.sensor_id == "rid-1"
        assert det.t_unix == rec["pcap_time"]
        assert det.raw is not None and det.raw.frame_seq == seq
        assert det.identity.mac == blocks["MAC"].lower()
        assert det.identity.operator_id == operator_id
        if pilot is None:
            assert det.pilot is None
        else:
            assert det.pilot is not None
            assert (det.pilot.lat_deg, det.pilot.lon_deg) == pytest.approx(pilot, abs=1e-9)
        assert det.object_class is ObjectClass.DRONE
        assert det.class_source == "remote_id"
        assert det.position is not None
        assert det.position.lat_deg == pytest.approx(float(loc["latitude"]), abs=1e-9)
        assert det.position.lon_deg == pytest.approx(float(loc["longitude"]), abs=1e-9)
        assert det.position.alt_m == pytest.approx(_leading_number(loc["geodetic_altitude"]))
        speed = _leading_number(loc["speed"])
        track = math.radians(_leading_number(loc["direction"]))
        assert loc["vert_speed"].startswith("63"), "the sample states vertical speed unknown"
        assert det.velocity_enu_mps == pytest.approx(
            (speed * math.sin(track), speed * math.cos(track), 0.0), abs=1e-9
        )
        # F3411 accuracies are 95 % bounds; one sigma is half of one
        h_sigma = _leading_number(loc["horizontal_accuracy"]) / 2
        v_sigma = _leading_number(loc["vertical_accuracy"]) / 2
        assert det.covariance is not None
        assert [det.covariance[i][i] for i in range(3)] == pytest.approx(
            [h_sigma**2, h_sigma**2, v_sigma**2]
        )
    assert n_locations > 0
    assert n_detections == n_locations
    assert pilot is not None and operator_id is not None, "the sample has both messages"


def _f3411_messages(adv_data_hex: str) -> list[bytes]:
    """The 25-byte ASTM F3411 messages in one advertisement: a pack or a single message."""
    data = bytes.fromhex(adv_data_hex)
    if data[0] >> 4 == 0xF:  # message pack: header, message size, count, messages
        size, count = data[1], data[2]
        assert size == 25, "F3411 messages are 25 bytes"
        assert len(data) >= 3 + size * count
        return [data[3 + i * size : 3 + (i + 1) * size] for i in range(count)]
    return [data[:25]]


def _f3411_location(msg: bytes) -> dict[str, float | None]:
    """Location/Vector message (type 1) decoded from its bytes, per ASTM F3411."""
    assert msg[0] >> 4 == 1
    flags = msg[1]
    direction = msg[2] + (180 if flags & 0x02 else 0)
    speed = msg[3] * 0.75 + 255 * 0.25 if flags & 0x01 else msg[3] * 0.25
    vert_speed = struct.unpack_from("<b", msg, 4)[0] * 0.5
    lat_raw, lon_raw = struct.unpack_from("<ii", msg, 5)
    geodetic_raw = struct.unpack_from("<H", msg, 15)[0]
    return {
        "lat": lat_raw * 1e-7,
        "lon": lon_raw * 1e-7,
        "alt": None if geodetic_raw == 0 else geodetic_raw * 0.5 - 1000.0,
        "speed": None if msg[3] == 255 else speed,
        "direction": direction,
        "vert_speed": None if vert_speed == 63.0 else vert_speed,
    }


def test_odid_sample_positions_agree_with_the_raw_f3411_bytes():
    raw_locations: list[tuple[float, dict[str, float | None]]] = []
    for rec in _records(RECEIVER_HOP):
        for per_mac in rec["msg"]["DroneID"].values():
            if "AdvData" not in per_mac:
                continue
            for msg in _f3411_messages(per_mac["AdvData"]):
                if msg[0] >> 4 == 1:
                    raw_locations.append((rec["pcap_time"], _f3411_location(msg)))
    detections = [det for _, dets in _decode_sample(_driver()) for det in dets]

    assert len(raw_locations) > 0
    assert [t for t, _ in raw_locations] == [det.t_unix for det in detections]
    for (t, raw), det in zip(raw_locations, detections, strict=True):
        assert det.position is not None
        assert det.position.lat_deg == pytest.approx(raw["lat"], abs=1e-7), t
        assert det.position.lon_deg == pytest.approx(raw["lon"], abs=1e-7), t
        assert raw["alt"] is not None
        assert det.position.alt_m == pytest.approx(raw["alt"], abs=0.5), t
        assert raw["speed"] is not None
        track = math.radians(raw["direction"])
        up = raw["vert_speed"] or 0.0
        expected = (raw["speed"] * math.sin(track), raw["speed"] * math.cos(track), up)
        assert det.velocity_enu_mps == pytest.approx(expected, abs=1e-6), t


# --- flat DragonSync MQTT objects ----------------------------------------------------


def _flat_sample(name: str) -> tuple[dict[str, Any], Detection]:
    path = _sample_path(name)
    obj = json.loads(path.read_text(encoding="utf-8"))
    dets = _driver().decode(path.read_bytes(), T0, 0)
    assert len(dets) == 1
    _assert_jsonable(dets[0])
    return obj, dets[0]


def test_flat_dji_o4_object_gives_serial_pilot_home_and_ignores_the_65531_altitude():
    obj, det = _flat_sample("dji_o4.json")
    assert obj["alt"] == 65531.0, "the sample carries DJI's 'no altitude' sentinel"
    assert det.kind is MeasurementKind.POSITION
    assert det.identity.rid_serial == obj["id"].removeprefix("drone-")
    assert det.identity.mac is None  # the object's mac is empty
    assert det.position is not None
    assert (det.position.lat_deg, det.position.lon_deg) == (obj["lat"], obj["lon"])
    assert det.position.alt_m is not None and det.position.alt_m < 10_000
    # an altitude the frame did not state is reported as very uncertain
    assert det.covariance is not None
    assert det.covariance[2][2] > DragonSyncOptions().default_vertical_std_m ** 2
    assert det.pilot == GeoPoint(lat_deg=obj["pilot_lat"], lon_deg=obj["pilot_lon"])
    assert det.home == GeoPoint(lat_deg=obj["home_lat"], lon_deg=obj["home_lon"])
    assert det.signature is not None
    assert det.signature.freq_mhz == obj["freq_mhz"]
    assert det.signature.rssi_dbm == obj["rssi"]
    assert det.object_class is ObjectClass.DRONE


def test_flat_wifi_beacon_object_gives_all_ids_pilot_velocity_and_accuracy():
    obj, det = _flat_sample("wifi_beacon.json")
    assert det.identity.mac == obj["mac"].lower()
    assert det.identity.rid_serial == obj["id"].removeprefix("drone-")
    assert det.identity.caa_id == obj["caa_id"]
    assert det.identity.operator_id == obj["operator_id"]
    assert det.position == GeoPoint(lat_deg=obj["lat"], lon_deg=obj["lon"], alt_m=obj["alt"])
    assert det.pilot == GeoPoint(lat_deg=obj["pilot_lat"], lon_deg=obj["pilot_lon"])
    assert (obj["home_lat"], obj["home_lon"]) == (0.0, 0.0)
    assert det.home is None, "0/0 is F3411's 'unknown', not a place in the Gulf of Guinea"
    track = math.radians(obj["direction"])
    assert det.velocity_enu_mps == pytest.approx(
        (obj["speed"] * math.sin(track), obj["speed"] * math.cos(track), obj["vspeed"])
    )
    assert obj["horizontal_accuracy"] == "<3m" and obj["vertical_accuracy"] == "<10m"
    assert det.covariance is not None
    assert [det.covariance[i][i] for i in range(3)] == pytest.approx([1.5**2, 1.5**2, 5.0**2])


# --- hand-made messages: sentinels, units, shapes --------------------------------------

MAC = "60:60:1F:AA:BB:CC"
SERIAL = "1581F5FJD229Q00A0001"
BASIC = {"Basic ID": {"id_type": "Serial Number (ANSI/CTA-2063-A)", "id": SERIAL}}


def _location(**fields: Any) -> dict[str, Any]:
    loc = {"latitude": 45.5450519, "longitude": -122.9722906, "geodetic_altitude": 237.0}
    loc.update(fields)
    return {"Location/Vector Message": loc}


def _frame(*blocks: dict[str, Any], shape: str = "list") -> bytes:
    if shape == "list":
        return json.dumps([*blocks, {"MAC": MAC}]).encode()
    merged: dict[str, Any] = {"MAC": MAC}
    for block in blocks:
        merged.update(block)
    return json.dumps(merged).encode()


@pytest.mark.parametrize("shape", ["list", "dict"])
@pytest.mark.parametrize(
    "lat, lon", [(0.0, 0.0), ("0.0000000", "0.0000000"), ("Undefined", "Undefined")]
)
def test_location_without_valid_position_gives_presence_with_identity(shape, lat, lon):
    dets = _driver().decode(
        _frame(BASIC, _location(latitude=lat, longitude=lon), shape=shape), T0, 3
    )
    assert len(dets) == 1
    det = dets[0]
    _assert_jsonable(det)
    assert det.kind is MeasurementKind.PRESENCE
    assert det.position is None and det.velocity_enu_mps is None and det.covariance is None
    assert det.identity.rid_serial == SERIAL
    assert det.identity.mac == MAC.lower()
    assert det.object_class is ObjectClass.DRONE


def test_strings_with_units_decode_like_the_same_numbers():
    as_text = _location(
        latitude="45.5450519",
        longitude="-122.9722906",
        geodetic_altitude="Undefined",
        pressure_altitude="150.5 m",
        direction="90",
        speed="12.5 m/s",
        vert_speed="-2.5 m/s",
        horizontal_accuracy="<10 m",
        vertical_accuracy="Undefined",
    )
    as_numbers = _location(
        latitude=45.5450519,
        longitude=-122.9722906,
        geodetic_altitude=None,
        pressure_altitude=150.5,
        direction=90,
        speed=12.5,
        vert_speed=-2.5,
        horizontal_accuracy=10,
    )
    [text_det] = _driver().decode(_frame(as_text), T0, 0)
    [num_det] = _driver().decode(_frame(as_numbers), T0, 0)
    for det in (text_det, num_det):
        assert det.position == GeoPoint(lat_deg=45.5450519, lon_deg=-122.9722906, alt_m=150.5)
        assert det.velocity_enu_mps == pytest.approx((12.5, 0.0, -2.5), abs=1e-9)
        # "<10 m" is a 95 % bound: one sigma 5 m east and north
        assert det.covariance is not None
        assert det.covariance[0][0] == pytest.approx(25.0)
        assert det.covariance[1][1] == pytest.approx(25.0)
    assert text_det.covariance == num_det.covariance


@pytest.mark.parametrize("vert_speed", [63, 63.0, "63.0 m/s", "Undefined", None])
def test_unknown_vertical_speed_gives_zero_up_velocity(vert_speed):
    [det] = _driver().decode(
        _frame(_location(direction=180, speed=4.0, vert_speed=vert_speed)), T0, 0
    )
    assert det.velocity_enu_mps == pytest.approx((0.0, -4.0, 0.0), abs=1e-9)


@pytest.mark.parametrize("speed", [255, 254.25, "255.0 m/s", "Undefined"])
def test_unknown_speed_gives_no_velocity(speed):
    [det] = _driver().decode(_frame(_location(direction=10, speed=speed)), T0, 0)
    assert det.kind is MeasurementKind.POSITION
    assert det.velocity_enu_mps is None


def test_identity_heard_in_separate_messages_is_attached_to_later_positions():
    driver = _driver()
    operator = {"Operator ID Message": {"operator_id": "GBR-OP-123ABCD"}}
    system = {"System Message": {"latitude": 45.5443876, "longitude": -122.9726866}}
    assert driver.decode(_frame(BASIC), T0, 0) == []
    assert driver.decode(_frame(operator), T0 + 1, 1) == []
    assert driver.decode(_frame(system), T0 + 2, 2) == []
    [det] = driver.decode(_frame(_location()), T0 + 3, 3)
    assert det.identity.rid_serial == SERIAL
    assert det.identity.operator_id == "GBR-OP-123ABCD"
    assert det.pilot == GeoPoint(lat_deg=45.5443876, lon_deg=-122.9726866)
    # another broadcaster heard by the same sensor gets none of it
    other = json.dumps([_location(), {"MAC": "02:00:00:00:00:01"}]).encode()
    [stranger] = driver.decode(other, T0 + 4, 4)
    assert stranger.identity.rid_serial is None and stranger.pilot is None


# --- malformed input -----------------------------------------------------------------


def _loc_json(lat: str, lon: str = "10.0", extra: str = "") -> bytes:
    body = f'"latitude": {lat}, "longitude": {lon}{extra}'
    return ('{"MAC": "aa:bb:cc:dd:ee:ff", "Location/Vector Message": {' + body + "}}").encode()


@pytest.mark.parametrize(
    "frame",
    [
        pytest.param(b"not json {", id="not-json"),
        pytest.param(b"\xff\xfe\x00garbage", id="not-utf8"),
        pytest.param(b"", id="empty"),
        pytest.param(b"42", id="top-level-number"),
        pytest.param(b'"a string"', id="top-level-string"),
        pytest.param(b'[{"MAC": "aa:bb:cc:dd:ee:ff"}, "oops"]', id="list-with-string"),
        pytest.param(
            b'{"MAC": "aa:bb:cc:dd:ee:ff", "Location/Vector Message": [45.0, 10.0]}',
            id="block-is-list",
        ),
        pytest.param(b'{"MAC": "aa", "System Message": "here"}', id="system-block-is-string"),
        pytest.param(_loc_json("123.0"), id="latitude-123"),
        pytest.param(_loc_json("45.0", "-181.0"), id="longitude-minus-181"),
        pytest.param(_loc_json("NaN"), id="latitude-nan"),
        pytest.param(_loc_json("45.0", "Infinity"), id="longitude-infinity"),
        pytest.param(
            _loc_json("45.0", extra=', "speed": Infinity, "direction": 5'), id="speed-infinity"
        ),
        pytest.param(
            _loc_json("45.0", extra=', "geodetic_altitude": -Infinity'),
            id="altitude-minus-infinity",
        ),
        pytest.param(_loc_json('"1e999"'), id="latitude-string-overflowing-to-infinity"),
        pytest.param(_loc_json("45.0", extra=', "speed": {"v": 3}'), id="speed-is-object"),
        pytest.param(b'{"lat": NaN, "lon": 10.0, "mac": "aa"}', id="flat-lat-nan"),
        pytest.param(b'{"lat": 91, "lon": 10.0, "mac": "aa"}', id="flat-lat-91"),
        # found while writing these tests: these escaped decode() as other exceptions
        pytest.param(b"1" * 5000, id="integer-too-long-for-python"),
        pytest.param(b"[" * 50_000 + b"]" * 50_000, id="nesting-deeper-than-recursion-limit"),
        pytest.param(_loc_json("1" + "0" * 400), id="integer-too-large-for-float"),
    ],
)
def test_malformed_frames_raise_decode_error(frame):
    with pytest.raises(DecodeError):
        _driver().decode(frame, T0, 0)


def test_odd_frames_do_not_poison_what_is_remembered_about_the_broadcaster():
    driver = _driver()
    # "_caa" once smuggled the CAA id between the driver's own steps inside the message;
    # a frame carrying that key itself must neither fail later frames nor set an identity
    for seq, odd in enumerate([[{"_caa": 7}, {"MAC": MAC}], [{"_caa": "FAKE"}, {"MAC": MAC}]]):
        with contextlib.suppress(DecodeError):
            assert driver.decode(json.dumps(odd).encode(), T0 + seq, seq) == []
    [det] = driver.decode(_frame(BASIC, _location()), T0 + 5, 5)
    _assert_jsonable(det)
    assert det.identity.rid_serial == SERIAL
    assert det.identity.caa_id is None


def test_caa_registration_in_basic_id_becomes_the_caa_identity():
    basic = {"Basic ID": {"id_type": "CAA Assigned Registration ID", "id": "FIN87astrdge12k8"}}
    [det] = _driver().decode(_frame(basic, _location()), T0, 0)
    assert det.identity.caa_id == "FIN87astrdge12k8"
    assert det.identity.rid_serial is None
    assert det.identity.mac == MAC.lower()


@pytest.mark.parametrize("bound", [1e300, "<1e300 m", 0, -5, "Undefined"])
def test_accuracy_that_bounds_nothing_falls_back_to_the_sensor_default(bound):
    [det] = _driver().decode(_frame(_location(horizontal_accuracy=bound)), T0, 0)
    _assert_jsonable(det)
    default_std = SensorInfo(sensor_id="x", driver="dragonsync").noise.position_m
    assert det.covariance is not None
    assert det.covariance[0][0] == pytest.approx(default_std**2)
    assert det.covariance[1][1] == pytest.approx(default_std**2)


# --- fuzzing ---------------------------------------------------------------------------

_KEYS = [
    "Basic ID",
    "Location/Vector Message",
    "System Message",
    "Operator ID Message",
    "Self-ID Message",
    "Frequency Message",
    "Authentication Message",
    "MAC",
    "RSSI",
    "id",
    "id_type",
    "latitude",
    "longitude",
    "operator_lat",
    "operator_lon",
    "home_lat",
    "home_lon",
    "operator_id",
    "frequency",
    "geodetic_altitude",
    "pressure_altitude",
    "height_agl",
    "direction",
    "speed",
    "vert_speed",
    "horizontal_accuracy",
    "vertical_accuracy",
    "lat",
    "lon",
    "alt",
    "height",
    "vspeed",
    "mac",
    "caa_id",
    "pilot_lat",
    "pilot_lon",
    "freq",
    "freq_mhz",
    "rssi",
]
_FLAT_KEYS = [
    "id",
    "id_type",
    "mac",
    "caa_id",
    "operator_id",
    "pilot_lat",
    "pilot_lon",
    "home_lat",
    "home_lon",
    "alt",
    "height",
    "direction",
    "speed",
    "vspeed",
    "horizontal_accuracy",
    "vertical_accuracy",
    "freq",
    "freq_mhz",
    "rssi",
]
_TEXTS = [
    "Undefined",
    "<30 m",
    "<3m",
    "20.5 m/s",
    "63.0 m/s",
    "0",
    "237.0 m",
    "1e999",
    "-1e999",
    "Serial Number (ANSI/CTA-2063-A)",
    "CAA Assigned Registration ID",
    "1",
    "2",
    "nan",
    "",
]
# F3411 sentinels and numbers at the edges of what a float holds
_EDGE_NUMBERS = [0, 0.0, -0.0, 63, 63.0, 254.25, 255, 65531.0, -1000, 1e300, -1e300, 10**400]
_LEAVES = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats()
    | st.text(max_size=12)
    | st.sampled_from(_TEXTS)
    | st.sampled_from(_EDGE_NUMBERS)
)
_KEY = st.sampled_from(_KEYS) | st.text(max_size=8)
_ANY_JSON = st.recursive(
    _LEAVES,
    lambda children: st.lists(children, max_size=4) | st.dictionaries(_KEY, children, max_size=6),
    max_leaves=30,
)
# shaped like the real thing, so the fuzzing reaches past the first type checks
_FIELD_VALUES = (
    st.sampled_from(_EDGE_NUMBERS)
    | st.sampled_from(_TEXTS)
    | st.floats(-181, 181)
    | st.integers(-200, 70_000)
    | _ANY_JSON
)
_BLOCK = st.dictionaries(st.sampled_from(_KEYS), _FIELD_VALUES, max_size=8)
_BLOCKS = st.dictionaries(st.sampled_from(_KEYS[:9]), _BLOCK | _FIELD_VALUES, max_size=4)
_FLAT = st.fixed_dictionaries(
    {"lat": _FIELD_VALUES, "lon": _FIELD_VALUES},
    optional={key: _FIELD_VALUES for key in _FLAT_KEYS},
)
JSON_VALUES = _ANY_JSON | _BLOCKS | st.lists(_BLOCKS, max_size=4) | _FLAT


def _decode_or_reject(driver: DragonSyncDriver, frame: bytes, seq: int) -> None:
    """Either a DecodeError, or detections that are valid schema Detections."""
    try:
        dets = driver.decode(frame, T0 + seq, seq)
    except DecodeError:
        return
    assert isinstance(dets, list)
    for det in dets:
        _assert_jsonable(det)


_FUZZ = settings(
    max_examples=300, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow]
)


@_FUZZ
@given(st.lists(st.binary(max_size=512), min_size=1, max_size=4))
def test_arbitrary_bytes_only_ever_raise_decode_error(frames):
    driver = _driver(max_remembered=4)
    for seq, frame in enumerate(frames):
        _decode_or_reject(driver, frame, seq)


@_FUZZ
@given(st.lists(JSON_VALUES, min_size=1, max_size=5))
def test_arbitrary_json_only_ever_raises_decode_error(messages):
    # one driver for the whole sequence: a bad message must not spoil later ones either
    driver = _driver(max_remembered=4)
    for seq, message in enumerate(messages):
        _decode_or_reject(driver, json.dumps(message).encode(), seq)


def _seed_messages() -> list[Any]:
    """Real messages to mutate: the decoder sample's distinct shapes and the flat objects."""
    seeds: list[Any] = []
    path = WARDRAGON / ODID_SAMPLE
    if path.is_file():
        seen: set[str] = set()
        for line in path.read_text(encoding="utf-8").splitlines():
            rec = json.loads(line)
            if rec["hop"] != DECODER_HOP:
                continue
            kinds = ",".join(sorted(_blocks(rec["msg"])))
            if kinds not in seen:
                seen.add(kinds)
                seeds.append(rec["msg"])
    for name in ("dji_o4.json", "wifi_beacon.json"):
        if (WARDRAGON / name).is_file():
            seeds.append(json.loads((WARDRAGON / name).read_text(encoding="utf-8")))
    return seeds


SEEDS = _seed_messages()


def _paths(node: Any, prefix: tuple = ()) -> list[tuple]:
    out = [prefix]
    if isinstance(node, dict):
        for key, value in node.items():
            out += _paths(value, (*prefix, key))
    elif isinstance(node, list):
        for i, value in enumerate(node):
            out += _paths(value, (*prefix, i))
    return out


def _mutate(data: st.DataObject, message: Any) -> Any:
    message = copy.deepcopy(message)
    for _ in range(data.draw(st.integers(1, 3))):
        path = data.draw(st.sampled_from(_paths(message)))
        if not path:
            message = data.draw(JSON_VALUES)
            continue
        parent = message
        for step in path[:-1]:
            parent = parent[step]
        if isinstance(parent, dict) and data.draw(st.booleans()):
            del parent[path[-1]]
        else:
            parent[path[-1]] = data.draw(JSON_VALUES)
    return message


@pytest.mark.skipif(not SEEDS, reason="shared protocol samples not found in ../shared/data")
@_FUZZ
@given(st.data())
def test_mutated_real_messages_only_ever_raise_decode_error(data):
    driver = _driver(max_remembered=4)
    for seq in range(data.draw(st.integers(1, 4))):
        message = _mutate(data, data.draw(st.sampled_from(SEEDS)))
        _decode_or_reject(driver, json.dumps(message).encode(), seq)


@pytest.mark.skipif(not SEEDS, reason="shared protocol samples not found in ../shared/data")
@_FUZZ
@given(st.data())
def test_byte_damaged_real_messages_only_ever_raise_decode_error(data):
    frame = bytearray(json.dumps(data.draw(st.sampled_from(SEEDS))).encode())
    for _ in range(data.draw(st.integers(1, 4))):
        at = data.draw(st.integers(0, len(frame) - 1))
        frame[at : at + data.draw(st.integers(0, 3))] = data.draw(st.binary(max_size=3))
    _decode_or_reject(_driver(), bytes(frame), 0)


# --- bounded memory ------------------------------------------------------------------


def test_remembered_broadcasters_are_bounded_and_least_recently_heard_go_first():
    limit = 8
    driver = _driver(max_remembered=limit)

    def operator_of(mac: str, seq: int) -> str | None:
        frame = json.dumps([_location(), {"MAC": mac}]).encode()
        [det] = driver.decode(frame, T0 + seq, seq)
        return det.identity.operator_id

    def hear_operator(mac: str, seq: int) -> None:
        frame = json.dumps(
            [{"Operator ID Message": {"operator_id": f"OP-{mac}"}}, {"MAC": mac}]
        ).encode()
        assert driver.decode(frame, T0 + seq, seq) == []

    macs = [f"02:00:00:00:{i // 256:02x}:{i % 256:02x}" for i in range(500)]
    keep = macs[0]
    hear_operator(keep, 0)
    for seq, mac in enumerate(macs[1:], start=1):
        hear_operator(mac, seq)
        if seq % 3 == 0:
            hear_operator(keep, seq)  # heard often: never the least recently heard
        assert len(driver._seen) <= limit
    assert operator_of(keep, 1000) == f"OP-{keep}"
    assert operator_of(macs[-1], 1001) == f"OP-{macs[-1]}"
    assert operator_of(macs[1], 1002) is None, "long unheard: forgotten"
    assert len(driver._seen) <= limit
