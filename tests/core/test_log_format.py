"""`[service] log_format = "json"`: every log line is one JSON object with the fields a log
shipper indexes; "text" stays the readable default."""

import json
import subprocess
import sys

import pytest

from cuas.config import ConfigError, load_config

from support import DEMO_CONFIG

PROGRAM = """
import logging, sys
from cuas.log_format import setup_logging
setup_logging("info", sys.argv[1])
log = logging.getLogger("cuas.engine")
log.info("engine: %d tracks", 3)
try:
    1 / 0
except ZeroDivisionError:
    log.exception("step failed: \\"quoted\\"")
"""


def logged(fmt: str) -> list[str]:
    done = subprocess.run(
        [sys.executable, "-c", PROGRAM, fmt], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    return done.stderr.splitlines()


def test_json_logs_are_one_object_a_line_with_level_logger_and_exception():
    lines = [json.loads(line) for line in logged("json")]  # every line parses on its own
    assert [e["message"] for e in lines] == ["engine: 3 tracks", 'step failed: "quoted"']
    assert {e["level"] for e in lines} == {"info", "error"}
    assert all(e["logger"] == "cuas.engine" and e["t"].endswith("Z") for e in lines)
    assert "ZeroDivisionError" in lines[1]["exception"] and "exception" not in lines[0]


def test_text_logs_stay_readable_and_a_bad_format_is_named(tmp_path):
    assert "INFO    MainProcess cuas.engine: engine: 3 tracks" in logged("text")[0]
    bad = tmp_path / "bad.toml"
    bad.write_text(DEMO_CONFIG.read_text().replace('log_level = "info"', 'log_format = "xml"'))
    with pytest.raises(ConfigError, match="service.log_format"):
        load_config(bad)
