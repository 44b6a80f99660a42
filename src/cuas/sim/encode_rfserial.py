"""RF detector encoder: the cuas RF line protocol v1, ``$CURF`` and ``$CURS`` (``rfserial``).

The protocol is ours (docs/drivers.md; no common standard exists for RF detectors):

    $CURF,1,<time>,<band>,<protocol>,<freq_mhz>,<rssi_dbm>,<bearing_deg>,<ref>,
          <bearing_std_deg>,<elevation_deg>,<emitter_id>*HH
    $CURS,1,<time>,<state>,<detail>*HH

with ``HH`` the XOR of the bytes between ``$`` and ``*`` in two hex digits, UNIX times to
the millisecond, bearings clockwise from true north (ref ``T``) to 0.01 deg, elevation to
0.01 deg, frequency to 1 kHz, RSSI to 0.1 dB. A detection with an azimuth is a bearing
(when ``bearings`` is on), else presence only. The band is the observation's, else named
from its frequency (``868M``, ``2.4G``, ``5.8G``); an observation with neither is not encoded.
A ``$CURS,...,OK`` status goes out on the first scan and every ``status_interval_s``.
Frames are the sentences without the CRLF the host strips.
"""

from __future__ import annotations

import math
import re

from cuas.sim.encode_common import EncoderState, Observation, SensorSpec, due, scan_time

VERSION = 1
_NOT_LABEL = re.compile(r"[^A-Z0-9._+-]")


def checksum(body: bytes) -> int:
    """NMEA checksum: XOR of every byte between ``$`` and ``*``."""
    value = 0
    for byte in body:
        value ^= byte
    return value


def sentence(fields: list[str]) -> bytes:
    body = ",".join(fields).encode("ascii")
    return b"$%s*%02X" % (body, checksum(body))


#: the bands drone links use, by their usual names (MHz edges)
BANDS = (
    (433.05, 434.79, "433M"),
    (863.0, 870.0, "868M"),
    (902.0, 928.0, "915M"),
    (1200.0, 1300.0, "1.2G"),
    (2400.0, 2483.5, "2.4G"),
    (5150.0, 5350.0, "5.2G"),
    (5650.0, 5925.0, "5.8G"),
)


def band_name(freq_mhz: float) -> str:
    """The usual name of the band a frequency lies in, else MHz below 1 GHz, else GHz."""
    for low, high, name in BANDS:
        if low <= freq_mhz <= high:
            return name
    if freq_mhz < 1000.0:
        return f"{freq_mhz:.0f}M"
    return f"{freq_mhz / 1000.0:.1f}G"


def _label(protocol: str | None) -> str:
    text = _NOT_LABEL.sub("-", (protocol or "").upper())[:24]
    return text if text[:1].isalnum() else "UNKNOWN"


def _degrees(rad: float) -> str:
    text = f"{math.degrees(rad) % 360.0:.2f}"
    return "0.00" if text == "360.00" else text


def curf(obs: Observation, bearings: bool, bearing_std_deg: float | None) -> bytes | None:
    band = obs.rf_band or (band_name(obs.freq_mhz) if obs.freq_mhz else None)
    if band is None:
        return None
    bearing = ref = std = elevation = ""
    if bearings and obs.azimuth_rad is not None:
        bearing, ref = _degrees(obs.azimuth_rad), "T"
        std = "" if bearing_std_deg is None else f"{bearing_std_deg:.2f}"
        if obs.elevation_rad is not None:
            elevation = f"{max(-90.0, min(90.0, math.degrees(obs.elevation_rad))):.2f}"
    return sentence(
        [
            "CURF",
            str(VERSION),
            f"{obs.t_unix:.3f}",
            band.upper(),
            _label(obs.rf_protocol),
            f"{obs.freq_mhz:.3f}" if obs.freq_mhz else "",
            "" if obs.rssi_dbm is None else f"{max(-200.0, min(50.0, obs.rssi_dbm)):.1f}",
            bearing,
            ref,
            std,
            elevation,
            "" if obs.sensor_track_id is None else str(obs.sensor_track_id),
        ]
    )


def encode_rfserial(
    spec: SensorSpec,
    observations: list[Observation],
    state: EncoderState,
    *,
    bearings: bool = True,
    bearing_std_deg: float | None = None,
    status_interval_s: float = 10.0,
) -> list[bytes]:
    """A ``$CURS`` status when due, then a ``$CURF`` per observation."""
    t_scan = scan_time(observations, state)
    if t_scan is None:
        return []
    frames = []
    if due(state, "status_sent_unix", t_scan, status_interval_s):
        frames.append(sentence(["CURS", str(VERSION), f"{t_scan:.3f}", "OK", "simulated"]))
    for obs in observations:
        line = curf(obs, bearings, bearing_std_deg)
        if line is not None:
            frames.append(line)
    return frames
