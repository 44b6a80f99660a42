"""ADS-B from the Beast binary feed of dump1090/readsb (TCP port 30005).

Known manned aircraft must not be alerted as drones, so this feed tells the tracker where
they are. Wire layout of one frame, every 0x1A after the first byte sent doubled (0x1A 0x1A):

    byte 0      0x1A   frame start
    byte 1      type   0x31 Mode A/C (2-byte reply)   0x32 Mode S short (7 bytes, 56 bits)
                       0x33 Mode S long (14 bytes, 112 bits)   0x34 receiver status (7 bytes)
    bytes 2-7   timestamp, 48-bit big-endian: a free-running 12 MHz counter (dump1090,
                FlightAware; 0 when none). GPS receivers (Radarcape) put seconds of day in the
                top 18 bits and ns in the low 30 (option ``timestamp``); it only orders and
                pairs frames here
    byte 8      signal level, 0-255
    bytes 9-    the reply, as received

``split_frames`` un-escapes frames and returns each as ``type + timestamp + signal +
reply`` (no leading 0x1A, so a recorded frame is the decoded bytes). Bytes before the
next frame start (0x1A followed by a type byte) are returned as one ``0x1A + garbage``
frame, which ``decode`` rejects, so the host counts every resync as malformed. A frame cut
short by a new frame start (a single 0x1A followed by a type) is returned short and rejected.
The status frame's length (7) is as the protocol notes give it; readers disagree, and a
wrong length would only cost a resync per status frame.

A reply repeated with the same timestamp is one reception sent twice (the recording in
shared/data holds every frame twice) and is dropped.

Only Mode S long replies carrying ADS-B are decoded (DF17, and DF18 with CF 0-2, 5, 6),
with their CRC checked: the 24-bit parity of DF17/18 must leave a zero remainder. Positions
need CPR even/odd pairs, which pyModeS' stateful ``PipeDecoder`` pairs by time. Its clock
here is the Beast timestamp (12 MHz: seconds = counter / 12e6) anchored to the receive
time of the first frame; it is re-anchored when the timestamp steps far back (a new
connection, a receiver restart; not a few frames out of order) or leaps over a minute
ahead, and without timestamps it is the receive time. Detections carry the host's receive
time. pyModeS holds back an aircraft's first resolved positions until three agree, then
fills them in on results already returned, with the position of the newer frame of each
pair: those are not reported (they would carry an older frame's time), so an
aircraft's first position comes with the pair that establishes its track.

Airborne positions: TC 9-18 (pressure altitude, flagged, vertical variance widened) and
TC 20-22 (GNSS height, taken as height above WGS84). Surface positions (TC 5-8) need a
reference within 45 NM (the option or the sensor's declared position) and are flagged
``on_ground``. Velocity: TC 19 subtypes 1-2 (ground speed kt, track deg, vertical rate
ft/min), kept per aircraft and attached to later positions. The callsign (TC 1-4) goes into
``identity.sensor_track_id``.

pyModeS is GPL-3.0; cuas is Apache-2.0, so it is an optional extra, imported only here.
"""

from __future__ import annotations

import math
from typing import Any, Literal, NamedTuple

from pydantic import BaseModel, ConfigDict, Field

from cuas.driver import (
    DecodeError,
    Detection,
    Driver,
    Framing,
    GeoPoint,
    Identity,
    MeasurementKind,
    ObjectClass,
    RawRef,
    SensorInfo,
)
from cuas.driver.memory import RecentMap, RecentSet

ESCAPE = 0x1A
MODE_AC, MODE_S_SHORT, MODE_S_LONG, STATUS = 0x31, 0x32, 0x33, 0x34
#: reply bytes per frame type (after the 6-byte timestamp and 1-byte signal)
REPLY_BYTES = {MODE_AC: 2, MODE_S_SHORT: 7, MODE_S_LONG: 14, STATUS: 7}
HEADER_BYTES = 1 + 6 + 1  # type, timestamp, signal
MAX_FRAME_BYTES = HEADER_BYTES + 14
COUNTER_HZ = 12_000_000.0
FT_TO_M = 0.3048
KT_TO_MPS = 1852.0 / 3600.0
FPM_TO_MPS = FT_TO_M / 60.0
_DF18_ADSB_CF = {0, 1, 2, 5, 6}  # ES from non-transponder, non-ICAO, fine TIS-B, ADS-R
_DF18_NON_ICAO_CF = {1, 5}
_DF18_RELAYED_CF = {2, 5, 6}  # heard through a ground station, not from the aircraft
_AIRBORNE_BARO_TC = range(9, 19)
_AIRBORNE_GNSS_TC = range(20, 23)
_SURFACE_TC = range(5, 9)
_MAX_STEP_S = 60.0  # a longer step of the timestamp re-anchors the pairing clock
_MAX_BACK_S = 5.0  # frames arrive a little out of order (0.27 s in the recording)
_RECENT_FRAMES = 256  # receptions remembered to drop repeats (feeds merged from two links)
_KIND_COUNTER = {MODE_AC: "mode_ac", MODE_S_SHORT: "mode_s_short", STATUS: "status"}
NEEDS_EXTRA = "the beast driver needs the optional extra: pip install 'cuas[adsb]'"


class BeastFrame(NamedTuple):
    kind: int  # 0x31..0x34
    counter: int  # 48-bit receiver timestamp
    signal: int  # 0-255
    reply: bytes


def split_beast(buf: bytearray) -> list[bytes]:
    """Take the complete, un-escaped frames off the front of a Beast byte stream.

    Garbage before a frame start comes back as one ``0x1A + garbage`` frame (at most
    ``MAX_FRAME_BYTES``), an interrupted frame comes back short; both are for ``decode`` to
    reject. An unfinished frame, or a garbage run shorter than a frame, stays in ``buf``,
    which so never holds more than one escaped frame.
    """
    frames: list[bytes] = []
    n = len(buf)
    done = scan = 0  # buf[:done] is consumed; frame starts are searched from scan
    while True:
        start = buf.find(ESCAPE, scan)
        if start < 0 or start + 1 >= n:
            stop = n if start < 0 else start  # a lone 0x1A at the end waits for its type
            break
        kind = buf[start + 1]
        if kind not in REPLY_BYTES:
            scan = start + (2 if kind == ESCAPE else 1)  # 0x1A 0x1A is an escaped byte
            continue
        body, end, complete = _unescape(buf, start + 2, HEADER_BYTES - 1 + REPLY_BYTES[kind])
        if not complete:
            stop = start  # unfinished: wait for the rest
            break
        if start > done:
            frames.append(_garbage(buf[done:start]))
        frames.append(bytes([kind]) + body)
        done = scan = end
    if stop - done > MAX_FRAME_BYTES:  # a shorter run may go on in the next chunk: keep it
        frames.append(_garbage(buf[done:stop]))
        done = stop
    del buf[:done]
    return frames


def _unescape(buf: bytearray, at: int, need: int) -> tuple[bytes, int, bool]:
    """Up to ``need`` un-escaped bytes from ``buf[at:]``: (bytes, end, complete).

    Complete also when a single 0x1A (a new frame start) cuts the frame short; incomplete
    only when the buffer ends first.
    """
    body = bytearray()
    n = len(buf)
    while len(body) < need:
        if at >= n:
            return bytes(body), at, False
        byte = buf[at]
        if byte != ESCAPE:
            body.append(byte)
            at += 1
        elif at + 1 >= n:
            return bytes(body), at, False  # escape or frame start: not known yet
        elif buf[at + 1] == ESCAPE:
            body.append(ESCAPE)
            at += 2
        else:
            break  # interrupted by the next frame
    return bytes(body), at, True


def _garbage(data: bytearray) -> bytes:
    return bytes([ESCAPE]) + bytes(data[: MAX_FRAME_BYTES - 1])


def parse_frame(frame: bytes) -> BeastFrame:
    """One un-escaped frame from ``split_beast`` (type byte first) into its fields."""
    if not frame:
        raise DecodeError("empty frame")
    if frame[0] == ESCAPE:
        raise DecodeError(f"{len(frame) - 1} bytes of garbage skipped to resync on a frame start")
    if frame[0] not in REPLY_BYTES:
        raise DecodeError(f"frame type 0x{frame[0]:02x} is not 0x31..0x34")
    expected = HEADER_BYTES + REPLY_BYTES[frame[0]]
    if len(frame) != expected:
        raise DecodeError(
            f"frame type 0x{frame[0]:02x} has {len(frame)} bytes, expected {expected} "
            "(cut short by the next frame start)"
        )
    return BeastFrame(frame[0], int.from_bytes(frame[1:7], "big"), frame[7], bytes(frame[8:]))


def escape(frame: bytes) -> bytes:
    """The wire form of an un-escaped frame: 0x1A, then the frame with each 0x1A doubled."""
    return bytes([ESCAPE]) + frame.replace(bytes([ESCAPE]), bytes([ESCAPE, ESCAPE]))


class BeastOptions(BaseModel):
    model_config = ConfigDict(extra="forbid")
    timestamp: Literal["12mhz", "gps", "none"] = Field(
        "12mhz",
        description="the frames' timestamp: a 12 MHz counter (dump1090, readsb), GPS "
        "seconds of day + ns (Radarcape), or none (pair CPR frames by receive time)",
    )
    max_aircraft: int = Field(2048, ge=1, description="aircraft whose state is remembered")
    velocity_max_age_s: float = Field(
        10.0, gt=0, description="oldest velocity attached to a position"
    )
    baro_vertical_std_m: float = Field(
        200.0, gt=0, description="1-sigma of pressure altitude taken as height above WGS84"
    )
    gnss_vertical_std_m: float = Field(
        30.0, gt=0, description="1-sigma of a GNSS height (TC 20-22)"
    )
    surface_ref_lat_deg: float | None = Field(
        None, ge=-90, le=90, description="surface CPR reference; default the sensor position"
    )
    surface_ref_lon_deg: float | None = Field(None, ge=-180, le=180)


class _Aircraft:
    __slots__ = ("callsign", "velocity")

    def __init__(self) -> None:
        self.callsign: str | None = None
        self.velocity: tuple[float, tuple[float, float, float]] | None = None  # (pipe t, ENU)


def _counter_seconds(counter: int, kind: str) -> float | None:
    """The Beast timestamp in seconds on its own clock; None when there is none."""
    if counter == 0 or kind == "none":
        return None
    if kind == "gps":  # bits 47-30 seconds of day, bits 29-0 nanoseconds
        return (counter >> 30) + (counter & 0x3FFF_FFFF) * 1e-9
    return counter / COUNTER_HZ


def _load_pymodes() -> Any:
    try:
        import pyModeS
    except ImportError:
        raise RuntimeError(NEEDS_EXTRA) from None
    return pyModeS


class BeastDriver(Driver):
    """Beast binary from dump1090/readsb (TCP 30005): ADS-B aircraft positions."""

    name = "beast"
    framing = Framing.CUSTOM
    Options = BeastOptions
    max_frame_bytes = MAX_FRAME_BYTES

    def __init__(self, sensor: SensorInfo, options: BaseModel) -> None:
        super().__init__(sensor, options)
        self._pms = _load_pymodes()
        from pyModeS.util import crc

        self._crc = crc
        self._surface_ref = self._surface_reference()
        self._pipe = self._new_pipe()
        self._aircraft: RecentMap[str, _Aircraft] = RecentMap(self.options.max_aircraft)
        self._piped_icaos: set[str] = set()
        self._recent: RecentSet[tuple[int, bytes]] = RecentSet(_RECENT_FRAMES)
        self._anchor: tuple[float, float] | None = None  # (pipe time, counter s) at anchor
        self._last_counter_s = 0.0
        self._last_t = float("-inf")

    def _surface_reference(self) -> tuple[float, float] | None:
        opts = self.options
        if opts.surface_ref_lat_deg is not None and opts.surface_ref_lon_deg is not None:
            return (opts.surface_ref_lat_deg, opts.surface_ref_lon_deg)
        pos = self.sensor.position
        return (pos.lat_deg, pos.lon_deg) if pos is not None else None

    def _new_pipe(self) -> Any:
        return self._pms.PipeDecoder(surface_ref=self._surface_ref)

    def split_frames(self, buf: bytearray) -> list[bytes]:
        return split_beast(buf)

    def decode(self, frame: bytes, t_rx_unix: float, frame_seq: int) -> list[Detection]:
        beast = parse_frame(frame)
        if beast.kind != MODE_S_LONG:
            self.counters[_KIND_COUNTER[beast.kind]] += 1
            return []
        df = beast.reply[0] >> 3  # bits 1-5: downlink format
        if df not in (17, 18):
            self.counters["mode_s_long_other"] += 1
            return []
        cf = beast.reply[0] & 0x07  # bits 6-8: CA (DF17) or CF (DF18)
        if df == 18 and cf not in _DF18_ADSB_CF:
            self.counters["df18_not_adsb"] += 1
            return []
        hex_reply = beast.reply.hex().upper()
        if self._crc(hex_reply) != 0:
            raise DecodeError(f"DF{df} CRC check failed")
        if self._repeated(beast):
            self.counters["duplicates"] += 1
            return []
        flags: list[str] = []
        if df == 18 and cf in _DF18_NON_ICAO_CF:
            flags.append("adsb_non_icao_address")
        if df == 18 and cf in _DF18_RELAYED_CF:
            flags.append("adsb_relayed")
        icao = beast.reply[1:4].hex()  # bits 9-32: AA, the aircraft address
        t_pipe = self._pipe_time(beast.counter, t_rx_unix)
        self._pipe_admit(icao)
        try:
            result = self._pipe.decode(hex_reply, timestamp=t_pipe)
        except (ValueError, ArithmeticError, LookupError, TypeError) as exc:  # library edge
            raise DecodeError(f"pyModeS failed: {type(exc).__name__}: {exc}") from None
        if "error" in result:
            raise DecodeError(f"pyModeS: {str(result['error'])[:80]}")
        state = self._state(icao)
        return self._detections(icao, state, result, t_pipe, t_rx_unix, frame_seq, flags)

    def _repeated(self, beast: BeastFrame) -> bool:
        """The same reply with the same receiver timestamp: one reception sent twice."""
        if beast.counter == 0:
            return False  # without timestamps a repeat may be a new transmission
        key = (beast.counter, beast.reply)
        return self._recent.seen_before(key)

    def _pipe_time(self, counter: int, t_rx_unix: float) -> float:
        """Seconds on the pairing clock: the receiver's timestamp where there is one.

        Re-anchored to the receive time when the timestamp steps far back (new connection,
        receiver restart, midnight on GPS time) or leaps ahead (a gap, or a damaged
        timestamp: the CRC does not cover it).
        """
        seconds = _counter_seconds(counter, self.options.timestamp)
        if seconds is None:
            t = t_rx_unix
        else:
            step = seconds - self._last_counter_s
            if self._anchor is None or not -_MAX_BACK_S <= step <= _MAX_STEP_S:
                self._anchor = (max(t_rx_unix, self._last_t), seconds)
                self._last_counter_s = seconds
            self._last_counter_s = max(self._last_counter_s, seconds)
            t = self._anchor[0] + seconds - self._anchor[1]
        self._last_t = max(self._last_t, t)  # never backwards for pyModeS' pair windows
        return self._last_t

    def _pipe_admit(self, icao: str) -> None:
        """Bound pyModeS' per-address state: start afresh when too many addresses pile up."""
        if icao in self._piped_icaos:
            return
        if len(self._piped_icaos) >= 2 * self.options.max_aircraft:
            self._pipe = self._new_pipe()
            self._piped_icaos.clear()
            self.counters["decoder_resets"] += 1
        self._piped_icaos.add(icao)

    def _state(self, icao: str) -> _Aircraft:
        return self._aircraft.touch(icao, _Aircraft)

    def _detections(
        self,
        icao: str,
        state: _Aircraft,
        result: dict[str, Any],
        t_pipe: float,
        t_rx_unix: float,
        frame_seq: int,
        flags: list[str],
    ) -> list[Detection]:
        tc = result.get("typecode")
        callsign = result.get("callsign")
        if isinstance(callsign, str) and callsign.strip("_ #"):
            state.callsign = callsign.strip("_ #")[:8]
        if tc == 19 and result.get("groundspeed") is not None and result.get("track") is not None:
            state.velocity = (t_pipe, _enu(result))
        is_position = tc in _SURFACE_TC or tc in _AIRBORNE_BARO_TC or tc in _AIRBORNE_GNSS_TC
        if not is_position:
            return []
        if result.get("latitude") is None or result.get("longitude") is None:
            self.counters["positions_unresolved"] += 1  # no pair yet, or held by pyModeS
            return []
        return [self._position(icao, state, result, t_rx_unix, frame_seq, flags)]

    def _position(
        self,
        icao: str,
        state: _Aircraft,
        result: dict[str, Any],
        t_rx_unix: float,
        frame_seq: int,
        flags: list[str],
    ) -> Detection:
        tc = result.get("typecode")
        flags = list(flags)
        velocity = None
        altitude_ft = result.get("altitude")
        if tc in _SURFACE_TC:
            flags.append("on_ground")
            alt_m, v_std = None, self.options.baro_vertical_std_m
            if result.get("groundspeed") is not None and result.get("track") is not None:
                velocity = _enu(result)
        elif altitude_ft is None:
            flags.append("altitude_unknown")
            alt_m, v_std = None, 10 * self.options.baro_vertical_std_m
        elif tc in _AIRBORNE_GNSS_TC:
            alt_m, v_std = altitude_ft * FT_TO_M, self.options.gnss_vertical_std_m
        else:
            flags.append("altitude_barometric")
            alt_m, v_std = altitude_ft * FT_TO_M, self.options.baro_vertical_std_m
        if velocity is None and tc not in _SURFACE_TC and state.velocity is not None:
            t_velocity, enu = state.velocity
            if abs(self._last_t - t_velocity) <= self.options.velocity_max_age_s:
                velocity = enu
        h_std = self.sensor.noise.position_m
        return Detection(
            sensor_id=self.sensor.sensor_id,
            t_unix=t_rx_unix,
            kind=MeasurementKind.POSITION,
            position=GeoPoint(
                lat_deg=float(result["latitude"]), lon_deg=float(result["longitude"]), alt_m=alt_m
            ),
            velocity_enu_mps=velocity,
            covariance=[[h_std**2, 0.0, 0.0], [0.0, h_std**2, 0.0], [0.0, 0.0, v_std**2]],
            identity=Identity(icao24=icao, sensor_track_id=state.callsign),
            object_class=ObjectClass.MANNED_AIRCRAFT,
            class_source="adsb",
            flags=flags,
            raw=RawRef(sensor_id=self.sensor.sensor_id, frame_seq=frame_seq),
        )


def _enu(result: dict[str, Any]) -> tuple[float, float, float]:
    """pyModeS ground speed (kt), track (deg from true north), vertical rate (ft/min) to ENU."""
    speed_mps = float(result["groundspeed"]) * KT_TO_MPS
    track = math.radians(float(result["track"]))
    vrate = result.get("vertical_rate")
    up = 0.0 if vrate is None else float(vrate) * FPM_TO_MPS
    return (speed_mps * math.sin(track), speed_mps * math.cos(track), up)
