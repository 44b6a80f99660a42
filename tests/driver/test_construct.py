"""Models built by cuas.driver.construct are the models pydantic validation would build."""

from __future__ import annotations

import math
import random
from types import SimpleNamespace
from typing import Any

import pytest
from google.protobuf import json_format
from pydantic import BaseModel, Field, field_validator

from cuas.driver import DecodeError, MeasurementKind, ObjectClass, SensorInfo
from cuas.driver import construct as build
from cuas.schema import Detection, GeoPoint, Identity, RawRef, Signature
from cuas.sim.encode_common import Observation
from cuas.sim.encoders import ENCODERS
from cuas_drivers.asterix import AsterixDriver, AsterixOptions
from cuas_drivers.dragonsync import DragonSyncDriver, DragonSyncOptions
from cuas_drivers.sapient import SapientDriver, SapientOptions
from cuas_drivers.sapient_codec import SapientMessage

HERE = GeoPoint(lat_deg=42.87, lon_deg=74.60, alt_m=800.0)


def _assert_identical(built: Any, validated: Any, where: str = "", fields_set: bool = True) -> None:
    """Equal values of the same types all the way down (5 == 5.0 is not enough)."""
    assert type(built) is type(validated), f"{where}: {type(built)} vs {type(validated)}"
    if isinstance(built, BaseModel):
        if fields_set:
            assert built.model_fields_set == validated.model_fields_set, where
        assert list(built.__dict__) == list(validated.__dict__), where
        for name in type(built).model_fields:
            a, b = getattr(built, name), getattr(validated, name)
            _assert_identical(a, b, f"{where}.{name}", fields_set)
    elif isinstance(built, list | tuple):
        assert len(built) == len(validated), where
        for i, (a, b) in enumerate(zip(built, validated, strict=True)):
            _assert_identical(a, b, f"{where}[{i}]", fields_set)
    else:
        assert built == validated or (built != built and validated != validated), where


def _assert_as_validated(det: Detection) -> None:
    _assert_identical(det, Detection.model_validate(det.model_dump()), fields_set=False)
    assert (
        det.model_dump_json()
        == Detection.model_validate_json(det.model_dump_json()).model_dump_json()
    )


CASES = [
    (GeoPoint, dict(lat_deg=-90.0, lon_deg=180.0)),
    (GeoPoint, dict(lat_deg=42.5, lon_deg=-0.1, alt_m=-12.5)),
    (Identity, dict(sensor_track_id="25/201:3563", icao24="3c660c")),
    (Identity, dict()),
    (RawRef, dict(sensor_id="radar-1", frame_seq=7)),
    (Signature, dict(freq_mhz=5800.0, rssi_dbm=-61.0, protocol="remote_id")),
    (
        Detection,
        dict(
            sensor_id="radar-1",
            t_unix=1_764_406_800.25,
            kind=MeasurementKind.RANGE_AZ_EL,
            range_m=1500.0,
            azimuth_rad=1.0,
            covariance=[[25.0, 0.0, 0.0], [0.0, 1e-4, 0.0], [0.0, 0.0, 2.4]],
            identity=Identity(sensor_track_id="1/2:3"),
            object_class=ObjectClass.DRONE,
            class_source="sapient",
            class_confidence=1.0,
            velocity_enu_mps=(1.0, -2.0, 0.0),
            raw=RawRef(sensor_id="radar-1", frame_seq=3),
        ),
    ),
    (Detection, dict(sensor_id="rid-1", t_unix=0.0, kind=MeasurementKind.PRESENCE)),
]


@pytest.mark.parametrize("model, values", CASES)
def test_built_models_equal_validated_ones_field_for_field(model, values):
    built = build.builder(model)(**values)
    validated = model(**values)
    _assert_identical(built, validated)
    assert built == validated and repr(built) == repr(validated)
    assert built.model_dump_json() == validated.model_dump_json()
    assert built.model_copy(update={}) == validated


def test_defaults_are_fresh_for_every_model():
    first = build.detection(sensor_id="s", t_unix=1.0, kind=MeasurementKind.PRESENCE)
    second = build.detection(sensor_id="s", t_unix=1.0, kind=MeasurementKind.PRESENCE)
    first.flags.append("x")
    assert second.flags == [] and first.identity is not second.identity


@pytest.mark.parametrize(
    "make, match",
    [
        (lambda: build.geo_point(lat_deg=90.5, lon_deg=0.0), r"GeoPoint.lat_deg: 90.5"),
        (lambda: build.geo_point(lat_deg=0.0, lon_deg=-180.5), r"GeoPoint.lon_deg"),
        (lambda: build.geo_point(lat_deg=math.nan, lon_deg=0.0), r"GeoPoint.lat_deg: nan"),
        (
            lambda: build.detection(
                sensor_id="s", t_unix=1.0, kind=MeasurementKind.PRESENCE, class_confidence=1.5
            ),
            r"Detection.class_confidence: 1.5",
        ),
    ],
)
def test_declared_bounds_are_checked_and_named(make, match):
    with pytest.raises(DecodeError, match=match):
        make()


def test_unknown_and_missing_fields_are_refused():
    with pytest.raises(TypeError, match="unknown field"):
        build.identity(callsign="ABC")
    with pytest.raises(TypeError, match="'frame_seq'"):
        build.raw_ref(sensor_id="s")


def test_models_with_rules_the_builder_cannot_check_are_refused():
    class Strict(BaseModel):
        speed_mps: float = Field(gt=0)

    class Checked(BaseModel):
        name: str

        @field_validator("name")
        @classmethod
        def _upper(cls, value: str) -> str:
            return value.upper()

    with pytest.raises(TypeError, match="not checked"):
        build.builder(Strict)
    with pytest.raises(TypeError, match="validators"):
        build.builder(Checked)


# --- what the drivers build ------------------------------------------------------------------


def _observation(i: int, **extra: Any) -> Observation:
    rng = random.Random(i)
    fields: dict[str, Any] = dict(
        t_unix=1_764_406_800.0 + i,
        object_id=f"d{i}",
        object_class=ObjectClass.DRONE,
        lat_deg=42.88,
        lon_deg=74.61,
        alt_m=850.0 + i,
        vel_enu_mps=(5.0, 3.0, 0.5),
        range_m=rng.uniform(200.0, 3000.0),
        azimuth_rad=rng.uniform(0.0, 6.0),
        elevation_rad=rng.uniform(0.0, 0.3),
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
    fields.update(extra)
    return Observation(**fields)


def _simulated(driver: str, extra: Any) -> list[bytes]:
    spec = SimpleNamespace(id="s1", driver=driver, position=HERE, options={})
    return ENCODERS[driver](spec, [_observation(i, **extra(i)) for i in range(12)], {})


def _decode_all(driver: Any, frames: list[bytes]) -> list[Detection]:
    out = []
    for seq, frame in enumerate(frames):
        out += driver.decode(frame, 1_764_406_805, seq)  # an int receive time, as JSON gives
    return out


def test_asterix_detections_are_as_validated(shared_data):
    driver = AsterixDriver(SensorInfo("s1", "asterix", position=HERE), AsterixOptions())
    frames = _simulated(
        "asterix",
        lambda i: dict(sensor_track_id=i if i % 2 else None, icao24="abc123" if i == 3 else None),
    )
    frames += [
        (shared_data / "asterix" / n).read_bytes() for n in ("cat048.raw", "cat062cat065.raw")
    ]
    dets = _decode_all(driver, frames)
    assert {d.kind for d in dets} == {MeasurementKind.RANGE_AZ_EL, MeasurementKind.POSITION}
    for det in dets:
        _assert_as_validated(det)


def test_sapient_detections_are_as_validated(shared_data):
    driver = SapientDriver(SensorInfo("s1", "sapient", position=HERE), SapientOptions())
    frames = _simulated("sapient", lambda i: dict(range_m=None) if i % 3 == 0 else {})
    for path in sorted((shared_data / "sapient" / "valid").glob("*.json")):
        frames.append(json_format.Parse(path.read_text(), SapientMessage()).SerializeToString())
    dets = _decode_all(driver, frames)
    assert len({d.kind for d in dets}) >= 3
    for det in dets:
        _assert_as_validated(det)


def test_dragonsync_detections_are_as_validated(shared_data):
    driver = DragonSyncDriver(SensorInfo("s1", "dragonsync", position=HERE), DragonSyncOptions())
    frames = _simulated("dragonsync", lambda i: dict(rid_serial=f"SER{i:05d}", rssi_dbm=-60.0))
    folder = shared_data / "wardragon"
    frames += [
        line.encode()
        for line in (folder / "droneid_odid_wifi_sample.zmq.jsonl").read_text().splitlines()
        if line
    ]
    frames += [(folder / n).read_bytes() for n in ("dji_o4.json", "wifi_beacon.json")]
    dets = _decode_all(driver, frames)
    assert len(dets) >= 12
    for det in dets:
        _assert_as_validated(det)
