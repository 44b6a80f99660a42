"""Sensor observation models for ``cuas simulate``: what each kind of sensor sees, and how badly.

Four physics, by ``SensorSpec.kind``:

* ``remote_id`` (dragonsync, odid_frames): drones broadcasting Remote ID within range;
  their own GNSS position and velocity with noise, serial, operator ID, pilot position.
* ``adsb`` (sbs, beast): manned aircraft whose transponder is on, within range; position
  and velocity with noise, ICAO address and callsign.
* ``radar`` (asterix, sapient with detects = "radar"): everything in cover, birds included;
  range, azimuth, elevation and radial velocity each with Gaussian noise, a stable track
  number per object, and Poisson clutter at low elevation anywhere in cover.
* ``rf`` (rfserial, sapient with detects = "rf"): drones whose emitter is in one of the
  sensor's bands and heard above its sensitivity (free-space path loss); a noisy bearing,
  or presence only; RSSI with noise; Poisson false alarms.

An object in cover is seen with probability ``pd`` per scan. Each sensor draws from its
own generators seeded from (scenario seed, sensor index), so adding a sensor does not
change what the others see.

When, as real sensors report (issue 10):

* a rotating radar (``scan = "rotating"``, the default) sweeps clockwise from north once per
  ``update_interval_s`` from a random start phase; each plot carries the time its beam
  crossed the object (rotation start + azimuth / 360 deg x period), so the plots of one
  rotation carry different times. They go out per sector (``sectors`` frames a rotation),
  each when its sector is swept. Above ``max_elevation_deg`` (default 70 deg for a radar)
  is its cone of silence.
* RF nodes, Remote ID receivers and ADS-B feeds report each object on its own schedule:
  every object has its own phase in the report period, and each report is its own batch
  (its own latency jitter in the run loop).
* a ``classifier`` confusion table labels plots wrongly part of the time (aircraft and
  birds as UAV, drones as unknown); the label and a confidence go out where the protocol
  has a class field (SAPIENT).
"""

from __future__ import annotations

import math
from dataclasses import replace

import numpy as np
from numpy.typing import NDArray

from cuas.schema import ObjectClass
from cuas.sim.encode_common import Observation
from cuas.sim.motion import Motion, SimObject
from cuas.sim.scenario import Scenario, SensorSpec

Batch = tuple[float, list[Observation]]  # (t_unix the batch is sent, its observations)

RID_EIRP_DBM = 10.0  # Bluetooth/Wi-Fi Remote ID broadcast, a typical module
RID_FREQ_MHZ = 2437.0
CLUTTER_MAX_ELEVATION_DEG = 15.0  # clutter (ground, rain, birds too small to matter) sits low


def fspl_db(range_m: NDArray, freq_mhz: NDArray) -> NDArray:
    """Free-space path loss, dB: 20 log10(d / m) + 20 log10(f / MHz) - 27.55."""
    return 20 * np.log10(np.maximum(range_m, 1.0)) + 20 * np.log10(freq_mhz) - 27.55


def band_freq_mhz(band: str) -> float:
    """A nominal frequency for a band label such as 433M or 2.4G."""
    return float(band[:-1]) * (1000.0 if band.endswith("G") else 1.0)


def _wrap_2pi(angle_rad: NDArray) -> NDArray:
    return np.mod(angle_rad, 2 * math.pi)


class SensorModel:
    """One simulated sensor: its scan times and what it observes at each."""

    def __init__(
        self, spec: SensorSpec, index: int, scenario: Scenario, motion: Motion, seed: int
    ) -> None:
        self.spec = spec
        self.frame = scenario.frame
        self.start_unix = scenario.start_unix
        self.rng = np.random.default_rng([seed, 2, index])
        self.timing_rng = np.random.default_rng([seed, 4, index])
        self.class_rng = np.random.default_rng([seed, 5, index])
        p = spec.position
        self.pos_enu_m = self.frame.from_geodetic(p.lat_deg, p.lon_deg, p.alt_m)
        self.objects = motion.objects
        self.eligible = np.array([self._can_see(o) for o in motion.objects], dtype=bool)
        self.freq_mhz = np.array([o.rf.freq_mhz if o.rf else RID_FREQ_MHZ for o in self.objects])
        self.eirp_dbm = np.array([o.rf.eirp_dbm if o.rf else RID_EIRP_DBM for o in self.objects])
        self.phase_s = float(self.rng.uniform(0.0, spec.update_interval_s))
        # each object's own report phase within the period (per-object reporters)
        self.object_offset_s = self.timing_rng.uniform(
            0.0, spec.update_interval_s, len(self.objects)
        )
        self.track_ids: dict[str, int] = {}

    def _can_see(self, obj: SimObject) -> bool:
        kind = self.spec.kind
        if kind == "remote_id":
            return obj.remote_id is not None
        if kind == "adsb":
            return obj.transponder and obj.icao24 is not None
        if kind == "rf":
            bands = self.spec.bands
            return obj.rf is not None and (bands is None or obj.rf.band in bands)
        return True

    def scan_times_s(self, duration_s: float) -> NDArray:
        """Scan instants, seconds from the scenario start, at a random phase."""
        return np.arange(self.phase_s, duration_s, self.spec.update_interval_s)

    def in_cover(self, rel_enu_m: NDArray) -> tuple[NDArray, NDArray, NDArray, NDArray]:
        """(mask, range_m, azimuth_rad, elevation_rad) of ENU offsets from the sensor."""
        cov = self.spec.coverage
        horiz = np.hypot(rel_enu_m[:, 0], rel_enu_m[:, 1])
        rng_m = np.hypot(horiz, rel_enu_m[:, 2])
        az = _wrap_2pi(np.arctan2(rel_enu_m[:, 0], rel_enu_m[:, 1]))
        el = np.arctan2(rel_enu_m[:, 2], horiz)
        mask = (rng_m >= cov.min_range_m) & (rng_m <= cov.max_range_m)
        mask &= (el >= math.radians(cov.min_elevation_deg)) & (
            el <= math.radians(self.spec.max_elevation_deg)
        )
        if cov.azimuth_deg is not None:
            a0, a1 = cov.azimuth_deg
            width = (a1 - a0) % 360.0
            if width > 0:
                mask &= np.mod(np.degrees(az) - a0, 360.0) <= width
        return mask, rng_m, az, el

    def object_times_s(self, t_s: float, motion: Motion) -> NDArray:
        """When each object is seen in the scan starting at ``t_s``: at its beam crossing
        (rotating radar), at its own report phase (per-object reporters), else at ``t_s``."""
        spec = self.spec
        if spec.rotating:
            pos0 = motion.state_at(t_s)[0]
            rel0 = pos0 - self.pos_enu_m
            az0 = _wrap_2pi(np.arctan2(rel0[:, 0], rel0[:, 1]))
            return t_s + az0 / (2 * math.pi) * spec.update_interval_s
        if spec.per_object:
            return t_s + self.object_offset_s
        return np.full(len(self.objects), t_s)

    def observe(self, t_s: float, motion: Motion) -> list[Observation]:
        """What the sensor reports of the scan starting at ``t_s`` (noise, Pd, clutter and
        class confusion applied), each observation at its own time."""
        spec, rng, noise = self.spec, self.rng, self.spec.noise
        t_obj_s = self.object_times_s(t_s, motion)
        pos, vel, alive = motion.states_at(t_obj_s)
        rel = pos - self.pos_enu_m
        mask, rng_m, az, el = self.in_cover(rel)
        rssi = self.eirp_dbm - fspl_db(rng_m, self.freq_mhz)
        mask &= alive & self.eligible
        if spec.kind == "rf":
            mask &= rssi >= spec.sensitivity_dbm
        idx = np.flatnonzero(mask)
        idx = idx[rng.random(len(idx)) < spec.pd]
        n = len(idx)
        out: list[Observation] = []
        if spec.kind in ("remote_id", "adsb"):
            p = pos[idx] + rng.normal(0.0, noise.position_m, (n, 3))
            r, a, e = (None,) * n, (None,) * n, (None,) * n
            rv: tuple[float | None, ...] = (None,) * n
        elif spec.kind == "radar":
            r = rng_m[idx] + rng.normal(0.0, noise.range_m, n)
            r = np.maximum(r, 1.0)
            a = _wrap_2pi(az[idx] + rng.normal(0.0, math.radians(noise.azimuth_deg), n))
            e = el[idx] + rng.normal(0.0, math.radians(noise.elevation_deg), n)
            los = rel[idx] / np.maximum(rng_m[idx], 1e-6)[:, None]
            rv = np.sum(vel[idx] * los, axis=1) + rng.normal(0.0, noise.radial_velocity_mps, n)
            p = self._polar_to_enu(r, a, e)
        else:  # rf: a bearing or nothing about where; the position is the truth, unused
            p = pos[idx]
            r, e, rv = (None,) * n, (None,) * n, (None,) * n
            if spec.mode == "bearing":
                a = _wrap_2pi(az[idx] + rng.normal(0.0, math.radians(noise.azimuth_deg), n))
            else:
                a = (None,) * n
        v = vel[idx] + rng.normal(0.0, noise.velocity_mps, (n, 3))
        rssi_seen = rssi[idx] + rng.normal(0.0, noise.rssi_db, n)
        lat, lon, alt = self.frame.to_geodetic(p) if n else ((), (), ())
        for j, i in enumerate(idx):
            obj = self.objects[i]
            out.append(
                self._observation(
                    self.start_unix + float(t_obj_s[i]),
                    obj,
                    float(lat[j]),
                    float(lon[j]),
                    float(alt[j]),
                    (float(v[j, 0]), float(v[j, 1]), float(v[j, 2])),
                    _opt(r[j]),
                    _opt(a[j]),
                    _opt(e[j]),
                    _opt(rv[j]),
                    float(rssi_seen[j]),
                )
            )
        out += self._clutter(t_s)
        if spec.classifier:
            out = [self._labelled(o) for o in out]
        out.sort(key=lambda o: o.t_unix)  # as the beam sweeps, or as each report comes
        return out

    def _labelled(self, obs: Observation) -> Observation:
        """The classifier's label for one report, drawn from its confusion row, and a
        confidence that says nothing about whether the label is right."""
        assert self.spec.classifier is not None
        row = self.spec.classifier.get(obs.object_class.value, {})
        u = float(self.class_rng.random())
        lo, hi = self.spec.class_confidence
        confidence = round(float(self.class_rng.uniform(lo, hi)), 3)
        label = obs.object_class
        for name, p in sorted(row.items()):
            if u < p:
                label = ObjectClass(name)
                break
            u -= p
        return replace(obs, reported_class=label, class_confidence=confidence)

    def batches(self, t_s: float, observations: list[Observation]) -> list[Batch]:
        """The observations of one scan as the sensor sends them: per sector swept (rotating
        radar), per report (per-object reporters), else all at once; at least one batch, so
        that status messages go out on scans that saw nothing."""
        spec = self.spec
        t_scan = self.start_unix + t_s
        if not observations:
            return [(t_scan, [])]
        if spec.per_object:
            return [(o.t_unix, [o]) for o in observations]
        if not spec.rotating:
            return [(t_scan, observations)]
        sector_s = spec.update_interval_s / spec.sectors
        by_sector: dict[int, list[Observation]] = {}
        for o in observations:
            k = min(int((o.t_unix - t_scan) / sector_s), spec.sectors - 1)
            by_sector.setdefault(k, []).append(o)
        return [(t_scan + (k + 1) * sector_s, obs) for k, obs in sorted(by_sector.items())]

    def _polar_to_enu(self, r: NDArray, a: NDArray, e: NDArray) -> NDArray:
        horiz = r * np.cos(e)
        rel = np.column_stack([horiz * np.sin(a), horiz * np.cos(a), r * np.sin(e)])
        return rel + self.pos_enu_m

    def _observation(
        self,
        t_unix: float,
        obj: SimObject,
        lat: float,
        lon: float,
        alt: float,
        vel: tuple[float, float, float],
        range_m: float | None,
        az: float | None,
        el: float | None,
        rv: float | None,
        rssi_dbm: float,
    ) -> Observation:
        kind = self.spec.kind
        rid = obj.remote_id if kind == "remote_id" else None
        rf = obj.rf if kind == "rf" else None
        pilot = None
        if rid is not None and rid.pilot is not None:
            pilot = (rid.pilot.lat_deg, rid.pilot.lon_deg)
        heard = kind in ("rf", "remote_id")
        return Observation(
            t_unix=t_unix,
            object_id=obj.object_id,
            object_class=obj.object_class,
            lat_deg=lat,
            lon_deg=lon,
            alt_m=alt,
            vel_enu_mps=vel,
            range_m=range_m,
            azimuth_rad=az,
            elevation_rad=el,
            radial_velocity_mps=rv,
            rid_serial=rid.serial if rid else None,
            operator_id=rid.operator_id if rid else None,
            pilot=pilot,
            icao24=obj.icao24 if kind == "adsb" else None,
            callsign=obj.callsign if kind == "adsb" else None,
            rf_band=rf.band if rf else None,
            rf_protocol=rf.protocol if rf else None,
            rssi_dbm=round(rssi_dbm, 1) if heard else None,
            freq_mhz=(rf.freq_mhz if rf else RID_FREQ_MHZ) if heard else None,
            sensor_track_id=self._track_id(obj.object_id) if kind in ("radar", "rf") else None,
        )

    def _track_id(self, object_id: str) -> int:
        return self.track_ids.setdefault(object_id, len(self.track_ids) + 1)

    def _clutter(self, t_s: float) -> list[Observation]:
        """Poisson false reports: radar plots low in cover (timed at their beam crossing),
        RF false alarms at any bearing, at any time of the report period."""
        spec, rng = self.spec, self.rng
        if not spec.clutter_per_scan:
            return []
        n = int(rng.poisson(spec.clutter_per_scan))
        if n == 0:
            return []
        cov = spec.coverage
        if cov.azimuth_deg is None or (cov.azimuth_deg[1] - cov.azimuth_deg[0]) % 360 == 0:
            a0, width = 0.0, 360.0
        else:
            a0, width = cov.azimuth_deg[0], (cov.azimuth_deg[1] - cov.azimuth_deg[0]) % 360
        a = _wrap_2pi(np.radians(a0 + rng.uniform(0.0, width, n)))
        if self.spec.rotating:
            t_unix = self.start_unix + t_s + a / (2 * math.pi) * spec.update_interval_s
        elif spec.per_object:
            t_unix = self.start_unix + t_s + self.timing_rng.uniform(0, spec.update_interval_s, n)
        else:
            t_unix = np.full(n, self.start_unix + t_s)
        out = []
        if spec.kind == "radar":
            # uniform over the area of the annulus, low in the elevation cover
            r = np.sqrt(rng.uniform(cov.min_range_m**2, cov.max_range_m**2, n))
            el_hi = min(spec.max_elevation_deg, cov.min_elevation_deg + CLUTTER_MAX_ELEVATION_DEG)
            e = np.radians(rng.uniform(max(cov.min_elevation_deg, -2.0), el_hi, n))
            rv = rng.normal(0.0, 2.0, n)
            lat, lon, alt = self.frame.to_geodetic(self._polar_to_enu(r, a, e))
            for j in range(n):
                obs = _clutter_obs(float(t_unix[j]), float(lat[j]), float(lon[j]), float(alt[j]))
                out.append(
                    replace(
                        obs,
                        range_m=float(r[j]),
                        azimuth_rad=float(a[j]),
                        elevation_rad=float(e[j]),
                        radial_velocity_mps=float(rv[j]),
                    )
                )
            return out
        band = spec.bands[0] if spec.bands else "2.4G"
        rssi = spec.sensitivity_dbm + rng.uniform(0.0, 6.0, n)
        p = spec.position
        for j in range(n):
            obs = _clutter_obs(float(t_unix[j]), p.lat_deg, p.lon_deg, p.alt_m or 0.0)
            out.append(
                replace(
                    obs,
                    azimuth_rad=float(a[j]) if spec.mode == "bearing" else None,
                    rf_band=band,
                    rf_protocol="UNKNOWN",
                    rssi_dbm=round(float(rssi[j]), 1),
                    freq_mhz=band_freq_mhz(band),
                )
            )
        return out


def _opt(value: object) -> float | None:
    return None if value is None else float(value)  # type: ignore[arg-type]


def _clutter_obs(t_unix: float, lat_deg: float, lon_deg: float, alt_m: float) -> Observation:
    """A report of nothing: no object, no identity, no class."""
    return Observation(
        t_unix=t_unix,
        object_id=None,
        object_class=ObjectClass.UNKNOWN,
        lat_deg=lat_deg,
        lon_deg=lon_deg,
        alt_m=alt_m,
        vel_enu_mps=(0.0, 0.0, 0.0),
        range_m=None,
        azimuth_rad=None,
        elevation_rad=None,
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
