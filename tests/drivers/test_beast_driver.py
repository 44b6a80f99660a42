"""The Beast binary ADS-B driver: framing, escapes and resync, and decoding a real recording.

The recording and its SBS decode by another implementation are read from ../shared/data/adsb
(GPL-2.0: never copied here). Decoding needs the optional pyModeS extra; those tests skip
without it, the framing tests do not need it. DF17/18 frames are re-made here with a CRC-24
written in this file, so the driver's CRC check is tested against the standard, not itself.
"""

from __future__ import annotations

import bisect
import math
import socket
import sys
import threading
import time
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cuas.config import SensorConfig
from cuas.driver import DecodeError, Detection, MeasurementKind, ObjectClass, SensorInfo
from cuas.driver.host import SensorRunner
from cuas.driver.sources import open_source
from cuas_drivers.beast import (
    MAX_FRAME_BYTES,
    NEEDS_EXTRA,
    BeastDriver,
    BeastOptions,
    escape,
    parse_frame,
    split_beast,
)

from support import SHARED_DATA, free_port

BEAST_FILE = "adsb/ulss7-beast-bin-utc--1522782148.136310917--.log"
SBS_FILE = "adsb/beast_decoded_sbs.txt"
T0 = 1_522_782_148.136310917  # the recording's start (UTC), from its file name
COUNTER_HZ = 12e6
NEEDS_PYMODES = "pyModeS (the optional 'adsb' extra) is not installed"


@pytest.fixture
def driver() -> BeastDriver:
    pytest.importorskip("pyModeS", reason=NEEDS_PYMODES)
    return _driver()


def _driver(**options: Any) -> BeastDriver:
    return BeastDriver(SensorInfo(sensor_id="adsb-2", driver="beast"), BeastOptions(**options))


def _assert_jsonable(det: Detection) -> None:
    assert isinstance(det, Detection)
    assert Detection.model_validate_json(det.model_dump_json()) == det


def crc24(data: bytes) -> int:
    """Mode S parity (ICAO Annex 10 Vol IV 3.1.2.3.3): generator 0x1FFF409 over the bits."""
    crc = 0
    for byte in data:
        crc ^= byte << 16
        for _ in range(8):
            crc = (crc << 1) ^ 0xFFF409 if crc & 0x800000 else crc << 1
            crc &= 0xFFFFFF
    return crc


def with_parity(reply: bytes) -> bytes:
    """An extended squitter (DF17/18) with its last 24 bits set to the parity of the rest."""
    return reply[:11] + crc24(reply[:11]).to_bytes(3, "big")


def long_frame(reply: bytes, counter: int = 0x030BF18CC2AB, signal: int = 0x40) -> bytes:
    """An un-escaped Mode S long frame as split_beast returns it."""
    return b"\x33" + counter.to_bytes(6, "big") + bytes([signal]) + reply


def test_crc24_gives_the_parity_of_a_published_extended_squitter():
    reply = bytes.fromhex("8D406B902015A678D4D220AA4BDA")  # pyModeS docs, ADS-B primer
    assert crc24(reply[:11]) == 0xAA4BDA


# --- framing: escapes and resync -------------------------------------------------------------

# an example from the Beast protocol notes (adsbee beast.md): signal and reply contain 0x1A
SPEC_WIRE = bytes.fromhex("1a32083e27b6cb6a1a1a00a1841a1ac3b31d")
SPEC_FRAME = bytes.fromhex("32083e27b6cb6a1a00a1841ac3b31d")


def test_escaped_bytes_are_undoubled_and_the_fields_read():
    buf = bytearray(SPEC_WIRE)
    assert split_beast(buf) == [SPEC_FRAME] and buf == bytearray()
    frame = parse_frame(SPEC_FRAME)
    assert frame.kind == 0x32
    assert frame.counter == 9_063_047_285_610
    assert frame.signal == 0x1A
    assert frame.reply == bytes.fromhex("00a1841ac3b31d")
    assert escape(SPEC_FRAME) == SPEC_WIRE


def test_garbage_before_a_frame_is_returned_as_one_rejectable_frame():
    buf = bytearray(b"\x00\xffjunk\x1a\x1a\x1a\x05" + SPEC_WIRE)
    garbage, frame = split_beast(buf)
    assert frame == SPEC_FRAME and buf == bytearray()
    assert garbage == b"\x1a" + b"\x00\xffjunk\x1a\x1a\x1a\x05"
    with pytest.raises(DecodeError, match="garbage"):
        parse_frame(garbage)


def test_a_frame_cut_short_by_the_next_frame_start_is_returned_short_and_the_next_kept():
    cut = SPEC_WIRE[:9]  # type, counter, signal escape ... then a new frame starts
    buf = bytearray(cut[:-1] + SPEC_WIRE)
    short, frame = split_beast(buf)
    assert frame == SPEC_FRAME
    with pytest.raises(DecodeError, match="cut short"):
        parse_frame(short)


@pytest.mark.parametrize("at", range(1, len(SPEC_WIRE)))
def test_a_frame_split_anywhere_waits_for_its_rest(at):
    buf = bytearray(SPEC_WIRE[:at])
    assert split_beast(buf) == []
    assert bytes(buf) == SPEC_WIRE[:at], "an unfinished frame stays buffered"
    buf += SPEC_WIRE[at:]
    assert split_beast(buf) == [SPEC_FRAME]


def test_a_stream_without_frame_starts_is_not_buffered():
    buf = bytearray(b"\x00" * 100_000)
    [garbage] = split_beast(buf)
    assert buf == bytearray() and len(garbage) == MAX_FRAME_BYTES


def test_a_short_garbage_run_waits_so_that_it_counts_once_however_it_arrives():
    buf = bytearray(b"\x00junk")
    assert split_beast(buf) == [] and buf == bytearray(b"\x00junk")
    buf += b"more" + SPEC_WIRE
    assert split_beast(buf) == [b"\x1a\x00junkmore", SPEC_FRAME]


_FRAMES = st.builds(
    lambda kind, counter, signal, reply: (
        bytes([kind])
        + counter.to_bytes(6, "big")
        + bytes([signal])
        + reply[: {0x31: 2, 0x32: 7, 0x33: 14, 0x34: 7}[kind]]
    ),
    st.sampled_from([0x31, 0x32, 0x33, 0x34]),
    st.integers(0, 2**48 - 1) | st.sampled_from([0x1A1A1A1A1A1A, 0x1A]),
    st.integers(0, 255) | st.just(0x1A),
    st.binary(min_size=14, max_size=14) | st.just(b"\x1a" * 14),
)
_FUZZ = settings(
    max_examples=300, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow]
)


@_FUZZ
@given(st.lists(_FRAMES, max_size=12), st.lists(st.integers(1, 40), min_size=1, max_size=8))
def test_escaped_frames_come_back_exactly_in_any_chunking(frames, sizes):
    wire = b"".join(escape(frame) for frame in frames)
    buf, out, at, i = bytearray(), [], 0, 0
    while at < len(wire):
        buf += wire[at : at + sizes[i % len(sizes)]]
        at += sizes[i % len(sizes)]
        i += 1
        out += split_beast(buf)
    assert out == frames and buf == bytearray()


@_FUZZ
@given(st.binary(max_size=600), st.lists(st.integers(1, 64), min_size=1, max_size=6))
def test_arbitrary_bytes_split_into_bounded_frames_that_decode_or_are_rejected(data, sizes):
    pytest.importorskip("pyModeS", reason=NEEDS_PYMODES)
    driver = _driver(max_aircraft=2)
    buf, at, i, seq = bytearray(), 0, 0, 0
    while at < len(data):
        buf += data[at : at + sizes[i % len(sizes)]]
        at += sizes[i % len(sizes)]
        i += 1
        for frame in driver.split_frames(buf):
            assert len(frame) <= MAX_FRAME_BYTES
            seq += 1
            try:
                dets = driver.decode(frame, T0, seq)
            except DecodeError:
                continue
            for det in dets:
                _assert_jsonable(det)
        assert len(buf) <= 2 + 2 * (MAX_FRAME_BYTES - 1), "at most one escaped frame waits"


# --- the real recording ---------------------------------------------------------------------


def _recording(shared_data: Path) -> bytes:
    return (shared_data / BEAST_FILE).read_bytes()


def _split_in_chunks(data: bytes, sizes: list[int]) -> list[bytes]:
    buf, frames, at, i = bytearray(), [], 0, 0
    while at < len(data):
        buf += data[at : at + sizes[i % len(sizes)]]
        at += sizes[i % len(sizes)]
        i += 1
        frames += split_beast(buf)
    assert buf == bytearray()
    return frames


def _decode_frames(driver: BeastDriver, frames: list[bytes]) -> list[Detection]:
    """Decode with receive times from the Beast counter (12 MHz), as if live at T0."""
    counter0 = parse_frame(frames[0]).counter
    out: list[Detection] = []
    for seq, frame in enumerate(frames):
        t_rx = T0 + (parse_frame(frame).counter - counter0) / COUNTER_HZ
        out += driver.decode(frame, t_rx, seq)
    return out


def test_recording_splits_into_its_13954_frames_in_any_chunking(shared_data):
    data = _recording(shared_data)
    whole = _split_in_chunks(data, [len(data)])
    kinds = Counter(frame[0] for frame in whole)
    assert kinds == {0x31: 5026, 0x32: 4942, 0x33: 3986}  # the counts in SOURCES.md
    assert all(frame[0] != 0x1A for frame in whole), "no garbage in a clean recording"
    for sizes in ([1], [7, 3, 1000], [4096], [13, 1, 1, 2]):
        assert _split_in_chunks(data, sizes) == whole


def _sbs_positions(shared_data: Path) -> dict[str, list[tuple[float, float, float, float]]]:
    """MSG,3 positions of the SBS decode: per ICAO, sorted (t_unix, lat, lon, alt_m)."""
    out: dict[str, set[tuple[float, float, float, float]]] = {}
    for line in (shared_data / SBS_FILE).read_text().splitlines():
        f = line.split(",")
        if len(f) >= 22 and f[0] == "MSG" and f[1] == "3" and f[14]:
            naive = datetime.strptime(f"{f[6]} {f[7]}", "%Y/%m/%d %H:%M:%S.%f")
            t = naive.replace(tzinfo=UTC).timestamp()
            out.setdefault(f[4].lower(), set()).add(
                (t, float(f[14]), float(f[15]), float(f[11]) * 0.3048)
            )
    return {icao: sorted(rows) for icao, rows in out.items()}


def test_recording_positions_match_the_sbs_decode_of_the_same_recording(shared_data, driver):
    frames = _split_in_chunks(_recording(shared_data), [1500])
    detections = _decode_frames(driver, frames)
    sbs = _sbs_positions(shared_data)
    icaos = set((shared_data / "adsb" / "ICAOs.txt").read_text().split()[5:16])

    assert {det.identity.icao24 for det in detections} == {icao.lower() for icao in icaos}
    n_sbs = sum(len(rows) for rows in sbs.values())
    assert n_sbs == 728
    # pyModeS holds each aircraft's first positions until three agree: a few are not reported
    assert 0.85 * n_sbs <= len(detections) <= n_sbs
    assert driver.counters["duplicates"] == 1718, "the recording holds every frame twice"
    for det in detections:
        _assert_jsonable(det)
        assert det.kind is MeasurementKind.POSITION and det.position is not None
        assert det.object_class is ObjectClass.MANNED_AIRCRAFT and det.class_source == "adsb"
        assert det.flags == ["altitude_barometric"]
        rows = sbs[str(det.identity.icao24)]
        k = bisect.bisect(rows, (det.t_unix,))
        t, lat, lon, alt_m = min(rows[max(k - 1, 0) : k + 1], key=lambda r: abs(r[0] - det.t_unix))
        assert abs(t - det.t_unix) < 0.002, "the same message (SBS times are in ms)"
        north_m = (lat - det.position.lat_deg) * 111_195
        east_m = (lon - det.position.lon_deg) * 111_195 * math.cos(math.radians(lat))
        assert math.hypot(north_m, east_m) < 2.0, "SBS rounds to 1e-5 degrees"
        assert det.position.alt_m == pytest.approx(alt_m)


def test_recording_positions_carry_the_latest_velocity_like_the_sbs_decode(shared_data, driver):
    velocities: dict[str, list[tuple[float, float, float]]] = {}
    for line in (shared_data / SBS_FILE).read_text().splitlines():
        f = line.split(",")
        if len(f) >= 22 and f[0] == "MSG" and f[1] == "4" and f[12]:
            naive = datetime.strptime(f"{f[6]} {f[7]}", "%Y/%m/%d %H:%M:%S.%f")
            t = naive.replace(tzinfo=UTC).timestamp()
            velocities.setdefault(f[4].lower(), []).append((t, float(f[12]), float(f[13])))
    detections = _decode_frames(driver, _split_in_chunks(_recording(shared_data), [4096]))
    checked = 0
    for det in detections:
        rows = sorted(velocities[str(det.identity.icao24)])
        k = bisect.bisect(rows, (det.t_unix + 0.0005,))
        if k == 0 or det.t_unix - rows[k - 1][0] > BeastOptions().velocity_max_age_s:
            continue
        assert det.velocity_enu_mps is not None
        _, gs_kt, track_deg = rows[k - 1]
        east, north, _ = det.velocity_enu_mps
        assert math.hypot(east, north) / (1852 / 3600) == pytest.approx(gs_kt, abs=1.0)
        # the same message: speeds within the 1 kt SBS resolution; the SBS decoder's
        # whole-degree track differs by up to 1.5 degrees from atan2 of the components
        track_error = (math.degrees(math.atan2(east, north)) - track_deg + 180) % 360 - 180
        assert abs(track_error) < 2.0
        checked += 1
    assert checked > 0.9 * len(detections)


def test_callsign_of_the_identification_message_becomes_the_sensor_track_id(shared_data, driver):
    detections = _decode_frames(driver, _split_in_chunks(_recording(shared_data), [4096]))
    callsigns = {det.identity.icao24: det.identity.sensor_track_id for det in detections}
    assert callsigns["424263"] == "UTA470" and callsigns["71be34"] == "AAR542"


def _with_counters(frames: list[bytes], counter_of: Any) -> list[bytes]:
    return [f[:1] + counter_of(parse_frame(f).counter).to_bytes(6, "big") + f[7:] for f in frames]


def _positions(detections: list[Detection]) -> list[tuple[Any, ...]]:
    return [(d.identity.icao24, d.t_unix, d.position) for d in detections]


def test_gps_timestamps_pair_frames_like_the_12mhz_counter(shared_data, driver):
    frames = _split_in_chunks(_recording(shared_data), [4096])
    counter0 = parse_frame(frames[0]).counter

    def gps(counter: int) -> int:  # seconds of day in bits 47-30, ns in bits 29-0
        ns = round((counter - counter0) / COUNTER_HZ * 1e9) + 68_548 * 10**9  # from 19:02:28
        return (ns // 10**9) << 30 | ns % 10**9

    as_gps = _with_counters(frames, gps)
    t_rx = [T0 + (parse_frame(f).counter - counter0) / COUNTER_HZ for f in frames]
    gps_driver = _driver(timestamp="gps")
    gps_dets = [d for i, f in enumerate(as_gps) for d in gps_driver.decode(f, t_rx[i], i)]
    assert _positions(gps_dets) == _positions(_decode_frames(driver, frames))


def test_pairing_survives_a_counter_reset_and_a_feed_without_timestamps(shared_data, driver):
    frames = _split_in_chunks(_recording(shared_data), [4096])
    counter0 = parse_frame(frames[0]).counter
    t_rx = [T0 + (parse_frame(f).counter - counter0) / COUNTER_HZ for f in frames]
    half = len(frames) // 2
    # a receiver restart half way: its counter starts again from 1
    restarted = frames[:half] + _with_counters(
        frames[half:], lambda c: max(1, c - parse_frame(frames[half]).counter + 12_000_000)
    )
    reference = _decode_frames(_driver(), frames)
    after_restart = [d for i, f in enumerate(restarted) for d in driver.decode(f, t_rx[i], i)]
    late = [d for d in after_restart if d.t_unix > t_rx[half]]
    assert len(late) > 0.9 * sum(1 for d in reference if d.t_unix > t_rx[half])
    # no timestamps at all (counter 0): pairs by receive time
    untimed = _with_counters(frames, lambda c: 0)
    plain = _driver(timestamp="none")
    no_counter = [d for i, f in enumerate(untimed) for d in plain.decode(f, t_rx[i], i)]
    assert len(no_counter) > 0.9 * len(reference)
    assert plain.counters["duplicates"] == 0, "without timestamps a repeat is not provable"


# --- crafted extended squitters ---------------------------------------------------------------


def _real_long_replies(shared_data: Path, typecodes: range) -> list[bytes]:
    out = []
    for frame in _split_in_chunks(_recording(shared_data), [4096]):
        reply = frame[8:]
        if frame[0] == 0x33 and reply[0] >> 3 == 17 and (reply[4] >> 3) in typecodes:
            out.append(reply)
    return out


def test_a_reply_with_a_damaged_bit_fails_the_crc_check(shared_data, driver):
    reply = bytearray(_real_long_replies(shared_data, range(9, 19))[0])
    reply[6] ^= 0x10
    with pytest.raises(DecodeError, match="CRC check failed"):
        driver.decode(long_frame(bytes(reply)), T0, 0)


def test_gnss_height_positions_are_not_flagged_barometric(shared_data, driver):
    # rewrite every TC 11 position of the recording as TC 20 (GNSS height in the same
    # 12-bit field, metres), with a fresh parity; pairs and times stay as recorded
    frames = []
    for frame in _split_in_chunks(_recording(shared_data), [4096]):
        reply = bytearray(frame[8:])
        if frame[0] == 0x33 and reply[0] >> 3 == 17 and reply[4] >> 3 == 11:
            reply[4] = (20 << 3) | (reply[4] & 0x07)
            frame = frame[:8] + with_parity(bytes(reply))
        frames.append(frame)
    detections = _decode_frames(driver, frames)
    gnss = [det for det in detections if "altitude_barometric" not in det.flags]
    assert len(gnss) > 100
    for det in gnss:
        assert det.covariance is not None
        assert det.covariance[2][2] == pytest.approx(BeastOptions().gnss_vertical_std_m ** 2)
        assert det.position is not None and det.position.alt_m is not None
        assert 0 <= det.position.alt_m <= 4095 + 1, "a 12-bit field of metres"


def test_df18_from_a_non_icao_address_is_flagged(shared_data, driver):
    reply = _real_long_replies(shared_data, range(19, 20))[0]
    df18 = with_parity(bytes([(18 << 3) | 1]) + reply[1:])  # CF 1: non-ICAO address
    assert driver.decode(long_frame(df18), T0, 0) == []  # a velocity: kept, nothing to report
    assert driver.counters["df18_not_adsb"] == 0
    positions = _real_long_replies(shared_data, range(9, 19))
    icao = positions[0][1:4]
    frames = [
        long_frame(with_parity(bytes([(18 << 3) | 1]) + r[1:]), counter=1 + i * 6_000_000)
        for i, r in enumerate(p for p in positions if p[1:4] == icao)
    ]
    detections = [det for i, f in enumerate(frames) for det in driver.decode(f, T0 + i, i)]
    assert detections and all("adsb_non_icao_address" in det.flags for det in detections)


def test_aircraft_state_is_bounded_however_many_addresses_arrive(shared_data):
    pytest.importorskip("pyModeS", reason=NEEDS_PYMODES)
    limit = 8
    driver = _driver(max_aircraft=limit)
    velocity = _real_long_replies(shared_data, range(19, 20))[0]
    for i in range(200):
        reply = with_parity(velocity[:1] + i.to_bytes(3, "big") + velocity[4:])
        driver.decode(long_frame(reply, counter=1000 + i), T0 + i * 0.01, i)
        assert len(driver._aircraft) <= limit
    assert driver.counters["decoder_resets"] >= 1, "pyModeS' own state is restarted"


def test_without_the_optional_extra_the_driver_says_how_to_install_it(monkeypatch):
    monkeypatch.setitem(sys.modules, "pyModeS", None)  # makes `import pyModeS` fail
    with pytest.raises(RuntimeError) as err:
        _driver()
    assert str(err.value) == NEEDS_EXTRA
    assert "pip install 'cuas[adsb]'" in NEEDS_EXTRA


@pytest.mark.parametrize(
    "frame",
    [
        pytest.param(b"", id="empty"),
        pytest.param(b"\x1agarbage", id="garbage"),
        pytest.param(b"\x35" + bytes(20), id="unknown-type"),
        pytest.param(b"\x33" + bytes(10), id="long-frame-too-short"),
        pytest.param(b"\x32" + bytes(16), id="short-frame-too-long"),
        pytest.param(long_frame(bytes.fromhex("8D406B902015A678D4D220AA4BDB")), id="bad-parity"),
    ],
)
def test_malformed_frames_raise_decode_error(frame, driver):
    with pytest.raises(DecodeError):
        driver.decode(frame, T0, 0)


# --- fuzzing real frames ----------------------------------------------------------------------

_SEED_REPLIES: list[bytes] = []
if (SHARED_DATA / BEAST_FILE).is_file():
    _SEED_REPLIES = [
        frame[8:]
        for frame in _split_in_chunks((SHARED_DATA / BEAST_FILE).read_bytes(), [4096])[:3000]
        if frame[0] == 0x33 and frame[8] >> 3 == 17
    ][::10]


@pytest.mark.skipif(not _SEED_REPLIES, reason="shared protocol samples not found in ../shared/data")
@_FUZZ
@given(st.data())
def test_real_squitters_with_bits_flipped_and_parity_fixed_decode_or_are_rejected(data):
    # a fresh parity makes the damage reach pyModeS rather than stop at the CRC check
    pytest.importorskip("pyModeS", reason=NEEDS_PYMODES)
    driver = _driver(max_aircraft=4)
    for seq in range(data.draw(st.integers(1, 6))):
        reply = bytearray(data.draw(st.sampled_from(_SEED_REPLIES)))
        for _ in range(data.draw(st.integers(1, 6))):
            reply[data.draw(st.integers(0, 10))] ^= 1 << data.draw(st.integers(0, 7))
        if data.draw(st.booleans()):
            reply[0] = (data.draw(st.sampled_from([17, 18])) << 3) | data.draw(st.integers(0, 7))
        frame = long_frame(with_parity(bytes(reply)), counter=data.draw(st.integers(0, 2**48 - 1)))
        try:
            dets = driver.decode(frame, T0 + seq, seq)
        except DecodeError:
            continue
        for det in dets:
            _assert_jsonable(det)


# --- end to end over a real TCP socket --------------------------------------------------------


def _serve(server: socket.socket, chunks: list[bytes], done: threading.Event) -> None:
    conn, _ = server.accept()
    with conn:
        for chunk in chunks:
            conn.sendall(chunk)
        done.wait(10)


def test_tcp_feed_with_garbage_gives_positions_and_counts_each_resync(shared_data, tmp_path):
    pytest.importorskip("pyModeS", reason=NEEDS_PYMODES)
    data = _recording(shared_data)
    frames = _split_in_chunks(data, [len(data)])
    garbage = [b"\x00\xff\x00junk", b"\x1a\x1a\x1a\x05\x00", b"\x55" * 20]
    stream = bytearray()
    n_garbage = 0
    for i, frame in enumerate(frames):
        stream += escape(frame)
        if i % 997 == 300:
            stream += garbage[n_garbage % len(garbage)]
            n_garbage += 1
    server = socket.create_server(("127.0.0.1", free_port()))
    port = server.getsockname()[1]
    sizes = [1, 333, 4096, 17]
    chunks, at = [], 0
    while at < len(stream):
        chunks.append(stream[at : at + sizes[len(chunks) % len(sizes)]])
        at += len(chunks[-1])
    done = threading.Event()
    feeder = threading.Thread(target=_serve, args=(server, [bytes(c) for c in chunks], done))
    feeder.start()
    url = f"tcp://127.0.0.1:{port}"
    driver = _driver()
    detections: list[Detection] = []
    runner = SensorRunner(
        SensorConfig(id="adsb-2", driver="beast", source=url),
        driver,
        open_source(url, "adsb-2", driver.framing, tmp_path),
        detections.extend,
        lambda status: None,
    )
    t_start = time.time()
    runner.start()
    try:
        deadline = time.monotonic() + 20
        while runner.decoder.counters["frames"] < len(frames) + n_garbage:
            assert time.monotonic() < deadline, runner.decoder.counters
            time.sleep(0.05)
        time.sleep(0.2)
        # each short run is one resync however TCP cuts it; the frames around it survive
        assert runner.decoder.counters["malformed"] == n_garbage
        assert len(detections) > 600
        assert len({det.identity.icao24 for det in detections}) == 11
        assert all(t_start <= det.t_unix <= time.time() for det in detections), "receive time"
    finally:
        done.set()
        runner.stop_event.set()
        runner.join(5)
        feeder.join(5)
        server.close()
