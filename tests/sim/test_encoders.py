"""Simulated sensors' frames, decoded by the real drivers within each protocol's resolution.

Every encoder's frames go through ``build_driver`` + ``FrameDecoder`` (the host's decode
path) and must come back as the observations they encode, with nothing counted malformed.
Independent checks beside the drivers: F3411 bytes read at the standard's offsets with
struct; ADS-B against the golden frames of "The 1090 MHz Riddle" (Junzi Sun) and decoded by
pyModeS; ASTERIX items read back with libasterix; SAPIENT messages through the ICD
validation of sapient-pydantic; stream forms cut by the drivers' own splitters; SAPIENT and
ASTERIX frames in a replay file through ``cuas.replay.pipeline``.
"""

from __future__ import annotations

import dataclasses
import functools
import math
import struct
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pyModeS
import pytest
from asterix.base import Bits

from cuas.config import SensorConfig, parse_config
from cuas.driver import Detection, MeasurementKind, ObjectClass
from cuas.driver.host import FrameDecoder
from cuas.driver.registry import build_driver, installed_drivers
from cuas.geo import EnuFrame
from cuas.replay.format import ReplayWriter
from cuas.replay.pipeline import run_replay
from cuas.schema import GeoPoint, SensorState
from cuas.sim import encode_adsb, encode_asterix, encode_remoteid, encode_sapient
from cuas.sim.encoders import ENCODERS, SCAN_TIME_KEY, Observation, stream_bytes
from cuas_drivers import sapient_codec

SITE = GeoPoint(lat_deg=42.87460, lon_deg=74.60360, alt_m=780.0)
FRAME = EnuFrame(SITE.lat_deg, SITE.lon_deg, SITE.alt_m)
T0 = 1_764_404_434.56  # 2025-11-29 08:20:34.56 UTC
FT_M = 0.3048
KT_MPS = 1852.0 / 3600.0


@dataclass(frozen=True)
class Spec:
    """A simulated sensor as the encoders see it (the SensorSpec protocol)."""

    id: str
    driver: str
    position: GeoPoint | None = field(default_factory=lambda: SITE)
    options: dict[str, Any] = field(default_factory=dict)


def observe(
    enu_m: tuple[float, float, float],
    t: float = T0,
    vel: tuple[float, float, float] = (6.0, -8.0, 1.5),
    **fields: Any,
) -> Observation:
    """An observation of a point at ``enu_m`` from SITE, with its polar coordinates."""
    lat, lon, alt = (float(v) for v in FRAME.to_geodetic(np.array(enu_m, dtype=float)))
    e, n, u = enu_m
    values: dict[str, Any] = dict(
        t_unix=t,
        object_id="drone-1",
        object_class=ObjectClass.DRONE,
        lat_deg=lat,
        lon_deg=lon,
        alt_m=alt,
        vel_enu_mps=vel,
        range_m=math.sqrt(e * e + n * n + u * u),
        azimuth_rad=math.atan2(e, n) % (2 * math.pi),
        elevation_rad=math.atan2(u, math.hypot(e, n)),
        radial_velocity_mps=None,
        rid_serial=None,
        operator_id=None,
        pilot=None,
        icao24=None,
        callsign=None,
        rf_band=None,
        rf_protocol=None,
        rssi_dbm=None,
        freq_mhz=None,
        sensor_track_id=None,
    )
    values.update(fields)
    return Observation(**values)


_IDENTITY = (
    "object_id", "object_class", "rid_serial", "operator_id", "pilot", "icao24", "callsign",
    "rf_band", "rf_protocol", "rssi_dbm", "freq_mhz", "sensor_track_id",
)  # fmt: skip


def moved(obs: Observation, dt: float) -> Observation:
    """The same object ``dt`` seconds later, having flown its velocity."""
    e, n, u = FRAME.from_geodetic(obs.lat_deg, obs.lon_deg, obs.alt_m)
    ve, vn, vu = obs.vel_enu_mps
    return observe(
        (e + ve * dt, n + vn * dt, u + vu * dt),
        obs.t_unix + dt,
        obs.vel_enu_mps,
        **{k: getattr(obs, k) for k in _IDENTITY},
    )


def run(
    spec: Spec, scans: list[list[Observation]], encoder: Any = None
) -> tuple[list[Detection], FrameDecoder, list[bytes]]:
    """Encode scans, decode every frame with the real driver; (detections, decoder, frames)."""
    encode = encoder or ENCODERS[spec.driver]
    config = SensorConfig(
        id=spec.id,
        driver=spec.driver,
        source="replay:",
        position=spec.position,
        options=spec.options,
    )
    decoder = FrameDecoder(build_driver(config))
    state: dict[str, Any] = {}
    detections: list[Detection] = []
    frames: list[bytes] = []
    for scan in scans:
        t = max(o.t_unix for o in scan)
        for frame in encode(spec, scan, state):
            frames.append(frame)
            detections += decoder(t, frame)
    assert decoder.counters["malformed"] == 0
    return detections, decoder, frames


def enu_error_m(det: Detection, obs: Observation) -> np.ndarray:
    assert det.position is not None
    got = FRAME.from_geodetic(det.position.lat_deg, det.position.lon_deg, det.position.alt_m)
    return np.abs(got - FRAME.from_geodetic(obs.lat_deg, obs.lon_deg, obs.alt_m))


def velocity_error_mps(det: Detection, obs: Observation) -> float:
    assert det.velocity_enu_mps is not None
    return float(np.linalg.norm(np.subtract(det.velocity_enu_mps, obs.vel_enu_mps)))


def test_every_encoder_is_for_an_installed_driver():
    assert set(ENCODERS) <= set(installed_drivers())
    assert set(ENCODERS) == {
        "dragonsync", "odid_frames", "sbs", "beast", "asterix", "sapient", "rfserial",
    }  # fmt: skip


# --- Remote ID --------------------------------------------------------------------------

PILOT = (42.86912, 74.59101)


def _drones() -> list[Observation]:
    return [
        observe((-420.0, 310.0, 70.0), rid_serial="1581F5FJD239C00DW22E",
                operator_id="KGZ-OP-4411", pilot=PILOT),
        observe((900.0, -250.0, 110.0), T0 + 0.3, vel=(-70.0, 20.0, -3.0), object_id="fast",
                rid_serial="1668C7A92B004H3Q9", operator_id="KGZ-OP-1207", pilot=PILOT),
        observe((50.0, 50.0, 30.0), object_id="no-rid"),  # no broadcaster: not encoded
    ]  # fmt: skip


def _scans(first: list[Observation], n: int, dt: float = 1.0) -> list[list[Observation]]:
    return [[moved(o, k * dt) for o in first] for k in range(n)]


def _check_remote_id(detections: list[Detection], scans: list[list[Observation]]) -> None:
    sent = [o for scan in scans for o in scan if o.rid_serial]
    assert len(detections) == len(sent)
    for det, obs in zip(detections, sent, strict=True):
        assert det.kind is MeasurementKind.POSITION and det.object_class is ObjectClass.DRONE
        assert det.identity.rid_serial == obs.rid_serial
        assert det.identity.operator_id == obs.operator_id
        err = enu_error_m(det, obs)
        # lat/lon steps 1e-7 deg (<= 1.1 cm), altitude steps 0.5 m
        assert err[0] < 0.01 and err[1] < 0.01 and err[2] <= 0.25 + 1e-6
        # speed steps 0.25 m/s (0.75 above 63.75), direction 1 deg, vertical 0.5 m/s
        speed = math.hypot(*obs.vel_enu_mps[:2])
        step = 0.25 if speed < 63.6 else 0.75
        tolerance = step / 2 + speed * math.radians(0.5) + 0.25
        assert velocity_error_mps(det, obs) <= tolerance
        assert det.pilot is not None
        assert abs(det.pilot.lat_deg - PILOT[0]) <= 0.5e-7 + 1e-12
        assert abs(det.pilot.lon_deg - PILOT[1]) <= 0.5e-7 + 1e-12
    assert not any("rid_serial_invalid" in d.flags for d in detections)


def test_dragonsync_json_decodes_to_the_observations():
    spec = Spec("rid-1", "dragonsync")
    scans = _scans(_drones(), 7)
    detections, decoder, frames = run(spec, scans)
    _check_remote_id(detections, scans)
    macs = {d.identity.rid_serial: d.identity.mac for d in detections}
    assert len(set(macs.values())) == 2 and all(m and m.count(":") == 5 for m in macs.values())
    # one Location a scan per drone; Basic ID, Operator ID, System at 0, 3 and 6 s
    assert len(frames) == 7 * 2 + 3 * 2 * 3
    assert b'"Basic ID"' in frames[0] and b"Location/Vector" in frames[3]


def test_odid_user0_packs_decode_through_the_driver():
    spec = Spec("rid-2", "odid_frames")
    scans = _scans(_drones(), 3)
    detections, _, frames = run(spec, scans)
    _check_remote_id(detections, scans)
    assert len(frames) == 2 * 3 and all(f[:2] == b"\x00\x93" for f in frames)  # USER0 = 147


def test_odid_bytes_sit_where_the_standard_puts_them():
    drone = _drones()[0]
    [frame] = ENCODERS["odid_frames"](Spec("rid", "odid_frames"), [drone], {})
    pack = frame[2:]
    assert pack[:3] == bytes([0xF2, 25, 4]) and len(pack) == 3 + 4 * 25
    basic, loc, system, operator = (pack[3 + 25 * i : 28 + 25 * i] for i in range(4))
    assert basic[0] == 0x02 and basic[1] == 0x12  # Basic ID v2; serial number, multirotor
    assert basic[2:22].rstrip(b"\0") == b"1581F5FJD239C00DW22E"
    assert loc[0] == 0x12 and loc[1] >> 4 == 2  # Location v2, airborne
    east, north = drone.vel_enu_mps[:2]
    track = round(math.degrees(math.atan2(east, north)) % 360)  # 143 deg: E/W bit clear
    assert loc[1] & 0x02 == 0 and loc[2] == track and loc[1] & 0x01 == 0
    assert loc[3] == round(math.hypot(east, north) / 0.25)
    assert struct.unpack_from("<b", loc, 4)[0] == round(drone.vel_enu_mps[2] / 0.5)
    lat, lon, baro, geo, height = struct.unpack_from("<iiHHH", loc, 5)
    assert (lat, lon) == (round(drone.lat_deg * 1e7), round(drone.lon_deg * 1e7))
    assert baro == 0 and height == 0  # unknown
    assert geo == round((drone.alt_m + 1000) * 2)
    assert struct.unpack_from("<H", loc, 21)[0] == 12346  # 20 min 34.56 s, in tenths
    assert loc[19] == (4 << 4 | 10) and loc[20] == 3  # accuracies < 10 m, < 10 m, < 1 m/s
    assert system[0] == 0x42 and system[1] == 1  # live GNSS, classification undeclared
    assert struct.unpack_from("<ii", system, 2) == (round(PILOT[0] * 1e7), round(PILOT[1] * 1e7))
    assert struct.unpack_from("<I", system, 20)[0] == int(T0) - 1_546_300_800
    assert operator[0] == 0x52 and operator[2:22].rstrip(b"\0") == b"KGZ-OP-4411"


def test_odid_speed_above_63_75_uses_the_multiplier():
    fast = _drones()[1]  # 72.8 m/s
    [frame] = ENCODERS["odid_frames"](Spec("rid", "odid_frames"), [fast], {})
    loc = frame[2 + 3 + 25 : 2 + 3 + 50]
    speed = math.hypot(*fast.vel_enu_mps[:2])
    assert loc[1] & 0x01 == 1 and loc[3] == round((speed - 63.75) / 0.75)
    assert loc[1] & 0x02 and loc[2] == round(math.degrees(math.atan2(-70.0, 20.0)) % 360) - 180


def test_odid_wifi_beacon_form_carries_mac_rssi_and_channel():
    spec = Spec("rid-3", "odid_frames")
    drones = [dataclasses.replace(o, rssi_dbm=-67.0) for o in _drones()]
    scans = _scans(drones, 2)
    encoder = functools.partial(encode_remoteid.encode_odid_frames, transport="beacon")
    detections, _, frames = run(spec, scans, encoder)
    _check_remote_id(detections, scans)
    assert all(f[:2] == b"\x00\x7f" for f in frames)  # 127 = radiotap
    assert {d.signature.freq_mhz for d in detections} == {2437.0}
    assert {d.signature.rssi_dbm for d in detections} == {-67.0}
    assert detections[0].identity.mac == encode_remoteid.broadcaster_mac(drones[0].rid_serial)


# --- ADS-B ------------------------------------------------------------------------------


def _aircraft() -> list[Observation]:
    return [
        observe((-6000.0, 9000.0, 1200.0), vel=(80.0, -45.0, -4.0), object_id="ac-1",
                object_class=ObjectClass.MANNED_AIRCRAFT, icao24="4ca1fa", callsign="EZY12AB"),
        # an address full of 0x1A bytes exercises the Beast escapes
        observe((12000.0, -3000.0, 3500.0), vel=(-150.0, 10.0, 6.0), object_id="ac-2",
                object_class=ObjectClass.MANNED_AIRCRAFT, icao24="1a1a1a", callsign="TEST01",
                rssi_dbm=-12.0),
        observe((100.0, 100.0, 50.0)),  # a drone: not ADS-B
    ]  # fmt: skip


def test_adsb_frames_match_golden_frames_from_the_1090mhz_riddle():
    ident = encode_adsb.df17("4840D6", encode_adsb.identification_me("KLM1023"))
    assert ident.hex().upper() == "8D4840D6202CC371C32CE0576098"
    # the even frame's own position, as decoded from the book's even/odd pair
    me = encode_adsb.position_me(52.2572021484375, 3.91937255859375, 38000, odd=False)
    assert encode_adsb.df17("40621D", me).hex().upper() == "8D40621D58C382D690C8AC2863A7"


def test_beast_replies_decode_with_pymodes():
    ac = _aircraft()[0]
    frames = ENCODERS["beast"](Spec("adsb-1", "beast"), [ac], {})
    replies = [f[8:].hex() for f in frames]
    assert [f[0] for f in frames] == [0x33] * 4 and all(len(f) == 22 for f in frames)
    decoded = [pyModeS.decode(r) for r in replies]
    assert all(d["df"] == 17 and d["crc_valid"] and d["icao"] == "4CA1FA" for d in decoded)
    assert [d["typecode"] for d in decoded] == [4, 19, 11, 11]
    assert decoded[0]["callsign"].strip("_") == "EZY12AB"
    east, north, up = ac.vel_enu_mps
    assert abs(decoded[1]["groundspeed"] - math.hypot(east, north) / KT_MPS) <= 1.0
    track = math.degrees(math.atan2(east, north)) % 360
    assert abs(decoded[1]["track"] - track) < 0.5
    assert abs(decoded[1]["vertical_rate"] - up / FT_M * 60) <= 32
    assert decoded[2]["cpr_format"] == 0 and decoded[3]["cpr_format"] == 1
    assert abs(decoded[2]["altitude"] - ac.alt_m / FT_M) <= 12.5
    pair = pyModeS.decode(replies[2:], timestamps=[T0, T0 + 1e-4])
    # CPR steps: 6 deg / 2^17 of latitude, 360 / (NL - 1) / 2^17 of longitude
    nl = encode_adsb.cpr_nl(ac.lat_deg)
    assert abs(pair[1]["latitude"] - ac.lat_deg) <= 360 / 59 / 2**17 / 2
    assert abs(pair[1]["longitude"] - ac.lon_deg) <= 360 / (nl - 1) / 2**17 / 2


def test_beast_frames_decode_through_the_driver_and_its_stream_splitter():
    spec = Spec("adsb-1", "beast")
    scans = _scans(_aircraft(), 4)
    detections, decoder, frames = run(spec, scans)
    by_icao = {d.identity.icao24 for d in detections}
    assert by_icao == {"4ca1fa", "1a1a1a"}
    assert len(detections) >= 2 * 3  # pyModeS holds back the first pairs, then every scan
    truth = {(o.icao24, o.t_unix): o for scan in scans for o in scan}
    for det in detections:
        obs = truth[(det.identity.icao24, det.t_unix)]
        assert det.object_class is ObjectClass.MANNED_AIRCRAFT
        assert det.identity.sensor_track_id == obs.callsign
        err = enu_error_m(det, obs)
        assert err[0] < 3.0 and err[1] < 3.0 and err[2] <= 12.5 * FT_M + 1e-6
        assert velocity_error_mps(det, obs) < 1.0 * KT_MPS + 32 * FT_M / 60
    wire = stream_bytes("beast", frames)
    assert b"\x1a" * 6 in wire  # the address 1a1a1a, each byte doubled
    assert decoder.split(bytearray(wire)) == frames


def test_sbs_lines_decode_through_the_driver():
    spec = Spec("adsb-2", "sbs")
    scans = _scans(_aircraft(), 6)
    detections, decoder, lines = run(spec, scans)
    assert [line[:5] for line in lines[:3]] == [b"MSG,1", b"MSG,4", b"MSG,3"]
    assert all(line.count(b",") == 21 for line in lines)
    assert lines[2].split(b",")[6:8] == [b"2025/11/29", b"08:20:34.560"]  # UTC
    sent = [o for scan in scans for o in scan if o.icao24]
    assert len(detections) == len(sent)
    for det, obs in zip(detections, sent, strict=True):
        assert det.t_unix == pytest.approx(obs.t_unix, abs=1e-6)
        assert det.identity.icao24 == obs.icao24 and det.identity.sensor_track_id == obs.callsign
        err = enu_error_m(det, obs)
        # lat/lon to 5 decimals (0.56 m of latitude), altitude in 25 ft steps
        assert err[0] < 0.5 and err[1] < 0.6 and err[2] <= 12.5 * FT_M + 1e-6
        # 1 kt components, ground speed and track printed as integers
        speed_kt = math.hypot(*obs.vel_enu_mps[:2]) / KT_MPS
        bound_kt = 0.71 + 0.5 + speed_kt * math.radians(0.5)
        assert velocity_error_mps(det, obs) < bound_kt * KT_MPS + 32 * FT_M / 60
    assert decoder.split(bytearray(stream_bytes("sbs", lines))) == lines


def test_sbs_local_time_builds_write_the_zone_the_driver_is_told():
    spec = Spec("adsb-3", "sbs", options={"time_zone": "Asia/Bishkek"})  # UTC+6
    detections, _, lines = run(spec, [[_aircraft()[0]]])
    assert lines[-1].split(b",")[7] == b"14:20:34.560"
    assert detections[0].t_unix == pytest.approx(T0, abs=1e-6)


# --- ASTERIX ----------------------------------------------------------------------------


def _radar_scan(t: float = T0) -> list[Observation]:
    return [
        observe((1500.0, 2200.0, 120.0), t, sensor_track_id=17),
        observe((-3200.0, -800.0, 60.0), t, object_id="drone-2"),
        observe((9000.0, -15000.0, 2400.0), t, vel=(-120.0, 60.0, 0.0), object_id="ac-1",
                object_class=ObjectClass.MANNED_AIRCRAFT, icao24="4ca1fa", sensor_track_id=4095),
        observe((700.0, -300.0, 15.0), t, object_id=None, object_class=ObjectClass.UNKNOWN),
    ]  # fmt: skip


def _check_polar(det: Detection, obs: Observation) -> None:
    assert det.kind is MeasurementKind.RANGE_AZ_EL
    assert abs(det.range_m - obs.range_m) <= 1852 / 256 / 2 + 1e-9  # RHO 1/256 NM
    d_az = (det.azimuth_rad - obs.azimuth_rad + math.pi) % (2 * math.pi) - math.pi
    assert abs(d_az) <= math.pi / 65536 + 1e-12  # THETA 360/2^16 deg
    assert abs(det.t_unix - obs.t_unix) <= 1 / 256 + 1e-6  # I140 1/128 s


def test_cat048_plots_decode_through_the_driver():
    spec = Spec("radar-1", "asterix", options={"sources": ["25/201"]})
    scan = _radar_scan()
    detections, _, frames = run(spec, [scan])
    assert len(frames) == 1 and frames[0][0] == 48
    assert len(detections) == len(scan)
    for det, obs in zip(detections, scan, strict=True):
        _check_polar(det, obs)
        if obs.sensor_track_id is not None:
            assert det.identity.sensor_track_id == f"25/201:{obs.sensor_track_id}"
            # I200 is horizontal: GSP 2^-14 NM/s, HDG 360/2^16 deg
            assert det.velocity_enu_mps is not None and det.velocity_enu_mps[2] == 0.0
            error = np.subtract(det.velocity_enu_mps[:2], obs.vel_enu_mps[:2])
            speed = math.hypot(*obs.vel_enu_mps[:2])
            assert np.linalg.norm(error) <= 1852 * 2**-14 / 2 + speed * math.pi / 65536 + 1e-9
        else:
            assert det.identity.sensor_track_id is None and det.velocity_enu_mps is None
    assert detections[2].identity.icao24 == "4ca1fa"
    assert detections[2].object_class is ObjectClass.MANNED_AIRCRAFT
    assert detections[2].elevation_rad is not None  # Mode C flight level of a transponder
    # I110, a 3-D radar's height (25 ft steps), gives the plots without Mode C an elevation
    for det, obs in zip(detections[:2], scan[:2], strict=True):
        assert det.elevation_rad == pytest.approx(obs.elevation_rad, abs=2e-3)


def test_cat048_3d_height_is_in_i110_at_25_ft():
    spec = Spec("radar-1", "asterix")
    scan = _radar_scan()
    [frame] = ENCODERS["asterix"](spec, scan, {})
    cls = encode_asterix._EDITIONS[48]["1.32"]
    records = cls.cv_uap.parse(Bits.from_bytes(frame[3:]))
    for record, obs in zip(records, scan, strict=True):
        height_ft = record.get_item("110").variation.get_item("3DH").variation.content.as_quantity()
        horizontal = obs.range_m * math.cos(obs.elevation_rad)
        # the sphere's height at the observed range and elevation (flat-earth height + r^2/2R)
        expected_m = SITE.alt_m + obs.range_m * math.sin(obs.elevation_rad)
        expected_m += horizontal**2 / (2 * encode_asterix.EARTH_RADIUS_M)
        assert abs(height_ft * FT_M - expected_m) <= 12.5 * FT_M + 0.05
        assert (
            record.get_item("010").variation.get_item("SIC").as_uint()
            == (encode_asterix._source(spec)[1])
        )


def test_cat048_height_as_flight_level_gives_elevations():
    spec = Spec("radar-2", "asterix", options={"north_offset_deg": 12.5})
    encoder = functools.partial(encode_asterix.encode_asterix, height="i090")
    scan = _radar_scan()
    detections, _, _ = run(spec, [scan], encoder)
    for det, obs in zip(detections, scan, strict=True):
        _check_polar(det, obs)  # the radar's zero is 12.5 deg east of north: undone
        if obs.icao24 is None:
            # flight levels in 1/4 FL = 7.62 m steps, seen from the range
            bound = 7.62 / 2 / (obs.range_m * math.cos(obs.elevation_rad)) + 1e-4
            assert abs(det.elevation_rad - obs.elevation_rad) <= bound


def test_cat062_tracks_decode_through_the_driver():
    spec = Spec("sdps-1", "asterix")
    encoder = functools.partial(encode_asterix.encode_asterix, category=62)
    scans = [_radar_scan(T0), _radar_scan(T0 + 4.0)]
    detections, _, frames = run(spec, scans, encoder)
    assert {f[0] for f in frames} == {62}
    flat = [o for scan in scans for o in scan]
    assert len(detections) == len(flat)
    for det, obs in zip(detections, flat, strict=True):
        assert det.kind is MeasurementKind.POSITION
        err = enu_error_m(det, obs)
        # LAT/LON 180/2^25 deg (0.6 m of latitude), I130 6.25 ft
        assert err[0] < 0.5 and err[1] < 0.6 and err[2] <= 6.25 * FT_M / 2 + 1e-6
        assert velocity_error_mps(det, obs) <= math.sqrt(2 * 0.125**2 + (6.25 * FT_M / 120) ** 2)
        assert abs(det.t_unix - obs.t_unix) <= 1 / 256 + 1e-6
    numbers = [d.identity.sensor_track_id.split(":")[1] for d in detections]
    assert numbers[:3] == ["17", "1", "4095"] and numbers[4:7] == numbers[:3]
    assert numbers[3] != numbers[7]  # clutter is a new track each time


def test_a_crowded_scan_is_split_into_ethernet_sized_datagrams():
    spec = Spec("radar-3", "asterix")
    scan = [observe((100.0 * k, 4000.0, 50.0), sensor_track_id=k) for k in range(150)]
    detections, _, frames = run(spec, [scan])
    assert len(frames) > 1 and all(len(f) <= 1472 for f in frames)
    assert len(detections) == len(scan)


# --- SAPIENT ----------------------------------------------------------------------------


def _sapient_payloads(frames: list[bytes]) -> list[Any]:
    return [sapient_codec.parse(f) for f in frames]


def test_sapient_node_registers_reports_status_and_detections():
    spec = Spec("asm-1", "sapient")
    scans = [_radar_scan(T0 + k) for k in range(7)]
    detections, decoder, frames = run(spec, scans)
    messages = _sapient_payloads(frames)
    kinds = [m.WhichOneof("content") for m in messages]
    assert kinds[:2] == ["registration", "status_report"] and kinds.count("registration") == 1
    assert kinds.count("status_report") == 2  # at 0 s and 5 s
    for msg in messages:
        sapient_codec.validate(msg)  # the ICD rules, incl. sapient-pydantic's
    [ack] = decoder.driver.take_replies()  # valid reports get no answer
    assert sapient_codec.parse(ack[4:]).registration_ack.acceptance
    assert decoder.driver.health(T0 + 7) is None  # registered, heartbeats on time, location agrees
    flat = [o for scan in scans for o in scan]
    assert len(detections) == len(flat)
    for det, obs in zip(detections, flat, strict=True):
        assert det.kind is MeasurementKind.RANGE_AZ_EL and det.flags == []
        assert det.t_unix == pytest.approx(obs.t_unix, abs=1e-6)
        # doubles, rounded by the encoder to 1 mm, 1e-6 deg and 1 mm/s
        assert det.range_m == pytest.approx(obs.range_m, abs=0.5e-3)
        assert det.azimuth_rad == pytest.approx(obs.azimuth_rad, abs=math.radians(0.5e-6))
        assert det.elevation_rad == pytest.approx(obs.elevation_rad, abs=math.radians(0.5e-6))
        assert det.velocity_enu_mps == pytest.approx(obs.vel_enu_mps, abs=0.5e-3)
        expected = ObjectClass.UNKNOWN if obs.object_id is None else obs.object_class
        assert det.object_class is expected
        assert det.class_confidence == (None if obs.object_id is None else pytest.approx(0.9))
    ids = [d.identity.sensor_track_id for d in detections]
    assert ids[0:3] == ids[4:7] and ids[3] != ids[7]  # stable per object, new for clutter
    assert all(sapient_codec.is_ulid(i) for i in ids)


def test_sapient_location_reports_and_passive_rf_signal():
    spec = Spec("asm-2", "sapient")
    encoder = functools.partial(
        encode_sapient.encode_sapient, node_type="NODE_TYPE_PASSIVE_RF", report="location"
    )
    scan = [dataclasses.replace(o, freq_mhz=2437.0, rssi_dbm=-71.5) for o in _radar_scan()]
    detections, _, _ = run(spec, [scan], encoder)
    for det, obs in zip(detections, scan, strict=True):
        assert det.kind is MeasurementKind.POSITION
        assert np.all(enu_error_m(det, obs) < 0.01)  # rounded to 1e-7 deg and 1 mm
        assert det.signature.freq_mhz == pytest.approx(2437.0)
        assert det.signature.rssi_dbm == pytest.approx(-71.5)


def test_sapient_heartbeat_goes_out_on_an_empty_scan_and_streams_frame_back():
    spec = Spec("asm-3", "sapient")
    state: dict[str, Any] = {SCAN_TIME_KEY: T0}
    frames = ENCODERS["sapient"](spec, [], state)
    assert [m.WhichOneof("content") for m in _sapient_payloads(frames)] == [
        "registration", "status_report",
    ]  # fmt: skip
    state[SCAN_TIME_KEY] = T0 + 2.0
    assert ENCODERS["sapient"](spec, [], state) == []  # status not yet due
    state[SCAN_TIME_KEY] = T0 + 5.0
    frames += ENCODERS["sapient"](spec, [], state)
    assert len(frames) == 3
    config = SensorConfig(id=spec.id, driver="sapient", source="replay:", position=SITE)
    decoder = FrameDecoder(build_driver(config))
    assert decoder.split(bytearray(stream_bytes("sapient", frames))) == frames
    with pytest.raises(ValueError, match="whole messages"):
        stream_bytes("asterix", frames)


def test_encoders_repeat_byte_for_byte():
    for driver, scans in {
        "sapient": [_radar_scan(T0), _radar_scan(T0 + 1)],
        "odid_frames": _scans(_drones(), 2),
        "beast": _scans(_aircraft(), 2),
    }.items():
        spec = Spec("s-1", driver)
        runs = []
        for _ in range(2):
            state: dict[str, Any] = {}
            runs.append([f for scan in scans for f in ENCODERS[driver](spec, scan, state)])
        assert runs[0] == runs[1]


# --- RF detector ------------------------------------------------------------------------


def _rf_scan(t: float = T0) -> list[Observation]:
    return [
        observe((800.0, 600.0, 80.0), t, rf_band="2.4G", rf_protocol="DJI-O3",
                freq_mhz=2437.5, rssi_dbm=-63.25, sensor_track_id=5),
        observe((-300.0, 900.0, 40.0), t, object_id="fpv", rf_protocol="elrs",
                freq_mhz=868.4, rssi_dbm=-80.0, azimuth_rad=None, elevation_rad=None),
        observe((10.0, -2000.0, 0.0), t, object_id=None, object_class=ObjectClass.UNKNOWN,
                rf_protocol=None, freq_mhz=5785.0),
    ]  # fmt: skip


def test_rfserial_sentences_decode_through_the_driver():
    spec = Spec("rf-1", "rfserial")
    scans = [_rf_scan(T0 + k) for k in range(12)]
    detections, decoder, lines = run(spec, scans)
    assert lines[0].startswith(b"$CURS,1,") and sum(ln.startswith(b"$CURS") for ln in lines) == 2
    body, given = lines[1][1:].split(b"*")
    check = 0
    for byte in body:
        check ^= byte
    assert given == b"%02X" % check
    assert decoder.driver.health(T0 + 12) == (SensorState.OK, "simulated")
    flat = [o for scan in scans for o in scan]
    assert len(detections) == len(flat)
    for det, obs in zip(detections, flat, strict=True):
        assert det.t_unix == pytest.approx(obs.t_unix, abs=5e-4)
        if obs.azimuth_rad is None:
            assert det.kind is MeasurementKind.PRESENCE
        else:
            assert det.kind is MeasurementKind.BEARING
            d_az = (det.azimuth_rad - obs.azimuth_rad + math.pi) % (2 * math.pi) - math.pi
            assert abs(math.degrees(d_az)) <= 0.005 + 1e-9
            assert abs(math.degrees(det.elevation_rad - obs.elevation_rad)) <= 0.005 + 1e-9
        assert det.signature.freq_mhz == pytest.approx(obs.freq_mhz, abs=5e-4)
    first = detections[:3]
    assert [d.signature.band for d in first] == ["2.4G", "868M", "5.8G"]
    assert [d.signature.protocol for d in first] == ["DJI-O3", "ELRS", "UNKNOWN"]
    assert [d.object_class for d in first] == [
        ObjectClass.DRONE, ObjectClass.DRONE, ObjectClass.UNKNOWN,
    ]  # fmt: skip
    assert first[0].signature.rssi_dbm == pytest.approx(-63.2, abs=0.051)
    assert first[0].identity.sensor_track_id == "5"
    assert decoder.split(bytearray(stream_bytes("rfserial", lines))) == lines


# --- a replay file through the pipeline -------------------------------------------------


def test_every_encoder_replays_through_the_pipeline_without_malformed(tmp_path):
    sensors = {
        "rid-1": (Spec("rid-1", "dragonsync"), lambda k: [moved(o, k) for o in _drones()]),
        "rid-2": (Spec("rid-2", "odid_frames"), lambda k: [moved(o, k) for o in _drones()]),
        "adsb-1": (Spec("adsb-1", "sbs"), lambda k: [moved(o, k) for o in _aircraft()]),
        "adsb-2": (Spec("adsb-2", "beast"), lambda k: [moved(o, k) for o in _aircraft()]),
        "radar-1": (Spec("radar-1", "asterix"), lambda k: _radar_scan(T0 + k)),
        "asm-1": (Spec("asm-1", "sapient"), lambda k: _radar_scan(T0 + k)),
        "rf-1": (Spec("rf-1", "rfserial"), lambda k: _rf_scan(T0 + k)),
    }
    path = tmp_path / "sim.jsonl"
    writer = ReplayWriter(path, sensors={k: {"driver": s.driver} for k, (s, _) in sensors.items()})
    states: dict[str, dict[str, Any]] = {k: {} for k in sensors}
    frames = 0
    for k in range(6):
        for sensor_id, (spec, scan) in sensors.items():
            for frame in ENCODERS[spec.driver](spec, scan(k), states[sensor_id]):
                writer.frame(T0 + k, sensor_id, frame)
                frames += 1
    writer.close()
    config = parse_config(
        {
            "sites": [{"id": "s", "name": "s", "reference": SITE.model_dump()}],
            "sensors": [
                {"id": k, "driver": s.driver, "source": "replay:", "position": SITE.model_dump()}
                for k, (s, _) in sensors.items()
            ],
        },
        tmp_path / "site.toml",
    )
    summary = run_replay(config, path)
    assert summary.frames == frames
    assert summary.malformed_frames == 0 and summary.malformed_lines == 0
    # per scan: Remote ID 2 + 2, SBS 2, radar 4, SAPIENT 4, RF 3; Beast once pyModeS pairs
    assert summary.detections >= 6 * (2 + 2 + 2 + 4 + 4 + 3) + 2
    assert len(summary.confirmed_tracks) >= 4
