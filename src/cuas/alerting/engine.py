"""Alert rules v0: a confirmed drone track inside a zone raises one alert per object and zone.

Life cycle: raised -> (acknowledged by an operator, through the API) -> cleared when the
object has been outside the zone for ``clear_after_s`` (hysteresis, so an object on the
boundary does not flap) or its track is lost. Every transition goes through the store,
which keeps the audit rows. After a restart, open alerts are adopted again by object
key, so a drone known by its Remote ID keeps its alert.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np

from cuas.alerting.zones import ZoneShape
from cuas.config import AlertSection
from cuas.schema import Alert, Track, TrackStatus
from cuas.store.sqlite import Store

log = logging.getLogger(__name__)

RULE_DRONE_IN_ZONE = "drone_in_zone"
ALERTING_STATUSES = {TrackStatus.CONFIRMED, TrackStatus.COASTING}


def object_key(track: Track) -> str:
    """The identity an alert follows: the broadcast ID when there is one, else the track."""
    return track.identity_key or f"track:{track.track_id}"


@dataclass
class _Open:
    alert_id: int
    last_inside_t: float
    track: Track | None


class AlertEngine:
    def __init__(self, zones: list[ZoneShape], store: Store, config: AlertSection) -> None:
        self.zones = zones
        self.store = store
        self.config = config
        self.classes = set(config.drone_classes)
        self._open: dict[tuple[str, str, str], _Open] = {}
        self._adopt_t: float | None = None
        for alert in store.open_alerts():
            key = (alert.object_key, alert.site_id, alert.zone_id)
            self._open[key] = _Open(alert.alert_id, float("nan"), alert.track)

    def evaluate(self, t_unix: float, tracks: list[Track], lost: list[Track]) -> list[Alert]:
        """Apply the rules to the live tracks at ``t_unix``; returns alerts that changed."""
        changed: list[Alert] = []
        for state in self._open.values():
            if np.isnan(state.last_inside_t):  # adopted after a restart: clock starts now
                state.last_inside_t = t_unix
        candidates = [
            tr
            for tr in tracks
            if tr.status in ALERTING_STATUSES and tr.object_class.value in self.classes
        ]
        if candidates:
            points = np.array([tr.enu_m[:2] for tr in candidates])
            alts = np.array([tr.position.alt_m or 0.0 for tr in candidates])
            for shape in self.zones:
                inside = shape.contains(points, alts)
                for track in (tr for tr, ok in zip(candidates, inside, strict=True) if ok):
                    changed.extend(self._inside(t_unix, track, shape))
        lost_keys = {object_key(tr): tr for tr in lost}
        for key, state in list(self._open.items()):
            lost_track = lost_keys.get(key[0])
            if lost_track is not None and state.last_inside_t < t_unix:
                reason = f"track {lost_track.track_id} lost"
            elif t_unix - state.last_inside_t > self.config.clear_after_s:
                reason = f"outside the zone for {self.config.clear_after_s:g} s"
            else:
                continue
            del self._open[key]
            changed.append(self.store.clear(state.alert_id, t_unix, reason, state.track))
        return changed

    def _inside(self, t_unix: float, track: Track, shape: ZoneShape) -> list[Alert]:
        key = (object_key(track), shape.site.id, shape.zone.id)
        state = self._open.get(key)
        if state is not None:
            state.last_inside_t = t_unix
            state.track = track
            return []
        alert = self.store.raise_alert(
            site_id=shape.site.id,
            zone_id=shape.zone.id,
            zone_level=shape.zone.level,
            rule=RULE_DRONE_IN_ZONE,
            object_key=key[0],
            track=track,
            t_unix=t_unix,
            reason=f"{track.object_class.value} track {track.track_id} inside {shape.zone.name}",
        )
        log.info(
            "ALERT %d raised: %s %s in %s/%s",
            alert.alert_id,
            track.track_id,
            key[0],
            shape.site.id,
            shape.zone.id,
        )
        self._open[key] = _Open(alert.alert_id, t_unix, track)
        return [alert]
