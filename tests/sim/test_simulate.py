"""``cuas simulate``: scenario errors, sensor models, the run loop's timing, and end to end."""

from __future__ import annotations

import copy
import dataclasses
import hashlib
import io
import json
import math
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from cuas.cli import main
from cuas.replay.format import Frame, ReplayReader, Truth
from cuas.sim.motion import simulate_motion
from cuas.sim.scenario import ScenarioError, load_scenario, parse_scenario
from cuas.sim.sensors import SensorModel
from cuas.sim.simulate import replay_config, simulate

SCENARIOS = Path(__file__).resolve().parents[2] / "replay_data" / "scenarios"
SITE = {"reference": {"lat_deg": 42.8746, "lon_deg": 74.6036, "alt_m": 780.0}}


def hover(object_id: str, at: list[float], **extra: Any) -> dict[str, Any]:
    """A drone holding still (loiter without drift) at ``at`` metres ENU."""
    return {"type": "drone", "id": object_id, "behaviour": "loiter", "point": at,
            "drift_m": 0.0, **extra}  # fmt: skip


def radar(**extra: Any) -> dict[str, Any]:
    return {"id": "radar", "driver": "asterix", "position": [0, 0, 0],
            "coverage": {"max_range_m": 1000}, **extra}  # fmt: skip


def build(objects: list[dict], sensors: list[dict], duration_s: float = 60.0, **top: Any):
    raw = {"name": "t", "duration_s": duration_s, "site": SITE, "objects": objects,
           "sensors": sensors, **top}  # fmt: skip
    return parse_scenario(raw, Path("t.toml"))


def scans(scenario, n_scans: int, sensor_index: int = 0, t_s: float = 5.0):
    """``n_scans`` scans of one sensor with every object where it is at ``t_s``."""
    motion = simulate_motion(scenario)
    model = SensorModel(scenario.sensors[sensor_index], sensor_index, scenario, motion, 1)
    return [model.observe(t_s, motion) for _ in range(n_scans)]


# --- the scenario file ---------------------------------------------------------------

VALID: dict[str, Any] = {
    "name": "t",
    "duration_s": 60,
    "site": SITE,
    "objects": [
        {"type": "drone", "id": "a", "behaviour": "orbit", "centre": [0, 0, 50], "radius_m": 100}
    ],
    "sensors": [radar()],
}


@pytest.mark.parametrize(
    ("change", "key", "reason"),
    [
        (lambda r: r["objects"][0].update(speed_mps=40), "objects[0].speed_mps", "drone limit"),
        (lambda r: r["objects"][0].update(radius_m=5), "objects[0].radius_m", "larger radius"),
        (lambda r: r["objects"][0].update(behaviour="hover"), "objects[0]", "behaviour = transit"),
        (lambda r: r["objects"][0].update(colour="red"), "objects[0].colour", "Extra inputs"),
        (lambda r: r["sensors"][0]["coverage"].pop("max_range_m"),
         "sensors[0].coverage.max_range_m", "required"),
        (lambda r: r["sensors"][0].update(driver="radr"), "sensors[0].driver", "asterix"),
        (lambda r: r["sensors"][0].update(pd=1.5), "sensors[0].pd", "less than or equal"),
        (lambda r: r["sensors"][0].update(position=[1, 2, 3, 4]), "sensors[0].position",
         "east_m, north_m, up_m"),
        (lambda r: r["sensors"].append(
            {"id": "rid", "driver": "dragonsync", "position": [0, 0], "clutter_per_scan": 1,
             "coverage": {"max_range_m": 100}}), "sensors[1].clutter_per_scan", "no clutter"),
        (lambda r: r["sensors"][0].update(outages=[{"start_s": 30, "end_s": 10}]),
         "sensors[0].outages[0].end_s", "after start_s"),
        (lambda r: r["sensors"].append(radar()), "sensors[1].id", "used twice"),
        (lambda r: r.update(start="2025-11-29T08:00:00"), "start", "UTC offset"),
        (lambda r: r.pop("site"), "site", "missing"),
    ],
)  # fmt: skip
def test_a_scenario_error_names_the_key(change, key, reason):
    raw = copy.deepcopy(VALID)
    change(raw)
    with pytest.raises(ScenarioError) as err:
        parse_scenario(raw, Path("bad.toml"))
    assert str(err.value).startswith(f"bad.toml: {key}: ")
    assert reason in str(err.value)


def test_the_valid_scenario_parses_and_converts_positions():
    sc = parse_scenario(copy.deepcopy(VALID), Path("ok.toml"))
    centre = sc.objects[0].centre
    back = sc.frame.from_geodetic(centre.lat_deg, centre.lon_deg, centre.alt_m)
    assert np.allclose(back, [0, 0, 50], atol=1e-6)


def test_a_missing_or_broken_file_is_a_scenario_error(tmp_path):
    with pytest.raises(ScenarioError, match="no such scenario file"):
        load_scenario(tmp_path / "none.toml")
    (tmp_path / "bad.toml").write_text("name = \n")
    with pytest.raises(ScenarioError, match="not valid TOML"):
        load_scenario(tmp_path / "bad.toml")


def test_shipped_scenarios_take_the_demo_site_with_its_zones():
    for path in sorted(SCENARIOS.glob("*.toml")):
        sc = load_scenario(path)
        assert sc.site_model.id == "dolen-omurzakov", path
        assert {z.id for z in sc.site_model.zones} == {"bowl", "perimeter"}


# --- sensor models ---------------------------------------------------------------------


def test_radar_reports_only_what_is_in_its_cover():
    cover = {"max_range_m": 1000, "min_range_m": 50, "azimuth_deg": [0, 90],
             "min_elevation_deg": 0, "max_elevation_deg": 60}  # fmt: skip
    sc = build(
        [
            hover("in", [500, 500, 50]),
            hover("west", [-500, 500, 50]),  # azimuth 315: outside the sector
            hover("far", [1200, 300, 50]),  # beyond max range
            hover("near", [20, 20, 5]),  # inside min range
            hover("steep", [100, 100, 400]),  # elevation 70 degrees
            hover("low", [600, 10, -40]),  # below the horizon
        ],
        [radar(coverage=cover, pd=1.0)],
    )
    seen = {o.object_id for scan in scans(sc, 50) for o in scan}
    assert seen == {"in"}


def test_radar_sees_birds_and_aircraft_remote_id_only_broadcasters_adsb_only_transponders():
    rid = {"serial": "1581F5FJD239C00DW22E"}
    objects = [
        hover("rid", [100, 0, 50], remote_id=rid),
        hover("dark", [0, 100, 50]),
        {"type": "bird", "id": "bird", "centre": [0, -100], "radius_m": 20},
        {"type": "manned_aircraft", "id": "ac", "start": [-300, 0, 300], "heading_deg": 90,
         "icao24": "4D2401", "callsign": "EX1"},
        {"type": "manned_aircraft", "id": "silent", "start": [-300, 50, 300], "heading_deg": 90,
         "icao24": "4d2402", "transponder": False},
    ]  # fmt: skip
    everywhere = {"max_range_m": 5000, "max_elevation_deg": 90}
    sensors = [
        radar(coverage=everywhere, pd=1.0),
        {"id": "rid", "driver": "odid_frames", "position": [0, 0], "coverage": everywhere,
         "pd": 1.0},
        {"id": "adsb", "driver": "sbs", "position": [0, 0], "coverage": everywhere, "pd": 1.0},
    ]  # fmt: skip
    sc = build(objects, sensors)
    radar_seen = {o.object_id for o in scans(sc, 3, 0)[0]}
    rid_obs = scans(sc, 3, 1)[0]
    adsb_obs = scans(sc, 3, 2)[0]
    assert radar_seen == {"rid", "dark", "bird", "ac", "silent"}
    assert [(o.object_id, o.rid_serial) for o in rid_obs] == [("rid", "1581F5FJD239C00DW22E")]
    assert [(o.object_id, o.icao24, o.callsign) for o in adsb_obs] == [("ac", "4d2401", "EX1")]


def test_rf_sensor_hears_emitters_in_its_bands_above_its_sensitivity():
    link = {"band": "2.4G", "protocol": "DJI-O3", "freq_mhz": 2437.0, "eirp_dbm": 20}
    objects = [
        hover("near", [300, 0, 50], rf=link),
        hover("other-band", [0, 300, 50], rf={**link, "band": "5.8G", "freq_mhz": 5800.0}),
        hover("quiet", [0, -300, 50]),  # no emitter
        # 20 dBm at 2437 MHz loses 20log10(6000)+20log10(2437)-27.55 = 115.8 dB by 6 km
        hover("faint", [-6000, 0, 50], rf=link),
    ]
    df = {"id": "df", "driver": "rfserial", "position": [0, 0, 0], "bands": ["2.4G"],
          "coverage": {"max_range_m": 10_000}, "pd": 1.0, "sensitivity_dbm": -95,
          "noise": {"azimuth_deg": 2.0, "rssi_db": 0.0}}  # fmt: skip
    sc = build(objects, [df])
    obs = scans(sc, 1)[0]
    assert [o.object_id for o in obs] == ["near"]
    expected_rssi = 20 - (20 * math.log10(math.hypot(300, 50)) + 20 * math.log10(2437) - 27.55)
    assert obs[0].rssi_dbm == pytest.approx(expected_rssi, abs=0.06)
    assert obs[0].range_m is None and obs[0].rf_protocol == "DJI-O3"
    presence = build(objects, [{**df, "mode": "presence"}])
    assert scans(presence, 1)[0][0].azimuth_rad is None


def test_pd_is_the_fraction_of_scans_that_see_an_object():
    sc = build([hover("a", [300, 300, 60]), hover("b", [-300, 100, 60])], [radar(pd=0.7)])
    runs = scans(sc, 2000)
    for object_id in ("a", "b"):
        seen = sum(any(o.object_id == object_id for o in scan) for scan in runs) / len(runs)
        assert seen == pytest.approx(0.7, abs=0.035)  # 3.4 sigma of a binomial at n = 2000


def test_radar_noise_has_the_configured_spread_and_no_bias():
    noise = {"range_m": 7.0, "azimuth_deg": 1.5, "elevation_deg": 0.8, "radial_velocity_mps": 0.4}
    sc = build([hover("a", [300, 400, 100])], [radar(pd=1.0, noise=noise)])
    obs = [scan[0] for scan in scans(sc, 3000)]
    true_range = math.sqrt(300**2 + 400**2 + 100**2)
    true_az = math.atan2(300, 400)
    true_el = math.atan2(100, 500)
    r = np.array([o.range_m for o in obs]) - true_range
    az = np.degrees(np.array([o.azimuth_rad for o in obs]) - true_az)
    el = np.degrees(np.array([o.elevation_rad for o in obs]) - true_el)
    rv = np.array([o.radial_velocity_mps for o in obs])  # hovering: zero radial speed
    for residual, sigma in ((r, 7.0), (az, 1.5), (el, 0.8), (rv, 0.4)):
        assert residual.std() == pytest.approx(sigma, rel=0.06)
        assert abs(residual.mean()) < 4 * sigma / math.sqrt(len(obs))


def test_radar_radial_velocity_is_the_speed_along_the_line_of_sight():
    sc = build(
        [{"type": "manned_aircraft", "id": "ac", "start": [-3000, 2000, 300], "heading_deg": 90,
          "speed_mps": 100, "icao24": "4d2401"}],
        [radar(pd=1.0, coverage={"max_range_m": 9000}, noise={"radial_velocity_mps": 0.0})],
    )  # fmt: skip
    obs = scans(sc, 1, t_s=0.0)[0][0]
    at = np.array([-3000 + 100 * (obs.t_unix - sc.start_unix), 2000, 300])  # at beam crossing
    los = at / np.linalg.norm(at)
    assert obs.radial_velocity_mps == pytest.approx(100 * los[0], abs=1e-6)  # closing: negative


def test_a_rotating_radar_times_each_plot_at_its_beam_crossing():
    """Clockwise from north once per period from the rotation's start: a plot's time is the
    start + azimuth / 360 x period, so the plots of one rotation carry different times."""
    objects = [hover(f"d{k}", [300 * math.sin(a), 300 * math.cos(a), 50])
               for k, a in enumerate(np.radians([10, 100, 190, 280]))]  # fmt: skip
    sc = build(objects, [radar(pd=1.0, update_interval_s=4.0)])
    [scan] = scans(sc, 1, t_s=5.0)
    t0 = sc.start_unix + 5.0
    offsets = {o.object_id: o.t_unix - t0 for o in scan}
    for k, az_deg in enumerate([10, 100, 190, 280]):
        assert offsets[f"d{k}"] == pytest.approx(az_deg / 360 * 4.0, abs=1e-6)
    assert [o.object_id for o in scan] == ["d0", "d1", "d2", "d3"]  # in sweep order


def test_a_rotating_radar_sends_each_sector_when_it_is_swept():
    objects = [hover("east", [300, 0, 50]), hover("west", [-300, 0, 50])]
    sc = build(objects, [radar(pd=1.0, update_interval_s=4.0, sectors=4)])
    motion = simulate_motion(sc)
    model = SensorModel(sc.sensors[0], 0, sc, motion, 1)
    batches = model.batches(5.0, model.observe(5.0, motion))
    t0 = sc.start_unix + 5.0
    # east (90 deg) is swept in sector 2 of 4, ending at 2 s; west (270 deg) in sector 4
    assert [(t - t0, [o.object_id for o in obs]) for t, obs in batches] == [
        (pytest.approx(2.0), ["east"]),
        (pytest.approx(4.0), ["west"]),
    ]


def test_a_radar_does_not_see_into_its_cone_of_silence_overhead():
    objects = [hover("overhead", [20, 0, 200]), hover("low", [400, 0, 50])]
    default = build(objects, [radar(pd=1.0)])
    assert default.sensors[0].max_elevation_deg == 70.0
    assert {o.object_id for o in scans(default, 1)[0]} == {"low"}
    wide = build(objects, [radar(pd=1.0, coverage={"max_range_m": 1000, "max_elevation_deg": 89})])
    assert {o.object_id for o in scans(wide, 1)[0]} == {"low", "overhead"}


def test_per_object_reporters_report_each_object_at_its_own_time():
    link = {"band": "2.4G", "protocol": "ELRS", "freq_mhz": 2440.0}
    objects = [hover(f"d{k}", [100 * k, 200, 50], rf=link) for k in range(1, 6)]
    sensors = [{"id": "df", "driver": "rfserial", "position": [0, 0, 5], "pd": 1.0,
                "coverage": {"max_range_m": 5000}, "update_interval_s": 2.0}]  # fmt: skip
    sc = build(objects, sensors)
    motion = simulate_motion(sc)
    model = SensorModel(sc.sensors[0], 0, sc, motion, 1)
    first, second = model.observe(4.0, motion), model.observe(6.0, motion)
    times = [o.t_unix - sc.start_unix for o in first]
    assert len(set(times)) == 5 and all(4.0 <= t < 6.0 for t in times)
    # each object keeps its phase: the next report of each comes one period later
    later = {o.object_id: o.t_unix for o in second}
    assert all(later[o.object_id] - o.t_unix == pytest.approx(2.0) for o in first)
    batches = model.batches(4.0, first)
    assert [len(obs) for _, obs in batches] == [1] * 5  # one message per object


def test_a_radar_classifier_confuses_labels_at_the_configured_rates():
    objects = [
        hover("drone", [300, 0, 50]),
        {"type": "bird", "id": "bird", "centre": [0, -300], "radius_m": 20},
    ]
    confusion = {"drone": {"unknown": 0.3}, "bird": {"drone": 0.2, "unknown": 0.3}}
    sc = build(objects, [radar(pd=1.0, classifier=confusion, class_confidence=[0.6, 0.9])])
    seen = [o for scan in scans(sc, 2000) for o in scan]
    for true_class, row in confusion.items():
        labels = [o.label.value for o in seen if o.object_class.value == true_class]
        for label, p in row.items():
            share = labels.count(label) / len(labels)
            assert abs(share - p) < 4 * math.sqrt(p * (1 - p) / len(labels)), (true_class, label)
        assert labels.count(true_class) / len(labels) == pytest.approx(
            1 - sum(row.values()), abs=0.05
        )
    assert all(0.6 <= o.class_confidence <= 0.9 for o in seen)


def test_a_classifier_row_summing_above_one_names_the_sensor_key():
    with pytest.raises(ScenarioError, match=r"sensors\[0\].classifier.*sum to at most 1"):
        build([hover("d", [0, 100, 50])],
              [radar(classifier={"bird": {"drone": 0.7, "unknown": 0.5}})])  # fmt: skip


def test_clutter_is_poisson_at_the_configured_rate_and_inside_the_cover():
    cover = {"max_range_m": 2000, "min_range_m": 100, "azimuth_deg": [300, 30],
             "min_elevation_deg": 0, "max_elevation_deg": 40}  # fmt: skip
    sc = build([hover("a", [0, 5000, 50])], [radar(coverage=cover, clutter_per_scan=3.0)])
    runs = scans(sc, 2000)
    counts = np.array([len(scan) for scan in runs])
    assert counts.mean() == pytest.approx(3.0, abs=0.15)  # 3.9 sigma of the mean
    assert counts.var() == pytest.approx(3.0, rel=0.15)  # Poisson: variance = mean
    clutter = [o for scan in runs for o in scan]
    assert all(o.object_id is None and o.object_class.value == "unknown" for o in clutter)
    az = np.degrees([o.azimuth_rad for o in clutter])
    assert np.all((az >= 300 - 1e-9) | (az <= 30 + 1e-9))
    ranges = np.array([o.range_m for o in clutter])
    assert ranges.min() >= 100 and ranges.max() <= 2000


def test_radar_keeps_one_track_number_per_object():
    sc = build([hover("a", [300, 300, 60]), hover("b", [-300, 100, 60])], [radar(pd=1.0)])
    numbers = {(o.object_id, o.sensor_track_id) for scan in scans(sc, 20) for o in scan}
    assert len(numbers) == 2 and len({n for _, n in numbers}) == 2


# --- the run loop, with a stand-in encoder ---------------------------------------------
# The protocol encoders are tested on their own; here a JSON stand-in writes each scan's
# observations as they are, so timing, ordering and outages are checked on what was seen.


def json_encoder(spec, observations, state) -> list[bytes]:
    return [json.dumps([dataclasses.asdict(o) for o in observations]).encode()]


def timing_scenario():
    link = {"band": "2.4G", "protocol": "ELRS", "freq_mhz": 2440.0}
    df = {"driver": "rfserial", "coverage": {"max_range_m": 5000}, "pd": 1.0}
    sensors = [
        {**df, "id": "slow", "position": [-400, 0, 5], "latency_s": 0.9},
        {**df, "id": "fast", "position": [400, 0, 5], "latency_s": 0.05,
         "outages": [{"start_s": 20, "end_s": 30}]},
        {**df, "id": "jitter", "position": [0, 400, 5], "latency_s": 0.2,
         "latency_jitter_s": 1.5, "update_interval_s": 0.5},
    ]  # fmt: skip
    return build([hover("d", [0, 0, 60], rf=link, drift_m=2.0)], sensors, duration_s=60)


def read(path: Path) -> tuple[list[Frame], list[Truth]]:
    records = list(ReplayReader(path))
    return [r for r in records if isinstance(r, Frame)], [
        r for r in records if isinstance(r, Truth)
    ]


def test_frames_arrive_at_observation_time_plus_latency_in_receive_order(tmp_path):
    sc = timing_scenario()
    summary = simulate(sc, tmp_path / "t.jsonl", encoders=[json_encoder] * 3)
    frames, _ = read(tmp_path / "t.jsonl")
    t_rx = [f.t_unix for f in frames]
    assert t_rx == sorted(t_rx)  # the file is in receive order
    observed = [json.loads(f.data)[0]["t_unix"] for f in frames]
    for f, t_obs in zip(frames, observed, strict=True):
        delay = f.t_unix - t_obs
        if f.sensor_id == "slow":
            assert delay == pytest.approx(0.9, abs=1e-5)
        elif f.sensor_id == "fast":
            assert delay == pytest.approx(0.05, abs=1e-5)
    # what was seen is out of order in the file, as when sensors' latencies differ
    assert any(b < a for a, b in zip(observed, observed[1:], strict=False))
    jitter = [
        f.t_unix - t for f, t in zip(frames, observed, strict=True) if f.sensor_id == "jitter"
    ]
    assert min(jitter) >= 0.2 - 1e-5 and max(jitter) > 1.0
    own = [f.t_unix for f in frames if f.sensor_id == "jitter"]
    assert own == sorted(own)  # one link: a sensor's own frames never overtake each other
    assert summary.frames == {"slow": 60, "fast": 50, "jitter": 120}


def test_an_outage_sends_nothing(tmp_path):
    sc = timing_scenario()
    summary = simulate(sc, tmp_path / "t.jsonl", encoders=[json_encoder] * 3)
    frames, _ = read(tmp_path / "t.jsonl")
    fast = [
        json.loads(f.data)[0]["t_unix"] - sc.start_unix for f in frames if f.sensor_id == "fast"
    ]
    # scans starting in the outage send nothing; the last before it reports up to 1 s later
    assert not [t for t in fast if 21 <= t < 30]
    assert [t for t in fast if 10 <= t < 20] and [t for t in fast if 30 <= t < 40]
    assert summary.scans_in_outage == {"fast": 10}


def test_truth_is_written_for_every_object_at_the_fixed_rate(tmp_path):
    sc = build(
        [hover("a", [0, 0, 50]), hover("b", [100, 0, 50], start_s=10.3, end_s=40)],
        [radar()],
        duration_s=60,
        truth_interval_s=0.5,
    )
    simulate(sc, tmp_path / "t.jsonl", encoders=[json_encoder])
    _, truth = read(tmp_path / "t.jsonl")
    times = {oid: [t.t_unix - sc.start_unix for t in truth if t.object_id == oid] for oid in "ab"}
    assert times["a"] == pytest.approx(list(np.arange(0, 60.01, 0.5)))
    assert times["b"] == pytest.approx(list(np.arange(10.5, 40.01, 0.5)))
    a = next(t for t in truth if t.object_id == "a")
    assert (a.lat_deg, a.lon_deg, a.alt_m) == pytest.approx((42.8746, 74.6036, 830.0), abs=1e-6)


# --- with the real protocol encoders ---------------------------------------------------


def encoders_for(path: Path):
    sc = load_scenario(path)
    try:
        from cuas.sim.encoders import ENCODERS
    except ImportError as exc:
        pytest.skip(f"the protocol encoders are not in this build: {exc}")
    missing = {s.driver for s in sc.sensors} - set(ENCODERS)
    if missing:
        pytest.skip(f"no encoder yet for {', '.join(sorted(missing))}")
    return sc


def test_same_seed_same_bytes_other_seed_other_bytes(tmp_path):
    sc = encoders_for(SCENARIOS / "single_intruder.toml")
    digests = []
    for name, seed in (("a", None), ("b", None), ("c", 12)):
        simulate(sc, tmp_path / f"{name}.jsonl.gz", seed=seed)
        digests.append(hashlib.sha256((tmp_path / f"{name}.jsonl.gz").read_bytes()).hexdigest())
    assert digests[0] == digests[1]
    assert digests[0] != digests[2]


def test_cuas_simulate_prints_a_summary(tmp_path, capsys):
    encoders_for(SCENARIOS / "rf_only_intruder.toml")
    out = tmp_path / "rf.jsonl.gz"
    assert main(["simulate", str(SCENARIOS / "rf_only_intruder.toml"), "-o", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "rf_only_intruder (seed 5): 150 s, 1 drone" in printed
    assert "df-east:" in printed and "20 scans lost to outages" in printed
    assert f"wrote {out}" in printed
    frames, truth = read(out)
    assert {f.sensor_id for f in frames} == {"df-east", "df-west"} and len(truth) == 151


def test_cuas_simulate_names_the_key_of_a_bad_scenario(tmp_path, capsys):
    demo = SCENARIOS.parents[1] / "configs" / "demo.toml"
    text = (SCENARIOS / "rf_only_intruder.toml").read_text()
    bad = tmp_path / "bad.toml"
    bad.write_text(
        text.replace("speed_mps = 12", "speed_mps = 99").replace(
            "../../configs/demo.toml", str(demo)
        )
    )
    assert main(["simulate", str(bad), "-o", str(tmp_path / "x.jsonl")]) == 2
    assert f"{bad}: objects[0].speed_mps: 99 m/s is above" in capsys.readouterr().err
    assert not (tmp_path / "x.jsonl").exists()


def test_single_intruder_replays_into_a_confirmed_track_that_follows_it(tmp_path):
    from cuas.replay.pipeline import run_replay

    sc = encoders_for(SCENARIOS / "single_intruder.toml")
    path = tmp_path / "single_intruder.jsonl.gz"
    simulate(sc, path)
    out = io.StringIO()
    summary = run_replay(replay_config(sc, path), path, out=out)
    assert summary.malformed_frames == 0 and summary.confirmed_tracks
    _, truth = read(path)
    t_truth = np.array([t.t_unix for t in truth])
    enu_truth = sc.frame.from_geodetic(
        [t.lat_deg for t in truth], [t.lon_deg for t in truth], [t.alt_m for t in truth]
    )
    tracks = [json.loads(line) for line in out.getvalue().splitlines()]
    confirmed = [t for t in tracks if t["type"] == "track" and t["status"] == "confirmed"]
    best = max({t["track_id"] for t in confirmed}, key=lambda i: sum(
        t["track_id"] == i for t in confirmed))  # fmt: skip
    mine = [t for t in confirmed if t["track_id"] == best]
    errors = []
    for t in mine:
        k = int(np.argmin(np.abs(t_truth - t["t_unix"])))
        # truth is at 1 Hz: move it to the track's time along the truth velocity
        lead = np.array(truth[k].velocity_enu_mps) * (t["t_unix"] - t_truth[k])
        errors.append(np.linalg.norm(np.array(t["enu_m"]) - (enu_truth[k] + lead)))
    assert mine[-1]["t_unix"] - mine[0]["t_unix"] > 120  # followed for most of its 150 s
    assert np.median(errors) < 10.0 and np.percentile(errors, 95) < 30.0
    assert mine[-1]["identity"]["rid_serial"] == "1581F5FJD239C00DW22E"


def test_remote_id_timestamps_roll_over_at_the_hour_and_the_driver_places_them(tmp_path):
    """F3411 sends tenths of a second since the UTC hour: across 10:00:00 the encoded value
    falls from ~35990 to ~0, and the real odid_frames driver, taking the hour from its
    receive time, flags none of them stale or future."""
    from cuas.driver.host import FrameDecoder
    from cuas.driver.registry import build_driver
    from cuas.replay.deployment import carried_deployment
    from cuas.sim.encode_remoteid import hour_tenths

    rid = {"serial": "1581F5FJD239C00DW22E"}
    sensors = [{"id": "rid", "driver": "odid_frames", "position": [0, 0],
                "coverage": {"max_range_m": 2000}, "pd": 1.0, "latency_s": 0.4}]  # fmt: skip
    sc = build([hover("d", [100, 0, 50], remote_id=rid)], sensors, duration_s=20.0,
               start="2025-11-29T09:59:50Z")  # fmt: skip
    path = tmp_path / "hour.jsonl"
    simulate(sc, path)
    config = carried_deployment(ReplayReader(path).header, path)
    decoder = FrameDecoder(build_driver(config.sensors[0]))
    detections = []
    for frame in (r for r in ReplayReader(path) if isinstance(r, Frame)):
        detections += decoder(frame.t_unix, frame.data)
    assert len(detections) >= 18 and decoder.counters["malformed"] == 0
    late_or_early = {"timestamp_stale", "timestamp_future"}
    assert not [d.flags for d in detections if late_or_early & set(d.flags)]
    hour = sc.start_unix + 10.0
    assert any(d.t_unix > hour for d in detections) and any(d.t_unix < hour for d in detections)
    assert hour_tenths(hour - 0.1) == 35_999 and hour_tenths(hour) == 0
    assert hour_tenths(hour - 0.04) == 0  # rounds to the hour itself, never to 36000
