"""A running `cuas run` service for end-to-end tests."""

import contextlib
from collections.abc import Callable, Iterator

import pytest

from cuas.replay.format import Frame, ReplayReader, ReplayWriter

from support import DEMO_RECORDING, demo_config_text, run_service


@pytest.fixture
def service(tmp_path):
    """`cuas run` on free loopback ports, replaying the demo at 5x with garbage mixed in."""
    recording = tmp_path / "mixed.jsonl"
    reader = ReplayReader(DEMO_RECORDING)
    writer = ReplayWriter(recording, sensors=reader.header.sensors)
    for i, rec in enumerate(r for r in reader if isinstance(r, Frame)):
        writer.frame(rec.t_unix, rec.sensor_id, rec.data)
        if i % 25 == 0:
            writer.frame(rec.t_unix, rec.sensor_id, b"\xde\xad not json")
    writer.close()
    text = demo_config_text(tmp_path / "data", recording, "?speed=5")
    with run_service(text, tmp_path) as running:
        yield running


@pytest.fixture(scope="module")
def start_service(tmp_path_factory) -> Iterator[Callable[..., tuple]]:
    """``start_service(edit, speed)``: the bundled demo recording under `cuas run`, its config
    changed by ``edit(text) -> text``; stopped when the test module ends."""
    with contextlib.ExitStack() as stack:

        def start(edit: Callable[[str], str] = lambda t: t, speed: float = 1.0) -> tuple:
            workdir = tmp_path_factory.mktemp("service")
            text = edit(demo_config_text(workdir / "data", DEMO_RECORDING, f"?speed={speed:g}"))
            return stack.enter_context(run_service(text, workdir))

        yield start
