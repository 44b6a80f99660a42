"""What the command line says when a user interrupts it or names a bad path, and what it
prints for drivers' defaults and the bench's command: plain words, never a traceback."""

import os
import signal
import subprocess
import sys
import time

from support import DEMO_CONFIG, DEMO_RECORDING


def cuas(*args: str, timeout_s: float = 300) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "cuas", *args], capture_output=True, text=True, timeout=timeout_s
    )


def test_a_bad_out_path_is_named_without_a_traceback(tmp_path):
    out = tmp_path / "no-such-folder" / "out.jsonl"
    result = cuas("replay", str(DEMO_RECORDING), "--out", str(out))
    assert result.returncode == 2
    assert str(out) in result.stderr and "No such file" in result.stderr
    assert "Traceback" not in result.stderr


def test_ctrl_c_stops_a_replay_with_a_message_not_a_traceback(tmp_path):
    out = tmp_path / "out.jsonl"
    proc = subprocess.Popen(
        [sys.executable, "-m", "cuas", "replay", str(DEMO_RECORDING), "--speed", "1"]
        + ["--out", str(out)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 240
        while not (out.exists() and out.stat().st_size > 0):  # running: it has written a track
            assert proc.poll() is None, proc.communicate()
            assert time.monotonic() < deadline, "the replay wrote nothing"
            time.sleep(0.1)
        os.kill(proc.pid, signal.SIGINT)
        _, stderr = proc.communicate(timeout=60)
    finally:
        proc.kill()
    assert proc.returncode == 130
    assert "interrupted" in stderr and "Traceback" not in stderr


def test_drivers_list_shows_defaults_as_toml_values():
    result = cuas("drivers", "list")
    assert result.returncode == 0
    assert 'options.transponder_class = "manned_aircraft"' in result.stdout
    assert "options.require_checksum = true" in result.stdout
    assert "<" not in result.stdout and "None" not in result.stdout  # no Python reprs


def test_check_refuses_a_replay_source_whose_file_is_missing(tmp_path):
    config = tmp_path / "site.toml"
    text = DEMO_CONFIG.read_text().replace("../replay_data/demo.jsonl.gz", "gone.jsonl.gz")
    config.write_text(text)
    result = cuas("check", "--config", str(config))
    assert result.returncode == 2
    assert "sensors[0].source" in result.stderr and "gone.jsonl.gz" in result.stderr


def test_bench_states_the_command_it_was_given_and_draws_no_bar_into_a_pipe(tmp_path):
    empty = tmp_path / "scenarios"
    empty.mkdir()
    out = tmp_path / "RESULTS.md"
    result = cuas("bench", "--scenarios", str(empty), "--out", str(out))
    assert result.returncode == 0, result.stderr
    assert f"Command: `cuas bench --scenarios {empty} --out {out}`" in out.read_text()
    assert "\r" not in result.stderr and "[####" not in result.stderr
