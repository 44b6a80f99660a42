"""The command line, run as a user runs it."""

import json
import subprocess
import sys

from support import DEMO_CONFIG, DEMO_RECORDING, free_port


def cuas(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "cuas", *args], capture_output=True, text=True, timeout=120
    )


def test_replay_prints_a_summary_and_writes_tracks_and_alerts(tmp_path):
    out = tmp_path / "out.jsonl"
    result = cuas("replay", str(DEMO_RECORDING), "--out", str(out))
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["confirmed_tracks"] == 2 and report["alerts"] == 2
    assert {a["zone"] for a in report["alert_list"]} == {"perimeter", "bowl"}
    kinds = {json.loads(line)["type"] for line in out.read_text().splitlines()}
    assert kinds == {"track", "alert"}


def test_drivers_list_shows_the_builtin_driver_and_its_options():
    result = cuas("drivers", "list")
    assert result.returncode == 0
    assert "dragonsync" in result.stdout and "options.max_remembered" in result.stdout


def test_check_accepts_the_demo_and_names_the_bad_key(tmp_path):
    ok = cuas("check", "--config", str(DEMO_CONFIG))
    assert ok.returncode == 0 and "OK" in ok.stdout
    bad = tmp_path / "bad.toml"
    bad.write_text(DEMO_CONFIG.read_text().replace('level = "critical"', 'level = "severe"'))
    result = cuas("check", "--config", str(bad))
    assert result.returncode == 2
    assert "sites[0].zones[0].level" in result.stderr and "Traceback" not in result.stderr


def test_check_rejects_a_tracker_setting_the_engine_could_not_start_with(tmp_path):
    """confirm_window = 70 once passed `cuas check` and then killed the engine at start."""
    text = DEMO_CONFIG.read_text()
    assert "confirm_window = 5" in text
    bad = tmp_path / "bad.toml"
    bad.write_text(text.replace("confirm_window = 5", "confirm_window = 70"))
    result = cuas("check", "--config", str(bad))
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert "tracker.confirm_window" in result.stderr and "62" in result.stderr
    bad.write_text(text.replace("confirm_window = 5", "confirm_window = 2"))  # 3 of 2
    result = cuas("check", "--config", str(bad))
    assert result.returncode == 2
    assert "tracker" in result.stderr and "confirm_hits (3) must not exceed" in result.stderr


def test_replay_of_a_file_that_is_not_a_recording_fails_cleanly(tmp_path):
    junk = tmp_path / "junk.jsonl"
    junk.write_text("hello\n")
    result = cuas("replay", str(junk))
    assert result.returncode == 2 and "not JSON" in result.stderr
    assert cuas("replay", str(DEMO_RECORDING), "--speed", "0").returncode == 2


def test_run_refuses_a_busy_port_with_a_clear_message(tmp_path):
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        port = s.getsockname()[1]
        result = cuas("run", "--config", str(DEMO_CONFIG), "--port", str(port))
    assert result.returncode == 2
    assert "api.port" in result.stderr and "not free" in result.stderr


def test_run_refuses_a_bad_sensor_source_before_starting_anything(tmp_path):
    bad = tmp_path / "bad.toml"
    bad.write_text(
        DEMO_CONFIG.read_text().replace(
            'source = "replay:../replay_data/demo.jsonl.gz?loop=1&gap=15"',
            'source = "tcp://127.0.0.1:4224"',
        )
    )
    result = cuas("run", "--config", str(bad))
    assert result.returncode == 2
    assert "sensors[0].source" in result.stderr and "no message boundaries" in result.stderr


def test_record_captures_live_input_that_replays_to_the_same_detections(tmp_path):
    """`cuas record` on a live ZeroMQ feed, then the file back through the same driver."""
    import threading
    import time

    import zmq

    from cuas.config import load_config
    from cuas.driver.host import FrameDecoder
    from cuas.driver.registry import build_driver
    from cuas.replay.format import Frame, ReplayReader

    frames = [r.data for r in ReplayReader(DEMO_RECORDING) if isinstance(r, Frame)][:60]
    port = free_port()
    # XPUB: the recorder's subscription arrives as a message, so feeding starts when it is
    # really listening, however long its start takes on a busy machine.
    pub = zmq.Context.instance().socket(zmq.XPUB)
    pub.bind(f"tcp://127.0.0.1:{port}")
    config = tmp_path / "live.toml"
    config.write_text(
        DEMO_CONFIG.read_text().replace(
            'source = "replay:../replay_data/demo.jsonl.gz?loop=1&gap=15"',
            f'source = "zmq+tcp://127.0.0.1:{port}"',
        )
    )
    stop = threading.Event()

    def feed() -> None:
        while not stop.is_set():
            if pub.poll(100) and pub.recv()[:1] == b"\x01":  # a subscription
                break
        for data in frames:
            if stop.is_set():
                return
            pub.send(data)
            time.sleep(0.01)

    feeder = threading.Thread(target=feed)
    feeder.start()
    out = tmp_path / "capture.jsonl.gz"
    try:
        # the duration counts from the recorder's start, so it holds its start-up and the feed
        result = cuas("record", "--config", str(config), "-o", str(out), "--duration", "8")
    finally:
        stop.set()
        feeder.join()
        pub.close()
    assert result.returncode == 0, result.stderr
    recorded = [r for r in ReplayReader(out) if isinstance(r, Frame)]
    assert [r.data for r in recorded] == frames
    assert {r.sensor_id for r in recorded} == {"rid-1"}

    sensor = load_config(config).sensors[0]
    live = FrameDecoder(build_driver(sensor))
    again = FrameDecoder(build_driver(sensor))
    live_dets = [d for i, f in enumerate(frames) for d in live(1000.0 + i, f)]
    replayed = [d for i, r in enumerate(recorded) for d in again(1000.0 + i, r.data)]
    assert len(replayed) > 20 and replayed == live_dets


def test_import_capture_makes_a_replay_that_tracks_the_drone(tmp_path, shared_data):
    out = tmp_path / "wifi.jsonl"
    made = cuas(
        "import-capture", str(shared_data / "remoteid" / "odid_wifi_sample.pcap"), "-o", str(out)
    )
    assert made.returncode == 0, made.stderr
    assert "42 Remote ID frames" in made.stdout
    report = json.loads(cuas("replay", str(out)).stdout)
    assert report["malformed_frames"] == 0 and report["detections"] == 31
    assert report["confirmed_tracks"] == 1


def test_replay_refuses_a_config_whose_sensor_has_another_driver(tmp_path, shared_data):
    out = tmp_path / "wifi.jsonl"
    cuas(
        "import-capture",
        str(shared_data / "remoteid" / "odid_wifi_sample.pcap"),
        "-o",
        str(out),
        "--sensor",
        "rid-1",
    )  # the demo config's rid-1 is a dragonsync sensor
    result = cuas("replay", str(out))
    assert result.returncode == 2
    assert (
        "recorded with driver 'odid_frames'" in result.stderr and "Traceback" not in result.stderr
    )
