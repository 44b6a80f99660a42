"""The fusion engine with radar, DF, Remote ID and presence detections, shuffled in arrival."""

from pathlib import Path

import numpy as np
import pymap3d
import pytest

from cuas.config import parse_config
from cuas.engine.fusion import FusionEngine
from cuas.geo import EnuFrame
from cuas.schema import Detection, GeoPoint, Identity, MeasurementKind
from cuas.store.sqlite import Store

SITE = (42.8746, 74.6036, 780.0)
RADAR = (42.8746, 74.6290, 790.0)  # ~2 km east of the site reference
DF_A = (42.8660, 74.5900, 780.0)
DF_B = (42.8660, 74.6170, 780.0)


def config(**tracker):
    sensors = [
        {
            "id": sid,
            "driver": "dragonsync",
            "source": "udp://127.0.0.1:9",
            "position": {"lat_deg": p[0], "lon_deg": p[1], "alt_m": p[2]},
        }
        for sid, p in (("radar-1", RADAR), ("df-a", DF_A), ("df-b", DF_B))
    ] + [{"id": "rid-1", "driver": "dragonsync", "source": "udp://127.0.0.1:9"}]
    raw = {
        "sites": [
            {
                "id": "s",
                "name": "s",
                "reference": dict(zip(("lat_deg", "lon_deg", "alt_m"), SITE, strict=True)),
            }
        ],
        "sensors": sensors,
        "tracker": tracker,
    }
    return parse_config(raw, Path("test.toml"))


FRAME = EnuFrame(*SITE)


def truth_at(t: float) -> np.ndarray:
    return np.array([-400.0, 900.0, 120.0]) + np.array([9.0, 4.0, 0.5]) * t  # ENU m


def geodetic(enu: np.ndarray) -> tuple[float, float, float]:
    lat, lon, alt = FRAME.to_geodetic(enu)
    return float(lat), float(lon), float(alt)


def radar_plot(t: float, rng: np.random.Generator) -> Detection:
    az, el, r = pymap3d.geodetic2aer(*geodetic(truth_at(t)), *RADAR)  # independent of cuas
    return Detection(
        sensor_id="radar-1",
        t_unix=t,
        kind=MeasurementKind.RANGE_AZ_EL,
        range_m=r + rng.normal(0, 10.0),
        azimuth_rad=np.radians(az) + rng.normal(0, 0.017),
        elevation_rad=np.radians(el) + rng.normal(0, 0.017),
    )


def bearing(sensor_id: str, pos: tuple, t: float, rng: np.random.Generator) -> Detection:
    az, el, _ = pymap3d.geodetic2aer(*geodetic(truth_at(t)), *pos)
    return Detection(
        sensor_id=sensor_id,
        t_unix=t,
        kind=MeasurementKind.BEARING,
        azimuth_rad=np.radians(az) + rng.normal(0, 0.017),
        elevation_rad=np.radians(el) + rng.normal(0, 0.017),
    )


def run(engine: FusionEngine, arrivals: list[tuple[float, Detection]], t_end: float):
    arrivals = sorted(arrivals, key=lambda a: a[0])
    result = None
    for t_rx, det in arrivals:
        engine.ingest([det])
        result = engine.step(t_rx)
    return engine.step(t_end) if result is not None else None


def test_radar_plots_make_an_accurate_confirmed_track() -> None:
    rng = np.random.default_rng(1)
    engine = FusionEngine(config(), Store(":memory:"))
    arrivals = [(t + 0.05, radar_plot(t, rng)) for t in np.arange(0.0, 30.0, 1.0)]
    result = run(engine, arrivals, 29.5)
    (track,) = result.tracks
    assert track.status.value == "confirmed" and track.sensors == ["radar-1"]
    assert np.linalg.norm(np.array(track.enu_m) - truth_at(29.5)) < 25.0
    assert engine.counters["unsupported_kind"] == 0
    assert 0.0 < track.quality <= 1.0 and set(track.mode_probabilities) == {
        "cv",
        "turn_left",
        "turn_right",
    }


def test_df_bearings_cross_into_a_track_and_presence_is_handed_on() -> None:
    rng = np.random.default_rng(2)
    engine = FusionEngine(config(), Store(":memory:"))
    arrivals = []
    for t in np.arange(0.0, 20.0, 0.5):
        arrivals.append((t + 0.02, bearing("df-a", DF_A, t, rng)))
        arrivals.append((t + 0.03, bearing("df-b", DF_B, t + 0.01, rng)))
    presence = Detection(sensor_id="rf-1", t_unix=5.0, kind=MeasurementKind.PRESENCE)
    engine.ingest([presence])
    assert engine.step(5.0).presence == [presence]
    result = run(engine, arrivals, 19.6)
    (track,) = result.tracks
    assert track.status.value == "confirmed" and track.sensors == ["df-a", "df-b"]
    assert np.linalg.norm(np.array(track.enu_m[:2]) - truth_at(19.6)[:2]) < 40.0
    assert result.presence == []  # handed on once


def test_shuffled_multi_sensor_input_gives_the_time_ordered_result() -> None:
    rng = np.random.default_rng(3)
    dets = []
    for t in np.arange(0.0, 25.0, 0.5):
        dets.append(radar_plot(t, rng))
        lat, lon, alt = geodetic(truth_at(t + 0.02) + rng.normal(0, 3.0, 3))
        dets.append(
            Detection(
                sensor_id="rid-1",
                t_unix=t + 0.02,
                kind=MeasurementKind.POSITION,
                position=GeoPoint(lat_deg=lat, lon_deg=lon, alt_m=alt),
                identity=Identity(rid_serial="SERIAL1"),
            )
        )
    in_order = [(d.t_unix, d) for d in dets]
    # arrival: each detection late by up to 0.045 s (below a 0.05 s lag), so often overtaken
    shuffled = [(d.t_unix + rng.uniform(0.0, 0.045), d) for d in dets]
    ordered_engine = FusionEngine(config(reorder_lag_s=0.05), Store(":memory:"))
    shuffled_engine = FusionEngine(config(reorder_lag_s=0.05), Store(":memory:"))
    a = run(ordered_engine, in_order, 26.0).tracks
    b = run(shuffled_engine, shuffled, 26.0).tracks
    arrival_order = [d.t_unix for _, d in sorted(shuffled, key=lambda x: x[0])]
    assert arrival_order != sorted(arrival_order)  # some detections overtook others
    assert len(a) == len(b) == 1
    assert a[0].model_dump() == b[0].model_dump()
    assert a[0].sensors == ["radar-1", "rid-1"] and a[0].identity.rid_serial == "SERIAL1"
    assert shuffled_engine.counters["reorder_late"] == 0
    # one plot 2 s late: counted, never silently dropped; it goes at once to the tracker,
    # which finds it past its late tolerance
    shuffled_engine.ingest([radar_plot(23.0, rng)])
    assert shuffled_engine.counters["reorder_late"] == 1
    assert shuffled_engine.next_step_unix() == -np.inf
    shuffled_engine.step(26.0)
    assert shuffled_engine.counters["late_detections"] == 1
    assert shuffled_engine.tracker.counters["late_detections"] == 1


@pytest.mark.parametrize("lag", [0.0, 1.0])
def test_reorder_lag_holds_detections_until_the_step_clock_passes_it(lag: float) -> None:
    engine = FusionEngine(config(reorder_lag_s=lag), Store(":memory:"))
    engine.ingest([radar_plot(10.0, np.random.default_rng(4))])
    assert len(engine.step(10.0 + lag / 2).tracks) == (1 if lag == 0.0 else 0)
    assert len(engine.step(10.0 + lag).tracks) == 1


@pytest.mark.parametrize("track_id", ["T-PROBE-1", "X7", "T"])
def test_an_open_alert_naming_a_track_id_this_engine_did_not_make_is_no_crash(
    track_id: str,
) -> None:
    """Open alerts are adopted from the store at start, whoever raised them (another engine
    version, a probe, an import): their track ids need not be ours."""
    from cuas.schema import ZoneLevel

    from support import drone_track

    store = Store(":memory:")
    store.raise_alert(
        site_id="s",
        zone_id="z",
        zone_level=ZoneLevel.CRITICAL,
        rule="drone_in_zone",
        object_key=f"track:{track_id}",
        track=drone_track(track_id),
        t_unix=1.0,
        reason="adopted",
    )
    engine = FusionEngine(config(), store)
    rng = np.random.default_rng(3)
    engine.ingest([radar_plot(2.0, rng)])
    engine.step(2.0, full=False)
    result = engine.step(2.5, full=True)
    assert [t.track_id for t in result.tracks], "the radar plot's track is in the picture"
