"""The fusion engine's core, free of sockets: detections in, tracks and alert changes out.

Used by the engine process (live, on the bus) and by ``cuas replay`` (in-process, driven
by recorded time), so both run the very same logic. It puts detections back into time
order (a reorder buffer of ``[tracker] reorder_lag_s`` plus the largest declared sensor
latency), converts them into the tracker's measurement models in the site frame (3-D
positions, radar range/azimuth/elevation, direction-finding bearings; each sensor's
configured position and local frame), feeds the tracker one scan (sensor, time) at a
time, keeps what the tracker does not (class belief from all the evidence, identities,
pilot position) per track, and hands confirmed tracks to the alert rules. Presence-only
detections make no track: they are handed on in each step's result for the alert rules.
"""

from __future__ import annotations

import logging
import math
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cached_property
from itertools import groupby

import numpy as np

from cuas.alerting.engine import KEEP_HORIZON_FACTOR, AlertEngine
from cuas.alerting.zones import build_zones, may_contact
from cuas.config import DeploymentConfig, SensorConfig, SensorNoise
from cuas.engine.classification import ClassBelief
from cuas.engine.identity import ClaimGate, IdentityResolver
from cuas.geo import EnuFrame
from cuas.plausibility import Screen
from cuas.schema import (
    FLAG_POSSIBLE_SPOOF,
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
from cuas.tracking import Tracker, TrackView
from cuas.tracking.coverage import SensorSight
from cuas.tracking.measurement import (
    BEARING_AZ,
    BEARING_AZ_EL,
    MEASUREMENT_DIM,
    POSITION,
    RANGE_AZ_EL,
    RANGE_AZ_EL_RATE,
    ZDIM_MAX,
    MeasurementBatch,
)
from cuas.tracking.reorder import ReorderBuffer

log = logging.getLogger(__name__)

TRACK_ID_BLOCK = 10_000


@dataclass(frozen=True)
class _SensorModel:
    """A configured sensor as the measurement models need it."""

    noise: SensorNoise
    enu_m: np.ndarray | None  # (3,) position in the site frame; None if not configured
    rot_local: np.ndarray  # (3, 3) site ENU -> the sensor's own local ENU


def _sensor_model(sensor: SensorConfig | None, frame: EnuFrame) -> _SensorModel:
    if sensor is None or sensor.position is None:
        return _SensorModel(sensor.noise if sensor else SensorNoise(), None, np.eye(3))
    pos = sensor.position
    alt = pos.alt_m if pos.alt_m is not None else frame.alt0_m
    local = EnuFrame(pos.lat_deg, pos.lon_deg, alt)
    site_axes_ecef = frame.rotate_to_enu(np.eye(3)).T  # rows: site east, north, up in ECEF
    rot_local = local.rotate_to_enu(site_axes_ecef).T
    enu = frame.from_geodetic(pos.lat_deg, pos.lon_deg, alt).reshape(3)
    return _SensorModel(sensor.noise, enu, rot_local)


def _sensor_sight(sensor: SensorConfig, model: _SensorModel) -> SensorSight:
    """Where and how often the sensor can see, for the tracker's M-of-N opportunities."""
    cover = sensor.coverage
    if cover is None:
        return SensorSight(revisit_s=sensor.revisit_s)
    return SensorSight(
        model.enu_m,
        model.rot_local,
        range_m=cover.range_m,
        min_range_m=cover.min_range_m,
        yaw_deg=sensor.orientation.yaw_deg,
        azimuth_width_deg=cover.azimuth_width_deg,
        min_elevation_deg=-90.0 if cover.min_elevation_deg is None else cover.min_elevation_deg,
        max_elevation_deg=90.0 if cover.max_elevation_deg is None else cover.max_elevation_deg,
        revisit_s=sensor.revisit_s,
    )


@dataclass
class _TrackInfo:
    """What the engine knows about a track beyond its kinematic state."""

    identity: dict[str, str] = field(default_factory=dict)
    belief: ClassBelief = field(default_factory=ClassBelief)
    pilot: GeoPoint | None = None
    home: GeoPoint | None = None
    first_t_unix: float = math.nan  # the track's first detection
    flags: list[str] = field(default_factory=list)  # for the operator, e.g. possible_spoof

    def merge(self, det: Detection) -> None:
        if math.isnan(self.first_t_unix):
            self.first_t_unix = det.t_unix
        for name, value in det.identity.model_dump(exclude_none=True).items():
            self.identity[name] = value
        if det.class_source is not None or det.object_class is not ObjectClass.UNKNOWN:
            source = det.class_source
            if source == "sapient" and det.signature is not None:
                source = "rf_signature"  # a SAPIENT passive RF node heard its radio
            self.belief.add(det.object_class, source, det.class_confidence)
        if FLAG_POSSIBLE_SPOOF in det.flags and FLAG_POSSIBLE_SPOOF not in self.flags:
            self.flags.append(FLAG_POSSIBLE_SPOOF)
        if det.pilot is not None:
            self.pilot = det.pilot
        if det.home is not None:
            self.home = det.home


def _informative(det: Detection) -> bool:
    """Whether det carries anything _TrackInfo.merge keeps beyond a track's first detection
    (an identity, a class, a pilot or home position); keep in step with merge."""
    return (
        det.class_source is not None  # class evidence, an "unknown" label included
        or det.object_class is not ObjectClass.UNKNOWN
        or det.pilot is not None
        or det.home is not None
        or FLAG_POSSIBLE_SPOOF in det.flags
        or any(value is not None for value in det.identity.__dict__.values())
    )


# MeasurementKind -> 0 position, 1 range/azimuth/elevation, 2 bearing (presence never here)
_KIND_INDEX = {
    MeasurementKind.POSITION: 0,
    MeasurementKind.RANGE_AZ_EL: 1,
    MeasurementKind.BEARING: 2,
    MeasurementKind.PRESENCE: 3,
}


@dataclass
class StepResult:
    """What a step produced. On a full step ``tracks`` is the whole live picture, built as
    Track objects only when first read (a step that publishes nothing builds none); read
    it before the next ``ingest`` or ``step``. On a quick step it holds the tracks the step
    evaluated (those just updated near a zone)."""

    lost: list[Track]  # tracks deleted in this step (status "deleted")
    alerts: list[Alert]  # alerts raised, escalated or cleared in this step
    presence: list[Detection] = field(default_factory=list)  # presence-only, since last step
    friendly: dict[str, str] = field(default_factory=dict)  # track id -> its friend list entry
    picture: Callable[[], list[Track]] = list  # builds the tracks of this step

    @cached_property
    def tracks(self) -> list[Track]:
        """Live tracks at the step time (see the class docstring for which)."""
        return self.picture()


def _track_number(track_id: str | None) -> int | None:
    """The tracker's number of an engine track id ("T123"); None for an id this engine did
    not make (an alert adopted from the store may name any track id)."""
    if track_id is None or not track_id.startswith("T") or not track_id[1:].isdigit():
        return None
    return int(track_id[1:])


class FusionEngine:
    def __init__(
        self, config: DeploymentConfig, store: Store, *, watch_sensors: bool = False
    ) -> None:
        """``watch_sensors``: raise coverage alerts from sensor status (the live engine)."""
        site = config.sites[0]
        ref = site.reference
        self.site_id = site.id
        self.frame = EnuFrame(ref.lat_deg, ref.lon_deg, ref.alt_m or 0.0)
        self.store = store
        # Track numbers persist across restarts so an old alert never names a new track:
        # the store hands out blocks of numbers and the engine takes another before it runs out.
        self._first_track_id = store.reserve("track_id", TRACK_ID_BLOCK)
        self._reserved_until = self._first_track_id + TRACK_ID_BLOCK
        self.sensors = {s.id: _sensor_model(s, self.frame) for s in config.sensors}
        sights = {s.id: _sensor_sight(s, self.sensors[s.id]) for s in config.sensors}
        self.tracker = Tracker(config.tracker, first_track_id=self._first_track_id, sensors=sights)
        self.alerts = AlertEngine(
            build_zones(config.sites, self.frame),
            store,
            config.alerts,
            self.frame,
            sites=config.sites,
            sensors=config.sensors,
            watch_sensors=watch_sensors,
        )
        self._unknown_sensor = _sensor_model(None, self.frame)
        lag_s = config.tracker.reorder_lag_s
        lag_s += max((s.latency_s for s in config.sensors), default=0.0)
        self.reorder: ReorderBuffer[Detection] = ReorderBuffer(lag_s)
        # live and exercise identities apart, so an exercise serial never joins a real drone
        self.identities = {False: IdentityResolver(), True: IdentityResolver()}
        self.claims = {False: ClaimGate(), True: ClaimGate()}
        self.info: dict[int, _TrackInfo] = {}
        self.counters: Counter[str] = Counter()
        self.screen = Screen("engine", self.counters)  # bus peers are not trusted to check
        self._presence: list[Detection] = []
        self._touched: set[int] = set()  # track ids updated since the last step
        self._late: list[Detection] = []  # behind the reorder buffer, for the next step

    def ingest(self, detections: list[Detection]) -> None:
        """Take detections in arrival order; they reach the tracker in time order at the step
        that is the reorder lag past them. A detection older than what the buffer already
        released is late: it goes to the tracker at the next step (at once: next_step_unix),
        with the other late ones in time order, and the tracker applies it within its late
        tolerance or counts it. (Batched, not one by one: when the engine falls behind,
        everything arrives late, and one tracker call per detection would only fall further
        behind.) Implausible detections (a NaN time, an altitude of 1e308) are counted and
        skipped (``cuas.plausibility``)."""
        for det in self.screen.detections(detections):
            self.counters["detections"] += 1
            if det.kind is MeasurementKind.PRESENCE:
                self.counters["presence_detections"] += 1
                self._presence.append(det)
            elif not self.reorder.push(det.t_unix, det):
                self.counters["reorder_late"] += 1
                self._late.append(det)

    def _process(self, detections: list[Detection]) -> None:
        """Feed time-ordered detections, grouped into scans of one sensor at one time.

        Consecutive one-object reports of one sensor about objects already tracked by
        identity (a receiver's burst of Remote ID or ADS-B messages) go to the tracker as
        one batch of reports, each at its own time: the same result, far less work per
        message.
        """
        run: list[tuple[Detection, str]] = []  # reports of one sensor, distinct keys
        run_keys: set[str] = set()
        detections, all_keys = self._claims(detections)
        start = 0
        for (sensor_id, t_unix), group in groupby(
            detections, key=lambda d: (d.sensor_id, d.t_unix)
        ):
            scan = list(group)
            keys, start = all_keys[start : start + len(scan)], start + len(scan)
            key = keys[0]
            report = len(scan) == 1 and key is not None and self.tracker.has_key(key)
            if run and not (report and sensor_id == run[0][0].sensor_id and key not in run_keys):
                self._reports(run)
                run, run_keys = [], set()
            if report:
                run.append((scan[0], key))  # type: ignore[arg-type]
                run_keys.add(key)  # type: ignore[arg-type]
            else:
                self._scan(sensor_id, t_unix, scan, keys)
        if run:
            self._reports(run)

    def _claims(self, dets: list[Detection]) -> tuple[list[Detection], list[str | None]]:
        """The detections and their identity keys, each position checked against its
        identity's own history (``ClaimGate``): one the object cannot have reached is another
        object, keyed apart (``spoof:`` + key) and flagged ``possible_spoof``, never a jump of
        the identity's track; the identity's own messages are flagged too from then on (either
        may be the forger). Positions are converted to the site frame in one call."""
        dets = list(dets)
        keys = [self._identity_key(d) for d in dets]
        claimed = [
            i
            for i, (d, key) in enumerate(zip(dets, keys, strict=True))
            if key is not None and d.position is not None and d.kind is MeasurementKind.POSITION
        ]
        if not claimed:
            return dets, keys
        alt0 = self.frame.alt0_m
        lla = np.array(
            [
                (p.lat_deg, p.lon_deg, p.alt_m if p.alt_m is not None else alt0)
                for p in (dets[i].position for i in claimed)
            ]
        )
        enu = self.frame.from_geodetic(lla[:, 0], lla[:, 1], lla[:, 2]).reshape(-1, 3).tolist()
        for i, (e, n, u) in zip(claimed, enu, strict=True):
            det, key = dets[i], keys[i]
            assert key is not None
            gate = self.claims[det.exercise]
            if not gate.plausible(key, det.t_unix, (e, n, u)):
                self.counters["identity_claims_implausible"] += 1
                keys[i] = f"spoof:{key}"
            elif key not in gate.disputed:
                continue
            dets[i] = det.model_copy(update={"flags": [*det.flags, FLAG_POSSIBLE_SPOOF]})
        return dets, keys

    def _identity_key(self, det: Detection) -> str | None:
        key = self.identities[det.exercise].key(det.identity)
        return f"exercise:{key}" if det.exercise and key is not None else key

    def _reports(self, run: list[tuple[Detection, str]]) -> None:
        sensor_id = run[0][0].sensor_id
        sensor = self.sensors.get(sensor_id, self._unknown_sensor)
        dets, codes, z, R, used = self._measurements(sensor, [d for d, _ in run])
        if not dets:
            return
        result = self.tracker.process_reports(
            np.array([d.t_unix for d in dets]),
            sensor_id,
            self._batch(sensor, codes, z, R),
            [run[i][1] for i in used],
        )
        self.counters["late_detections"] += int(np.count_nonzero(result.track_ids < 0))
        self._absorb(dets, result.track_ids)

    def _scan(
        self, sensor_id: str, t_unix: float, scan: list[Detection], keys: list[str | None]
    ) -> None:
        sensor = self.sensors.get(sensor_id, self._unknown_sensor)
        dets, codes, z, R, used = self._measurements(sensor, scan)
        if not dets:
            return
        batch = self._batch(sensor, codes, z, R)
        result = self.tracker.process_measurements(
            t_unix, sensor_id, batch, [keys[i] for i in used], domain=int(dets[0].exercise)
        )
        if result.late:
            self.counters["late_detections"] += len(dets)
            return
        self._absorb(dets, result.track_ids)
        next_id = self._first_track_id + self.tracker.counters["tracks_started"]
        if next_id + len(dets) >= self._reserved_until:
            self._reserved_until = self.store.reserve("track_id", TRACK_ID_BLOCK) + TRACK_ID_BLOCK

    @staticmethod
    def _batch(
        sensor: _SensorModel, codes: np.ndarray, z: np.ndarray, R: np.ndarray
    ) -> MeasurementBatch:
        origin = sensor.enu_m if sensor.enu_m is not None else np.zeros(3)
        return MeasurementBatch(codes, z, R, origin, sensor.rot_local)

    def _absorb(self, dets: list[Detection], track_ids: np.ndarray) -> None:
        """Keep what the tracker does not (class, IDs, pilot) on the tracks detections made
        (-1: none, a late report or a bearing waiting to be crossed). A detection that
        carries none of it (most radar plots) only starts a track's record."""
        for det, track_id in zip(dets, track_ids.tolist(), strict=True):
            if track_id < 0:
                continue
            info = self.info.get(track_id)
            if info is None:
                info = self.info[track_id] = _TrackInfo()
            elif not _informative(det):
                continue
            info.merge(det)
        self._touched.update(track_ids[track_ids >= 0].tolist())

    def _measurements(
        self, sensor: _SensorModel, scan: list[Detection]
    ) -> tuple[list[Detection], np.ndarray, np.ndarray, np.ndarray, list[int]]:
        """The usable detections of a scan as model codes, z (k, 4) and R (k, 4, 4), and
        their indices in scan, built per scan in numpy (not per detection).

        Unusable ones are counted by reason: a missing field, or a polar or bearing
        measurement from a sensor with no configured position.
        """
        n = len(scan)
        kind = np.array([_KIND_INDEX[d.kind] for d in scan], np.int64)
        polar = np.array(
            [(d.range_m, d.azimuth_rad, d.elevation_rad, d.radial_velocity_mps) for d in scan],
            dtype=float,
        ).reshape(n, 4)  # None -> nan
        is_pos, is_polar, is_bearing = kind == 0, kind == 1, kind == 2
        usable = np.zeros(n, bool)
        codes = np.zeros(n, np.int64)
        z = np.zeros((n, ZDIM_MAX))
        var = np.zeros((n, ZDIM_MAX))
        noise = sensor.noise
        az_var = np.radians(noise.azimuth_deg) ** 2
        el_var = np.radians(noise.elevation_deg) ** 2
        if is_pos.any():
            pos_rows = np.flatnonzero(is_pos)
            points = [scan[i].position for i in pos_rows]
            have = np.array([p is not None for p in points])
            rows = pos_rows[have]
            if rows.size:
                alt0 = self.frame.alt0_m
                lla = np.array(
                    [
                        (p.lat_deg, p.lon_deg, alt0 if p.alt_m is None else p.alt_m)
                        for p in points
                        if p is not None
                    ]
                )
                z[rows, :3] = self.frame.from_geodetic(lla[:, 0], lla[:, 1], lla[:, 2])
                var[rows, :3] = noise.position_m**2
                codes[rows] = POSITION
                usable[rows] = True
            self.counters["incomplete_detections"] += int(np.count_nonzero(~have))
        if sensor.enu_m is None:
            self.counters["no_sensor_position"] += int(np.count_nonzero(is_polar | is_bearing))
        else:
            complete = is_polar & ~np.isnan(polar[:, :3]).any(axis=1)
            rate = complete & ~np.isnan(polar[:, 3])
            z[complete] = np.where(np.isnan(polar[complete]), 0.0, polar[complete])
            var[complete, :3] = (noise.range_m**2, az_var, el_var)
            var[rate, 3] = noise.radial_velocity_mps**2
            codes[complete] = np.where(rate[complete], RANGE_AZ_EL_RATE, RANGE_AZ_EL)
            bearing = is_bearing & ~np.isnan(polar[:, 1])
            with_el = bearing & ~np.isnan(polar[:, 2])
            z[bearing, :2] = np.where(np.isnan(polar[bearing, 1:3]), 0.0, polar[bearing, 1:3])
            var[bearing, 0] = az_var
            var[with_el, 1] = el_var
            codes[bearing] = np.where(with_el[bearing], BEARING_AZ_EL, BEARING_AZ)
            usable |= complete | bearing
            self.counters["incomplete_detections"] += int(
                np.count_nonzero((is_polar & ~complete) | (is_bearing & ~bearing))
            )
        used = np.flatnonzero(usable)
        R = np.zeros((used.size, ZDIM_MAX, ZDIM_MAX))
        diag = np.arange(ZDIM_MAX)
        R[:, diag, diag] = var[used]
        self._stated_covariances(scan, used, codes[used], R)
        return [scan[i] for i in used], codes[used], z[used], R, used.tolist()

    def _stated_covariances(
        self, scan: list[Detection], used: np.ndarray, codes: np.ndarray, R: np.ndarray
    ) -> None:
        """Put a detection's own covariance in R where it states one of the model's
        dimension (one array operation per dimension); count those of another shape."""
        dims = MEASUREMENT_DIM[codes]
        stated = [(i, scan[j].covariance) for i, j in enumerate(used.tolist())]
        for dz in np.unique(dims).tolist():
            rows, covs = [], []
            for i, cov in stated:
                if cov is not None and dims[i] == dz:
                    rows.append(i)
                    covs.append(cov)
            if not rows:
                continue
            try:
                block = np.array(covs, dtype=float)
            except ValueError:  # ragged: some are not dz x dz
                block = np.empty(0)
            if block.shape == (len(rows), dz, dz):
                R[rows, :dz, :dz] = block
                continue
            for i, cov in zip(rows, covs, strict=True):
                arr = np.asarray(cov, dtype=float)
                if arr.shape == (dz, dz):
                    R[i, :dz, :dz] = arr
                else:
                    self.counters["covariance_shape_ignored"] += 1

    def next_step_unix(self) -> float:
        """When a step next has work: detections the reorder buffer releases, or at once
        for late and presence detections (inf: none)."""
        if self._presence or self._late:
            return -math.inf
        return self.reorder.next_due_unix()

    def step(self, t_unix: float, *, full: bool = True) -> StepResult:
        """Apply the detections the reorder lag releases, advance the life cycle to
        ``t_unix``, evaluate the alert rules.

        A full step evaluates every live track that the zone rules could act on, or that
        the friend list names; a quick one (``full=False``) only those updated since the
        last step, so a detection's alert costs the same however many other drones are
        tracked. Both find the tracks near a zone on arrays (``may_contact``) and build
        Track objects only for those. Quick steps keep alerts fresh between full ones; the
        full step (at least every publish interval) is what clears alerts by time and what
        publishes the whole picture (built when ``StepResult.tracks`` is read).
        """
        late, self._late = self._late, []
        late.sort(key=lambda d: d.t_unix)
        self._process(late)
        self._process(self.reorder.release(t_unix))
        lost = self._tracks(self.tracker.advance(t_unix))
        for view in lost:
            self.info.pop(int(view.track_id[1:]), None)
        touched, self._touched = self._touched, set()
        ids = self._evaluated_ids(t_unix, None if full else touched)
        evaluated = self._tracks(self.tracker.tracks(t_unix, ids))
        presence, self._presence = self._presence, []
        alerts = self.alerts.evaluate(t_unix, evaluated, lost, presence, partial=not full)
        return StepResult(
            lost,
            alerts,
            presence,
            dict(self.alerts.friendly),
            (lambda: self._picture(t_unix, evaluated)) if full else (lambda: evaluated),
        )

    def _evaluated_ids(self, t_unix: float, touched: set[int] | None) -> np.ndarray:
        """The tracks a step evaluates, of those touched (None: every live track): those the
        zone rules could act on, and those of open zone alerts wherever they are (to keep,
        re-key or clear them with what is true); on a full step also the friends (the rules
        set them aside and report them)."""
        alerted = self._alerted_ids()
        if touched is not None:
            alerted = [i for i in alerted if i in touched]
        extra = alerted if touched is not None else alerted + self._friend_ids(t_unix)
        return np.union1d(self._near_zones(t_unix, touched), np.array(extra, np.int64))

    def _near_zones(self, t_unix: float, track_ids: set[int] | None) -> np.ndarray:
        """Those of track_ids (None: every live track) that could be in a zone, enter one
        within the rules' longest look-ahead or come within their hold distance of one
        (see ``may_contact``), from the tracker's arrays."""
        ids, x, std_m = self.tracker.states(t_unix, track_ids)
        cfg = self.alerts.config
        near = may_contact(
            self.alerts.zones,
            x[:, :2],
            x[:, 3:5],
            cfg.breach_sigma * std_m + cfg.hold_distance_m,
            cfg.breach_horizon_s * KEEP_HORIZON_FACTOR,
        )
        return ids[near]

    def _alerted_ids(self) -> list[int]:
        """Live tracks that open zone alerts name, by track id or by identity key."""
        out = []
        for object_key, track_id in self.alerts.zone_alert_objects():
            if object_key.startswith("track:"):
                number = _track_number(object_key.removeprefix("track:"))
            else:
                number = self.tracker.track_id_of(object_key)
            out += [n for n in (number, _track_number(track_id)) if n is not None]
        return out

    def _friend_ids(self, t_unix: float) -> list[int]:
        """Tracks whose identity the friend list names (the rules set them aside, and a
        full step clears their alerts, wherever they are)."""
        return [
            track_id
            for track_id, info in self.info.items()
            if info.identity
            and self.alerts.friend_of(Identity(**info.identity), t_unix) is not None
        ]

    def _picture(self, t_unix: float, evaluated: list[Track]) -> list[Track]:
        """Every live track at t_unix, the evaluated ones (with their breaches) as they are."""
        done = {track.track_id: track for track in evaluated}
        views = [v for v in self.tracker.tracks(t_unix) if f"T{v.track_id}" not in done]
        done.update((track.track_id, track) for track in self._tracks(views))
        return sorted(done.values(), key=lambda track: int(track.track_id[1:]))

    def _tracks(self, views: list[TrackView]) -> list[Track]:
        """Tracks of views, converted to WGS84 in one call (per track it costs more than the
        rest of building the track)."""
        if not views:
            return []
        x = np.array([v.x for v in views])
        lat, lon, alt = self.frame.to_geodetic(x[:, :3])
        pos_cov = np.array([v.P[:3, :3] for v in views])
        std_m = np.sqrt(np.trace(pos_cov, axis1=1, axis2=2) / 3.0)
        return [
            self._track(v, GeoPoint(lat_deg=la, lon_deg=lo, alt_m=al), row, s)
            for v, la, lo, al, row, s in zip(
                views, lat.tolist(), lon.tolist(), alt.tolist(), x.tolist(), std_m.tolist(),
                strict=True,
            )
        ]  # fmt: skip

    def _track(self, view: TrackView, position: GeoPoint, x: list[float], std_m: float) -> Track:
        info = self.info.get(view.track_id, _TrackInfo())
        identity = Identity(**info.identity)
        object_class, belief, sources = info.belief.decide()
        return Track(
            track_id=f"T{view.track_id}",
            site_id=self.site_id,
            t_unix=view.t_unix,
            status=TrackStatus(view.status),
            position=position,
            enu_m=(x[0], x[1], x[2]),
            velocity_enu_mps=(x[3], x[4], x[5]),
            position_std_m=std_m,
            object_class=object_class,
            class_source=sources[0] if sources else None,
            class_belief=belief,
            class_sources=sources,
            identity=identity,
            identity_key=view.identity_key,
            first_t_unix=None if math.isnan(info.first_t_unix) else info.first_t_unix,
            flags=list(info.flags),
            pilot=info.pilot,
            home=info.home,
            friendly=self.alerts.friend_of(identity, view.t_unix) if info.identity else None,
            exercise=view.exercise,
            sensors=sorted(view.sensors),
            hits=view.hits,
            quality=view.quality,
            mode_probabilities=view.mode_probabilities,
        )
