"""The fusion engine's core, free of sockets: detections in, tracks and alert changes out.

Used by the engine process (live, on the bus) and by ``cuas replay`` (in-process, driven
by recorded time), so both run the very same logic. It converts detections into the
tracking frame, feeds the tracker one scan (sensor, time) at a time, keeps what the
tracker does not (class, identities, pilot position, contributing sensors) per track,
and hands confirmed tracks to the alert rules.
"""

from __future__ import annotations

import logging
from collections import Counter
from dataclasses import dataclass, field
from itertools import groupby

import numpy as np

from cuas.alerting.engine import AlertEngine
from cuas.alerting.zones import build_zones
from cuas.config import DeploymentConfig
from cuas.engine.identity import IdentityResolver
from cuas.geo import EnuFrame
from cuas.schema import (
    Alert,
    Detection,
    GeoPoint,
    Identity,
    MeasurementKind,
    ObjectClass,
    Track,
    TrackStatus,
)
from cuas.store.sqlite import Store
from cuas.tracking import Tracker, TrackerConfig, TrackView

log = logging.getLogger(__name__)

TRACK_ID_BLOCK = 10_000


@dataclass
class _TrackInfo:
    """What the engine knows about a track beyond its kinematic state."""

    identity: dict[str, str] = field(default_factory=dict)
    object_class: ObjectClass = ObjectClass.UNKNOWN
    class_source: str | None = None
    pilot: GeoPoint | None = None

    def merge(self, det: Detection) -> None:
        for name, value in det.identity.model_dump(exclude_none=True).items():
            self.identity[name] = value
        if det.object_class is not ObjectClass.UNKNOWN:
            self.object_class, self.class_source = det.object_class, det.class_source
        if det.pilot is not None:
            self.pilot = det.pilot


@dataclass
class StepResult:
    tracks: list[Track]  # live tracks at the step time
    lost: list[Track]  # tracks deleted in this step (status "deleted")
    alerts: list[Alert]  # alerts raised or cleared in this step


class FusionEngine:
    def __init__(self, config: DeploymentConfig, store: Store) -> None:
        site = config.sites[0]
        ref = site.reference
        self.site_id = site.id
        self.frame = EnuFrame(ref.lat_deg, ref.lon_deg, ref.alt_m or 0.0)
        self.store = store
        tracker_cfg = config.tracker.model_dump(exclude={"publish_interval_s"})
        # Track numbers persist across restarts so an old alert never names a new track:
        # the store hands out blocks of numbers and the engine takes another before it runs out.
        self._first_track_id = store.reserve("track_id", TRACK_ID_BLOCK)
        self._reserved_until = self._first_track_id + TRACK_ID_BLOCK
        self.tracker = Tracker(TrackerConfig(**tracker_cfg), first_track_id=self._first_track_id)
        self.alerts = AlertEngine(build_zones(config.sites, self.frame), store, config.alerts)
        self.sensor_std_m = {s.id: s.noise.position_m for s in config.sensors}
        self.identities = IdentityResolver()
        self.info: dict[int, _TrackInfo] = {}
        self.counters: Counter[str] = Counter()

    def ingest(self, detections: list[Detection]) -> None:
        """Feed detections, grouped into scans of one sensor at one time, in arrival order."""
        for (sensor_id, t_unix), group in groupby(
            detections, key=lambda d: (d.sensor_id, d.t_unix)
        ):
            scan = list(group)
            positions = [d for d in scan if d.kind is MeasurementKind.POSITION and d.position]
            self.counters["detections"] += len(scan)
            self.counters["presence_detections"] += sum(
                d.kind is MeasurementKind.PRESENCE for d in scan
            )
            self.counters["unsupported_kind"] += sum(
                d.kind in (MeasurementKind.RANGE_AZ_EL, MeasurementKind.BEARING) for d in scan
            )
            if positions:
                self._scan(sensor_id, t_unix, positions)

    def _scan(self, sensor_id: str, t_unix: float, dets: list[Detection]) -> None:
        z = self.frame.from_geodetic(
            [d.position.lat_deg for d in dets],
            [d.position.lon_deg for d in dets],
            [d.position.alt_m if d.position.alt_m is not None else self.frame.alt0_m for d in dets],
        ).reshape(-1, 3)
        R = np.empty((len(dets), 3, 3))
        default_var = self.sensor_std_m.get(sensor_id, 10.0) ** 2
        for i, d in enumerate(dets):
            R[i] = d.covariance if d.covariance is not None else np.eye(3) * default_var
        keys = [self.identities.key(d.identity) for d in dets]
        result = self.tracker.process_scan(t_unix, sensor_id, z, R, keys)
        if result.late:
            self.counters["late_detections"] += len(dets)
            return
        for det, track_id in zip(dets, result.track_ids, strict=True):
            self.info.setdefault(int(track_id), _TrackInfo()).merge(det)
        next_id = self._first_track_id + self.tracker.counters["tracks_started"]
        if next_id + len(dets) >= self._reserved_until:
            self._reserved_until = self.store.reserve("track_id", TRACK_ID_BLOCK) + TRACK_ID_BLOCK

    def step(self, t_unix: float) -> StepResult:
        """Advance the life cycle to ``t_unix``, evaluate the alert rules."""
        lost = [self._track(v) for v in self.tracker.advance(t_unix)]
        for view in lost:
            self.info.pop(int(view.track_id[1:]), None)
        tracks = [self._track(v) for v in self.tracker.tracks(t_unix)]
        alerts = self.alerts.evaluate(t_unix, tracks, lost)
        return StepResult(tracks, lost, alerts)

    def _track(self, view: TrackView) -> Track:
        info = self.info.get(view.track_id, _TrackInfo())
        enu = view.x[:3]
        lat, lon, alt = self.frame.to_geodetic(enu)
        return Track(
            track_id=f"T{view.track_id}",
            site_id=self.site_id,
            t_unix=view.t_unix,
            status=TrackStatus(view.status),
            position=GeoPoint(lat_deg=float(lat), lon_deg=float(lon), alt_m=float(alt)),
            enu_m=(float(enu[0]), float(enu[1]), float(enu[2])),
            velocity_enu_mps=(float(view.x[3]), float(view.x[4]), float(view.x[5])),
            position_std_m=float(np.sqrt(np.trace(view.P[:3, :3]) / 3.0)),
            object_class=info.object_class,
            class_source=info.class_source,
            identity=Identity(**info.identity),
            identity_key=view.identity_key,
            pilot=info.pilot,
            sensors=sorted(view.sensors),
            hits=view.hits,
        )
