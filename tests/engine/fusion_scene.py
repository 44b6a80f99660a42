"""A site watched the way real sites are, for the fusion and alert life-cycle tests.

Site "s": a critical circle of 300 m ("Core") inside a warning circle of 1200 m ("Ring")
around the reference. Sensors: a SAPIENT radar node 1.5 km south (range/azimuth/elevation
plots with the node's classifier label), a DragonSync Remote ID receiver at the site (no
position: it hears the whole site) and an SBS ADS-B feed.

Detections are made as the drivers make them: Remote ID through the real DragonSync driver
from the JSON blocks the DroneID decoder publishes (identity burst and location messages
apart, each carrying the MAC), ADS-B through the real SBS driver from BaseStation lines,
and radar plots with the fields the SAPIENT driver fills from a DetectionReport (polar
location, ``sensor_track_id``, class label with class_source "sapient" and its confidence).
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from itertools import groupby
from pathlib import Path

import numpy as np
import pymap3d

from cuas.config import parse_config
from cuas.driver import SensorInfo
from cuas.engine.fusion import FusionEngine, StepResult
from cuas.geo import EnuFrame
from cuas.schema import Alert, Detection, Identity, MeasurementKind, ObjectClass
from cuas.sim.demo import location_block
from cuas.store.sqlite import Store
from cuas_drivers.dragonsync import DragonSyncDriver, DragonSyncOptions
from cuas_drivers.sbs import SbsDriver, SbsOptions

SITE = (42.8746, 74.6036, 780.0)
RADAR = (42.8611, 74.6036, 782.0)  # ~1.5 km south of the reference
FRAME = EnuFrame(*SITE)
CORE_M, RING_M = 300.0, 1200.0
T0 = 1_764_400_000.0
Path3 = Callable[[float], np.ndarray]  # seconds from T0 -> ENU metres


def config(friends: Iterable[dict] = (), **alerts: object):
    lat, lon, alt = SITE
    zones = [
        {"id": "core", "name": "Core", "level": "critical", "radius": CORE_M},
        {"id": "ring", "name": "Ring", "level": "warning", "radius": RING_M},
    ]
    raw = {
        "sites": [
            {
                "id": "s",
                "name": "s",
                "reference": {"lat_deg": lat, "lon_deg": lon, "alt_m": alt},
                "zones": [
                    {
                        "id": z["id"],
                        "name": z["name"],
                        "level": z["level"],
                        "circle": {"lat_deg": lat, "lon_deg": lon, "radius_m": z["radius"]},
                    }
                    for z in zones
                ],
            }
        ],
        "sensors": [
            {
                "id": "radar-1",
                "driver": "sapient",
                "source": "tcp://127.0.0.1:9",
                "position": dict(zip(("lat_deg", "lon_deg", "alt_m"), RADAR, strict=True)),
                "noise": {"range_m": 8.0, "azimuth_deg": 0.5, "elevation_deg": 0.5},
            },
            {"id": "rid-1", "driver": "dragonsync", "source": "udp://127.0.0.1:9"},
            {"id": "adsb-1", "driver": "sbs", "source": "tcp://127.0.0.1:9"},
        ],
        "alerts": {"friends": list(friends), **alerts},
    }
    return parse_config(raw, Path("scene.toml"))


def radar_plot(
    t: float,
    enu: np.ndarray,
    rng: np.random.Generator,
    label: ObjectClass | None = None,
    confidence: float | None = None,
    object_id: str = "1",
) -> Detection:
    """One SAPIENT radar DetectionReport as the driver decodes it (range_bearing, DEGREES)."""
    lat, lon, alt = FRAME.to_geodetic(enu)
    az, el, r = pymap3d.geodetic2aer(float(lat), float(lon), float(alt), *RADAR)
    fields: dict = {}
    if label is not None:
        fields = dict(
            object_class=label,
            class_source="sapient",
            class_confidence=confidence if label is not ObjectClass.UNKNOWN else None,
        )
    return Detection(
        sensor_id="radar-1",
        t_unix=T0 + t,
        kind=MeasurementKind.RANGE_AZ_EL,
        range_m=float(r + rng.normal(0, 8.0)),
        azimuth_rad=float(np.radians(az) + rng.normal(0, np.radians(0.5))),
        elevation_rad=float(np.radians(el) + rng.normal(0, np.radians(0.5))),
        identity=Identity(sensor_track_id=object_id),
        **fields,
    )


class RemoteIdAir:
    """One drone's Remote ID broadcasts, decoded by the real DragonSync driver."""

    def __init__(self, mac: str, serial: str) -> None:
        self.mac, self.serial = mac, serial
        self.driver = DragonSyncDriver(SensorInfo("rid-1", "dragonsync"), DragonSyncOptions())
        self.seq = 0

    def _decode(self, blocks: list[dict], t: float) -> list[Detection]:
        blocks[0]["MAC"] = self.mac
        self.seq += 1
        return self.driver.decode(json.dumps(blocks).encode(), T0 + t, self.seq)

    def basic_id(self, t: float) -> list[Detection]:
        """The Basic ID message: no location, so no detection; the serial joins later ones."""
        basic = {
            "protocol_version": "F3411.22",
            "id_type": "Serial Number (ANSI/CTA-2063-A)",
            "ua_type": "Helicopter (or Multirotor)",
            "id": self.serial,
        }
        return self._decode([{"Basic ID": basic}], t)

    def location(
        self, t: float, enu: np.ndarray, vel: np.ndarray, rng: np.random.Generator
    ) -> list[Detection]:
        noisy = enu + rng.normal(0.0, [2.5, 2.5, 3.0])
        lat, lon, alt = FRAME.to_geodetic(noisy)
        block = location_block(float(lat), float(lon), float(alt), vel, (T0 + t) % 3600.0)
        return self._decode([block], t)


class AdsbFeed:
    """An SBS BaseStation feed (dump1090 port 30003), decoded by the real SBS driver."""

    def __init__(self) -> None:
        self.driver = SbsDriver(SensorInfo("adsb-1", "sbs"), SbsOptions())
        self.seq = 0

    def position(self, t: float, icao: str, enu: np.ndarray) -> list[Detection]:
        lat, lon, alt = FRAME.to_geodetic(enu)
        stamp = _sbs_clock(T0 + t)
        alt_ft = round(float(alt) / 0.3048 / 25.0) * 25
        # MSG,3 (airborne position): type, ids, 2 dates and times, callsign, altitude ft,
        # speed, track, lat, lon, vertical rate, squawk, 4 flags
        head = ["MSG", "3", "1", "1", icao.upper(), "1", *stamp, *stamp]
        body = ["", str(alt_ft), "", "", f"{float(lat):.5f}", f"{float(lon):.5f}", "", ""]
        fields = head + body + ["0", "0", "0", "0"]
        self.seq += 1
        return self.driver.decode(",".join(fields).encode(), T0 + t, self.seq)


def _sbs_clock(t_unix: float) -> tuple[str, str]:
    when = dt.datetime.fromtimestamp(t_unix, dt.UTC)
    return when.strftime("%Y/%m/%d"), when.strftime("%H:%M:%S.%f")[:-3]


@dataclass
class Run:
    engine: FusionEngine
    store: Store
    steps: list[tuple[float, StepResult]]

    def alerts(self) -> list[Alert]:
        return sorted(self.store.list_alerts(limit=10_000)[0], key=lambda a: a.alert_id)

    def zone_alerts(self, zone_id: str) -> list[Alert]:
        return [a for a in self.alerts() if a.zone_id == zone_id]


def run(
    arrivals: list[tuple[float, Detection]],
    t_end: float,
    store: Store | None = None,
    publish_s: float = 0.5,
    **config_kw: object,
) -> Run:
    """Feed detections at their arrival times (seconds from T0) the way the engine service
    does: a quick step after each arrival (those arriving at one time together, as one
    message of a driver), a full one every ``publish_s``."""
    store = store or Store(":memory:")
    engine = FusionEngine(config(**config_kw), store)
    steps = []
    next_full = 0.0
    for t_rx, batch in groupby(sorted(arrivals, key=lambda a: a[0]), key=lambda a: a[0]):
        while next_full <= t_rx:
            steps.append((next_full, engine.step(T0 + next_full)))
            next_full += publish_s
        engine.ingest([det for _, det in batch])  # what one bus message carries
        steps.append((t_rx, engine.step(T0 + t_rx, full=False)))
    while next_full <= t_end:
        steps.append((next_full, engine.step(T0 + next_full)))
        next_full += publish_s
    return Run(engine, store, steps)


def distance_to_centre_m(enu: np.ndarray) -> float:
    return float(np.hypot(enu[0], enu[1]))
