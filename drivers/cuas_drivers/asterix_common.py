"""ASTERIX data blocks and the libasterix glue the category decoders share.

EUROCONTROL ASTERIX Part 1 (general): a UDP datagram holds one or more data blocks,

    octet  1      CAT   category number (48 = monoradar target reports, 62 = system tracks,
                        10 = surface / C-UAS sensor tracks, ...)
    octets 2-3    LEN   length of the whole block in octets, big-endian, header included (>= 3)
    octets 4..LEN       records, back to back: FSPEC, then the items FSPEC announces in UAP order

and each record's FSPEC is a bit map, one bit per Field Reference Number (FRN) in the
category's User Application Profile, bit 1 (LSB) of every FSPEC octet being FX ("another
FSPEC octet follows"). The items' lengths depend on the edition's UAP, so records are cut by
libasterix (MIT, generated from the zoranbosnjak/asterix-specs definitions) for the edition
the sensor's profile names; the block framing is cut here, with every length bounded.
libasterix's generated module takes seconds to import, so it is imported on first use.
"""

from __future__ import annotations

import struct
from functools import cache
from typing import Any, NamedTuple

from cuas.driver import DecodeError

HEADER_BYTES = 3  # CAT (1 octet) + LEN (2 octets, big-endian)

#: category -> the editions libasterix 0.36 ships of the categories decoded here (a test
#: checks this against libasterix's manifest)
EDITIONS: dict[int, tuple[str, ...]] = {
    10: ("1.1",),
    48: ("1.27", "1.28", "1.29", "1.30", "1.31", "1.32"),
    62: ("1.16", "1.17", "1.18", "1.19", "1.20", "1.21"),
}


class DataBlock(NamedTuple):
    category: int
    records: bytes  # the octets after CAT and LEN


def split_datablocks(data: bytes) -> list[DataBlock]:
    """Cut a datagram into its data blocks; a block that overruns the datagram is malformed."""
    blocks: list[DataBlock] = []
    offset = 0
    while offset < len(data):
        if len(data) - offset < HEADER_BYTES:
            raise DecodeError(f"{len(data) - offset} stray octets after the last data block")
        category, length = struct.unpack_from(">BH", data, offset)
        if length < HEADER_BYTES:
            raise DecodeError(f"data block at octet {offset}: LEN {length} is below 3")
        if offset + length > len(data):
            raise DecodeError(
                f"data block at octet {offset}: LEN {length} overruns the "
                f"{len(data)}-octet datagram"
            )
        blocks.append(DataBlock(category, data[offset + HEADER_BYTES : offset + length]))
        offset += length
    if not blocks:
        raise DecodeError("empty datagram")
    return blocks


@cache
def edition_class(category: int, edition: str) -> Any:
    """The libasterix class of one category edition (checked when the options are read)."""
    import asterix.generated as gen

    for cls in gen.manifest["CATS"][category]:
        if f"{cls.cv_edition[0]}.{cls.cv_edition[1]}" == edition:
            return cls
    raise KeyError(f"CAT{category:03d} edition {edition} is not in libasterix")


def parse_records(category: int, edition: str, records: bytes) -> list[Any]:
    """All records of one block, in strict mode: an item cut short or a spare FRN is malformed.

    libasterix slices its buffer for every field it reads; a memoryview makes those
    slices free, so a full 64 KiB block costs linear, not quadratic, time.
    """
    from asterix.base import Bits

    cls = edition_class(category, edition)
    try:
        result = cls.cv_uap.parse(Bits.from_bytes(memoryview(records)))  # type: ignore[arg-type]
    except (ValueError, IndexError, KeyError, AssertionError, TypeError, RecursionError) as exc:
        raise DecodeError(f"CAT{category:03d} ed. {edition}: {type(exc).__name__} {exc}") from None
    if isinstance(result, ValueError):
        raise DecodeError(
            f"CAT{category:03d} ed. {edition}: {result} (is this the sensor's edition?)"
        )
    return result


def item(record: Any, name: str) -> Any | None:
    """A top-level data item of a record, or None when FSPEC does not announce it."""
    return record.get_item(name)


def sub(node: Any | None, *path: str) -> Any | None:
    """A subfield of a grouped, extended or compound item, or None where it is absent
    (an extent not sent, a compound subfield not announced, a name this edition lacks)."""
    for name in path:
        if node is None:
            return None
        try:
            node = node.variation.get_item(name)
        except (ValueError, KeyError, AttributeError):
            return None
    return node


def quantity(node: Any | None, *path: str) -> float | None:
    """A scaled quantity (libasterix applies the edition's LSB), or None if absent."""
    node = sub(node, *path)
    return None if node is None else float(node.variation.content.as_quantity())


def uint(node: Any | None, *path: str) -> int | None:
    """A raw unsigned field (codes, addresses, table values), or None if absent."""
    node = sub(node, *path)
    return None if node is None else int(node.as_uint())


def source_of(record: Any) -> tuple[int, int] | None:
    """SAC/SIC from the record's I010 Data Source Identifier (octet 1 SAC, octet 2 SIC)."""
    i010 = item(record, "010")
    sac, sic = uint(i010, "SAC"), uint(i010, "SIC")
    return None if sac is None or sic is None else (sac, sic)


FL_M = 100 * 0.3048  # one flight level, m


def mode_c_altitude_m(i090: Any | None, flags: list[str]) -> float | None:
    """Flight level of an I090 Mode C code (CAT010 and CAT048 alike) in metres, or None when
    absent; a code flagged not validated (V) or garbled (G) is not used and is noted in
    ``flags``."""
    if i090 is None:
        return None
    if uint(i090, "V") == 1:
        flags.append("mode_c_not_validated")
        return None
    if uint(i090, "G") == 1:
        flags.append("mode_c_garbled")
        return None
    fl = quantity(i090, "FL")
    return None if fl is None else fl * FL_M
