"""Remote ID as published in JSON by the WarDragon / DroneID / DragonSync decoders.

Those decoders publish each received ASTM F3411 message as JSON on a ZeroMQ PUB socket
(port 4224 by convention). Three shapes are seen in the field:

1. a list of single-key blocks, plus top-level ``MAC``/``RSSI`` entries (zmq_decoder):
       [{"Location/Vector Message": {...}, "MAC": "84:cc:..."}]
2. one dict holding several blocks (ESP32 receivers):
       {"Basic ID": {...}, "Location/Vector Message": {...}, "System Message": {...}}
3. the flat per-drone object DragonSync itself publishes over MQTT:
       {"id": "drone-...", "lat": .., "lon": .., "alt": .., "pilot_lat": .., ...}

Block names are the contract: ``Basic ID``, ``Location/Vector Message``, ``System Message``,
``Self-ID Message``, ``Operator ID Message``, ``Authentication Message``, ``Frequency
Message``. Values arrive as numbers or as strings with units ("20.5 m/s", "237.0 m",
"<30 m", "Undefined").

A receiver usually sends one block per message, so identity (Basic ID, Operator ID) and
the pilot position (System) arrive apart from the position (Location/Vector). The driver
remembers them per broadcaster MAC (bounded, least recently heard forgotten first) and
attaches them to each position it reports.

F3411 sentinels honoured: latitude/longitude 0/0 = no position; vertical speed 63 m/s and
speed 255 (254.25+) = unknown; altitude -1000 m = invalid. A drone heard without a valid
position becomes a presence-only detection: the site knows it is there, not where.
"""

from __future__ import annotations

import json
import math
import re
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from cuas.driver import (
    DecodeError,
    Detection,
    Driver,
    Framing,
    GeoPoint,
    MeasurementKind,
    ObjectClass,
    SensorInfo,
)
from cuas.driver import construct as build
from cuas.driver.memory import RecentMap

_NUMBER = re.compile(r"[-+]?\d+(?:\.\d+)?(?:[eE][-+]?\d+)?")
_SERIAL_TYPES = {"serial number (ansi/cta-2063-a)", "1"}
_CAA_TYPES = {"caa assigned registration id", "caa registration id", "2"}
_VSPEED_UNKNOWN_MPS = 63.0
_SPEED_UNKNOWN_MPS = 254.25
_ALT_INVALID_M = -1000.0
_FLAT_ALT_INVALID = 65531.0  # seen from DJI DroneID decoders when altitude is absent
_ACCURACY_MAX_M = 20_000_000.0  # half the Earth's circumference: a larger bound bounds nothing


class DragonSyncOptions(BaseModel):
    model_config = ConfigDict(extra="forbid")
    max_remembered: int = Field(1024, ge=1, description="broadcasters whose IDs are remembered")
    default_vertical_std_m: float = Field(
        50.0, gt=0, description="1-sigma altitude error when the message states none"
    )


def _number(value: Any, field: str) -> float | None:
    """A float from a number or a string with units; None for 'Undefined'/unknown."""
    kind = type(value)
    if kind is float and value - value == 0.0:  # the common case: finite JSON number
        return value
    if kind is str:  # "20.5 m/s", "<10 m", "Undefined"
        match = _NUMBER.search(value)
        if match is None:
            return None  # "Undefined", "Unknown", ""
        number = float(match.group())
    elif value is None or kind is bool:
        return None
    elif kind is int or kind is float:  # what json.loads gives: no subclasses
        try:
            number = float(value)
        except OverflowError:  # a JSON integer too large for a float
            raise DecodeError(f"{field}: number out of range") from None
    else:
        raise DecodeError(f"{field}: expected a number or string, got {type(value).__name__}")
    if not math.isfinite(number):
        raise DecodeError(f"{field}: not a finite number ({value!r})")
    return number


def _accuracy_std_m(value: Any) -> float | None:
    """F3411 accuracy categories are 95% bounds ('<30 m'); 1-sigma is about half."""
    bound = _number(value, "accuracy")
    return None if bound is None or not 0 < bound <= _ACCURACY_MAX_M else bound / 2.0


def _text(value: Any) -> str | None:
    if value is None:
        return None
    text = str(value).strip().strip("\x00")
    return text or None


def _latlon(lat: Any, lon: Any, field: str) -> tuple[float, float] | None:
    lat_deg, lon_deg = _number(lat, f"{field} latitude"), _number(lon, f"{field} longitude")
    if lat_deg is None or lon_deg is None or (lat_deg == 0.0 and lon_deg == 0.0):
        return None
    if not (-90.0 <= lat_deg <= 90.0 and -180.0 <= lon_deg <= 180.0):
        raise DecodeError(f"{field}: position out of range ({lat_deg}, {lon_deg})")
    return lat_deg, lon_deg


class _Broadcaster:
    """What has been heard from one MAC so far."""

    def __init__(self) -> None:
        self.identity: dict[str, str] = {}
        self.pilot: GeoPoint | None = None
        self.home: GeoPoint | None = None
        self.freq_mhz: float | None = None
        self.rssi_dbm: float | None = None


class DragonSyncDriver(Driver):
    """Remote ID JSON from WarDragon/DroneID/DragonSync decoders (ZeroMQ port 4224)."""

    name = "dragonsync"
    framing = Framing.MESSAGE
    Options = DragonSyncOptions

    def __init__(self, sensor: SensorInfo, options: BaseModel) -> None:
        super().__init__(sensor, options)
        self._seen: RecentMap[str, _Broadcaster] = RecentMap(self.options.max_remembered)

    def decode(self, frame: bytes, t_rx_unix: float, frame_seq: int) -> list[Detection]:
        try:
            message = json.loads(frame)
        except (ValueError, RecursionError) as exc:  # also over-long integers, deep nesting
            raise DecodeError(f"not JSON: {exc}") from None
        if isinstance(message, list):
            blocks: dict[str, Any] = {}
            for item in message:
                if not isinstance(item, dict):
                    raise DecodeError(f"list item is {type(item).__name__}, expected an object")
                blocks.update(item)
        elif isinstance(message, dict):
            blocks = message
        else:
            raise DecodeError(f"top level is {type(message).__name__}, expected list or object")
        t_rx_unix = float(t_rx_unix)
        if "lat" in blocks and "lon" in blocks and "Location/Vector Message" not in blocks:
            return self._decode_flat(blocks, t_rx_unix, frame_seq)
        return self._decode_blocks(blocks, t_rx_unix, frame_seq)

    def _broadcaster(self, key: str) -> _Broadcaster:
        return self._seen.touch(key, _Broadcaster)

    def _block(self, blocks: dict[str, Any], name: str) -> dict[str, Any] | None:
        block = blocks.get(name)
        if block is None:
            return None
        if not isinstance(block, dict):
            raise DecodeError(f"{name!r} is {type(block).__name__}, expected an object")
        return block

    def _decode_blocks(
        self, blocks: dict[str, Any], t_rx_unix: float, frame_seq: int
    ) -> list[Detection]:
        basic = self._block(blocks, "Basic ID")
        mac = _text(blocks.get("MAC")) or (_text(basic.get("MAC")) if basic else None)
        serial = caa = None
        if basic is not None:
            id_type = str(basic.get("id_type", "")).strip().lower()
            ident = _text(basic.get("id"))
            if ident and id_type in _SERIAL_TYPES:
                serial = ident
            elif ident and id_type in _CAA_TYPES:
                caa = ident
        key = (mac or serial or "").lower()
        if not key:
            location = self._block(blocks, "Location/Vector Message")
            if location is None:
                return []  # nothing to attach to and nothing to track
            key = "anonymous"
        state = self._broadcaster(key)
        if mac:
            state.identity["mac"] = mac.lower()
        if serial:
            state.identity["rid_serial"] = serial
        if caa:
            state.identity["caa_id"] = caa
        if basic is not None:
            rssi = _number(basic.get("RSSI"), "RSSI")
            state.rssi_dbm = rssi if rssi is not None else state.rssi_dbm
        rssi = _number(blocks.get("RSSI"), "RSSI")
        state.rssi_dbm = rssi if rssi is not None else state.rssi_dbm
        operator = self._block(blocks, "Operator ID Message")
        if operator is not None and _text(operator.get("operator_id")):
            state.identity["operator_id"] = _text(operator.get("operator_id"))
        system = self._block(blocks, "System Message")
        if system is not None:
            pilot = _latlon(
                system.get("latitude", system.get("operator_lat")),
                system.get("longitude", system.get("operator_lon")),
                "System pilot",
            )
            state.pilot = (
                build.geo_point(lat_deg=pilot[0], lon_deg=pilot[1]) if pilot else state.pilot
            )
            home = _latlon(system.get("home_lat"), system.get("home_lon"), "System home")
            state.home = build.geo_point(lat_deg=home[0], lon_deg=home[1]) if home else state.home
        freq = self._block(blocks, "Frequency Message")
        if freq is not None:
            hz_or_mhz = _number(freq.get("frequency"), "frequency")
            if hz_or_mhz:
                state.freq_mhz = hz_or_mhz / 1e6 if hz_or_mhz > 1e5 else hz_or_mhz
        location = self._block(blocks, "Location/Vector Message")
        if location is None:
            return []
        return [self._location_detection(location, state, t_rx_unix, frame_seq)]

    def _location_detection(
        self, loc: dict[str, Any], state: _Broadcaster, t_rx_unix: float, frame_seq: int
    ) -> Detection:
        identity = build.identity(**state.identity)
        signature = build.signature(
            freq_mhz=state.freq_mhz, rssi_dbm=state.rssi_dbm, protocol="remote_id"
        )
        common = dict(
            sensor_id=self.sensor.sensor_id,
            t_unix=t_rx_unix,
            identity=identity,
            object_class=ObjectClass.DRONE,
            class_source="remote_id",
            pilot=state.pilot,
            home=state.home,
            signature=signature,
            raw=build.raw_ref(sensor_id=self.sensor.sensor_id, frame_seq=frame_seq),
        )
        latlon = _latlon(loc.get("latitude"), loc.get("longitude"), "Location")
        if latlon is None:
            return build.detection(kind=MeasurementKind.PRESENCE, **common)
        alt_m, vertical_std_m = self._altitude(loc)
        horizontal_std_m = _accuracy_std_m(loc.get("horizontal_accuracy"))
        h_std = horizontal_std_m or self.sensor.noise.position_m
        v_std = _accuracy_std_m(loc.get("vertical_accuracy")) or vertical_std_m
        covariance = [[h_std**2, 0.0, 0.0], [0.0, h_std**2, 0.0], [0.0, 0.0, v_std**2]]
        return build.detection(
            kind=MeasurementKind.POSITION,
            position=build.geo_point(lat_deg=latlon[0], lon_deg=latlon[1], alt_m=alt_m),
            velocity_enu_mps=self._velocity(loc),
            covariance=covariance,
            **common,
        )

    def _altitude(self, loc: dict[str, Any]) -> tuple[float, float]:
        """Geodetic altitude, else pressure altitude, else the sensor's own height."""
        default_std = self.options.default_vertical_std_m
        for field, std_m in (("geodetic_altitude", None), ("pressure_altitude", default_std)):
            value = _number(loc.get(field), field)
            if value is not None and value > _ALT_INVALID_M:
                return value, std_m or default_std
        sensor_alt = self.sensor.position.alt_m if self.sensor.position else None
        height = _number(loc.get("height_agl"), "height_agl")
        if sensor_alt is not None and height is not None and height > _ALT_INVALID_M:
            return sensor_alt + height, 2 * default_std
        return (sensor_alt or 0.0), 4 * default_std

    @staticmethod
    def _velocity(loc: dict[str, Any]) -> tuple[float, float, float] | None:
        direction = _number(loc.get("direction"), "direction")
        speed = _number(loc.get("speed"), "speed")
        vspeed = _number(loc.get("vert_speed"), "vert_speed")
        if direction is None or speed is None or direction > 360 or speed >= _SPEED_UNKNOWN_MPS:
            return None
        up = 0.0 if vspeed is None or abs(vspeed) >= _VSPEED_UNKNOWN_MPS else vspeed
        track = math.radians(direction)  # clockwise from true north
        return (speed * math.sin(track), speed * math.cos(track), up)

    def _decode_flat(
        self, obj: dict[str, Any], t_rx_unix: float, frame_seq: int
    ) -> list[Detection]:
        mac = _text(obj.get("mac"))
        ident = _text(obj.get("id"))
        key = (mac or ident or "anonymous").lower()
        state = self._broadcaster(key)
        if mac:
            state.identity["mac"] = mac.lower()
        if ident and str(obj.get("id_type", "")).strip().lower() in _SERIAL_TYPES:
            state.identity["rid_serial"] = ident.removeprefix("drone-")
        if _text(obj.get("caa_id")):
            state.identity["caa_id"] = _text(obj.get("caa_id"))
        if _text(obj.get("operator_id")):
            state.identity["operator_id"] = _text(obj.get("operator_id"))
        pilot = _latlon(obj.get("pilot_lat"), obj.get("pilot_lon"), "pilot")
        state.pilot = build.geo_point(lat_deg=pilot[0], lon_deg=pilot[1]) if pilot else state.pilot
        home = _latlon(obj.get("home_lat"), obj.get("home_lon"), "home")
        state.home = build.geo_point(lat_deg=home[0], lon_deg=home[1]) if home else state.home
        state.freq_mhz = _number(obj.get("freq_mhz", obj.get("freq")), "freq") or state.freq_mhz
        state.rssi_dbm = _number(obj.get("rssi"), "rssi") or state.rssi_dbm
        alt = _number(obj.get("alt"), "alt")
        loc = {
            "latitude": obj.get("lat"),
            "longitude": obj.get("lon"),
            "geodetic_altitude": None if alt is None or alt >= _FLAT_ALT_INVALID else alt,
            "height_agl": obj.get("height"),
            "direction": obj.get("direction"),
            "speed": obj.get("speed"),
            "vert_speed": obj.get("vspeed"),
            "horizontal_accuracy": obj.get("horizontal_accuracy"),
            "vertical_accuracy": obj.get("vertical_accuracy"),
        }
        return [self._location_detection(loc, state, t_rx_unix, frame_seq)]
