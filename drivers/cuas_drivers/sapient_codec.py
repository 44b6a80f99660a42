"""SAPIENT (BSI Flex 335 v2.0) codec adapter: the only module that imports the SAPIENT packages.

The message classes come from ``sapient-proto`` (protobuf code generated from Dstl's v2.0
.proto files, package ``sapient_msg``) and the reference ICD validation from
``sapient-pydantic`` (package ``sapient_msg_pydantic``), pinned at exactly 0.1.0 each.
Everything else in the driver sees only what this module exports: the protobuf message
class, enum numbers, :func:`parse`, :func:`validate`, :func:`encode` and the reply builders.
Swapping the packages for code generated from the .proto files with ``protoc`` means
changing the imports below and, if sapient-pydantic goes too, dropping its cross-check in
:func:`validate` (the descriptor walk here reads the same ``proto_options`` and finds the
same faults).

Wire format on TCP (harness ``ByteDataMessageBuilder.cs``; Apex ``message_io.py``)::

    +-------------------+---------------------------------------------+
    | length: uint32 LE | SapientMessage.SerializeToString() (length) |
    +-------------------+---------------------------------------------+

ICD validation is two checks, and a message must pass both:

1. a walk over the protobuf descriptors that reads the v2.0 ``proto_options``
   (``is_mandatory``, ``is_uuid``, ``is_ulid``, mandatory oneofs) and adds the rules the
   options do not carry but the Dstl test harness's validators enforce: ICD version
   ``BSI Flex 335 v2.0``; ``Registration.dependent_nodes`` are UUIDs;
   ``DerivedDetection.timestamp`` is mandatory; enum values are defined and mandatory ones
   are not ``*_UNSPECIFIED``; timestamps are in range; numbers are finite; confidences are
   0..1; a status interval is positive. Its reasons name the field path
   (``detection_report.location.y: mandatory field missing``);
2. ``sapient-pydantic``'s ``SapientMessage.from_pb2``, the reference implementation of
   the option rules, as a cross-check. It costs ten times the walk and has found nothing
   the walk misses on any of Dstl's invalid fixtures (``tests/drivers/test_sapient_driver``
   holds the walk to that), so the driver skips it for DetectionReports, the messages
   that come by the thousand.
"""

from __future__ import annotations

import math
import re
import struct
import uuid
from collections.abc import Callable, Iterator
from functools import cache
from typing import Any, NamedTuple

from google.protobuf.descriptor import Descriptor, FieldDescriptor
from google.protobuf.message import DecodeError as _ProtobufDecodeError
from google.protobuf.message import Message
from google.protobuf.timestamp_pb2 import Timestamp
from pydantic import ValidationError
from sapient_msg import proto_options_pb2
from sapient_msg.bsi_flex_335_v2_0 import (
    location_pb2,
    range_bearing_pb2,
    registration_pb2,
    sapient_message_pb2,
    status_report_pb2,
    velocity_pb2,
)
from sapient_msg_pydantic.bsi_flex_335_v2_0.sapient_message import (
    SapientMessage as _PydanticSapientMessage,
)

CODEC = "sapient-proto 0.1.0 + sapient-pydantic 0.1.0"
ICD_VERSION = "BSI Flex 335 v2.0"

SapientMessage = sapient_message_pb2.SapientMessage

# Enum numbers the driver reads (values from the v2.0 .proto files).
LOC_LAT_LNG_DEG_M = location_pb2.LOCATION_COORDINATE_SYSTEM_LAT_LNG_DEG_M  # 1
LOC_LAT_LNG_RAD_M = location_pb2.LOCATION_COORDINATE_SYSTEM_LAT_LNG_RAD_M  # 2
LOC_UTM_M = location_pb2.LOCATION_COORDINATE_SYSTEM_UTM_M  # 5
DATUM_WGS84_E = location_pb2.LOCATION_DATUM_WGS84_E  # 1 ellipsoid
DATUM_WGS84_G = location_pb2.LOCATION_DATUM_WGS84_G  # 2 geoid
RB_DEGREES_M = range_bearing_pb2.RANGE_BEARING_COORDINATE_SYSTEM_DEGREES_M  # 1
RB_RADIANS_M = range_bearing_pb2.RANGE_BEARING_COORDINATE_SYSTEM_RADIANS_M  # 2
RB_DEGREES_KM = range_bearing_pb2.RANGE_BEARING_COORDINATE_SYSTEM_DEGREES_KM  # 3
RB_RADIANS_KM = range_bearing_pb2.RANGE_BEARING_COORDINATE_SYSTEM_RADIANS_KM  # 4
RB_DATUM_TRUE = range_bearing_pb2.RANGE_BEARING_DATUM_TRUE  # 1
RB_DATUM_MAGNETIC = range_bearing_pb2.RANGE_BEARING_DATUM_MAGNETIC  # 2
RB_DATUM_GRID = range_bearing_pb2.RANGE_BEARING_DATUM_GRID  # 3
RB_DATUM_PLATFORM = range_bearing_pb2.RANGE_BEARING_DATUM_PLATFORM  # 4
SPEED_MS = velocity_pb2.SPEED_UNITS_MS  # 1
SPEED_KPH = velocity_pb2.SPEED_UNITS_KPH  # 2
SYSTEM_OK = status_report_pb2.StatusReport.SYSTEM_OK  # 1
SYSTEM_WARNING = status_report_pb2.StatusReport.SYSTEM_WARNING  # 2
SYSTEM_ERROR = status_report_pb2.StatusReport.SYSTEM_ERROR  # 3
SYSTEM_GOODBYE = status_report_pb2.StatusReport.SYSTEM_GOODBYE  # 5
NODE_TYPE_PASSIVE_RF = registration_pb2.Registration.NODE_TYPE_PASSIVE_RF  # 8
MODE_TYPE_DEFAULT = registration_pb2.Registration.MODE_TYPE_DEFAULT  # 3
STATUS_LEVELS_BAD = (
    status_report_pb2.StatusReport.STATUS_LEVEL_WARNING_STATUS,  # 3
    status_report_pb2.StatusReport.STATUS_LEVEL_ERROR_STATUS,  # 4
)
#: seconds per unit of Registration.TimeUnits
TIME_UNIT_S = {
    registration_pb2.Registration.TIME_UNITS_NANOSECONDS: 1e-9,
    registration_pb2.Registration.TIME_UNITS_MICROSECONDS: 1e-6,
    registration_pb2.Registration.TIME_UNITS_MILLISECONDS: 1e-3,
    registration_pb2.Registration.TIME_UNITS_SECONDS: 1.0,
    registration_pb2.Registration.TIME_UNITS_MINUTES: 60.0,
    registration_pb2.Registration.TIME_UNITS_HOURS: 3600.0,
    registration_pb2.Registration.TIME_UNITS_DAYS: 86400.0,
}

_HEADER = struct.Struct("<I")
_REASON_MAX = 300
# google.protobuf.Timestamp: 0001-01-01T00:00:00Z .. 9999-12-31T23:59:59Z
_TS_MIN_S, _TS_MAX_S = -62_135_596_800, 253_402_300_799
_ULID = re.compile(r"^[0-7][0-9A-HJKMNP-TV-Z]{25}$", re.IGNORECASE)
_FIELD_OPTIONS = proto_options_pb2.field_options
_ONEOF_OPTIONS = proto_options_pb2.oneof_options
_TIMESTAMP = Timestamp.DESCRIPTOR.full_name
_PKG = "sapient_msg.bsi_flex_335_v2_0."
# Rules the Dstl harness validators enforce that the proto options do not mark
# (harness SapientServices/Data/Validation: DerivedDetectionValidator, RegistrationValidator).
_EXTRA_MANDATORY = {(_PKG + "DetectionReport.DerivedDetection", "timestamp")}
_EXTRA_UUID = {(_PKG + "Registration", "dependent_nodes")}
_UNIT_INTERVAL = {  # confidences the ICD defines as 0..1
    (_PKG + "DetectionReport", "detection_confidence"),
    (_PKG + "DetectionReport.DetectionReportClassification", "confidence"),
    (_PKG + "DetectionReport.SubClass", "confidence"),
    (_PKG + "DetectionReport.Behaviour", "confidence"),
    (_PKG + "Alert", "confidence"),
}


class CodecError(ValueError):
    """The bytes are not a SapientMessage."""


class IcdError(ValueError):
    """A SapientMessage breaks a BSI Flex 335 v2.0 rule; the message names field and rule."""


def parse(payload: bytes) -> Any:
    """One framed payload (without its length prefix) as a SapientMessage."""
    msg = SapientMessage()
    try:
        msg.ParseFromString(payload)
    except (_ProtobufDecodeError, RecursionError, ValueError) as exc:
        raise CodecError(f"not a SapientMessage: {exc}") from None
    return msg


def encode(msg: Message) -> bytes:
    """A message framed for TCP: uint32 little-endian length, then the protobuf bytes."""
    payload = msg.SerializeToString()
    return _HEADER.pack(len(payload)) + payload


def registration_ack(
    fusion_node_id: str,
    destination_id: str | None,
    accepted: bool,
    reasons: list[str],
    t_unix: float,
) -> bytes:
    """A framed RegistrationAck from the fusion node to the node that registered."""
    msg = _envelope(fusion_node_id, destination_id, t_unix)
    msg.registration_ack.acceptance = accepted
    msg.registration_ack.ack_response_reason.extend(r[:_REASON_MAX] for r in reasons)
    return encode(msg)


def error_reply(
    fusion_node_id: str, destination_id: str | None, packet: bytes, reason: str, t_unix: float
) -> bytes:
    """A framed Error message quoting the offending packet and why it was refused."""
    msg = _envelope(fusion_node_id, destination_id, t_unix)
    msg.error.packet = packet
    msg.error.error_message.append(reason[:_REASON_MAX])
    return encode(msg)


def _envelope(fusion_node_id: str, destination_id: str | None, t_unix: float) -> Any:
    msg = SapientMessage()
    seconds = math.floor(t_unix)
    msg.timestamp.seconds = seconds
    msg.timestamp.nanos = min(int((t_unix - seconds) * 1e9), 999_999_999)
    msg.node_id = fusion_node_id
    if destination_id and is_uuid(destination_id):
        msg.destination_id = destination_id
    return msg


def enum_name(msg: Message, field_name: str) -> str:
    """The symbolic name of an enum field's value ('NODE_TYPE_RADAR'), or its number."""
    value = getattr(msg, field_name)
    enum = msg.DESCRIPTOR.fields_by_name[field_name].enum_type
    known = enum.values_by_number.get(value)
    return known.name if known is not None else str(value)


def timestamp_unix(ts: Timestamp) -> float:
    return ts.seconds + ts.nanos * 1e-9


def is_uuid(value: str) -> bool:
    try:
        uuid.UUID(value)
    except (ValueError, TypeError, AttributeError):
        return False
    return True


def is_ulid(value: str) -> bool:
    return bool(_ULID.match(value))


def validate(msg: Any, cross_check: bool = True) -> None:
    """Raise IcdError naming the first rule ``msg`` breaks; return if it keeps them all.

    ``cross_check=False`` leaves out sapient-pydantic's second opinion.
    """
    if not keeps_icd(msg):
        for finding in icd_findings(msg):
            raise IcdError(finding[:_REASON_MAX])
    if not cross_check:
        return
    try:
        _PydanticSapientMessage.from_pb2(msg)
    except ValidationError as exc:
        err = exc.errors()[0]
        text = str(err.get("msg", exc)).removeprefix("Value error, ")
        raise IcdError(f"{exc.title}: {text}"[:_REASON_MAX]) from None
    except (ValueError, TypeError, OverflowError) as exc:  # IcdValidationError is a ValueError
        raise IcdError(str(exc)[:_REASON_MAX]) from None


def icd_findings(msg: Message, path: str = "") -> Iterator[str]:
    """Every ICD fault in ``msg`` as 'field.path: what is wrong', depth first."""
    rules = _rules(msg.DESCRIPTOR)
    prefix = f"{path}." if path else ""
    for oneof_name, members in rules.mandatory_oneofs:
        if msg.WhichOneof(oneof_name) is None:
            where = f"{path}: " if path else ""
            yield f"{where}one of {', '.join(members)} is mandatory ({oneof_name})"
    present = msg.ListFields()  # set fields only: non-empty lists, non-default scalars
    have = {field.name for field, _ in present}
    for name in rules.mandatory:
        if name not in have:
            yield f"{prefix}{name}: mandatory field missing"
    for field, value in present:
        rule = rules.fields[field.name]
        if field.is_repeated:
            for i, item in enumerate(value):
                yield from _value_findings(rule, f"{prefix}{field.name}[{i}]", item)
        else:
            yield from _value_findings(rule, prefix + field.name, value)
    if rules.is_registration:
        yield from _registration_findings(msg, path)


def keeps_icd(msg: Message) -> bool:
    """True when :func:`icd_findings` finds nothing, without building a path or reason for
    every field it passes (the walk a valid message pays); same rules, same order."""
    rules = _rules(msg.DESCRIPTOR)
    for oneof_name, _ in rules.mandatory_oneofs:
        if msg.WhichOneof(oneof_name) is None:
            return False
    present = msg.ListFields()
    if rules.mandatory:
        have = {field.name for field, _ in present}
        if not have.issuperset(rules.mandatory):
            return False
    checks = rules.checks
    for field, value in present:
        check = checks[field.name]
        if check is None:
            continue
        if field.is_repeated:
            for item in value:
                if not check(item):
                    return False
        elif not check(value):
            return False
    return not rules.is_registration or next(_registration_findings(msg, ""), None) is None


def _checker(rule: _FieldRule) -> Callable[[Any], bool] | None:
    """A yes/no test of one value with the rules :func:`_value_findings` applies to it
    (None: no rule), made once per field so the walk calls it without deciding again."""
    kind = rule.kind
    if kind == "message":
        return keeps_icd
    if kind == "float":
        if rule.unit_interval:
            return lambda value: 0.0 <= value <= 1.0  # NaN and infinities fail too
        return lambda value: value - value == 0.0  # finite: inf - inf and NaN are NaN
    if kind == "string":
        mandatory, uuid_rule, ulid_rule = rule.mandatory, rule.uuid, rule.ulid

        def string_ok(value: str) -> bool:
            if mandatory and not value.strip():
                return False
            if uuid_rule:
                return is_uuid(value)
            return not ulid_rule or is_ulid(value)

        return string_ok
    if kind == "enum":
        names, mandatory = rule.enum_names or {}, rule.mandatory
        return lambda value: value in names and not (mandatory and value == 0)
    if kind == "timestamp":
        return lambda value: (
            _TS_MIN_S <= value.seconds <= _TS_MAX_S and 0 <= value.nanos < 1_000_000_000
        )
    return None


class _FieldRule(NamedTuple):
    kind: str  # "message", "timestamp", "string", "enum", "float", "other"
    mandatory: bool
    uuid: bool
    ulid: bool
    unit_interval: bool
    enum_names: dict[int, str] | None


class _Rules(NamedTuple):
    fields: dict[str, _FieldRule]
    checks: dict[str, Callable[[Any], bool] | None]  # the same rules as yes/no tests
    mandatory: tuple[str, ...]
    mandatory_oneofs: tuple[tuple[str, tuple[str, ...]], ...]
    is_registration: bool


@cache
def _rules(desc: Descriptor) -> _Rules:
    """The ICD rules of one message type, read once from its descriptor's options."""
    fields: dict[str, _FieldRule] = {}
    for field in desc.fields:
        opts = field.GetOptions().Extensions[_FIELD_OPTIONS]
        key = (desc.full_name, field.name)
        if field.type == FieldDescriptor.TYPE_MESSAGE:
            kind = "timestamp" if field.message_type.full_name == _TIMESTAMP else "message"
        else:
            kind = _KINDS.get(field.type, "other")
        fields[field.name] = _FieldRule(
            kind=kind,
            mandatory=opts.is_mandatory or key in _EXTRA_MANDATORY,
            uuid=opts.is_uuid or key in _EXTRA_UUID,
            ulid=opts.is_ulid,
            unit_interval=key in _UNIT_INTERVAL,
            enum_names=(
                {v.number: v.name for v in field.enum_type.values} if kind == "enum" else None
            ),
        )
    oneofs = tuple(
        (o.name, tuple(f.name for f in o.fields))
        for o in desc.oneofs
        if o.GetOptions().Extensions[_ONEOF_OPTIONS].is_mandatory
    )
    mandatory = tuple(name for name, rule in fields.items() if rule.mandatory)
    checks = {name: _checker(rule) for name, rule in fields.items()}
    return _Rules(fields, checks, mandatory, oneofs, desc.full_name == _PKG + "Registration")


_KINDS = {
    FieldDescriptor.TYPE_STRING: "string",
    FieldDescriptor.TYPE_ENUM: "enum",
    FieldDescriptor.TYPE_DOUBLE: "float",
    FieldDescriptor.TYPE_FLOAT: "float",
}


def _value_findings(rule: _FieldRule, where: str, value: Any) -> Iterator[str]:
    kind = rule.kind
    if kind == "message":
        yield from icd_findings(value, where)
    elif kind == "float":
        if not math.isfinite(value):
            yield f"{where}: {value} is not a finite number"
        elif rule.unit_interval and not 0.0 <= value <= 1.0:
            yield f"{where}: {value} is outside 0..1"
    elif kind == "string":
        if rule.mandatory and not value.strip():
            yield f"{where}: mandatory field is empty"
        elif rule.uuid and not is_uuid(value):
            yield f"{where}: {value!r} is not a valid UUID"
        elif rule.ulid and not is_ulid(value):
            yield f"{where}: {value!r} is not a valid ULID"
    elif kind == "enum":
        names = rule.enum_names or {}
        if value not in names:
            yield f"{where}: {value} is not a defined enum value"
        elif rule.mandatory and value == 0:
            yield f"{where}: mandatory field is {names[0]}"
    elif kind == "timestamp" and not (
        _TS_MIN_S <= value.seconds <= _TS_MAX_S and 0 <= value.nanos < 1_000_000_000
    ):
        yield f"{where}: timestamp out of range ({value.seconds} s, {value.nanos} ns)"


def _registration_findings(reg: Any, path: str) -> Iterator[str]:
    version = reg.icd_version
    if reg.HasField("icd_version") and _normalise_version(version) != _normalise_version(
        ICD_VERSION
    ):
        yield f"{path}.icd_version: {version!r} is not {ICD_VERSION!r}"
    interval = reg.status_definition.status_interval
    if interval.HasField("value") and not interval.value > 0:
        where = f"{path}.status_definition.status_interval.value"
        yield f"{where}: a status interval must be positive, got {interval.value}"


def _normalise_version(text: str) -> str:
    return " ".join(text.replace("_", " ").lower().split())
