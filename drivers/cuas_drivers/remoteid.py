"""Remote ID drivers on our own F3411 decoder, its radio transports and capture files.

Two drivers, both mapping into Detections with identity, pilot and home remembered per
broadcaster (bounded, least recently heard forgotten first):

``odid_frames`` (Framing.MESSAGE) takes one over-the-air frame per message, tagged with the
pcap link type it was captured with:

    bytes 0-1  link type, big-endian (pcap LINKTYPE_*)   bytes 2-  the packet as captured

    127 IEEE802_11_RADIOTAP  radiotap + 802.11 frame: a Beacon with the vendor IE
                             DD len FA:0B:BC 0D counter pack, or a NaN service discovery
                             frame (public action 04 09, WFA OUI 50:6F:9A type 13) whose
                             Service Descriptor Attribute has service ID
                             sha256("org.opendroneid.remoteid")[:6] and service info
                             counter + pack (F3411-22a §5.4.7, opendroneid-core-c wifi.c)
    105 IEEE802_11           the same without radiotap
    272 NORDIC_BLE           nRF Sniffer header (v2/v3) + BLE advertising packet
    251 BLUETOOTH_LE_LL      access address + PDU header + payload + CRC
    147 USER0                a bare F3411 payload: one 25-byte message or a message pack
                             (serial receivers and bridges that strip the radio layer)

On Bluetooth, Remote ID is AD type 0x16 service data with UUID 0xFFFA, app code 0x0D, a
counter, then one message (BT4 legacy advertising, 31 bytes) or a message pack (BT5
extended advertising). A frame that carries no Remote ID (a NaN sync beacon, another
vendor's advertisement) is well formed and gives no detection.

``dronescout`` (Framing.LINE; a message source gives whole frames) takes the JSON that
DroneScout-style receivers publish (MQTT, TCP): ``{"protocol": 1.0, "data": {...}}`` with
``UASdata`` = base64 of opendroneid-core-c's ``ODID_UAS_Data`` struct, or a sensor status
heartbeat (``firmware version``, ``model``, ``status``), one object or a JSON array of them.

:func:`read_capture` reads pcap and pcapng files (our own small parser) and
:func:`capture_to_replay` turns one into a replay file of ``odid_frames`` frames, so a
capture plays through the real driver. Live monitor-mode capture is not here: it needs
privileges and radio hardware; a capture tool or a receiver feeds the drivers instead.

A Location/Vector message becomes a POSITION detection, or a PRESENCE detection when it has
no valid position. Identity (Basic ID, Operator ID) and the pilot (System) usually arrive in
other messages and are attached from memory.
"""

from __future__ import annotations

import base64
import binascii
import json
import math
import struct
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

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
    Signature,
)
from cuas.driver.memory import RecentMap
from cuas.replay.format import ReplayWriter
from cuas.schema import SensorState
from cuas_drivers import odid

LINKTYPE_IEEE802_11 = 105
LINKTYPE_IEEE802_11_RADIOTAP = 127
LINKTYPE_USER0 = 147
LINKTYPE_BLUETOOTH_LE_LL = 251
LINKTYPE_NORDIC_BLE = 272
LINKTYPES = {
    LINKTYPE_IEEE802_11,
    LINKTYPE_IEEE802_11_RADIOTAP,
    LINKTYPE_USER0,
    LINKTYPE_BLUETOOTH_LE_LL,
    LINKTYPE_NORDIC_BLE,
}

ASTM_OUI = b"\xfa\x0b\xbc"  # ASD-STAN / ASTM OUI for the Wi-Fi Beacon vendor IE
WFA_OUI = b"\x50\x6f\x9a"
ODID_APP_CODE = 0x0D
ODID_BT_UUID = b"\xfa\xff"  # 0xFFFA, little-endian as on the air
NAN_SERVICE_ID = bytes.fromhex("8869199d9209")  # sha256("org.opendroneid.remoteid")[:6]
BLE_ADV_ACCESS_ADDRESS = 0x8E89BED6


@dataclass(frozen=True)
class RadioPayload:
    """The F3411 payload a radio frame carried, with what the radio layer says about it."""

    transport: str  # wifi_beacon, wifi_nan, bt_legacy, bt_extended, raw
    mac: str | None  # transmitter address, lower-case
    rssi_dbm: float | None
    freq_mhz: float | None
    payload: bytes  # one 25-byte message or a message pack


def _mac(addr: bytes) -> str:
    return ":".join(f"{b:02x}" for b in addr)


# --- IEEE 802.11 -------------------------------------------------------------------------

# radiotap fields before dBm antenna signal (bit 5): (alignment, size) by presence bit
_RADIOTAP_FIELDS = {0: (8, 8), 1: (1, 1), 2: (1, 1), 3: (2, 4), 4: (2, 2), 5: (1, 1)}


def _radiotap(packet: bytes) -> tuple[float | None, float | None, bytes]:
    """Signal (dBm), channel frequency (MHz) and the 802.11 frame after a radiotap header."""
    if len(packet) < 8:
        raise DecodeError("radiotap header truncated")
    version, length, present = packet[0], *struct.unpack_from("<HI", packet, 2)
    if version != 0 or not 8 <= length <= len(packet):
        raise DecodeError(f"radiotap version {version} length {length} in {len(packet)} bytes")
    offset = 8
    word = present
    while word & 0x8000_0000:  # extended presence bitmaps follow
        if offset + 4 > length:
            raise DecodeError("radiotap presence bitmaps overrun the header")
        (word,) = struct.unpack_from("<I", packet, offset)
        offset += 4
    rssi = freq = None
    for bit, (align, size) in _RADIOTAP_FIELDS.items():
        if not present & (1 << bit):
            continue
        offset = (offset + align - 1) & ~(align - 1)
        if offset + size > length:
            raise DecodeError("radiotap fields overrun the header")
        if bit == 3:
            freq = float(struct.unpack_from("<H", packet, offset)[0]) or None
        elif bit == 5:
            rssi = float(struct.unpack_from("<b", packet, offset)[0])
        offset += size
    return rssi, freq, packet[length:]


def _ieee80211(frame: bytes) -> tuple[str, str, bytes] | None:
    """(transport, transmitter MAC, F3411 payload) from a Beacon or NaN action frame."""
    if len(frame) < 24:
        raise DecodeError(f"802.11 frame of {len(frame)} bytes is shorter than its header")
    fc = frame[0]
    mac = _mac(frame[10:16])  # address 2: the transmitter
    if fc == 0x80:  # management, subtype 8: Beacon; 12 fixed bytes, then elements
        return _beacon(frame[36:], mac)
    if fc == 0xD0:  # management, subtype 13: Action
        return _nan_action(frame[24:], mac)
    return None


def _beacon(elements: bytes, mac: str) -> tuple[str, str, bytes] | None:
    offset = 0
    while offset + 2 <= len(elements):
        eid, length = elements[offset], elements[offset + 1]
        body = elements[offset + 2 : offset + 2 + length]
        if len(body) < length:
            raise DecodeError(f"802.11 element {eid} overruns the frame")
        if eid == 0xDD and body[:3] == ASTM_OUI and length >= 5 and body[3] == ODID_APP_CODE:
            return "wifi_beacon", mac, body[5:]  # after OUI, type and the message counter
        offset += 2 + length
    return None


def _nan_action(body: bytes, mac: str) -> tuple[str, str, bytes] | None:
    """NaN Service Discovery Frame: public action, vendor specific, WFA OUI type 0x13."""
    if len(body) < 6 or body[0] != 0x04 or body[1] != 0x09 or body[2:6] != WFA_OUI + b"\x13":
        return None
    offset = 6
    while offset + 3 <= len(body):
        attr_id, length = body[offset], struct.unpack_from("<H", body, offset + 1)[0]
        attr = body[offset + 3 : offset + 3 + length]
        if len(attr) < length:
            raise DecodeError(f"NaN attribute {attr_id} overruns the frame")
        if attr_id == 0x03 and attr[:6] == NAN_SERVICE_ID:  # Service Descriptor Attribute
            info = _nan_service_info(attr)
            if info is not None:
                return "wifi_nan", mac, info[1:]  # after the message counter
        offset += 3 + length
    return None


def _nan_service_info(sda: bytes) -> bytes | None:
    """Service info of a Service Descriptor Attribute (Wi-Fi NAN spec §9.5.20.1)."""
    if len(sda) < 9:
        raise DecodeError("NaN service descriptor attribute truncated")
    control = sda[8]  # after service ID (6), instance ID, requestor instance ID
    offset = 9
    if control & 0x40:  # binding bitmap
        offset += 2
    for bit in (0x04, 0x08):  # matching filter, service response filter: length + bytes
        if control & bit:
            if offset >= len(sda):
                raise DecodeError("NaN service descriptor filter truncated")
            offset += 1 + sda[offset]
    if not control & 0x10:
        return None
    if offset >= len(sda) or offset + 1 + sda[offset] > len(sda):
        raise DecodeError("NaN service info truncated")
    info = sda[offset + 1 : offset + 1 + sda[offset]]
    return info if len(info) >= 2 else None


# --- Bluetooth LE ------------------------------------------------------------------------


def _ble_channel_mhz(channel: int) -> float | None:
    """BLE RF channel index (link-layer numbering) to centre frequency."""
    if channel == 37:
        return 2402.0
    if channel == 38:
        return 2426.0
    if channel == 39:
        return 2480.0
    if 0 <= channel <= 10:
        return 2404.0 + 2 * channel
    if 11 <= channel <= 36:
        return 2428.0 + 2 * (channel - 11)
    return None


def _nordic_ble(packet: bytes) -> tuple[float | None, float | None, bytes, bool]:
    """nRF Sniffer v2/v3 header: (RSSI dBm, MHz, BLE packet from its access address, coded)."""
    if len(packet) < 17:
        raise DecodeError(f"nRF Sniffer packet of {len(packet)} bytes is too short")
    protocol_version, header_length = packet[3], packet[7]
    if protocol_version not in (2, 3) or header_length < 10:
        raise DecodeError(f"nRF Sniffer protocol {protocol_version} header {header_length}")
    flags, channel, rssi = packet[8], packet[9], packet[10]
    if not flags & 0x01:
        raise DecodeError("BLE packet failed its CRC check (nRF Sniffer flags)")
    coded = (flags >> 4) & 0x07 == 2  # PHY field: 0 1M, 1 2M, 2 Coded
    return -float(rssi), _ble_channel_mhz(channel), packet[7 + header_length :], coded


def _ble_advertising(ll: bytes, coded: bool) -> tuple[str, str | None, bytes] | None:
    """(transport, AdvA, F3411 payload) from a link-layer advertising packet."""
    start = 5 if coded else 4  # access address, then the coding indicator on LE Coded
    if len(ll) < start + 2:
        raise DecodeError("BLE packet truncated before its PDU header")
    if struct.unpack_from("<I", ll, 0)[0] != BLE_ADV_ACCESS_ADDRESS:
        return None  # a data-channel connection packet
    pdu_type, length = ll[start] & 0x0F, ll[start + 1]
    pdu = ll[start + 2 : start + 2 + length]
    if len(pdu) < length:
        raise DecodeError(f"BLE PDU of {length} bytes truncated to {len(pdu)}")
    if pdu_type in (0, 2, 4, 6):  # ADV_IND, ADV_NONCONN_IND, SCAN_RSP, ADV_SCAN_IND
        if len(pdu) < 6:
            raise DecodeError("legacy advertising PDU without an address")
        return _ad_structures(pdu[6:], _mac(pdu[5::-1]), "bt_legacy")
    if pdu_type == 7:  # ADV_EXT_IND / AUX_ADV_IND / AUX_CHAIN_IND (Core 5.x Vol 6 B 2.3.4)
        if not pdu:
            return None
        header_length = pdu[0] & 0x3F
        if 1 + header_length > len(pdu):
            raise DecodeError("BLE extended header overruns the PDU")
        adv_a = None
        if header_length and pdu[1] & 0x01 and header_length >= 7:
            adv_a = _mac(pdu[7:1:-1])  # AdvA right after the flags byte, little-endian
        return _ad_structures(pdu[1 + header_length :], adv_a, "bt_extended")
    return None


def _ad_structures(data: bytes, mac: str | None, transport: str) -> tuple | None:
    """Service data 0x16, UUID 0xFFFA, app code 0x0D: counter then message or pack."""
    offset = 0
    while offset < len(data):
        length = data[offset]
        if length == 0:
            break  # the rest is padding
        ad = data[offset + 1 : offset + 1 + length]
        if len(ad) < length:
            raise DecodeError("BLE AD structure overruns the advertising data")
        if ad[0] == 0x16 and ad[1:3] == ODID_BT_UUID and len(ad) >= 5 and ad[3] == ODID_APP_CODE:
            return transport, mac, ad[5:]
        offset += 1 + length
    return None


def odid_frame(linktype: int, packet: bytes) -> bytes:
    """An ``odid_frames`` driver frame: the link type, then the packet as captured."""
    return struct.pack(">H", linktype) + packet


def parse_radio_frame(frame: bytes) -> RadioPayload | None:
    """The Remote ID payload an ``odid_frames`` frame carries, or None if it carries none."""
    if len(frame) < 3:
        raise DecodeError(f"frame of {len(frame)} bytes has no link type and packet")
    (linktype,) = struct.unpack_from(">H", frame, 0)
    packet = frame[2:]
    rssi = freq = None
    if linktype == LINKTYPE_USER0:
        return RadioPayload("raw", None, None, None, packet)
    if linktype in (LINKTYPE_IEEE802_11_RADIOTAP, LINKTYPE_IEEE802_11):
        if linktype == LINKTYPE_IEEE802_11_RADIOTAP:
            rssi, freq, packet = _radiotap(packet)
        found = _ieee80211(packet)
    elif linktype == LINKTYPE_NORDIC_BLE:
        rssi, freq, ll, coded = _nordic_ble(packet)
        found = _ble_advertising(ll, coded)
    elif linktype == LINKTYPE_BLUETOOTH_LE_LL:
        found = _ble_advertising(packet, False)
    else:
        raise DecodeError(f"link type {linktype} is not one odid_frames reads")
    if found is None:
        return None
    transport, mac, payload = found
    return RadioPayload(transport, mac, rssi, freq, payload)


# --- pcap / pcapng -----------------------------------------------------------------------

MAX_CAPTURED_PACKET = 262_144


class CaptureError(ValueError):
    """The file is not a pcap or pcapng capture this reader understands."""


@dataclass(frozen=True)
class CapturedPacket:
    t_unix: float
    linktype: int
    data: bytes


def read_capture(path: str | Path) -> Iterator[CapturedPacket]:
    """Packets of a pcap or pcapng file, with their capture times (UNIX s)."""
    data = Path(path).read_bytes()
    if data[:4] == b"\x0a\x0d\x0d\x0a":
        yield from _pcapng(data, path)
    else:
        yield from _pcap(data, path)


def _pcap(data: bytes, path: str | Path) -> Iterator[CapturedPacket]:
    if len(data) < 24:
        raise CaptureError(f"{path}: too short for a pcap header")
    magic = data[:4]
    formats = {
        b"\xd4\xc3\xb2\xa1": ("<", 1e-6),
        b"\xa1\xb2\xc3\xd4": (">", 1e-6),
        b"\x4d\x3c\xb2\xa1": ("<", 1e-9),
        b"\xa1\xb2\x3c\x4d": (">", 1e-9),
    }
    if magic not in formats:
        raise CaptureError(f"{path}: not a pcap or pcapng file (magic {magic.hex()})")
    endian, tick = formats[magic]
    linktype = struct.unpack_from(endian + "I", data, 20)[0] & 0x0FFF_FFFF
    offset = 24
    while offset + 16 <= len(data):
        seconds, fraction, caplen, _ = struct.unpack_from(endian + "IIII", data, offset)
        if caplen > MAX_CAPTURED_PACKET or offset + 16 + caplen > len(data):
            raise CaptureError(f"{path}: packet at byte {offset} overruns the file")
        yield CapturedPacket(
            seconds + fraction * tick, linktype, data[offset + 16 : offset + 16 + caplen]
        )
        offset += 16 + caplen


def _pcapng(data: bytes, path: str | Path) -> Iterator[CapturedPacket]:
    endian = "<"
    interfaces: list[tuple[int, float]] = []  # (link type, seconds per timestamp unit)
    offset = 0
    while offset + 12 <= len(data):
        block_type = struct.unpack_from(endian + "I", data, offset)[0]
        if block_type == 0x0A0D0D0A:  # Section Header: its byte-order magic sets the endian
            magic = data[offset + 8 : offset + 12]
            endian = {b"\x4d\x3c\x2b\x1a": "<", b"\x1a\x2b\x3c\x4d": ">"}.get(magic, "")
            if not endian:
                raise CaptureError(f"{path}: pcapng section with byte-order magic {magic.hex()}")
            interfaces = []
        length = struct.unpack_from(endian + "I", data, offset + 4)[0]
        if length < 12 or length % 4 or offset + length > len(data):
            raise CaptureError(f"{path}: pcapng block at byte {offset} has length {length}")
        body = data[offset + 8 : offset + length - 4]
        if block_type == 1 and len(body) >= 8:  # Interface Description
            interfaces.append(
                (struct.unpack_from(endian + "H", body, 0)[0], _if_tsresol(body[8:], endian))
            )
        elif block_type == 6 and len(body) >= 20:  # Enhanced Packet
            iface, high, low, caplen = struct.unpack_from(endian + "IIII", body, 0)
            if iface >= len(interfaces) or caplen > min(MAX_CAPTURED_PACKET, len(body) - 20):
                raise CaptureError(f"{path}: bad enhanced packet block at byte {offset}")
            linktype, tick = interfaces[iface]
            yield CapturedPacket(((high << 32) | low) * tick, linktype, body[20 : 20 + caplen])
        offset += length


def _if_tsresol(options: bytes, endian: str) -> float:
    """Seconds per timestamp unit from an IDB's if_tsresol option (default microseconds)."""
    offset = 0
    while offset + 4 <= len(options):
        code, length = struct.unpack_from(endian + "HH", options, offset)
        if code == 0:
            break
        if code == 9 and length == 1 and offset + 5 <= len(options):
            value = options[offset + 4]
            return 2.0 ** -(value & 0x7F) if value & 0x80 else 10.0**-value
        offset += 4 + ((length + 3) & ~3)
    return 1e-6


def capture_frames(path: str | Path) -> Iterator[tuple[float, bytes]]:
    """``odid_frames`` frames (with capture times) of the packets that carry Remote ID.

    Packets that carry none, or that the radio parsers cannot read, are left out.
    """
    for packet in read_capture(path):
        if packet.linktype not in LINKTYPES:
            continue
        frame = odid_frame(packet.linktype, packet.data)
        try:
            payload = parse_radio_frame(frame)
        except DecodeError:
            continue
        if payload is not None:
            yield packet.t_unix, frame


def capture_to_replay(
    capture: str | Path, out: str | Path, sensor_id: str = "rid-1", description: str = ""
) -> int:
    """Write a capture's Remote ID frames as a replay file for ``odid_frames``; the count."""
    frames = list(capture_frames(capture))
    writer = ReplayWriter(
        Path(out),
        description=description or f"Remote ID frames from {Path(capture).name}",
        sensors={sensor_id: {"driver": "odid_frames"}},
        created_unix=frames[0][0] if frames else 0.0,
    )
    try:
        for t_unix, frame in frames:
            writer.frame(t_unix, sensor_id, frame)
    finally:
        writer.close()
    return len(frames)


# --- the drivers -------------------------------------------------------------------------


class RemoteIdOptions(BaseModel):
    model_config = ConfigDict(extra="forbid")
    max_remembered: int = Field(1024, ge=1, description="broadcasters whose IDs are remembered")
    default_vertical_std_m: float = Field(
        50.0, gt=0, description="1-sigma altitude error when the message states none"
    )
    max_timestamp_skew_s: float = Field(
        10.0, gt=0, description="Location timestamps further than this from receipt are flagged"
    )


class DroneScoutOptions(RemoteIdOptions):
    heartbeat_timeout_s: float = Field(
        180.0, gt=0, description="sensor degraded when no status message for this long"
    )


class _Broadcaster:
    """What has been heard from one transmitter so far."""

    def __init__(self) -> None:
        self.identity: dict[str, str] = {}
        self.pilot: GeoPoint | None = None
        self.home: GeoPoint | None = None
        self.rssi_dbm: float | None = None
        self.freq_mhz: float | None = None
        self.flags: dict[str, tuple[str, ...]] = {}  # per message kind, the latest flags


def _point(lat: float | None, lon: float | None, alt: float | None) -> GeoPoint | None:
    return None if lat is None or lon is None else GeoPoint(lat_deg=lat, lon_deg=lon, alt_m=alt)


class _RemoteIdDriver(Driver):
    """Turns decoded F3411 messages into detections; remembers IDs per broadcaster."""

    Options = RemoteIdOptions

    def __init__(self, sensor: SensorInfo, options: BaseModel) -> None:
        super().__init__(sensor, options)
        self._seen: RecentMap[str, _Broadcaster] = RecentMap(self.options.max_remembered)

    def _broadcaster(self, key: str) -> _Broadcaster:
        return self._seen.touch(key, _Broadcaster)

    @staticmethod
    def _key(mac: str | None, messages: Iterable[odid.Message]) -> str:
        if mac:
            return mac.lower()
        for msg in messages:
            if isinstance(msg, odid.BasicId) and msg.uas_id:
                return f"id:{msg.uas_id}"
        return "anonymous"

    def _learn(self, state: _Broadcaster, msg: odid.Message) -> None:
        if isinstance(msg, odid.BasicId) and msg.uas_id:
            if msg.id_type == odid.IdType.SERIAL_NUMBER:
                state.identity["rid_serial"] = msg.uas_id
            elif msg.id_type == odid.IdType.CAA_REGISTRATION_ID:
                state.identity["caa_id"] = msg.uas_id
            state.flags[f"basic_id_{msg.id_type}"] = msg.flags
        elif isinstance(msg, odid.OperatorId) and msg.operator_id:
            state.identity["operator_id"] = msg.operator_id
            state.flags["operator_id"] = msg.flags
        elif isinstance(msg, odid.System):
            pilot = _point(msg.operator_lat_deg, msg.operator_lon_deg, msg.operator_alt_m)
            state.pilot = pilot or state.pilot
            if (
                pilot is not None
                and msg.operator_location_type == odid.OperatorLocationType.TAKEOFF
            ):
                state.home = pilot
            state.flags["system"] = msg.flags

    def _detections(
        self,
        mac: str | None,
        messages: list[odid.Message],
        t_rx_unix: float,
        raw: RawRef,
        radio: tuple[float | None, float | None] = (None, None),
        heard: bool = False,
    ) -> list[Detection]:
        """Learn from every message, then one detection per Location/Vector message.

        ``radio`` is (RSSI dBm, MHz) of the frame; with ``heard`` a presence detection is
        made when the frame holds no Location at all.
        """
        state = self._broadcaster(self._key(mac, messages))
        if mac:
            state.identity["mac"] = mac.lower()
        rssi_dbm, freq_mhz = radio
        state.rssi_dbm = rssi_dbm if rssi_dbm is not None else state.rssi_dbm
        state.freq_mhz = freq_mhz or state.freq_mhz
        for msg in messages:
            self._learn(state, msg)
        locations = [m for m in messages if isinstance(m, odid.Location)]
        out = [self._location(loc, state, t_rx_unix, raw) for loc in locations]
        if heard and not locations:
            out.append(self._detection(state, t_rx_unix, raw, MeasurementKind.PRESENCE, []))
        return out

    def _detection(
        self,
        state: _Broadcaster,
        t_rx_unix: float,
        raw: RawRef,
        kind: MeasurementKind,
        flags: list[str],
        **fields: Any,
    ) -> Detection:
        for kind_flags in state.flags.values():
            flags.extend(kind_flags)
        return Detection(
            sensor_id=self.sensor.sensor_id,
            t_unix=t_rx_unix,
            kind=kind,
            identity=Identity(**state.identity),
            object_class=ObjectClass.DRONE,
            class_source="remote_id",
            pilot=state.pilot,
            home=state.home,
            signature=Signature(
                protocol="remote_id", rssi_dbm=state.rssi_dbm, freq_mhz=state.freq_mhz
            ),
            flags=list(dict.fromkeys(flags)),
            raw=raw,
            **fields,
        )

    def _location(
        self, loc: odid.Location, state: _Broadcaster, t_rx_unix: float, raw: RawRef
    ) -> Detection:
        flags = list(loc.flags)
        if loc.status == odid.Status.EMERGENCY:
            flags.append("status_emergency")
        elif loc.status == odid.Status.REMOTE_ID_SYSTEM_FAILURE:
            flags.append("status_remote_id_failure")
        if loc.timestamp_s is not None:
            skew = odid.location_time_unix(loc.timestamp_s, t_rx_unix) - t_rx_unix
            if skew < -self.options.max_timestamp_skew_s:
                flags.append("timestamp_stale")
            elif skew > self.options.max_timestamp_skew_s:
                flags.append("timestamp_future")
        if loc.lat_deg is None or loc.lon_deg is None:
            return self._detection(state, t_rx_unix, raw, MeasurementKind.PRESENCE, flags)
        alt_m, vertical_std_m = self._altitude(loc)
        h_bound = loc.horizontal_accuracy_m
        h_std = h_bound / 2.0 if h_bound else self.sensor.noise.position_m  # 95 % ~ 2 sigma
        covariance = [[h_std**2, 0.0, 0.0], [0.0, h_std**2, 0.0], [0.0, 0.0, vertical_std_m**2]]
        return self._detection(
            state,
            t_rx_unix,
            raw,
            MeasurementKind.POSITION,
            flags,
            position=GeoPoint(lat_deg=loc.lat_deg, lon_deg=loc.lon_deg, alt_m=alt_m),
            covariance=covariance,
            velocity_enu_mps=self._velocity(loc),
        )

    def _altitude(self, loc: odid.Location) -> tuple[float, float]:
        """Geodetic altitude, else pressure altitude, else the sensor's height plus AGL."""
        default_std = self.options.default_vertical_std_m
        if loc.geodetic_alt_m is not None:
            bound = loc.vertical_accuracy_m
            return loc.geodetic_alt_m, bound / 2.0 if bound else default_std
        if loc.pressure_alt_m is not None:  # barometric, not WGS84: a wider error
            bound = loc.baro_accuracy_m
            return loc.pressure_alt_m, max(bound / 2.0 if bound else 0.0, default_std)
        sensor_alt = self.sensor.position.alt_m if self.sensor.position else None
        if sensor_alt is not None and loc.height_m is not None:
            return sensor_alt + loc.height_m, 2 * default_std
        return (sensor_alt or 0.0), 4 * default_std

    @staticmethod
    def _velocity(loc: odid.Location) -> tuple[float, float, float] | None:
        if loc.direction_deg is None or loc.speed_mps is None:
            return None
        track = math.radians(loc.direction_deg)  # clockwise from true north
        up = loc.vertical_speed_mps or 0.0
        return (loc.speed_mps * math.sin(track), loc.speed_mps * math.cos(track), up)


class OdidFramesDriver(_RemoteIdDriver):
    """Over-the-air Remote ID frames (Wi-Fi Beacon/NaN, BLE legacy/extended, bare F3411)."""

    name = "odid_frames"
    framing = Framing.MESSAGE
    max_frame_bytes = 4096

    def decode(self, frame: bytes, t_rx_unix: float, frame_seq: int) -> list[Detection]:
        radio = parse_radio_frame(frame)
        if radio is None:
            return []
        messages = list(odid.decode_messages(radio.payload))
        raw = RawRef(sensor_id=self.sensor.sensor_id, frame_seq=frame_seq)
        return self._detections(
            radio.mac, messages, t_rx_unix, raw, (radio.rssi_dbm, radio.freq_mhz)
        )


def _wifi_channel_mhz(channel: int) -> float | None:
    if 1 <= channel <= 13:
        return 2407.0 + 5 * channel
    if channel == 14:
        return 2484.0
    if 32 <= channel <= 177:
        return 5000.0 + 5 * channel
    return None


class DroneScoutDriver(_RemoteIdDriver):
    """DroneScout-style receiver JSON: base64 ``ODID_UAS_Data`` plus sensor heartbeats."""

    name = "dronescout"
    framing = Framing.LINE
    Options = DroneScoutOptions
    max_frame_bytes = 262_144

    def __init__(self, sensor: SensorInfo, options: BaseModel) -> None:
        super().__init__(sensor, options)
        self._status: tuple[float, str] | None = None  # (t_rx of the last heartbeat, status)

    def decode(self, frame: bytes, t_rx_unix: float, frame_seq: int) -> list[Detection]:
        try:
            message = json.loads(frame)
        except (ValueError, RecursionError) as exc:
            raise DecodeError(f"not JSON: {exc}") from None
        items = message if isinstance(message, list) else [message]
        raw = RawRef(sensor_id=self.sensor.sensor_id, frame_seq=frame_seq)
        out: list[Detection] = []
        for item in items:
            out.extend(self._item(item, t_rx_unix, raw))
        return out

    def _item(self, item: Any, t_rx_unix: float, raw: RawRef) -> list[Detection]:
        if not isinstance(item, dict) or not isinstance(item.get("data"), dict):
            raise DecodeError('expected an object with a "data" object')
        if str(item.get("protocol")) != "1.0":
            raise DecodeError(f"protocol {item.get('protocol')!r}, expected 1.0")
        data = item["data"]
        if "UASdata" not in data:
            if "status" not in data:
                raise DecodeError("neither a detection (UASdata) nor a status message")
            self._status = (t_rx_unix, str(data["status"])[:64])
            self.counters["heartbeats"] += 1
            return []
        encoded = data["UASdata"]
        if not isinstance(encoded, str) or len(encoded) > 4 * odid.UAS_DATA_MAX_BYTES // 3 + 4:
            raise DecodeError("UASdata is not a base64 string of an ODID_UAS_Data struct")
        try:
            uas = odid.decode_uas_data(base64.b64decode(encoded, validate=True))
        except binascii.Error as exc:
            raise DecodeError(f"UASdata is not base64: {exc}") from None
        messages: list[odid.Message] = [*uas.basic_ids, *uas.auth_pages]
        for msg in (uas.location, uas.self_id, uas.system, uas.operator_id):
            if msg is not None:
                messages.append(msg)
        mac = data.get("MAC address")
        mac = mac if isinstance(mac, str) and 0 < len(mac) <= 64 else None
        rssi = data.get("RSSI")
        if not isinstance(rssi, int | float) or isinstance(rssi, bool) or not -200 <= rssi <= 50:
            rssi = None
        channel = data.get("channel")
        freq = None
        if "wifi" in str(data.get("type", "")).lower() and isinstance(channel, int):
            freq = _wifi_channel_mhz(channel)
        # every data message means the drone was heard: presence when it sent no Location
        radio = (None if rssi is None else float(rssi), freq)
        return self._detections(mac, messages, t_rx_unix, raw, radio, heard=True)

    def health(self, t_unix: float) -> tuple[SensorState, str] | None:
        if self._status is None:
            return None
        t_heard, status = self._status
        if t_unix - t_heard > self.options.heartbeat_timeout_s:
            return SensorState.DEGRADED, f"no sensor status for {t_unix - t_heard:.0f} s"
        if status.lower() != "normal":
            return SensorState.DEGRADED, f"sensor reports status {status!r}"
        return SensorState.OK, f"sensor status {status!r}"
