"""The fast CAT048 reader against libasterix, the reference, on the same octets.

The octet layouts are derived here from libasterix's generated specs (not from the fast
module), random well-formed records are built from them, and both decoders must give the
same plots; on malformed input both must refuse. Real bytes come from ../shared/data and
from the simulator's libasterix encoder.
"""

from __future__ import annotations

import math
import struct
from types import SimpleNamespace
from typing import Any

import asterix.generated as gen
import pytest
from asterix import base as B
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cuas.driver import DecodeError, GeoPoint, SensorInfo
from cuas.schema import ObjectClass
from cuas.sim.encode_asterix import encode_asterix
from cuas.sim.encode_common import Observation
from cuas_drivers import asterix_cat048_fast as fast
from cuas_drivers.asterix import AsterixDriver, AsterixOptions
from cuas_drivers.asterix_cat048 import decode_cat048
from cuas_drivers.asterix_common import EDITIONS, split_datablocks

CAT048_EDITIONS = [f"{c.cv_edition[0]}.{c.cv_edition[1]}" for c in gen.manifest["CATS"][48]]
_FUZZ = settings(
    max_examples=300, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow]
)


# --- the layouts, as libasterix's generated specs define them -----------------------------


def _variation_layout(v: Any) -> tuple:
    if issubclass(v, B.Element | B.Group):
        assert v.cv_bit_size % 8 == 0, v
        return (fast.FIXED, v.cv_bit_size // 8)
    if issubclass(v, B.Extended):
        extents = [sum(1 if i is None else i[1] for i in group) for group in v.cv_items_list]
        assert all(bits == 8 for bits in extents), "every CAT048 extent is one octet"
        assert all(group[-1] is None for group in v.cv_items_list), "every extent ends in FX"
        return (fast.EXTENDED, len(extents))
    if issubclass(v, B.Repetitive):
        inner = v.cv_variation
        if v.cv_rep_bytes is None:
            return (fast.REPEAT_FX, (inner.cv_bit_size + 1) // 8)
        assert v.cv_rep_bytes == 1
        return (fast.REPEAT, _variation_layout(inner)[1])
    if issubclass(v, B.Explicit):
        return (fast.EXPLICIT,)
    if issubclass(v, B.Compound):
        assert v.cv_fspec_max_bytes == 1
        return (fast.COMPOUND, tuple(_variation_layout(_var(n)) for n in v.cv_items_list))
    raise AssertionError(f"unexpected variation {v}")


def _var(non_spare: Any) -> Any:
    assert issubclass(non_spare.cv_rule, B.RuleVariationContextFree), non_spare
    return non_spare.cv_rule.cv_variation


def _reference_layouts(edition: str) -> tuple[tuple, ...]:
    record = _cls(edition).cv_uap.cv_record
    assert record.cv_fspec_max_bytes == fast.FSPEC_MAX_OCTETS
    assert all(issubclass(i, B.UapItem) for i in record.cv_items_list), "no spare FRN"
    return tuple(_variation_layout(_var(i.cv_non_spare)) for i in record.cv_items_list)


def _cls(edition: str) -> Any:
    return next(
        c for c in gen.manifest["CATS"][48] if f"{c.cv_edition[0]}.{c.cv_edition[1]}" == edition
    )


def _fl_signed(edition: str) -> bool:
    i090 = _var(_cls(edition).cv_uap.cv_record.cv_items_dict["090"])
    fl = next(i for i, _ in i090.cv_items_list if i.cv_non_spare.cv_name == "FL")
    return _var(fl.cv_non_spare).cv_rule.cv_content.cv_signedness is B.Signed


@pytest.mark.parametrize("edition", CAT048_EDITIONS)
def test_layouts_match_libasterix_specs(edition):
    assert fast.EDITIONS[edition].layouts == _reference_layouts(edition)
    assert fast.EDITIONS[edition].fl_signed == _fl_signed(edition)


def test_every_libasterix_edition_is_known_without_importing_it():
    for category, names in EDITIONS.items():
        shipped = [f"{c.cv_edition[0]}.{c.cv_edition[1]}" for c in gen.manifest["CATS"][category]]
        assert names == tuple(shipped)
    assert set(fast.EDITIONS) == set(EDITIONS[48])


# --- both decoders on the same bytes --------------------------------------------------------


def _same(records: bytes, edition: str) -> list:
    """Both decoders' plots, which must be equal; both must refuse what one refuses."""
    try:
        reference = decode_cat048(records, edition)
    except DecodeError:
        with pytest.raises(DecodeError):
            fast.decode_records(records, edition)
        return []
    assert fast.decode_records(records, edition) == reference
    return reference


def _octets(draw: Any, layout: tuple) -> bytes:
    kind = layout[0]
    if kind == fast.FIXED:
        return draw(st.binary(min_size=layout[1], max_size=layout[1]))
    if kind == fast.EXTENDED:
        n = draw(st.integers(1, layout[1]))
        body = draw(st.binary(min_size=n, max_size=n))
        return bytes((b | 1) if i < n - 1 else (b & 0xFE) for i, b in enumerate(body))
    if kind == fast.REPEAT:
        count = draw(st.integers(0, 3))
        return bytes([count]) + draw(
            st.binary(min_size=count * layout[1], max_size=count * layout[1])
        )
    if kind == fast.REPEAT_FX:
        n = draw(st.integers(1, 3))
        body = draw(st.binary(min_size=n, max_size=n))
        return bytes((b | 1) if i < n - 1 else (b & 0xFE) for i, b in enumerate(body))
    if kind == fast.EXPLICIT:
        data = draw(st.binary(max_size=6))
        return bytes([len(data) + 1]) + data
    present = [draw(st.booleans()) for _ in layout[1]]
    sub_fspec = sum(0x80 >> i for i, on in enumerate(present) if on)
    return bytes([sub_fspec]) + b"".join(
        _octets(draw, sub) for sub, on in zip(layout[1], present, strict=True) if on
    )


@st.composite
def _records(draw: Any) -> tuple[str, bytes]:
    """A CAT048 edition and 1-4 well-formed records, items drawn from the reference layouts."""
    edition = draw(st.sampled_from(CAT048_EDITIONS))
    layouts = _reference_layouts(edition)
    out = b""
    for _ in range(draw(st.integers(1, 4))):
        frns = sorted(draw(st.sets(st.integers(1, len(layouts)), max_size=12)))
        fspec = bytearray(max(1, math.ceil(max(frns, default=1) / 7)))
        for frn in frns:
            fspec[(frn - 1) // 7] |= 0x80 >> ((frn - 1) % 7)
        for i in range(len(fspec) - 1):
            fspec[i] |= 1
        out += bytes(fspec) + b"".join(_octets(draw, layouts[frn - 1]) for frn in frns)
    return edition, out


@_FUZZ
@given(_records())
def test_well_formed_records_decode_as_libasterix_decodes_them(case):
    edition, records = case
    assert len(_same(records, edition)) >= 1


@_FUZZ
@given(st.sampled_from(CAT048_EDITIONS), st.binary(max_size=200))
def test_arbitrary_records_get_the_same_verdict(edition, records):
    _same(records, edition)


@_FUZZ
@given(_records(), st.data())
def test_damaged_records_get_the_same_verdict(case, data):
    edition, records = case
    damaged = bytearray(records)
    for _ in range(data.draw(st.integers(1, 3))):
        at = data.draw(st.integers(0, len(damaged)))
        damaged[at : at + data.draw(st.integers(0, 2))] = data.draw(st.binary(max_size=2))
    _same(bytes(damaged), edition)


def test_the_real_plot_decodes_as_libasterix_decodes_it(shared_data):
    path = shared_data / "asterix" / "cat048.raw"
    if not path.is_file():
        pytest.skip("shared protocol sample not found: ../shared/data/asterix/cat048.raw")
    [block] = split_datablocks(path.read_bytes())
    for edition in CAT048_EDITIONS:
        [plot] = _same(block.records, edition)
        assert (plot.source, plot.track_number, plot.icao24) == ((25, 201), 3563, "3c660c")


RADAR = GeoPoint(lat_deg=45.0, lon_deg=16.0, alt_m=300.0)


def _observation(i: int) -> Observation:
    """Plots and radar tracks, with and without a transponder, below and above the radar."""
    transponder = i % 3 == 0
    return Observation(
        t_unix=1_764_406_800.0 + i * 0.37,
        object_id=f"d{i}",
        object_class=ObjectClass.MANNED_AIRCRAFT if transponder else ObjectClass.DRONE,
        lat_deg=45.01,
        lon_deg=16.01,
        alt_m=-50.0 + 97.0 * i,
        vel_enu_mps=(3.0 * i - 40.0, 25.0 - 2.0 * i, 0.5),
        range_m=150.0 + 311.0 * i,
        azimuth_rad=(0.41 * i) % (2 * math.pi),
        elevation_rad=-0.05 + 0.013 * i,
        radial_velocity_mps=None,
        rid_serial=None,
        operator_id=None,
        pilot=None,
        icao24=f"{0xABC000 + i:06x}" if transponder else None,
        callsign=None,
        rf_band=None,
        rf_protocol=None,
        rssi_dbm=None,
        freq_mhz=None,
        sensor_track_id=i if i % 2 else None,
    )


@pytest.mark.parametrize("edition", CAT048_EDITIONS)
@pytest.mark.parametrize("height", ["i110", "i090"])
def test_simulated_scans_decode_as_libasterix_decodes_them(edition, height):
    spec = SimpleNamespace(id="radar-1", position=RADAR, options={"editions": {48: edition}})
    frames = encode_asterix(spec, [_observation(i) for i in range(60)], {}, height=height)
    plots = []
    for frame in frames:
        for block in split_datablocks(frame):
            plots += _same(block.records, edition)
    assert len(plots) == 60
    assert {p.track_number is not None for p in plots} == {True, False}
    assert {p.height_3d_m is not None for p in plots} == {height == "i110"}
    if edition == "1.32":  # a level below zero exists as a two's complement only from 1.32 on
        assert any(p.pressure_altitude_m is not None and p.pressure_altitude_m < 0 for p in plots)


def test_the_driver_gives_the_same_detections_with_either_decoder(shared_data):
    info = SensorInfo(sensor_id="radar-1", driver="asterix", position=RADAR)
    frames = encode_asterix(
        SimpleNamespace(id="radar-1", position=RADAR, options={}),
        [_observation(i) for i in range(40)],
        {},
    )
    path = shared_data / "asterix" / "cat048.raw"
    if path.is_file():
        frames.append(path.read_bytes())
    with_fast = AsterixDriver(info, AsterixOptions())
    with_reference = AsterixDriver(info, AsterixOptions(decoder="libasterix"))
    for seq, frame in enumerate(frames):
        got = with_fast.decode(frame, 1_764_406_830.0, seq)
        assert got == with_reference.decode(frame, 1_764_406_830.0, seq)
        assert [d.model_dump_json() for d in got] == [
            d.model_validate_json(d.model_dump_json()).model_dump_json() for d in got
        ]


@pytest.mark.parametrize(
    "records, reason",
    [
        (b"\x01\x01\x01\x01\x00", "FSPEC runs on"),
        (b"\x81", "FSPEC runs on or off"),
        (b"\x20\x81", "runs off"),  # I020 FX set, no extent follows
        (b"\x01\x02\x81\x81", "FX set on the last extent"),  # I170 with a third extent
        (b"\x01\x01\x01\x04\x00", "explicit item of length 0"),  # SP
        (b"\x02\x03", "compound FSPEC longer than one octet"),  # I130
        (b"\x01\x01\x04\x20", "subfield 3 is not defined"),  # I120
    ],
)
def test_malformed_records_are_refused_with_the_reason(records, reason):
    with pytest.raises(DecodeError, match=reason):
        fast.decode_records(records, "1.32")
    with pytest.raises(DecodeError):
        decode_cat048(records, "1.32")


def test_a_record_with_every_read_item_by_hand():
    """I010 25/201, I140 12:00:00.5, I020 SIM + TST, I040 10 NM at 90 deg, I090 FL -2.5
    (1.32: two's complement), I220 a1b2c3, I161 4095, I200 0.01 NM/s at 180 deg, I170 CNF
    + GHO, I110 -100 ft."""
    fspec = bytes([0b11110101, 0b10010111, 0b00001000])  # FRN 1-4, 6, 8, 11, 13, 14, 19
    items = (
        bytes([25, 201])
        + round(43_200.5 * 128).to_bytes(3, "big")
        + bytes([0x11, 0x80])
        + struct.pack(">HH", 10 * 256, 16384)
        + struct.pack(">H", (-10) & 0x3FFF)
        + bytes.fromhex("a1b2c3")
        + struct.pack(">H", 0xF000 | 4095)
        + struct.pack(">HH", round(0.01 * 2**14), 32768)
        + bytes([0x81, 0x40])
        + struct.pack(">H", (-4) & 0x3FFF)
    )
    [plot] = _same(fspec + items, "1.32")
    assert plot.source == (25, 201)
    assert plot.time_of_day_s == 43_200.5
    assert plot.range_m == pytest.approx(10 * 1852.0)
    assert plot.azimuth_rad == pytest.approx(math.pi / 2)
    assert plot.pressure_altitude_m == pytest.approx(-2.5 * 100 * 0.3048)
    assert plot.icao24 == "a1b2c3" and plot.track_number == 4095
    assert plot.ground_speed_mps == pytest.approx(0.01 * 1852.0, rel=1e-3)
    assert plot.heading_rad == pytest.approx(math.pi)
    assert plot.height_3d_m == pytest.approx(-100 * 0.3048)
    assert plot.flags == ("simulated", "test_target", "tentative", "ghost")
    [unsigned] = _same(fspec + items, "1.31")  # before 1.32 the level is unsigned
    assert unsigned.pressure_altitude_m == pytest.approx((0x4000 - 10) / 4 * 100 * 0.3048)
