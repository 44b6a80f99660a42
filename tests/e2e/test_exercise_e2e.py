"""`cuas run --exercise`: a shipped scenario injected into a live run, marked end to end.

The deployment is the demo site with its Remote ID receiver listening on UDP; the test
plays a live drone into it while the birds_among_drones scenario (two Remote ID drones
orbiting and hovering inside the perimeter, birds, a radar) runs as an exercise. Real
processes, real HTTP, the real SQLite file.
"""

import json
import socket
import sqlite3
import subprocess
import sys
import time

import httpx
import pymap3d
import pytest

from support import DEMO_RECORDING, REPO, demo_config_text, free_port, run_service

SCENARIO = REPO / "replay_data" / "scenarios" / "birds_among_drones.toml"
EXERCISE_SERIALS = {"1581F5FJD239C00OR8IT", "1668C7A92B004HHOVER1"}  # from the scenario file
LIVE_SERIAL = "1581F5FJD229Q00L1VE1"
# 350 m west, 50 m south of the demo reference (42.87460, 74.60360, 780 m), 60 m up: inside
# the perimeter, 200 m from the scenario's nearest drone and outside its birds' area
LIVE_LAT, LIVE_LON, LIVE_ALT = pymap3d.enu2geodetic(-350.0, -50.0, 60.0, 42.87460, 74.60360, 780.0)


def _live_frame() -> bytes:
    """One DragonSync (WarDragon) message as its decoder publishes it: list of blocks."""
    return json.dumps(
        [
            {"Basic ID": {"id_type": "Serial Number (ANSI/CTA-2063-A)", "id": LIVE_SERIAL}},
            {
                "Location/Vector Message": {
                    "latitude": round(float(LIVE_LAT), 7),
                    "longitude": round(float(LIVE_LON), 7),
                    "geodetic_altitude": round(float(LIVE_ALT), 1),
                }
            },
            {"MAC": "60:60:1f:00:11:22"},
        ]
    ).encode()


@pytest.fixture
def exercise_run(tmp_path):
    udp_port = free_port()
    text = demo_config_text(tmp_path / "data", DEMO_RECORDING)
    text = text.replace(
        f'source = "replay:{DEMO_RECORDING.as_posix()}"', f'source = "udp://127.0.0.1:{udp_port}"'
    )
    assert f"udp://127.0.0.1:{udp_port}" in text
    args = ("--exercise", str(SCENARIO), "--exercise-delay", "2")
    with run_service(text, tmp_path, *args) as (_, base, db_path):
        yield base, udp_port, db_path


def _serial(item: dict) -> str | None:
    return (item.get("identity") or {}).get("rid_serial")


def test_exercise_is_marked_in_api_and_store_and_live_stays_unmarked(exercise_run):
    base, udp_port, db_path = exercise_run
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    tracks: list[dict] = []
    alerts: list[dict] = []

    def split() -> tuple[set[str], set[str], list[dict], list[dict]]:
        """Track ids of the exercise drones and of the live one, and the alerts on each."""
        ex_ids = {t["track_id"] for t in tracks if _serial(t) in EXERCISE_SERIALS}
        live_ids = {t["track_id"] for t in tracks if _serial(t) == LIVE_SERIAL}
        ex_alerts = [a for a in alerts if a["track_id"] in ex_ids]
        return ex_ids, live_ids, ex_alerts, [a for a in alerts if a["track_id"] in live_ids]

    def done() -> bool:
        confirmed = {_serial(t) for t in tracks if t["status"] == "confirmed"}
        _, _, ex_alerts, live_alerts = split()
        return (
            EXERCISE_SERIALS | {LIVE_SERIAL} <= confirmed and bool(ex_alerts) and bool(live_alerts)
        )

    try:
        deadline = time.monotonic() + 75
        while time.monotonic() < deadline and not done():
            sock.sendto(_live_frame(), ("127.0.0.1", udp_port))  # a live drone, twice a second
            tracks = httpx.get(f"{base}/api/v1/tracks").json()
            alerts = httpx.get(f"{base}/api/v1/alerts").json()["items"]
            time.sleep(0.5)
    finally:
        sock.close()
    assert done(), f"tracks {[(_serial(t), t['status']) for t in tracks]}, alerts {alerts}"

    by_serial = {_serial(t): t for t in tracks}
    for serial in EXERCISE_SERIALS:
        assert by_serial[serial]["exercise"] is True
        assert all(s.startswith("exercise-") for s in by_serial[serial]["sensors"])
    live = by_serial[LIVE_SERIAL]
    assert live["exercise"] is False and live["sensors"] == ["rid-1"]

    _, _, ex_alerts, live_alerts = split()
    assert ex_alerts and all(a["exercise"] is True for a in ex_alerts)
    assert live_alerts and all(a["exercise"] is False for a in live_alerts)

    # the filters split them
    only_ex = httpx.get(f"{base}/api/v1/alerts", params={"exercise": "true"}).json()["items"]
    only_live = httpx.get(f"{base}/api/v1/alerts", params={"exercise": "false"}).json()["items"]
    assert {a["alert_id"] for a in ex_alerts} <= {a["alert_id"] for a in only_ex}
    assert all(a["exercise"] for a in only_ex) and not any(a["exercise"] for a in only_live)
    assert {a["alert_id"] for a in live_alerts} <= {a["alert_id"] for a in only_live}
    live_tracks = httpx.get(f"{base}/api/v1/tracks", params={"exercise": "false"}).json()
    assert LIVE_SERIAL in {_serial(t) for t in live_tracks}
    assert not EXERCISE_SERIALS & {_serial(t) for t in live_tracks}

    # exercise sensors are listed as such, beside the live one
    sensors = {s["sensor_id"]: s for s in httpx.get(f"{base}/api/v1/sensors").json()}
    assert sensors["rid-1"]["exercise"] is False
    assert sensors["exercise-rid-1"]["exercise"] is True
    assert sensors["exercise-radar-1"]["exercise"] is True

    # the store rows carry the marking
    with sqlite3.connect(db_path) as db:
        rows = dict(db.execute("SELECT alert_id, exercise FROM alerts").fetchall())
    assert all(rows[a["alert_id"]] == 1 for a in ex_alerts)
    assert all(rows[a["alert_id"]] == 0 for a in live_alerts)


def test_a_bad_exercise_exits_2_with_the_reason_and_starts_nothing(tmp_path):
    text = demo_config_text(tmp_path / "data", DEMO_RECORDING)
    config = tmp_path / "deploy.toml"
    config.write_text(text)
    clash = tmp_path / "clash.toml"  # a scenario sensor that would take a live sensor's id
    clash.write_text(
        SCENARIO.read_text()
        .replace('config = "../../configs/demo.toml"', f'config = "{config.as_posix()}"')
        .replace('id = "rid-1"', 'id = "x"')
    )
    config.write_text(text.replace('id = "rid-1"', 'id = "exercise-x"'))
    cases = {
        tmp_path / "missing.toml": "no such scenario file",
        DEMO_RECORDING: "not a replay file",
        clash: "sensors[1].id: 'x' would join the run as 'exercise-x'",
    }
    for scenario, reason in cases.items():
        proc = subprocess.run(
            [sys.executable, "-m", "cuas", "run", "--config", str(config)]
            + ["--exercise", str(scenario)],
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert proc.returncode == 2, proc.stderr
        assert reason in proc.stderr and str(scenario.name) in proc.stderr
        assert "cuas is running" not in proc.stdout
    assert not (tmp_path / "data").exists(), "nothing may start, not even the store"
