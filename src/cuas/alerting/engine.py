"""The alert engine: tracks, presence detections and sensor health in, alert transitions out.

Rules (``cuas.alerting.rules``):

- ``drone_in_zone``: a confirmed (or coasting) track of a drone class inside a zone;
- ``time_to_breach``: such a track predicted to enter a zone within ``[alerts]
  breach_horizon_s``: a pre-alert with the predicted time and entry point;
- ``rf_presence``: a presence-only RF detection of a drone class, one alert per emitter and
  site, cleared after ``presence_clear_after_s`` without another;
- ``sensor_coverage``: a sensor silent for ``sensor_silent_after_s``, or reporting itself
  degraded or offline, one alert per sensor, cleared when it reports OK again.

Manned aircraft never raise drone alerts, nor do objects on the friend list (their track
ids and the matching entry are in ``friendly``), unless the track is flagged
``possible_spoof`` (its identity was also heard where the object cannot be: the identity is
a claim, and a forged friend's serial must not silence a real drone). Tracks inside an
``ignore`` zone raise nothing at that site.

Identity grace: a track younger than ``identity_grace_s`` (from its first detection) in the
cover of a Remote ID receiver (``cuas.alerting.grace``), known by no serial, registration or
ICAO address yet (a MAC alone does not end it: the serial follows in a Basic ID message),
raises no new alert, so that a friend taking off inside a zone is identified by its first
Remote ID messages (F3411: location at 1 Hz, Basic ID at least every 3 s) before anything
pages the operator. A hostile take-off is alerted when its own identity arrives, or
``identity_grace_s`` after its first detection, or at its confirmation when that is later:
the grace costs at most that many seconds, only for tracks that young.

Exercise: an alert is ``exercise`` when its track is (zone rules), its detection is
(``rf_presence``) or its sensor is an exercise sensor (``sensor_coverage``). An exercise
sensor whose scenario has played to its end is not a coverage loss: its alert clears.

Life cycle: one alert per object and zone. A pre-alert (``time_to_breach``) is the same
alert that escalates to ``drone_in_zone`` (state ``escalated``, a new acknowledgement
needed) when the object enters; an object that enters a higher-level zone raises that
zone's own alert (or escalates its pre-alert), so the zone dimension stays one alert each.
A pre-alert is raised when entry is predicted within ``breach_horizon_s`` and held while it
stays predicted within ``KEEP_HORIZON_FACTOR`` times that (hysteresis on the horizon, so an
ingress whose time to breach hovers at the horizon, or a drone hovering at a zone's edge
whose velocity estimate wanders, keeps its one alert). An alert clears once its condition
has been gone for ``clear_after_s``, with a reason that states the object's state when it is
written (outside and not heading in, no longer classed a drone, no live track), or at once
when the track is lost, turns out to be a friend or a manned aircraft; an operator then
resolves it. A partial evaluation never clears by time. When a track without an identity
gets one (a Remote ID serial, MAC, ICAO address), its open alerts are re-keyed to the
object at once, audited, and re-evaluated in the same step (a friend or a manned aircraft
clears them with that reason). Every transition goes through the store, which keeps the
audit rows. After a restart open alerts are adopted again by object key, so a drone known
by its Remote ID keeps its alert.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np

from cuas.alerting.friends import FriendMatcher
from cuas.alerting.grace import RemoteIdCover
from cuas.alerting.rules import (
    RULE_DRONE_IN_ZONE,
    RULE_RF_PRESENCE,
    RULE_SENSOR_COVERAGE,
    RULE_TIME_TO_BREACH,
    ZONE_RULES,
    ZoneContact,
    emitter_key,
    object_key,
    sensor_sites,
    zone_contacts,
)
from cuas.alerting.zones import ZoneShape
from cuas.config import AlertSection, SensorConfig
from cuas.geo import EnuFrame
from cuas.schema import (
    FLAG_POSSIBLE_SPOOF,
    SOURCE_ENDED,
    Alert,
    Breach,
    Detection,
    Identity,
    ObjectClass,
    SensorState,
    SensorStatus,
    Site,
    Track,
    TrackStatus,
)
from cuas.store.lists import FriendStore
from cuas.store.sqlite import AlertEvidence, Store

log = logging.getLogger(__name__)

ALERTING_STATUSES = {TrackStatus.CONFIRMED, TrackStatus.COASTING}
KEEP_HORIZON_FACTOR = 2.0  # an open pre-alert holds while entry is predicted within 2 horizons
FRIENDS_RELOAD_S = 1.0  # how soon a friend list change made through the API applies

# Open alerts are keyed by (family, object key, site id, zone id or "").
_ZONE, _PRESENCE, _COVERAGE = "zone", "presence", "coverage"
_Key = tuple[str, str, str, str]


def _family(rule: str) -> str:
    if rule in ZONE_RULES:
        return _ZONE
    return _PRESENCE if rule == RULE_RF_PRESENCE else _COVERAGE


@dataclass
class _Open:
    alert: Alert
    last_t: float  # when its condition last held; NaN for an alert adopted after a restart
    track: Track | None = None


@dataclass
class _Heard:
    t_unix: float
    state: SensorState
    detail: str
    ended: bool = False  # its source has no more input (a replay or scenario played out)


class AlertEngine:
    def __init__(
        self,
        zones: list[ZoneShape],
        store: Store,
        config: AlertSection,
        frame: EnuFrame,
        *,
        sites: Sequence[Site] = (),
        sensors: Sequence[SensorConfig] = (),
        watch_sensors: bool = False,
    ) -> None:
        """``watch_sensors``: run the coverage rule (the engine process, which gets sensor
        status; a replay has none)."""
        self.zones = zones
        self._shapes = {(z.site.id, z.zone.id): z for z in zones}
        self.rid_cover = RemoteIdCover(sensors, frame)
        self.store = store
        self.config = config
        self.frame = frame
        self.classes = set(config.drone_classes) - {ObjectClass.MANNED_AIRCRAFT.value}
        sites = list(sites) or list({s.site.id: s.site for s in zones}.values())
        self.default_site_id = sites[0].id if sites else ""
        self.sensor_sites = sensor_sites(sites, sensors, frame) if sites else {}
        self.exercise_sensors = {s.id for s in sensors if s.exercise}
        self.watch_sensors = watch_sensors
        self.friends = FriendStore(store)
        self.friends.sync_config(config.friends, time.time())
        self._matcher = FriendMatcher(self.friends.list())
        self._friends_t = -math.inf
        self.friendly: dict[str, str] = {}  # track id -> the friend list entry, latest step
        self._heard: dict[str, _Heard] = {}
        self._coverage_t0: float | None = None
        self._open: dict[_Key, _Open] = {}
        for alert in store.open_alerts():
            key = (_family(alert.rule), alert.object_key, alert.site_id, alert.zone_id or "")
            self._open[key] = _Open(alert, math.nan, alert.track)

    # -- inputs -------------------------------------------------------------------------
    def on_status(self, t_rx_unix: float, statuses: Iterable[SensorStatus]) -> None:
        """Sensor status as received (``t_rx_unix`` is our clock, not the sender's)."""
        for status in statuses:
            ended = status.counters.get(SOURCE_ENDED, 0) > 0
            self._heard[status.sensor_id] = _Heard(t_rx_unix, status.state, status.detail, ended)

    def zone_alert_objects(self) -> list[tuple[str, str | None]]:
        """(object key, track id) of every open zone alert: the fusion engine evaluates
        their tracks on every full step, wherever they are."""
        return [
            (key[1], state.alert.track_id) for key, state in self._open.items() if key[0] == _ZONE
        ]

    def friend_of(self, identity: Identity, t_unix: float) -> str | None:
        """The friend list entry ``identity`` matches at ``t_unix`` (as the operator reads
        it), else None; the list as of the latest reload (``FRIENDS_RELOAD_S``)."""
        friend = self._matcher.match(identity, t_unix)
        return friend.describe() if friend is not None else None

    def evaluate(
        self,
        t_unix: float,
        tracks: list[Track],
        lost: list[Track],
        presence: Sequence[Detection] = (),
        *,
        partial: bool = False,
    ) -> list[Alert]:
        """Apply the rules at ``t_unix``; returns the alerts that changed.

        ``partial``: ``tracks`` holds only some live tracks (those just updated), so an
        open alert of a track not among them is not cleared for want of its condition;
        a full evaluation does that.
        """
        for state in self._open.values():
            if math.isnan(state.last_t):  # adopted after a restart: its clock starts now
                state.last_t = t_unix
        self._reload_friends(t_unix)
        changed = self._rekey(t_unix, tracks)
        candidates, set_aside = self._candidates(t_unix, tracks, partial)
        horizon_s = self.config.breach_horizon_s
        contacts = zone_contacts(
            candidates,
            self.zones,
            self.frame,
            horizon_s * KEEP_HORIZON_FACTOR,
            self.config.breach_sigma,
        )
        for track in candidates:
            track.breaches = []
        for contact in contacts:
            ttb_s = contact.time_to_breach_s
            within = contact.inside or (ttb_s is not None and ttb_s <= horizon_s)
            if not contact.inside and within:
                contact.track.breaches.append(
                    Breach(
                        site_id=contact.shape.site.id,
                        zone_id=contact.shape.zone.id,
                        time_to_breach_s=max(0.0, ttb_s),
                        point=contact.breach_point,
                    )
                )
            changed.extend(self._zone_contact(t_unix, contact, within))
        self._hold(t_unix, candidates, contacts)
        changed.extend(self._clear_zone_alerts(t_unix, tracks, lost, set_aside, not partial))
        changed.extend(self._presence(t_unix, presence))
        if self.watch_sensors:
            changed.extend(self._coverage(t_unix))
        return changed

    # -- zone rules ---------------------------------------------------------------------
    def _rekey(self, t_unix: float, tracks: list[Track]) -> list[Alert]:
        """Open zone alerts keyed by a track id whose track now has an identity follow the
        object's key from now on (audited); they are evaluated under it in this step."""
        by_track: dict[str, list[_Key]] = {}
        for key in self._open:
            if key[0] == _ZONE and key[1].startswith("track:"):
                by_track.setdefault(key[1], []).append(key)
        if not by_track:
            return []
        changed = []
        for track in tracks:
            keys = by_track.get(f"track:{track.track_id}")
            new_key = object_key(track)
            if not keys or new_key.startswith("track:"):
                continue
            for key in keys:
                state = self._open.pop(key)
                moved = (key[0], new_key, key[2], key[3])
                reason = f"track {track.track_id} identified as {new_key}"
                if moved in self._open:  # the object already has this zone's alert
                    self._open[key] = state
                    changed.append(
                        self._clear(
                            key,
                            t_unix,
                            f"{reason}: same object as alert {self._open[moved].alert.alert_id}",
                        )
                    )
                    continue
                state.alert = self.store.rekey(state.alert.alert_id, t_unix, new_key, reason, track)
                state.track = track
                log.info("ALERT %d re-keyed: %s", state.alert.alert_id, reason)
                self._open[moved] = state
                changed.append(state.alert)
        return changed

    def _candidates(
        self, t_unix: float, tracks: list[Track], partial: bool
    ) -> tuple[list[Track], dict[str, str]]:
        """Tracks the drone rules apply to, and the object keys set aside at once with the
        reason: friends (with their entry) and manned aircraft."""
        if partial:
            for track in tracks:
                self.friendly.pop(track.track_id, None)
        else:
            self.friendly = {}
        set_aside: dict[str, str] = {}
        out = []
        for track in tracks:
            if track.status not in ALERTING_STATUSES:
                continue
            if track.object_class is ObjectClass.MANNED_AIRCRAFT:
                set_aside[object_key(track)] = f"manned aircraft: {_class_evidence(track)}"
                continue
            if track.object_class not in self.classes:
                continue
            friend = self._matcher.match(track.identity, t_unix)
            if friend is None or FLAG_POSSIBLE_SPOOF in track.flags:
                out.append(track)
                continue
            self.friendly[track.track_id] = friend.describe()
            set_aside[object_key(track)] = f"friendly: {friend.describe()}"
        return out, set_aside

    def _zone_contact(self, t_unix: float, c: ZoneContact, within: bool) -> list[Alert]:
        """Apply one contact; ``within``: inside, or entry predicted within the horizon (a
        contact beyond it only holds an open pre-alert)."""
        track, zone, site = c.track, c.shape.zone, c.shape.site
        key = (_ZONE, object_key(track), site.id, zone.id)
        state = self._open.get(key)
        if state is None and (not within or self._in_grace(t_unix, track)):
            return []
        if state is not None:
            state.last_t, state.track = t_unix, track
            if not (c.inside and state.alert.rule == RULE_TIME_TO_BREACH):
                return []
            predicted = state.alert.time_to_breach_s
            after = t_unix - state.alert.raised_t_unix
            reason = f"entered {zone.name} {after:.1f} s after the pre-alert"
            if predicted is not None:
                reason += f" (predicted {predicted:.1f} s)"
            state.alert = self.store.escalate(
                state.alert.alert_id, t_unix, rule=RULE_DRONE_IN_ZONE, reason=reason, track=track
            )
            log.info("ALERT %d escalated: %s", state.alert.alert_id, reason)
            return [state.alert]
        what = f"{track.object_class.value} track {track.track_id} ({key[1]})"
        if FLAG_POSSIBLE_SPOOF in track.flags:
            what += ", possible spoofed Remote ID"
        if c.inside:
            rule, reason = RULE_DRONE_IN_ZONE, f"{what} inside {zone.name}"
        else:
            rule = RULE_TIME_TO_BREACH
            reason = f"{what} predicted to enter {zone.name} in {c.time_to_breach_s:.1f} s"
        alert = self.store.raise_alert(
            site_id=site.id,
            zone_id=zone.id,
            zone_level=zone.level,
            rule=rule,
            object_key=key[1],
            track=track,
            t_unix=t_unix,
            reason=reason,
            evidence=AlertEvidence.of_track(
                track, time_to_breach_s=c.time_to_breach_s, breach_point=c.breach_point
            ),
            exercise=track.exercise,
        )
        log.info("ALERT %d raised: %s (%s)", alert.alert_id, reason, site.id)
        self._open[key] = _Open(alert, t_unix, track)
        return [alert]

    def _hold(self, t_unix: float, candidates: list[Track], contacts: list[ZoneContact]) -> None:
        """Open zone alerts whose object has no contact but whose level path comes within
        ``hold_distance_m`` of the zone (beyond its position margin) within the keep horizon
        hold: a drone hovering at a zone's edge, whose velocity estimate points in and out,
        or closing while its vertical velocity estimate (the noisiest) points under the
        zone's floor, keeps its one alert."""
        touched = {(object_key(c.track), c.shape.site.id, c.shape.zone.id) for c in contacts}
        waiting = [k for k in self._open if k[0] == _ZONE and k[1:] not in touched]
        if not waiting:
            return
        by_key = {object_key(tr): tr for tr in candidates}
        for key in waiting:
            track, shape = by_key.get(key[1]), self._shapes.get((key[2], key[3]))
            if track is None or shape is None:
                continue
            margin_m = self.config.breach_sigma * track.position_std_m + self.config.hold_distance_m
            near = shape.entry_time_s(
                np.array([track.enu_m[:2]]),
                np.array([track.velocity_enu_mps[:2]]),
                np.array([track.position.alt_m or 0.0]),
                np.zeros(1),
                np.array([margin_m]),
                self.config.breach_horizon_s * KEEP_HORIZON_FACTOR,
            )
            if np.isfinite(near[0]):
                state = self._open[key]
                state.last_t, state.track = t_unix, track

    def _in_grace(self, t_unix: float, track: Track) -> bool:
        """Whether the track is too young to alert yet (identity grace, module docstring)."""
        born, ids = track.first_t_unix, track.identity
        return (
            born is not None
            and not (ids.rid_serial or ids.caa_id or ids.icao24)
            and t_unix - born < self.config.identity_grace_s
            and self.rid_cover.covers(track.enu_m)
        )

    def _clear_zone_alerts(
        self,
        t_unix: float,
        tracks: list[Track],
        lost: list[Track],
        set_aside: dict[str, str],
        by_time: bool,
    ) -> list[Alert]:
        lost_keys = {object_key(tr): tr for tr in lost}
        live: dict[str, Track] | None = None
        changed = []
        for key, state in list(self._open.items()):
            if key[0] != _ZONE:
                continue
            lost_track = lost_keys.get(key[1])
            if key[1] in set_aside:
                reason = set_aside[key[1]]
            elif lost_track is not None and state.last_t < t_unix:
                reason = f"track {lost_track.track_id} lost"
            elif by_time and t_unix - state.last_t > self.config.clear_after_s:
                if live is None:
                    live = {object_key(tr): tr for tr in tracks}
                reason = self._gone_reason(key, live.get(key[1]))
            else:
                continue
            changed.append(self._clear(key, t_unix, reason))
        return changed

    def _gone_reason(self, key: _Key, track: Track | None) -> str:
        """Why a zone alert's condition has been gone for ``clear_after_s``, as the track
        is now (a full evaluation: ``track`` None means no live track has the key)."""
        quiet = f"for {self.config.clear_after_s:g} s"
        shape = self._shapes.get((key[2], key[3]))
        zone = shape.zone.name if shape is not None else key[3]
        if track is None:
            return f"no live track of {key[1]} {quiet}"
        if track.status not in ALERTING_STATUSES:
            return f"track {track.track_id} {track.status.value} {quiet}"
        if track.object_class not in self.classes:
            return (
                f"track {track.track_id} not classed a drone {quiet}: "
                f"{track.object_class.value} ({_class_evidence(track)})"
            )
        keep_s = self.config.breach_horizon_s * KEEP_HORIZON_FACTOR
        if (
            shape is not None
            and shape.contains(
                np.array([track.enu_m[:2]]), np.array([track.position.alt_m or 0.0])
            ).any()
        ):
            return f"inside {zone} but in an ignore zone of the site {quiet}"
        hold_m = self.config.hold_distance_m
        if keep_s > 0:
            return (
                f"outside {zone}, not predicted to enter within {keep_s:g} s nor to come "
                f"within {hold_m:g} m of it {quiet}"
            )
        return f"outside {zone} and over {hold_m:g} m from it {quiet}"

    # -- site-level rules ---------------------------------------------------------------
    def _presence(self, t_unix: float, presence: Sequence[Detection]) -> list[Alert]:
        changed = []
        for det in presence:
            if det.object_class.value not in self.classes:
                continue
            if self._matcher.match(det.identity, t_unix) is not None:
                continue
            site_id = self.sensor_sites.get(det.sensor_id, self.default_site_id)
            key = (_PRESENCE, emitter_key(det), site_id, "")
            state = self._open.get(key)
            if state is not None:
                state.last_t = t_unix
                continue
            sig = det.signature
            heard = (
                " ".join(str(x) for x in (sig.protocol, sig.band) if sig is not None and x)
                or "a signal"
            )
            reason = f"{heard} ({key[1]}) heard by {det.sensor_id}, position unknown"
            alert = self.store.raise_alert(
                site_id=site_id,
                zone_id=None,
                zone_level=self.config.presence_level,
                rule=RULE_RF_PRESENCE,
                object_key=key[1],
                track=None,
                t_unix=t_unix,
                reason=reason,
                evidence=AlertEvidence(
                    object_class=det.object_class,
                    class_source=det.class_source,
                    identity=det.identity,
                    pilot=det.pilot,
                    signature=det.signature,
                    sensor_id=det.sensor_id,
                ),
                exercise=det.exercise,
            )
            log.info("ALERT %d raised: %s", alert.alert_id, reason)
            self._open[key] = _Open(alert, t_unix)
            changed.append(alert)
        quiet_s = self.config.presence_clear_after_s
        for key, state in list(self._open.items()):
            if key[0] == _PRESENCE and t_unix - state.last_t > quiet_s:
                changed.append(self._clear(key, t_unix, f"not heard for {quiet_s:g} s"))
        return changed

    def _coverage(self, t_unix: float) -> list[Alert]:
        if self._coverage_t0 is None:
            self._coverage_t0 = t_unix  # a sensor never heard is silent from the first step
        changed = []
        silent_s = self.config.sensor_silent_after_s
        for sensor_id, site_id in self.sensor_sites.items():
            heard = self._heard.get(sensor_id)
            last_t = heard.t_unix if heard else self._coverage_t0
            key = (_COVERAGE, f"sensor:{sensor_id}", site_id, "")
            exercise = sensor_id in self.exercise_sensors
            if exercise and heard is not None and heard.ended:
                problem = ""  # the scenario is over, which is no loss of coverage
            elif t_unix - last_t > silent_s:
                problem = f"no status from sensor {sensor_id} for {silent_s:g} s"
            elif heard is not None and heard.state is not SensorState.OK:
                problem = f"sensor {sensor_id} {heard.state.value}: {heard.detail}".rstrip(": ")
            else:
                problem = ""
            state = self._open.get(key)
            if state is not None and not problem and heard is not None:
                why = "exercise finished" if heard.ended else "reports ok"
                changed.append(self._clear(key, t_unix, f"sensor {sensor_id} {why}"))
            elif state is None and problem:
                alert = self.store.raise_alert(
                    site_id=site_id,
                    zone_id=None,
                    zone_level=self.config.coverage_level,
                    rule=RULE_SENSOR_COVERAGE,
                    object_key=key[1],
                    track=None,
                    t_unix=t_unix,
                    reason=problem,
                    evidence=AlertEvidence(sensor_id=sensor_id),
                    exercise=exercise,
                )
                log.warning("ALERT %d raised: %s", alert.alert_id, problem)
                self._open[key] = _Open(alert, t_unix)
                changed.append(alert)
        for key in [k for k in self._open if k[0] == _COVERAGE]:
            sensor_id = key[1].removeprefix("sensor:")
            if sensor_id not in self.sensor_sites:
                changed.append(self._clear(key, t_unix, f"sensor {sensor_id} not configured"))
        return changed

    # -- shared -------------------------------------------------------------------------
    def _clear(self, key: _Key, t_unix: float, reason: str) -> Alert:
        state = self._open.pop(key)
        alert = self.store.clear(state.alert.alert_id, t_unix, reason, state.track)
        log.info("ALERT %d cleared: %s", alert.alert_id, reason)
        return alert

    def _reload_friends(self, t_unix: float) -> None:
        """Pick up friend list changes made through the API (another process)."""
        if abs(t_unix - self._friends_t) >= FRIENDS_RELOAD_S:
            self._friends_t = t_unix
            self._matcher = FriendMatcher(self.friends.list())


def _class_evidence(track: Track) -> str:
    """The track's class evidence for a reason, e.g. ``adsb, sapient (belief 1.00)``."""
    sources = ", ".join(track.class_sources) or track.class_source or "no source"
    belief = (track.class_belief or {}).get(track.object_class.value)
    return f"{sources} (belief {belief:.2f})" if belief is not None else sources
