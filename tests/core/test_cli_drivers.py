"""`cuas drivers test` on real captures, and `cuas keys create`, run as a user runs them."""

from __future__ import annotations

import re
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from cuas.replay.format import Frame, ReplayReader, ReplayWriter
from cuas_drivers.rfserial import sentence

from support import DEMO_CONFIG, DEMO_RECORDING

T0 = 1_764_403_200.0


def cuas(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "cuas", *args], capture_output=True, text=True, timeout=120
    )


def _counter(stdout: str, name: str) -> int:
    match = re.search(rf"^    {name}: (\d+)$", stdout, re.M)
    assert match, f"no counter {name!r} in:\n{stdout[-2000:]}"
    return int(match.group(1))


def test_the_demo_recording_through_dragonsync_shows_every_frame_and_the_counters():
    result = cuas(
        "drivers",
        "test",
        "dragonsync",
        "--config",
        str(DEMO_CONFIG),
        "--input",
        str(DEMO_RECORDING),
    )
    assert result.returncode == 0, result.stderr
    frames = [r for r in ReplayReader(DEMO_RECORDING) if isinstance(r, Frame)]
    locations = sum(b"Location/Vector" in f.data for f in frames)
    assert _counter(result.stdout, "frames") == len(frames)
    assert _counter(result.stdout, "detections") == locations > 0
    assert _counter(result.stdout, "malformed") == 0
    assert len(re.findall(r"^#\d+ t=", result.stdout, re.M)) == len(frames)
    positions = re.findall(r"^    position  (42\.87\d+),(74\.[56]\d+) ", result.stdout, re.M)
    assert len(positions) == locations, "every detection is a position near the stadium"
    assert "rid:1581F5FJD239C00DW22E" in result.stdout


SITE_RF = """
[[sensors]]
id = "rf-1"
driver = "rfserial"
source = "serial:///dev/ttyUSB0?baud=115200"
position = { lat_deg = 42.8743, lon_deg = 74.6042, alt_m = 805.0 }
orientation = { yaw_deg = 90.0 }
[sensors.options]
drone_protocols = ["DJI-O3", "ELRS"]
"""

RF_LINES = [
    sentence(f"CURF,1,{T0},2.4G,DJI-O3,2437.5,-61.5,10,R,3,,e17"),  # relative: 10 + yaw 90
    sentence(f"CURF,1,{T0 + 1},5.8G,ANALOG-FPV,5740,-80,,,,,"),  # not in this site's list
    sentence(f"CURF,1,{T0 + 2},900M,ELRS,915,-70,,,,,")[:-2] + b"00",  # noise on the line
    b"garbage from the detector's boot banner",
    sentence(f"CURS,1,{T0 + 3},DEGRADED,antenna 2 open"),
]


@pytest.fixture
def rf_site(tmp_path: Path) -> Path:
    config = tmp_path / "site.toml"
    text = DEMO_CONFIG.read_text().replace("../replay_data/", f"{DEMO_RECORDING.parent}/")
    config.write_text(text + SITE_RF)
    return config


def _assert_rf_output(result: subprocess.CompletedProcess) -> None:
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert re.search(
        r"^    bearing  az 100\.0 deg  drone  DJI-O3 2\.4G 2437\.5 MHz -61\.5 dBm$", out, re.M
    )
    assert re.search(r"^    presence  unknown  ANALOG-FPV 5\.8G 5740 MHz -80 dBm$", out, re.M)
    assert re.search(r"^#2 t=\S+ MALFORMED checksum mismatch", out, re.M)
    assert re.search(r"^#3 t=\S+ MALFORMED not a sentence", out, re.M)
    assert (_counter(out, "frames"), _counter(out, "detections")) == (5, 2)
    assert (_counter(out, "malformed"), _counter(out, "checksum_errors")) == (2, 1)
    assert _counter(out, "status_sentences") == 1
    assert "malformed x1: checksum mismatch" in out
    assert "health: degraded (antenna 2 open)" in out


def test_a_raw_rfserial_capture_is_decoded_line_by_line_with_the_sensor_config(rf_site, tmp_path):
    capture = tmp_path / "rf.txt"
    capture.write_bytes(b"\r\n".join(RF_LINES) + b"\r\n")
    result = cuas(
        "drivers", "test", "rfserial", "--config", str(rf_site), "--input", str(capture),
        "--time", str(T0),
    )  # fmt: skip
    _assert_rf_output(result)


def test_an_rfserial_replay_file_gives_the_same(rf_site, tmp_path):
    recording = tmp_path / "rf.jsonl"
    writer = ReplayWriter(recording, description="rf", sensors={"rf-1": {"driver": "rfserial"}})
    for i, line in enumerate(RF_LINES):
        writer.frame(T0 + i, "rf-1", line)
    writer.close()
    result = cuas(
        "drivers", "test", "rfserial", "--config", str(rf_site), "--input", str(recording)
    )
    _assert_rf_output(result)
    wrong = cuas(
        "drivers", "test", "rfserial", "--config", str(rf_site), "--input", str(recording),
        "--sensor", "rid-1",
    )  # fmt: skip
    assert wrong.returncode == 2 and "no frames recorded for sensor 'rid-1'" in wrong.stderr
    assert "(recorded: rf-1)" in wrong.stderr


def test_without_a_config_the_driver_runs_with_its_defaults(tmp_path):
    capture = tmp_path / "rf.txt"
    capture.write_bytes(RF_LINES[1] + b"\n")
    result = cuas("drivers", "test", "rfserial", "--input", str(capture), "--time", str(T0))
    assert result.returncode == 0, result.stderr
    assert "presence  drone  ANALOG-FPV" in result.stdout  # in the default drone list
    assert "(sensor test)" in result.stdout


@pytest.mark.parametrize(
    "args, message",
    [
        (["nope", "--input", str(DEMO_RECORDING)], "unknown driver 'nope' (installed: "),
        (["dragonsync", "--input", "/no/such/file"], "no such replay file"),
        (
            ["rfserial", "--config", str(DEMO_CONFIG), "--input", str(DEMO_RECORDING)],
            "no sensor with driver 'rfserial'",
        ),
    ],
)
def test_mistakes_are_named_without_a_traceback(args, message):
    result = cuas("drivers", "test", *args)
    assert result.returncode == 2
    assert message in result.stderr and "Traceback" not in result.stderr


def test_keys_create_writes_a_keypair_once(tmp_path):
    result = cuas("keys", "create", str(tmp_path / "keys"), "--name", "engine")
    assert result.returncode == 0, result.stderr
    secret = tmp_path / "keys" / "engine.key_secret"
    assert (tmp_path / "keys" / "engine.key").is_file()
    assert stat.S_IMODE(secret.stat().st_mode) == 0o600
    assert str(secret) in result.stdout
    again = cuas("keys", "create", str(tmp_path / "keys"), "--name", "engine")
    assert again.returncode == 2 and "already exists" in again.stderr


def test_check_names_a_missing_curve_key_file(tmp_path):
    config = tmp_path / "site.toml"
    text = DEMO_CONFIG.read_text().replace("../replay_data/", f"{DEMO_RECORDING.parent}/")
    config.write_text(
        text.replace(
            "[tracker]",
            'curve_server_secret = "k/engine.key_secret"\ncurve_authorized_dir = "k"\n'
            'curve_client_secret = "k/d.key_secret"\ncurve_server_public = "k/engine.key"\n\n'
            "[tracker]",
        )
    )
    result = cuas("check", "--config", str(config))
    assert result.returncode == 2
    assert "bus.curve_server_secret" in result.stderr and "no such file" in result.stderr
