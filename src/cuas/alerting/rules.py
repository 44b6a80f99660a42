"""What the alert rules look at: zone contacts of tracks, emitter keys, sensor-to-site.

A zone contact is a track inside a zone, or one predicted to enter it within the breach
horizon: its position is carried forward at constant velocity and the swept path, grown
by ``breach_sigma`` position standard deviations, is tested against the zone. A track
inside one of its site's ``ignore`` zones has no contact at that site.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from cuas.alerting.zones import ZoneShape
from cuas.config import SensorConfig
from cuas.geo import EnuFrame
from cuas.schema import Detection, GeoPoint, Site, Track

RULE_DRONE_IN_ZONE = "drone_in_zone"
RULE_TIME_TO_BREACH = "time_to_breach"
RULE_RF_PRESENCE = "rf_presence"
RULE_SENSOR_COVERAGE = "sensor_coverage"
ZONE_RULES = (RULE_DRONE_IN_ZONE, RULE_TIME_TO_BREACH)


def object_key(track: Track) -> str:
    """The identity an alert follows: the broadcast ID when there is one, else the track."""
    return track.identity_key or f"track:{track.track_id}"


def emitter_key(det: Detection) -> str:
    """The identity a presence alert follows: an ID the emitter sent, else its RF signature
    (protocol and band, or frequency to 1 MHz), else the sensor that heard it."""
    tokens = det.identity.tokens()
    if tokens:
        return tokens[0]
    sig = det.signature
    if sig is not None and (sig.protocol or sig.band):
        return f"rf:{sig.protocol or '-'}/{sig.band or '-'}"
    if sig is not None and sig.freq_mhz is not None:
        return f"rf:{sig.freq_mhz:.0f}MHz"
    return f"rf:{det.sensor_id}"


@dataclass(frozen=True)
class ZoneContact:
    track: Track
    shape: ZoneShape
    inside: bool
    time_to_breach_s: float | None = None  # set when predicted, not inside
    breach_point: GeoPoint | None = None  # where the predicted path crosses into the zone


def zone_contacts(
    tracks: Sequence[Track],
    shapes: Sequence[ZoneShape],
    frame: EnuFrame,
    horizon_s: float,
    sigma: float,
) -> list[ZoneContact]:
    """Every (track, zone) the track is inside or predicted to enter within ``horizon_s``.

    The entry time is the earliest moment the track, within ``sigma`` standard deviations
    of its position, could be in the zone (conservative); the entry point is where its
    nominal path crosses the boundary, or, when only the margin reaches the zone, the
    nominal position at the entry time."""
    if not tracks:
        return []
    enu = np.array([tr.enu_m for tr in tracks], dtype=float)
    vel = np.array([tr.velocity_enu_mps for tr in tracks], dtype=float)
    alt = np.array([tr.position.alt_m or 0.0 for tr in tracks], dtype=float)
    margin = sigma * np.array([tr.position_std_m for tr in tracks], dtype=float)
    p, v = enu[:, :2], vel[:, :2]
    ignored: dict[str, np.ndarray] = {}
    for shape in shapes:
        if shape.ignore:
            prev = ignored.get(shape.site.id, np.zeros(len(tracks), dtype=bool))
            ignored[shape.site.id] = prev | shape.contains(p, alt)
    contacts = []
    for shape in shapes:
        if shape.ignore:
            continue
        inside = shape.contains(p, alt)
        if horizon_s > 0:
            t = shape.entry_time_s(p, v, alt, vel[:, 2], margin, horizon_s)
        else:
            t = np.full(len(tracks), np.inf)
        suppressed = ignored.get(shape.site.id)
        hit = inside | np.isfinite(t)
        if suppressed is not None:
            hit &= ~suppressed
        idx = np.flatnonzero(hit)
        if len(idx) == 0:
            continue
        nominal = shape.entry_time_s(
            p[idx], v[idx], alt[idx], vel[idx, 2], np.zeros(len(idx)), horizon_s
        )
        for i, t_nominal in zip(idx, nominal, strict=True):
            if inside[i]:
                contacts.append(ZoneContact(tracks[i], shape, True))
                continue
            t_point = t_nominal if np.isfinite(t_nominal) else t[i]
            lat, lon, h = frame.to_geodetic(enu[i] + vel[i] * t_point)
            point = GeoPoint(lat_deg=float(lat), lon_deg=float(lon), alt_m=float(h))
            contacts.append(ZoneContact(tracks[i], shape, False, float(t[i]), point))
    return contacts


def sensor_sites(
    sites: Sequence[Site], sensors: Sequence[SensorConfig], frame: EnuFrame
) -> dict[str, str]:
    """The site each sensor's site-level alerts belong to: the one whose reference point is
    nearest the sensor's configured position; the first site for a sensor without one."""
    refs = np.array(
        [
            frame.from_geodetic(
                s.reference.lat_deg, s.reference.lon_deg, s.reference.alt_m or 0.0
            ).reshape(3)
            for s in sites
        ]
    )
    out = {}
    for sensor in sensors:
        pos = sensor.position
        if pos is None:
            out[sensor.id] = sites[0].id
            continue
        here = frame.from_geodetic(pos.lat_deg, pos.lon_deg, pos.alt_m or 0.0).reshape(3)
        out[sensor.id] = sites[int(np.argmin(np.linalg.norm(refs[:, :2] - here[:2], axis=1)))].id
    return out
