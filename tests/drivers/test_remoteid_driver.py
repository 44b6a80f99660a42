"""The odid_frames and dronescout Remote ID drivers, on real captures, real sockets, garbage.

The Wi-Fi capture is cross-checked against ../shared/data/wardragon, the same capture
decoded by another implementation (DroneID); the DroneScout JSON is checked for a
consistent drone. Samples are read from ../shared/data and skipped when absent.
"""

from __future__ import annotations

import base64
import json
import socket
import struct
import threading
import time
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cuas.config import SensorConfig
from cuas.driver import DecodeError, Detection, MeasurementKind, ObjectClass, SensorInfo
from cuas.driver.host import SensorRunner
from cuas.driver.sources import open_source
from cuas.replay.format import Frame, ReplayReader
from cuas.schema import GeoPoint, SensorState, SensorStatus
from cuas_drivers.remoteid import (
    LINKTYPE_BLUETOOTH_LE_LL,
    LINKTYPE_USER0,
    LINKTYPES,
    DroneScoutDriver,
    DroneScoutOptions,
    OdidFramesDriver,
    RemoteIdOptions,
    capture_frames,
    capture_to_replay,
    odid_frame,
)

from support import SHARED_DATA, free_port

T0 = 1_764_400_000.0
WIFI = "remoteid/odid_wifi_sample.pcap"
BT5 = "remoteid/odid_bt5_lr_sample.pcapng"


def _frames_driver(**options: Any) -> OdidFramesDriver:
    info = SensorInfo(sensor_id="rid-1", driver="odid_frames")
    return OdidFramesDriver(info, RemoteIdOptions(**options))


def _scout_driver(**options: Any) -> DroneScoutDriver:
    info = SensorInfo(sensor_id="ds-1", driver="dronescout")
    return DroneScoutDriver(info, DroneScoutOptions(**options))


def _assert_jsonable(det: Detection) -> None:
    assert isinstance(det, Detection)
    assert Detection.model_validate_json(det.model_dump_json()) == det


def _decode_capture(path: Path) -> list[Detection]:
    driver = _frames_driver()
    out: list[Detection] = []
    for seq, (t_unix, frame) in enumerate(capture_frames(path)):
        try:
            out.extend(driver.decode(frame, t_unix, seq))
        except DecodeError as exc:
            assert "count 0" in str(exc) or "CRC" in str(exc)
    return out


# --- real captures through the odid_frames driver ----------------------------------------


def test_wifi_capture_gives_positions_with_identity_pilot_and_radio(shared_data):
    dets = _decode_capture(shared_data / WIFI)
    assert len(dets) == 31
    for det in dets:
        _assert_jsonable(det)
        assert det.kind is MeasurementKind.POSITION
        assert det.object_class is ObjectClass.DRONE and det.class_source == "remote_id"
        assert det.identity.mac == "84:cc:a8:60:43:24"
        assert det.signature is not None and det.signature.freq_mhz == 2437.0
        assert det.signature.rssi_dbm is not None and -90 <= det.signature.rssi_dbm <= -30
        assert det.position is not None and det.position.alt_m == 237.0
        assert det.covariance is not None and det.covariance[0][0] == 15.0**2  # "<30 m"
        speed = det.velocity_enu_mps
        assert speed is not None and (speed[0] ** 2 + speed[1] ** 2) ** 0.5 == pytest.approx(20.5)
        # the transmitter sends timestamp 0 (xx:00:00.0): three minutes off, so flagged
        assert det.flags == ["timestamp_stale"]
    # Operator ID is the first frame; the System message with the pilot comes later
    assert all(det.identity.operator_id == "GBR-OP-123ABCD" for det in dets)
    with_pilot = [det for det in dets if det.pilot is not None]
    assert 0 < len(with_pilot) < len(dets)
    for det in with_pilot:
        assert det.pilot is not None
        assert (det.pilot.lat_deg, det.pilot.lon_deg) == pytest.approx(
            (45.5443876, -122.9726866), abs=1e-9
        )
        assert det.home == det.pilot  # operator location type "take-off"


def test_wifi_capture_agrees_with_another_decoder_of_the_same_capture(shared_data):
    ours = {round(det.t_unix, 6): det for det in _decode_capture(shared_data / WIFI)}
    theirs = []
    for line in (shared_data / "wardragon" / "droneid_odid_wifi_sample.zmq.jsonl").open():
        rec = json.loads(line)
        if rec["hop"] != "zmq_decoder:4224":
            continue
        blocks = {k: v for item in rec["msg"] for k, v in item.items()}
        theirs.append((round(rec["pcap_time"], 6), blocks))
    compared = 0
    for t, blocks in theirs:
        if "Location/Vector Message" in blocks:
            loc = blocks["Location/Vector Message"]
            det = ours[t]  # DroneID decodes the Beacon frames; we decode those and NaN too
            assert det.position is not None
            assert det.position.lat_deg == pytest.approx(float(loc["latitude"]), abs=1e-7)
            assert det.position.lon_deg == pytest.approx(float(loc["longitude"]), abs=1e-7)
            assert det.position.alt_m == float(loc["geodetic_altitude"].split()[0])
            compared += 1
        if "Operator ID Message" in blocks:
            later = [det for t_det, det in ours.items() if t_det > t]
            operator_id = blocks["Operator ID Message"]["operator_id"]
            assert later and all(det.identity.operator_id == operator_id for det in later)
    assert compared == 15  # Location messages that came by Beacon


def test_bt5_capture_without_gnss_fix_gives_presence_only_detections(shared_data):
    dets = _decode_capture(shared_data / BT5)
    assert len(dets) == 222
    for det in dets:
        _assert_jsonable(det)
        assert det.kind is MeasurementKind.PRESENCE
        assert det.position is None and det.covariance is None and det.velocity_enu_mps is None
        assert det.identity.mac == "e0:7d:ea:eb:2f:1c"
        assert det.signature is not None and 2402 <= (det.signature.freq_mhz or 0) <= 2480
    # identity arrives in the packs; from the first pack with a Basic ID on, it is attached
    assert dets[-1].identity.rid_serial == "SSEVTFG93700070"
    assert dets[-1].identity.operator_id == "FIN87astrdge12kxyz8"
    assert "rid_serial_invalid" in dets[-1].flags  # not an ANSI/CTA-2063-A serial


def test_capture_replays_through_the_real_driver_host(shared_data, tmp_path):
    replay = tmp_path / "wifi.jsonl"
    assert capture_to_replay(shared_data / WIFI, replay, sensor_id="rid-1") == 42
    frames = [rec for rec in ReplayReader(replay) if isinstance(rec, Frame)]
    assert len(frames) == 42 and all(f.sensor_id == "rid-1" for f in frames)

    sensor = SensorConfig(id="rid-1", driver="odid_frames", source=f"replay:{replay}?speed=500")
    driver = _frames_driver()
    source = open_source(sensor.source, sensor.id, driver.framing, tmp_path)
    got: list[Detection] = []
    statuses: list[SensorStatus] = []
    runner = SensorRunner(sensor, driver, source, got.extend, statuses.append)
    runner.start()
    runner.join(timeout=20)
    assert not runner.is_alive(), "a finite replay ends the runner"
    direct = _decode_capture(shared_data / WIFI)
    assert [d.position for d in got] == [d.position for d in direct]
    assert [d.identity for d in got] == [d.identity for d in direct]
    assert runner.decoder.counters["frames"] == 42
    assert runner.decoder.counters["malformed"] == 0
    assert statuses[-1].state is SensorState.OFFLINE  # source ended


# --- hand-made frames: BT4 legacy, bare messages, memory, sentinels ----------------------

SERIAL = "1581F5FJD229Q00A0001"
ADV_A = bytes.fromhex("c0ffee123456")


def _basic_id(serial: str = SERIAL) -> bytes:
    return struct.pack("<BB20s3x", 0x02, 0x12, serial.encode())


def _location(lat: float, lon: float, timestamp_tenths: int = 0xFFFF) -> bytes:
    return struct.pack(
        "<BBBBbiiHHHBBHBx",
        0x12,
        0x20,  # airborne, E/W 0, multiplier 0
        90,
        40,  # 10 m/s
        4,  # 2 m/s up
        round(lat * 1e7),
        round(lon * 1e7),
        0,
        round((120 + 1000) / 0.5),
        0,
        (3 << 4) | 10,  # vertical < 25 m, horizontal < 10 m
        0,
        timestamp_tenths,
        0,
    )


def _operator(operator_id: str) -> bytes:
    return struct.pack("<BB20s3x", 0x52, 0, operator_id.encode())


def _system(lat: float, lon: float, location_type: int = 1) -> bytes:
    return struct.pack(
        "<BBiiHBHHBHIx", 0x42, location_type, round(lat * 1e7), round(lon * 1e7), 1, 0, 0, 0,
        0, 0, 0,
    )  # fmt: skip


def _bt4_legacy(message: bytes, adv_a: bytes = ADV_A, counter: int = 1) -> bytes:
    """A BLE link-layer ADV_NONCONN_IND: access address, header, AdvA, AD, CRC (zeros)."""
    ad = bytes([3 + 1 + 1 + len(message), 0x16, 0xFA, 0xFF, 0x0D, counter]) + message
    pdu = adv_a[::-1] + ad
    return odid_frame(
        LINKTYPE_BLUETOOTH_LE_LL,
        struct.pack("<IBB", 0x8E89BED6, 0x02, len(pdu)) + pdu + b"\0\0\0",
    )


def test_bt4_legacy_messages_arriving_apart_are_joined_per_advertiser():
    driver = _frames_driver()
    assert driver.decode(_bt4_legacy(_basic_id()), T0, 0) == []
    assert driver.decode(_bt4_legacy(_operator("GBR-OP-XYZ")), T0 + 0.1, 1) == []
    assert driver.decode(_bt4_legacy(_system(45.54, -122.97, location_type=1)), T0 + 0.2, 2) == []
    [det] = driver.decode(_bt4_legacy(_location(45.545, -122.972)), T0 + 0.3, 3)
    _assert_jsonable(det)
    assert det.kind is MeasurementKind.POSITION
    assert det.identity.mac == "c0:ff:ee:12:34:56"
    assert det.identity.rid_serial == SERIAL and det.identity.operator_id == "GBR-OP-XYZ"
    assert det.pilot == GeoPoint(lat_deg=45.54, lon_deg=-122.97)
    assert det.home is None  # live GNSS operator position: not the take-off point
    assert det.position == GeoPoint(lat_deg=45.545, lon_deg=-122.972, alt_m=120.0)
    assert det.velocity_enu_mps == pytest.approx((10.0, 0.0, 2.0), abs=1e-9)
    assert det.covariance is not None
    assert [det.covariance[i][i] for i in range(3)] == pytest.approx([25.0, 25.0, 12.5**2])
    assert det.raw is not None and det.raw.frame_seq == 3
    # another advertiser heard by the same sensor gets none of it
    [other] = driver.decode(_bt4_legacy(_location(45.5, -122.9), adv_a=bytes(6)), T0 + 1, 4)
    assert other.identity.rid_serial is None and other.pilot is None


def test_bare_message_pack_without_mac_is_keyed_by_its_serial():
    pack = bytes([0xF2, 25, 2]) + _basic_id() + _location(0.0, 0.0)
    [det] = _frames_driver().decode(odid_frame(LINKTYPE_USER0, pack), T0, 0)
    assert det.kind is MeasurementKind.PRESENCE  # 0/0 is "no position"
    assert det.identity.rid_serial == SERIAL and det.identity.mac is None


@pytest.mark.parametrize(
    "offset_s, flag", [(0.0, None), (-60.0, "timestamp_stale"), (60.0, "timestamp_future")]
)
def test_location_timestamps_far_from_receipt_are_flagged(offset_s, flag):
    t_rx = 1_764_400_000.0 + 1234.5  # some time within an hour
    tenths = round(((t_rx + offset_s) % 3600) * 10)
    [det] = _frames_driver().decode(
        odid_frame(LINKTYPE_USER0, _location(45.5, -122.9, tenths)), t_rx, 0
    )
    assert det.flags == ([flag] if flag else [])


@pytest.mark.parametrize(
    "frame, reason",
    [
        (b"\x00", "no link type"),
        (b"\x00\x01\x02", "link type 1"),
        (odid_frame(LINKTYPE_USER0, _location(1, 1)[:20]), "20 bytes"),
        (_bt4_legacy(_location(1, 1))[:20], "truncated"),
        (odid_frame(127, b"\x00\x00\x40\x00\x00\x00\x00\x00"), "radiotap"),
    ],
)
def test_malformed_frames_raise_decode_error_with_a_reason(frame, reason):
    with pytest.raises(DecodeError, match=reason):
        _frames_driver().decode(frame, T0, 0)


def test_remembered_broadcasters_are_bounded():
    limit = 8
    driver = _frames_driver(max_remembered=limit)
    keep = bytes(5) + b"\x01"
    driver.decode(_bt4_legacy(_operator("OP-KEEP"), adv_a=keep), T0, 0)
    for i in range(300):
        driver.decode(_bt4_legacy(_operator(f"OP-{i}"), adv_a=struct.pack(">IH", 7, i)), T0, i)
        if i % 3 == 0:
            driver.decode(_bt4_legacy(_basic_id(), adv_a=keep), T0, i)
        assert len(driver._seen) <= limit
    [det] = driver.decode(_bt4_legacy(_location(1.0, 1.0), adv_a=keep), T0, 999)
    assert det.identity.operator_id == "OP-KEEP"
    [gone] = driver.decode(_bt4_legacy(_location(1.0, 1.0), adv_a=struct.pack(">IH", 7, 0)), T0, 1)
    assert gone.identity.operator_id is None


# --- real sockets ---------------------------------------------------------------------------


def _run(sensor: SensorConfig, driver: Any, until: int, feed: Any) -> list[Detection]:
    """Run the real SensorRunner on a live source until ``until`` detections arrived."""
    got: list[Detection] = []
    done = threading.Event()

    def sink(batch: list[Detection]) -> None:
        got.extend(batch)
        if len(got) >= until:
            done.set()

    source = open_source(sensor.source, sensor.id, driver.framing, Path("."))
    runner = SensorRunner(sensor, driver, source, sink, lambda status: None)
    runner.start()
    try:
        feed()
        assert done.wait(10), f"only {len(got)} of {until} detections arrived"
    finally:
        runner.stop_event.set()
        runner.join(5)
    return got


def test_odid_frames_over_udp(shared_data):
    frames = [frame for _, frame in capture_frames(shared_data / WIFI)]
    port = free_port()
    sensor = SensorConfig(id="rid-1", driver="odid_frames", source=f"udp://127.0.0.1:{port}")

    def feed() -> None:
        time.sleep(0.2)  # let the runner bind
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
            for frame in frames:
                sock.sendto(frame, ("127.0.0.1", port))
                time.sleep(0.002)

    got = _run(sensor, _frames_driver(), 31, feed)
    assert len(got) == 31 and all(d.kind is MeasurementKind.POSITION for d in got)


def test_dronescout_json_lines_over_tcp(shared_data):
    payload = (shared_data / "dronescout" / "BLE-legacy.json").read_bytes()
    server = socket.create_server(("127.0.0.1", 0))
    port = server.getsockname()[1]
    sensor = SensorConfig(id="ds-1", driver="dronescout", source=f"tcp://127.0.0.1:{port}")

    conns: list[socket.socket] = []

    def feed() -> None:
        conn, _ = server.accept()
        conns.append(conn)  # kept open until the runner has read everything
        # cut mid-line: the host joins the pieces by the driver's LINE framing
        conn.sendall(payload[:1000])
        time.sleep(0.05)
        conn.sendall(payload[1000:])

    try:
        got = _run(sensor, _scout_driver(), 19, feed)
    finally:
        for conn in conns:
            conn.close()
        server.close()
    assert len(got) == 19 and all(d.kind is MeasurementKind.POSITION for d in got)
    assert {d.identity.rid_serial for d in got} == {"1787F04BM24010011195"}


# --- DroneScout JSON --------------------------------------------------------------------


def _scout_lines(shared_data: Path) -> list[bytes]:
    return (shared_data / "dronescout" / "BLE-legacy.json").read_bytes().splitlines()


def test_dronescout_detections_are_consistent_drone_and_pilot_positions(shared_data):
    driver = _scout_driver()
    dets = [
        d for i, line in enumerate(_scout_lines(shared_data)) for d in driver.decode(line, T0, i)
    ]
    assert len(dets) == 19
    for det, line in zip(dets, _scout_lines(shared_data), strict=True):
        rec = json.loads(line)["data"]
        _assert_jsonable(det)
        assert det.kind is MeasurementKind.POSITION and det.position is not None
        assert det.position.lat_deg == pytest.approx(37.75998, abs=1e-4)
        assert det.position.alt_m == 28.0
        assert det.identity.rid_serial == "1787F04BM24010011195"
        assert det.identity.mac == rec["MAC address"].lower()
        assert det.signature is not None and det.signature.rssi_dbm == rec["RSSI"]
        assert det.pilot == GeoPoint(lat_deg=37.7599643, lon_deg=-122.4976683, alt_m=45.5)
        assert det.velocity_enu_mps == (0.0, 0.0, 0.0)
        assert det.covariance is not None and det.covariance[0][0] == 0.25  # "<1 m"


def test_dronescout_message_may_be_a_json_array_and_wifi_channels_give_frequency(shared_data):
    frame = (shared_data / "dronescout" / "WiFi-NaN.json").read_bytes()
    dets = _scout_driver().decode(frame, T0, 0)
    assert len(dets) == 3
    assert all(d.signature is not None and d.signature.freq_mhz == 2437.0 for d in dets)


def test_dronescout_struct_without_location_gives_presence(shared_data):
    rec = json.loads(_scout_lines(shared_data)[0])
    blob = bytearray(base64.b64decode(rec["data"]["UASdata"]))
    blob[894] = 0  # LocationValid
    rec["data"]["UASdata"] = base64.b64encode(bytes(blob)).decode()
    [det] = _scout_driver().decode(json.dumps(rec).encode(), T0, 0)
    assert det.kind is MeasurementKind.PRESENCE
    assert det.identity.rid_serial == "1787F04BM24010011195" and det.pilot is not None


def test_dronescout_heartbeat_sets_health(shared_data):
    driver = _scout_driver(heartbeat_timeout_s=120)
    assert driver.health(T0) is None  # nothing heard yet: the link decides
    status = (shared_data / "dronescout" / "sensor_status.json").read_bytes()
    assert driver.decode(status, T0, 0) == []
    assert driver.health(T0 + 1) == (SensorState.OK, "sensor status 'normal'")
    assert driver.health(T0 + 121)[0] is SensorState.DEGRADED  # type: ignore[index]
    faulty = json.loads(status)
    faulty["data"]["status"] = "antenna fault"
    driver.decode(json.dumps(faulty).encode(), T0 + 200, 1)
    assert driver.health(T0 + 201) == (
        SensorState.DEGRADED,
        "sensor reports status 'antenna fault'",
    )
    assert driver.counters["heartbeats"] == 2


@pytest.mark.parametrize(
    "frame, reason",
    [
        (b"{not json", "not JSON"),
        (b"[1]", '"data" object'),
        (b'{"protocol": 2.0, "data": {"status": "normal"}}', "protocol"),
        (b'{"protocol": 1.0, "data": {"RSSI": -70}}', "neither"),
        (b'{"protocol": 1.0, "data": {"UASdata": "!!!"}}', "base64"),
        (b'{"protocol": 1.0, "data": {"UASdata": "AAAA"}}', "3 bytes"),
    ],
)
def test_dronescout_malformed_messages_raise_decode_error(frame, reason):
    with pytest.raises(DecodeError, match=reason):
        _scout_driver().decode(frame, T0, 0)


def test_decoded_record_that_is_not_a_sensor_message_is_rejected(shared_data):
    frame = (shared_data / "dronescout" / "ua_payload.json").read_bytes()
    with pytest.raises(DecodeError):
        _scout_driver().decode(frame, T0, 0)


# --- fuzzing ------------------------------------------------------------------------------

_FUZZ = settings(
    max_examples=300, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow]
)


def _decode_or_reject(driver: Any, frame: bytes, seq: int) -> None:
    try:
        dets = driver.decode(frame, T0 + seq, seq)
    except DecodeError:
        return
    for det in dets:
        _assert_jsonable(det)


def _seed_frames() -> list[bytes]:
    seeds = [_bt4_legacy(_basic_id()), _bt4_legacy(_location(45.5, -122.9, 100))]
    for name in (WIFI, BT5):
        if (SHARED_DATA / name).is_file():
            frames = [frame for _, frame in capture_frames(SHARED_DATA / name)]
            seeds += frames[:3] + frames[-6:]
    return seeds


SEED_FRAMES = _seed_frames()
SEED_LINES = (
    (SHARED_DATA / "dronescout" / "BLE-legacy.json").read_bytes().splitlines()[:2]
    + [(SHARED_DATA / "dronescout" / "sensor_status.json").read_bytes()]
    if (SHARED_DATA / "dronescout").is_dir()
    else []
)


@_FUZZ
@given(st.lists(st.binary(max_size=400), min_size=1, max_size=4))
def test_arbitrary_bytes_only_ever_raise_decode_error(frames):
    frames_driver, scout = _frames_driver(max_remembered=4), _scout_driver(max_remembered=4)
    for seq, frame in enumerate(frames):
        _decode_or_reject(frames_driver, frame, seq)
        _decode_or_reject(scout, frame, seq)


@_FUZZ
@given(st.lists(st.tuples(st.sampled_from(sorted(LINKTYPES)), st.binary(max_size=400)), min_size=1))
def test_arbitrary_packets_of_every_link_type_only_ever_raise_decode_error(packets):
    driver = _frames_driver(max_remembered=4)
    for seq, (linktype, packet) in enumerate(packets):
        _decode_or_reject(driver, odid_frame(linktype, packet), seq)


def _mutate(data: st.DataObject, seed: bytes) -> bytes:
    buf = bytearray(seed)
    for _ in range(data.draw(st.integers(1, 5))):
        at = data.draw(st.integers(0, max(0, len(buf) - 1)))
        buf[at : at + data.draw(st.integers(0, 3))] = data.draw(st.binary(max_size=3))
    return bytes(buf)


@_FUZZ
@given(st.data())
def test_mutated_real_frames_only_ever_raise_decode_error(data):
    driver = _frames_driver(max_remembered=4)
    for seq in range(data.draw(st.integers(1, 4))):
        _decode_or_reject(driver, _mutate(data, data.draw(st.sampled_from(SEED_FRAMES))), seq)


@pytest.mark.skipif(not SEED_LINES, reason="shared protocol samples not found in ../shared/data")
@_FUZZ
@given(st.data())
def test_mutated_dronescout_messages_only_ever_raise_decode_error(data):
    driver = _scout_driver(max_remembered=4)
    seed = data.draw(st.sampled_from(SEED_LINES))
    if data.draw(st.booleans()):  # damage the struct inside, keep the JSON valid
        rec = json.loads(seed)
        if "UASdata" in rec["data"]:
            blob = _mutate(data, base64.b64decode(rec["data"]["UASdata"]))
            rec["data"]["UASdata"] = base64.b64encode(blob).decode()
        seed = json.dumps(rec).encode()
    else:
        seed = _mutate(data, seed)
    _decode_or_reject(driver, seed, 0)
