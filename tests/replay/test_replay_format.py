import gzip
import json

import pytest

from cuas.replay.format import (
    Frame,
    ReplayFormatError,
    ReplayReader,
    ReplayWriter,
    Truth,
)
from cuas.schema import ObjectClass


def _write(path, frames, truth=()):
    w = ReplayWriter(path, description="t", sensors={"a": {"driver": "dragonsync"}})
    for f in frames:
        w.frame(*f)
    for t in truth:
        w.truth(t)
    w.close()


@pytest.mark.parametrize("name", ["rec.jsonl", "rec.jsonl.gz"])
def test_text_and_binary_frames_round_trip_byte_exact(tmp_path, name):
    frames = [(10.5, "a", b'{"x": 1}'), (11.0, "b", bytes(range(256))), (11.5, "a", b"a\x00b")]
    truth = [Truth(10.5, "d1", ObjectClass.DRONE, 42.1, 74.2, 900.0, (1.0, 2.0, 0.5))]
    _write(tmp_path / name, frames, truth)
    reader = ReplayReader(tmp_path / name)
    records = list(reader)
    assert [r for r in records if isinstance(r, Frame)] == [Frame(*f) for f in frames]
    assert [r for r in records if isinstance(r, Truth)] == truth
    assert reader.header.sensors == {"a": {"driver": "dragonsync"}}
    assert reader.counters["frames"] == 3 and reader.counters["malformed"] == 0


def test_gzip_is_detected_by_content_not_name(tmp_path):
    _write(tmp_path / "plain.jsonl", [(1.0, "a", b"x")])
    disguised = tmp_path / "disguised.jsonl"
    disguised.write_bytes(gzip.compress((tmp_path / "plain.jsonl").read_bytes()))
    assert [r.data for r in ReplayReader(disguised)] == [b"x"]


def test_malformed_lines_are_counted_and_skipped_while_the_rest_flows(tmp_path):
    path = tmp_path / "bad.jsonl"
    _write(path, [(1.0, "a", b"one")])
    with path.open("a") as fh:
        fh.write("{not json\n")
        fh.write('{"type": "frame", "t": "soon", "sensor": "a", "data": "x"}\n')
        fh.write('{"type": "frame", "t": 2.0, "sensor": "a", "b64": "!!!"}\n')
        fh.write("[1, 2]\n")
        fh.write('{"type": "comment", "text": "from a newer writer"}\n')
        fh.write(json.dumps({"type": "frame", "t": 3.0, "sensor": "a", "data": "three"}) + "\n")
    reader = ReplayReader(path)
    assert [r.data for r in reader] == [b"one", b"three"]
    assert reader.counters["malformed"] == 4
    assert reader.counters["unknown_records"] == 1


def test_truncated_gzip_keeps_what_was_readable(tmp_path):
    path = tmp_path / "cut.jsonl.gz"
    _write(path, [(float(i), "a", b"x" * 50) for i in range(2000)])
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    reader = ReplayReader(path)
    frames = list(reader)
    assert 0 < len(frames) < 2000
    assert reader.counters["malformed"] >= 1


@pytest.mark.parametrize(
    "first_line, message",
    [
        ("hello\n", "not JSON"),
        ('{"type": "header", "format": "something-else", "version": 1}\n', "not a cuas replay"),
        ('{"type": "header", "format": "cuas-replay", "version": 99}\n', "version 99"),
    ],
)
def test_wrong_files_are_refused_with_a_reason(tmp_path, first_line, message):
    path = tmp_path / "x.jsonl"
    path.write_text(first_line)
    with pytest.raises(ReplayFormatError, match=message):
        ReplayReader(path)


def test_missing_file_is_a_clear_error(tmp_path):
    with pytest.raises(ReplayFormatError, match="no such replay file"):
        ReplayReader(tmp_path / "nope.jsonl")


def test_writer_output_is_reproducible(tmp_path):
    for name in ("a.jsonl.gz", "b.jsonl.gz"):
        w = ReplayWriter(tmp_path / name, sensors={"a": {}}, created_unix=5.0)
        w.frame(1.0, "a", b"z")
        w.close()
    assert (tmp_path / "a.jsonl.gz").read_bytes() == (tmp_path / "b.jsonl.gz").read_bytes()
