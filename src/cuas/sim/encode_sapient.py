"""SAPIENT encoder: a simulated edge node (ASM) talking BSI Flex 335 v2.0 (``sapient``).

What an ASM sends its fusion node, in order: a Registration once (node type, ICD version
"BSI Flex 335 v2.0", status interval, one default mode whose detections are WGS84
lat/lon/alt degrees and metres with ENU velocities in m/s), then a StatusReport every
status interval (INFO_NEW first, INFO_UNCHANGED after; the node's location), and one
DetectionReport per observation:

    report_id       ULID, new for every report
    object_id       ULID, stable per object (from the sensor's track number, else the
                    object's id; clutter gets a new one each time)
    range_bearing   DEGREES_M, TRUE datum: azimuth, and elevation and range where the
                    observation has them (by default whenever it has an azimuth)
    location        LAT_LNG_DEG_M, WGS84_E: x = longitude, y = latitude, z = altitude
    classification  a class tree: Air Vehicle / UAV Rotary Wing, Air Vehicle / Manned
                    Fixed Wing, Animal / Bird (none for unknown): the sensor's classifier
                    label with its confidence where it has one, else the true class
    enu_velocity    east/north/up m/s
    signal          (PASSIVE_RF nodes) centre frequency MHz, amplitude dBm

Messages are built from the protobuf classes of ``sapient-proto`` (Dstl's v2.0 .proto
files) through protobuf's JSON mapping, field names as in the ICD. Each frame is the
serialised ``SapientMessage`` without its length prefix: the host cuts TCP streams at the
4-byte little-endian length and records what is after it. :func:`sapient_wire` adds it back.
ULIDs and the node UUID are derived from the sensor id and the time, so runs repeat.
SAPIENT carries doubles; numbers are rounded to a resolution far below any sensor's error
(1e-7 deg in latitude and longitude, 1 mm, 1e-6 deg in angles, 1 mm/s), so that the bytes
do not depend on the last bit of a floating-point result on one CPU or another.
"""

from __future__ import annotations

import hashlib
import math
import struct
import uuid
from typing import Any, Literal

from google.protobuf import json_format
from sapient_msg.bsi_flex_335_v2_0.sapient_message_pb2 import SapientMessage

from cuas.schema import ObjectClass
from cuas.sim.encode_common import EncoderState, Observation, SensorSpec, due, scan_time

ICD_VERSION = "BSI Flex 335 v2.0"
MODE_NAME = "Default"
_CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
_LOCATION_TYPE = {
    "locationUnits": "LOCATION_COORDINATE_SYSTEM_LAT_LNG_DEG_M",
    "locationDatum": "LOCATION_DATUM_WGS84_E",
}
_CLASS_TREE = {
    ObjectClass.DRONE: ("Air Vehicle", "UAV Rotary Wing"),
    ObjectClass.MANNED_AIRCRAFT: ("Air Vehicle", "Manned Fixed Wing"),
    ObjectClass.BIRD: ("Animal", "Bird"),
}


def node_uuid(sensor_id: str) -> str:
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"cuas:sim:sapient:{sensor_id}"))


def ulid(t_unix: float, key: str) -> str:
    """A ULID: 48-bit milliseconds since the epoch, 80 bits derived from ``key``."""
    entropy = int.from_bytes(hashlib.sha256(key.encode()).digest()[:10], "big")
    value = (max(int(t_unix * 1000), 0) & (2**48 - 1)) << 80 | entropy
    return "".join(_CROCKFORD[(value >> (5 * i)) & 31] for i in range(25, -1, -1))


def sapient_wire(frame: bytes) -> bytes:
    """The TCP form of a recorded frame: uint32 little-endian length, then the message."""
    return struct.pack("<I", len(frame)) + frame


def _message(spec: SensorSpec, t_unix: float, content: dict[str, Any]) -> bytes:
    msg = SapientMessage()
    json_format.ParseDict({"nodeId": node_uuid(spec.id), **content}, msg)
    msg.timestamp.FromNanoseconds(round(t_unix * 1e9))
    return msg.SerializeToString()


def _registration(spec: SensorSpec, t_unix: float, node_type: str, interval_s: float) -> bytes:
    seconds = {"units": "TIME_UNITS_SECONDS", "value": 1}
    detection: dict[str, Any] = {
        "locationType": _LOCATION_TYPE,
        "velocityType": {
            "enuVelocityUnits": {
                "eastNorthRateUnits": "SPEED_UNITS_MS",
                "upRateUnits": "SPEED_UNITS_MS",
            },
            "locationDatum": "LOCATION_DATUM_WGS84_E",
        },
    }
    if node_type == "NODE_TYPE_PASSIVE_RF":
        detection["detectionReport"] = [
            {
                "category": "DETECTION_REPORT_CATEGORY_SIGNAL",
                "type": "centreFrequency",
                "units": "MHz",
            }
        ]
    registration = {
        "nodeDefinition": [{"nodeType": node_type}],
        "icdVersion": ICD_VERSION,
        "name": spec.id,
        "shortName": spec.id[:16],
        "capabilities": [{"category": "Detection", "type": "Simulated", "value": "1"}],
        "statusDefinition": {
            "statusInterval": {"units": "TIME_UNITS_SECONDS", "value": interval_s},
            "locationDefinition": _LOCATION_TYPE,
        },
        "modeDefinition": [
            {
                "modeName": MODE_NAME,
                "modeType": "MODE_TYPE_DEFAULT",
                "settleTime": seconds,
                "detectionDefinition": [detection],
                "task": {
                    "regionDefinition": {
                        "regionType": ["REGION_TYPE_AREA_OF_INTEREST"],
                        "settleTime": seconds,
                        "regionArea": [_LOCATION_TYPE],
                    }
                },
            }
        ],
        "configData": [{"manufacturer": "cuas", "model": "simulated node"}],
    }
    return _message(spec, t_unix, {"registration": registration})


LATLON_DECIMALS = 7
METRE_DECIMALS = 3
ANGLE_DECIMALS = 6


def _location(lat_deg: float, lon_deg: float, alt_m: float | None) -> dict[str, Any]:
    loc: dict[str, Any] = {
        "x": round(lon_deg, LATLON_DECIMALS),
        "y": round(lat_deg, LATLON_DECIMALS),
        "coordinateSystem": "LOCATION_COORDINATE_SYSTEM_LAT_LNG_DEG_M",
        "datum": "LOCATION_DATUM_WGS84_E",
    }
    if alt_m is not None:
        loc["z"] = round(alt_m, METRE_DECIMALS)
    return loc


def _status(spec: SensorSpec, t_unix: float, first: bool, seq: int) -> bytes:
    report: dict[str, Any] = {
        "reportId": ulid(t_unix, f"{spec.id}:status:{seq}"),
        "system": "SYSTEM_OK",
        "info": "INFO_NEW" if first else "INFO_UNCHANGED",
        "mode": MODE_NAME,
    }
    if spec.position is not None:
        pos = spec.position
        report["nodeLocation"] = _location(pos.lat_deg, pos.lon_deg, pos.alt_m)
    return _message(spec, t_unix, {"statusReport": report})


def _object_ulid(spec: SensorSpec, obs: Observation, state: EncoderState, seq: int) -> str:
    """Stable per sensor track (else per object); a false alarm gets a fresh one."""
    if obs.sensor_track_id is not None:
        key = f"track:{obs.sensor_track_id}"
    elif obs.object_id is not None:
        key = f"object:{obs.object_id}"
    else:
        return ulid(obs.t_unix, f"{spec.id}:clutter:{seq}")
    objects: dict[str, str] = state.setdefault("object_ulids", {})
    return objects.setdefault(key, ulid(obs.t_unix, f"{spec.id}:{key}"))


def _detection(
    spec: SensorSpec,
    obs: Observation,
    state: EncoderState,
    seq: int,
    report: str,
    confidence: float,
) -> bytes:
    fields: dict[str, Any] = {
        "reportId": ulid(obs.t_unix, f"{spec.id}:detection:{seq}"),
        "objectId": _object_ulid(spec, obs, state, seq),
        "enuVelocity": {
            key: round(v, METRE_DECIMALS)
            for key, v in zip(("eastRate", "northRate", "upRate"), obs.vel_enu_mps, strict=True)
        },
    }
    if report == "range_bearing" or (report == "auto" and obs.azimuth_rad is not None):
        if obs.azimuth_rad is None:
            raise ValueError(f"sensor {spec.id}: a range_bearing report needs an azimuth")
        rb: dict[str, Any] = {
            "azimuth": round(math.degrees(obs.azimuth_rad) % 360.0, ANGLE_DECIMALS) % 360.0,
            "coordinateSystem": "RANGE_BEARING_COORDINATE_SYSTEM_DEGREES_M",
            "datum": "RANGE_BEARING_DATUM_TRUE",
        }
        if obs.range_m is not None:
            rb["range"] = round(obs.range_m, METRE_DECIMALS)
        if obs.elevation_rad is not None:
            rb["elevation"] = round(math.degrees(obs.elevation_rad), ANGLE_DECIMALS)
        fields["rangeBearing"] = rb
    else:
        fields["location"] = _location(obs.lat_deg, obs.lon_deg, obs.alt_m)
    tree = _CLASS_TREE.get(obs.label)
    if obs.class_confidence is not None:
        confidence = obs.class_confidence
    if tree is not None:
        sub = {"type": tree[1], "confidence": confidence, "level": 1}
        fields["classification"] = [{"type": tree[0], "confidence": confidence, "subClass": [sub]}]
    if obs.freq_mhz is not None and obs.rssi_dbm is not None:
        fields["signal"] = [{"centreFrequency": obs.freq_mhz, "amplitude": obs.rssi_dbm}]
    return _message(spec, obs.t_unix, {"detectionReport": fields})


def encode_sapient(
    spec: SensorSpec,
    observations: list[Observation],
    state: EncoderState,
    *,
    node_type: str | None = None,
    status_interval_s: float = 5.0,
    report: Literal["auto", "location", "range_bearing"] = "auto",
    class_confidence: float = 0.9,
) -> list[bytes]:
    """Registration on the first scan, StatusReport when due, a DetectionReport per object.

    ``node_type`` defaults to the simulated sensor's ``detects`` (radar or passive RF)."""
    if node_type is None:
        detects = getattr(spec, "detects", "radar")
        node_type = "NODE_TYPE_PASSIVE_RF" if detects == "rf" else "NODE_TYPE_RADAR"
    t_scan = scan_time(observations, state)
    if t_scan is None:
        return []
    frames = []
    first = not state.get("registered", False)
    if first:
        state["registered"] = True
        frames.append(_registration(spec, t_scan, node_type, status_interval_s))
    if due(state, "status_sent_unix", t_scan, status_interval_s):
        seq = state["status_seq"] = state.get("status_seq", -1) + 1
        frames.append(_status(spec, t_scan, first, seq))
    for obs in observations:
        seq = state["report_seq"] = state.get("report_seq", -1) + 1
        frames.append(_detection(spec, obs, state, seq, report, class_confidence))
    return frames
