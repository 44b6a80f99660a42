"""Cursor-on-Target (CoT 2.0 XML) events for TAK (ATAK, WinTAK, TAK Server) over UDP.

Types follow the CoT type tree (MITRE ``CoTtypes.xml``): ``a-<affiliation>-<dimension>-...``
where the tail after the dimension is the MIL-STD-2525 function path, upper case from
2525 and lower case for CoT's own extensions.

    drone            a-h-A-M-F-Q   atom / hostile / Air / Military / Fixed wing / "Drone
                                   (RPV/UAV)"; configurable (``drone_type``), e.g.
                                   a-h-A-M-H-Q for the rotary-wing UAV entry
    manned aircraft  a-n-A-C       neutral civil aircraft (ADS-B)
    unknown          a-u-A         unknown air track
    pilot            b-m-p-s-m     map point ("b-m-p" = mappoint), a spot marker, with a
                                   ``<link relation="p-p">`` (CoTtypes "producer") to the drone
    home point       b-m-p-s-m     the drone's take-off/home point (Remote ID System message
                                   with a take-off operator location, DJI DroneID), linked
                                   the same way
    alert            b-m-p-s-m     a coloured spot marker at the object, linked to its track;
                                   at ``emergency_level`` and above ATAK's emergency
                                   b-a-o-tbl ("911 Alert"), cancelled with b-a-o-can

A drone on the friend list is friendly (affiliation ``f``: ``a-f-A-M-F-Q``), its remarks
naming the entry. Whatever an exercise caused (``cuas run --exercise``) carries the event
attribute ``opex="e-<uid_prefix>"`` (CoT Event schema 2.0: ``o`` operations, ``e`` exercise,
``s`` simulation, each optionally followed by ``-name``), "EX " before its callsign and
"EXERCISE" at the start of its remarks.

``how`` is ``m-f`` (machine, fused: "h.fused" in CoTtypes). ``point``: WGS84 lat/lon,
``hae`` metres above the ellipsoid (9999999 = unknown), ``ce``/``le`` the circular and
linear 1-sigma errors in metres, here the track's per-axis position standard deviation.
``<track course speed>``: degrees clockwise from true north and metres per second over
ground. ``time``/``start`` are when the event was made, ``stale`` when TAK should stop
showing it; a deleted track or a cleared (or resolved) alert is sent once more with
``stale`` = ``time``.

Everything taken from the air (serials, operator IDs, MACs) is attacker-controlled: it only
reaches the XML through ElementTree, which escapes it, after characters XML 1.0 forbids
are replaced and the length bounded.
"""

from __future__ import annotations

import ipaddress
import logging
import math
import re
import socket
import xml.etree.ElementTree as ET
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from pydantic import BaseModel

from cuas.config import ConfigError, CotConfig
from cuas.outbound.filters import UpdateLimiter, zone_at_least
from cuas.schema import (
    OPEN_ALERT_STATES,
    Alert,
    GeoPoint,
    ObjectClass,
    Track,
    TrackStatus,
    ZoneLevel,
)

log = logging.getLogger(__name__)

CLASS_TYPES = {ObjectClass.MANNED_AIRCRAFT: "a-n-A-C", ObjectClass.UNKNOWN: "a-u-A"}
UNKNOWN_TYPE = "a-u-A"
MARKER_TYPE = "b-m-p-s-m"
EMERGENCY_TYPE = "b-a-o-tbl"
EMERGENCY_CANCEL_TYPE = "b-a-o-can"
HOW_FUSED = "m-f"
UNKNOWN_M = 9_999_999.0  # CoT's "not known" for hae, ce and le
LINK_PRODUCER = "p-p"
# ATAK <color argb>: signed 32-bit ARGB
LEVEL_ARGB = {ZoneLevel.WATCH: -256, ZoneLevel.WARNING: -23296, ZoneLevel.CRITICAL: -65536}
SENT_STATUSES = {TrackStatus.CONFIRMED, TrackStatus.COASTING, TrackStatus.DELETED}
MAX_TEXT = 120
_NOT_XML = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")
_XML_DECLARATION = b'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'


def clean(text: str, max_len: int = MAX_TEXT) -> str:
    """``text`` with characters XML 1.0 cannot carry replaced, cut to ``max_len``."""
    return _NOT_XML.sub("\ufffd", text)[:max_len]


def iso8601(t_unix: float) -> str:
    """CoT time: ISO 8601 UTC with milliseconds, e.g. 2025-11-29T08:00:00.540Z."""
    return datetime.fromtimestamp(t_unix, UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


@dataclass(frozen=True)
class CotEvent:
    uid: str
    state: str  # what the rate limiter compares: a change always goes out
    final: bool  # the last event of this uid (deleted track, cleared alert)
    xml: bytes


def _event(
    uid: str, cot_type: str, now_unix: float, stale_unix: float, opex: str | None = None
) -> ET.Element:
    attrs = {
        "version": "2.0",
        "uid": uid,
        "type": cot_type,
        "how": HOW_FUSED,
        "time": iso8601(now_unix),
        "start": iso8601(now_unix),
        "stale": iso8601(stale_unix),
    }
    if opex is not None:
        attrs["opex"] = opex
    return ET.Element("event", attrs)


def opex(exercise: bool, config: CotConfig) -> str | None:
    """The event's ``opex``: ``e-<uid_prefix>`` for an exercise; absent (operations) else."""
    return f"e-{config.uid_prefix}" if exercise else None


def _exercise_remarks(text: str, exercise: bool) -> str:
    return clean(f"EXERCISE: {text}" if exercise else text, 1000)


def _point(event: ET.Element, where: GeoPoint, error_m: float) -> None:
    hae = where.alt_m if where.alt_m is not None else UNKNOWN_M
    ET.SubElement(
        event,
        "point",
        {
            "lat": f"{where.lat_deg:.7f}",
            "lon": f"{where.lon_deg:.7f}",
            "hae": f"{hae:.1f}",
            "ce": f"{error_m:.1f}",
            "le": f"{error_m:.1f}",
        },
    )


def _xml(event: ET.Element) -> bytes:
    return _XML_DECLARATION + ET.tostring(event, encoding="unicode").encode("utf-8")


def track_uid(prefix: str, track_id: str) -> str:
    return f"{prefix}.track.{clean(track_id, 64)}"


def drone_type(track: Track, config: CotConfig) -> str:
    if track.object_class is ObjectClass.DRONE:
        if track.friendly:  # a-<affiliation>-...: the friend list makes it friendly
            return "a-f-" + config.drone_type[4:]
        return config.drone_type
    return CLASS_TYPES.get(track.object_class, UNKNOWN_TYPE)


def callsign(track: Track) -> str:
    ident = track.identity
    name = ident.rid_serial or ident.caa_id or ident.icao24 or ident.sensor_track_id
    name = clean(name, 40) if name else f"T{clean(track.track_id, 32)}"
    return f"EX {name}" if track.exercise else name


def _remarks(track: Track) -> str:
    ident = track.identity
    parts = [f"cuas track {track.track_id} ({track.status.value}) at site {track.site_id}"]
    source = f" from {track.class_source}" if track.class_source else ""
    parts.append(f"class {track.object_class.value}{source}")
    for label, value in (
        ("RID serial", ident.rid_serial),
        ("CAA ID", ident.caa_id),
        ("operator ID", ident.operator_id),
        ("ICAO", ident.icao24),
        ("MAC", ident.mac),
        ("sensor track", ident.sensor_track_id),
    ):
        if value:
            parts.append(f"{label} {clean(value, 64)}")
    if track.sensors:
        parts.append("sensors " + ", ".join(clean(s, 32) for s in track.sensors[:8]))
    if track.friendly:
        parts.append(clean(track.friendly, 200))
    return _exercise_remarks("; ".join(parts), track.exercise)


def track_events(track: Track, config: CotConfig, now_unix: float) -> list[CotEvent]:
    """The drone (or aircraft) event of a track, and its pilot's and home point's when
    Remote ID (or DroneID) gave them."""
    final = track.status is TrackStatus.DELETED
    stale = now_unix if final else now_unix + config.stale_s
    uid = track_uid(config.uid_prefix, track.track_id)
    cot_type = drone_type(track, config)
    op = opex(track.exercise, config)
    event = _event(uid, cot_type, now_unix, stale, op)
    _point(event, track.position, track.position_std_m)
    detail = ET.SubElement(event, "detail")
    ET.SubElement(detail, "contact", {"callsign": callsign(track)})
    ve, vn, _ = track.velocity_enu_mps
    course_deg = math.degrees(math.atan2(ve, vn)) % 360.0
    ET.SubElement(
        detail, "track", {"course": f"{course_deg:.1f}", "speed": f"{math.hypot(ve, vn):.2f}"}
    )
    ET.SubElement(detail, "remarks").text = _remarks(track)
    out = [CotEvent(uid, track.status.value, final, _xml(event))]
    operator = track.identity.operator_id
    for kind, where, label, text in (
        ("pilot", track.pilot, "PILOT", "Remote ID operator position"),
        ("home", track.home, "HOME", "take-off/home point"),
    ):
        if where is None:
            continue
        point_uid = f"{uid}.{kind}"
        point = _event(point_uid, MARKER_TYPE, now_unix, stale, op)
        _point(point, where, UNKNOWN_M)
        detail = ET.SubElement(point, "detail")
        ET.SubElement(detail, "contact", {"callsign": f"{label} {callsign(track)}"})
        ET.SubElement(detail, "link", {"uid": uid, "type": cot_type, "relation": LINK_PRODUCER})
        text = f"{text} of {callsign(track)} (cuas track {track.track_id})"
        if operator:
            text += f"; operator ID {clean(operator, 64)}"
        ET.SubElement(detail, "remarks").text = _exercise_remarks(text, track.exercise)
        out.append(CotEvent(point_uid, track.status.value, final, _xml(point)))
    return out


def alert_event(alert: Alert, config: CotConfig, now_unix: float) -> CotEvent | None:
    """A marker (or TAK emergency) at the alerted object; None without a track position."""
    if alert.track is None:
        return None
    final = alert.state not in OPEN_ALERT_STATES  # cleared or resolved
    emergency = (
        config.emergency_level is not None
        and zone_at_least(alert.zone_level, config.emergency_level)
        and (config.exercise_emergencies or not alert.exercise)  # a drill is no 911 by default
    )
    emergency_type = EMERGENCY_CANCEL_TYPE if final else EMERGENCY_TYPE
    cot_type = emergency_type if emergency else MARKER_TYPE
    uid = f"{config.uid_prefix}.alert.{alert.alert_id}"
    stale = now_unix if final else now_unix + config.stale_s
    event = _event(uid, cot_type, now_unix, stale, opex(alert.exercise, config))
    _point(event, alert.track.position, alert.track.position_std_m)
    detail = ET.SubElement(event, "detail")
    name = f"ALERT {alert.zone_level.value.upper()} {clean(alert.zone_id, 32)}"
    name = f"EX {name}" if alert.exercise else name
    ET.SubElement(detail, "contact", {"callsign": name})
    ET.SubElement(
        detail,
        "link",
        {
            "uid": track_uid(config.uid_prefix, alert.track_id),
            "type": drone_type(alert.track, config),
            "relation": LINK_PRODUCER,
        },
    )
    if emergency:
        attrs = {"cancel": "true"} if final else {"type": "911 Alert"}
        ET.SubElement(detail, "emergency", attrs).text = name
    ET.SubElement(detail, "color", {"argb": str(LEVEL_ARGB[alert.zone_level])})
    text = (
        f"cuas alert {alert.alert_id}: {alert.rule} in zone {clean(alert.zone_id, 64)} "
        f"({alert.zone_level.value}) at site {clean(alert.site_id, 64)}; object "
        f"{clean(alert.object_key, 80)}, track {alert.track_id}; state {alert.state.value}"
    )
    if alert.acknowledged_by:  # kept after later transitions: say what it refers to
        text += f"; acknowledged by {clean(alert.acknowledged_by, 64)}"
    ET.SubElement(detail, "remarks").text = _exercise_remarks(text, alert.exercise)
    return CotEvent(uid, alert.state.value, final, _xml(event))


def resolve(config: CotConfig, index: int) -> tuple[str, int]:
    """The destination as an IPv4 address; ConfigError naming the key if it cannot be."""
    try:
        info = socket.getaddrinfo(config.address, config.port, socket.AF_INET, socket.SOCK_DGRAM)
    except OSError as exc:
        raise ConfigError(
            f"outbound.cot[{index}].address: cannot resolve {config.address!r} ({exc})"
        ) from None
    host, port = info[0][4][:2]
    return str(host), int(port)


class CotSender:
    """Sends a deployment's tracks and alerts to one CoT destination, rate-limited per uid.

    Open alerts are re-sent before they go stale, since the engine publishes an alert only
    when it changes.
    """

    def __init__(self, config: CotConfig, index: int = 0) -> None:
        self.config = config
        self.destination = resolve(config, index)
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        if ipaddress.IPv4Address(self.destination[0]).is_multicast:
            self.sock.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_TTL, config.ttl)
            if config.interface:
                try:
                    iface = socket.inet_aton(config.interface)
                except OSError:
                    raise ConfigError(
                        f"outbound.cot[{index}].interface: {config.interface!r} is not an "
                        "IPv4 address"
                    ) from None
                self.sock.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_IF, iface)
        self.limiter = UpdateLimiter(config.min_interval_s)
        self.counters: Counter[str] = Counter()
        self._open_alerts: dict[int, tuple[Alert, float]] = {}  # alert, when last sent

    def close(self) -> None:
        self.sock.close()

    def handle(self, items: Sequence[BaseModel], now_unix: float) -> None:
        for item in items:
            if isinstance(item, Track):
                self._track(item, now_unix)
            elif isinstance(item, Alert):
                self._alert(item, now_unix)

    def _site_ok(self, site_id: str) -> bool:
        return not self.config.sites or site_id in self.config.sites

    def _track(self, track: Track, now_unix: float) -> None:
        if (
            track.status not in SENT_STATUSES
            or track.object_class not in self.config.classes
            or not self._site_ok(track.site_id)
        ):
            return
        for event in track_events(track, self.config, now_unix):
            self._send(event, now_unix)

    def _alert(self, alert: Alert, now_unix: float) -> None:
        if not self.config.alerts or not self._site_ok(alert.site_id):
            return
        if alert.state not in OPEN_ALERT_STATES:
            self._open_alerts.pop(alert.alert_id, None)
        else:
            self._open_alerts[alert.alert_id] = (alert, now_unix)
        event = alert_event(alert, self.config, now_unix)
        if event is None:
            self.counters["alerts_without_position"] += 1
            return
        self._send(event, now_unix)

    def tick(self, now_unix: float) -> None:
        """Re-send open alerts that are half-way to going stale."""
        for alert_id, (alert, sent) in list(self._open_alerts.items()):
            if now_unix - sent >= self.config.stale_s / 2:
                self._open_alerts[alert_id] = (alert, now_unix)
                event = alert_event(alert, self.config, now_unix)
                if event is not None:
                    self.limiter.allow(event.uid, event.state, now_unix)
                    self._transmit(event)

    def _send(self, event: CotEvent, now_unix: float) -> None:
        if not self.limiter.allow(event.uid, event.state, now_unix, event.final):
            self.counters["rate_limited"] += 1
            return
        self._transmit(event)

    def _transmit(self, event: CotEvent) -> None:
        try:
            self.sock.sendto(event.xml, self.destination)
        except OSError as exc:
            self.counters["send_errors"] += 1
            if self.counters["send_errors"] == 1:
                log.warning(
                    "cot: cannot send to %s:%d (%s); further errors only counted",
                    *self.destination,
                    exc.strerror or exc,
                )
            return
        self.counters["sent"] += 1
