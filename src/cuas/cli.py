"""The ``cuas`` command line."""

from __future__ import annotations

import argparse
import json
import shlex
import sys
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING

from cuas.config import ConfigError, load_config
from cuas.replay.format import ReplayFormatError

if TYPE_CHECKING:
    from cuas.driver.api import Driver
    from cuas.schema import Detection


def default_config() -> Path:
    """The bundled demo config (cuas.bundled finds it in a checkout or the package)."""
    from cuas.bundled import demo_config

    return demo_config()


def _speed(text: str) -> float | None:
    if text == "max":
        return None
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"speed must be a number or 'max', got {text!r}") from None
    if value <= 0:
        raise argparse.ArgumentTypeError("speed must be greater than 0")
    return value


def _seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a number of seconds, got {text!r}") from None
    if not 0 <= value <= 86_400:
        raise argparse.ArgumentTypeError("must be between 0 and 86400 seconds")
    return value


def cmd_run(args: argparse.Namespace) -> int:
    from cuas.supervisor import run

    return run(
        args.config or default_config(),
        args.record,
        args.port,
        exercise_path=args.exercise,
        exercise_delay_s=args.exercise_delay,
    )


def cmd_replay(args: argparse.Namespace) -> int:
    from cuas.replay.deployment import replay_deployment
    from cuas.replay.pipeline import run_replay

    config = replay_deployment(args.file, args.config, default_config)
    out = open(args.out, "w", encoding="utf-8") if args.out else None  # noqa: SIM115
    try:
        summary = run_replay(config, args.file, speed=args.speed, out=out)
    finally:
        if out:
            out.close()
    report = summary.as_dict()
    report["alert_list"] = [
        {
            "alert_id": a.alert_id,
            "zone": a.zone_id,
            "level": a.zone_level.value,
            "object": a.object_key,
            "track": a.track_id,
            "state": a.state.value,
            "raised_t_unix": a.raised_t_unix,
        }
        for a in summary.alerts.values()
    ]
    print(json.dumps(report, indent=2))
    return 0


def cmd_record(args: argparse.Namespace) -> int:
    from cuas.driver.service import build_host
    from cuas.replay.deployment import header_deployment
    from cuas.replay.format import ReplayWriter

    config = load_config(args.config)
    writer = ReplayWriter(
        args.out,
        description=args.description,
        sensors={s.id: {"driver": s.driver} for s in config.sensors},
        deployment=header_deployment(config),
    )
    counts = {"detections": 0}

    def on_detections(batch) -> None:
        counts["detections"] += len(batch)

    host = build_host(config, on_detections, lambda status: None, writer)
    host.start()
    stop = threading.Event()
    t_end = time.monotonic() + args.duration if args.duration else None
    try:
        while host.alive() and not stop.wait(1.0):
            frames = sum(r.decoder.counters["frames"] for r in host.runners)
            if sys.stdout.isatty():  # a counter redrawn in place; nothing to spill into a log
                print(f"\rrecording: {frames} frames, {counts['detections']} detections", end="")
            if t_end and time.monotonic() >= t_end:
                break
    except KeyboardInterrupt:
        pass
    finally:
        host.stop()
        writer.close()
    print(f"\nwrote {args.out}")
    return 0


def cmd_drivers(args: argparse.Namespace) -> int:
    from cuas.driver.registry import installed_drivers, load_driver_class
    from cuas.toml_text import toml_value

    for name, target in sorted(installed_drivers().items()):
        cls = load_driver_class(name)
        print(f"{name}  ({target}, framing: {cls.framing.value})")
        for key, fld in cls.Options.model_fields.items():
            value = None if fld.is_required() else fld.get_default(call_default_factory=True)
            if fld.is_required():
                default = "  (required)"
            elif value is None:
                default = "  (unset)"
            else:
                default = f" = {toml_value(value)}"
            print(f"    options.{key}{default}  {fld.description or ''}".rstrip())
    return 0


def _driver_for_test(args: argparse.Namespace) -> tuple[Driver, str]:
    """The driver to test, built from the config's sensor (metadata and options) if given."""
    from cuas.config import SensorConfig
    from cuas.driver.registry import build_driver, load_driver_class

    load_driver_class(args.name)  # an unknown name fails here, listing what is installed
    if args.config is None:
        try:
            sensor = SensorConfig(id=args.sensor or "test", driver=args.name, source="replay:-")
        except ValueError as exc:  # pydantic's ValidationError is a ValueError
            raise ConfigError(f"--sensor {args.sensor!r}: not a sensor id ({exc})") from None
        return build_driver(sensor, "sensor"), sensor.id
    config = load_config(args.config)
    for i, sensor in enumerate(config.sensors):
        if sensor.id == args.sensor or (args.sensor is None and sensor.driver == args.name):
            as_tested = sensor.model_copy(update={"driver": args.name})
            return build_driver(as_tested, f"sensors[{i}]"), sensor.id
    which = f"sensor {args.sensor!r}" if args.sensor else f"sensor with driver {args.name!r}"
    raise ConfigError(f"{args.config}: no {which}; pass --sensor ID or leave out --config")


def _capture_frames(
    args: argparse.Namespace, driver: Driver, sensor_id: str
) -> list[tuple[float, bytes]]:
    """(receive time, frame) pairs from a replay file, or from a raw capture of the link."""
    from cuas.driver.api import Framing
    from cuas.replay.format import Frame, ReplayReader

    try:
        reader = ReplayReader(args.input)
    except ReplayFormatError as exc:
        if "no such" in str(exc):
            raise
        reader = None
    if reader is not None:
        wanted = args.sensor or sensor_id
        recorded = reader.header.sensors
        if wanted not in recorded:
            mine = [s for s, meta in recorded.items() if meta.get("driver") == args.name]
            if args.sensor or len(mine) != 1:
                raise ConfigError(
                    f"{args.input}: no frames recorded for sensor {wanted!r} "
                    f"(recorded: {', '.join(sorted(recorded)) or 'none'}); pass --sensor ID"
                )
            wanted = mine[0]
        return [
            (r.t_unix, r.data) for r in reader if isinstance(r, Frame) and r.sensor_id == wanted
        ]
    data = Path(args.input).read_bytes()
    t_rx = time.time() if args.time is None else args.time
    if driver.framing is Framing.MESSAGE:
        return [(t_rx, line) for line in data.splitlines() if line.strip()]
    buf = bytearray(data if data.endswith(b"\n") else data + b"\n")
    return [(t_rx, frame) for frame in driver.split_frames(buf)]


def _summary(det: Detection) -> str:
    """One detection on one line: what was measured, what it is, and how it was heard."""
    import math

    parts = [det.kind.value]
    if det.position is not None:
        alt = "" if det.position.alt_m is None else f" {det.position.alt_m:.1f} m"
        parts.append(f"{det.position.lat_deg:.6f},{det.position.lon_deg:.6f}{alt}")
    if det.range_m is not None:
        parts.append(f"range {det.range_m:.1f} m")
    if det.azimuth_rad is not None:
        parts.append(f"az {math.degrees(det.azimuth_rad):.1f} deg")
    if det.elevation_rad is not None:
        parts.append(f"el {math.degrees(det.elevation_rad):.1f} deg")
    parts.append(det.object_class.value)
    parts += det.identity.tokens()
    sig = det.signature
    if sig is not None:
        heard = [sig.protocol, sig.band, sig.freq_mhz and f"{sig.freq_mhz:g} MHz"]
        heard.append(None if sig.rssi_dbm is None else f"{sig.rssi_dbm:g} dBm")
        parts.append(" ".join(str(x) for x in heard if x))
    if det.flags:
        parts.append("flags " + ",".join(det.flags))
    return "  ".join(parts)


def cmd_drivers_test(args: argparse.Namespace) -> int:
    from collections import Counter

    from cuas.driver.host import FrameDecoder

    class Tracing(FrameDecoder):
        """The host's decoder, remembering each malformed frame's reason instead of logging."""

        last_reason = ""

        def _malformed(self, reason: str, exc_info: bool = False) -> None:
            self.counters["malformed"] += 1
            self.last_reason = reason

    driver, sensor_id = _driver_for_test(args)
    frames = _capture_frames(args, driver, sensor_id)
    decoder = Tracing(driver)
    reasons: Counter[str] = Counter()
    for seq, (t_rx, frame) in enumerate(frames):
        malformed = decoder.counters["malformed"]
        detections = decoder(t_rx, frame)
        if decoder.counters["malformed"] > malformed:
            reasons[decoder.last_reason.split(":")[0]] += 1
            print(f"#{seq} t={t_rx:.3f} MALFORMED {decoder.last_reason}")
            continue
        print(f"#{seq} t={t_rx:.3f} {len(detections)} detection(s)")
        for det in detections:
            print(f"    {_summary(det)}")
    counters = {"frames": 0, "detections": 0, "malformed": 0}
    counters.update({**driver.counters, **decoder.counters})
    print(f"\n{args.name} on {args.input} (sensor {sensor_id}):")
    for key in sorted(counters):
        print(f"    {key}: {counters[key]}")
    for reason, count in reasons.most_common():
        print(f"    malformed x{count}: {reason}")
    health = driver.health(frames[-1][0] if frames else time.time())
    if health is not None:
        print(f"    health: {health[0].value} ({health[1]})")
    return 0


def cmd_keys(args: argparse.Namespace) -> int:
    from cuas.keys import create_keypair

    try:
        public, secret = create_keypair(args.dir, args.name)
    except ValueError as exc:
        print(f"cuas keys: {exc}", file=sys.stderr)
        return 2
    print(f"public key  {public}  (copy to the peers that must trust {args.name})")
    print(f"secret key  {secret}  (mode 0600: keep it on this machine, never share it)")
    return 0


def cmd_import_capture(args: argparse.Namespace) -> int:
    from cuas_drivers.remoteid import CaptureError, capture_to_replay

    try:
        count = capture_to_replay(args.capture, args.out, args.sensor)
    except (CaptureError, OSError) as exc:
        print(f"cuas: {exc}", file=sys.stderr)
        return 2
    print(
        f"wrote {count} Remote ID frames for sensor {args.sensor!r} (driver odid_frames) "
        f"to {args.out}"
    )
    return 0 if count else 1


def cmd_check(args: argparse.Namespace) -> int:
    from cuas.driver.service import check_replay_files
    from cuas.supervisor import validate_deployment

    path = args.config or default_config()
    config = load_config(path)
    validate_deployment(config)
    check_replay_files(config)
    zones = sum(len(s.zones) for s in config.sites)
    print(f"{path}: OK ({len(config.sites)} sites, {zones} zones, {len(config.sensors)} sensors)")
    return 0


def cmd_simulate(args: argparse.Namespace) -> int:
    from cuas.sim.scenario import load_scenario
    from cuas.sim.simulate import simulate

    if args.seed is not None and args.seed < 0:
        raise ConfigError(f"--seed {args.seed}: must be 0 or more")
    scenario = load_scenario(args.scenario)
    wall0 = time.monotonic()
    shown = {"percent": -1}

    def progress(done: float) -> None:
        percent = int(done * 100)
        # on a terminal, and only for runs long enough to wonder about
        if sys.stderr.isatty() and time.monotonic() - wall0 > 1.0 and percent > shown["percent"]:
            shown["percent"] = percent
            print(f"\rsimulating: {percent:3d}%", end="", file=sys.stderr, flush=True)

    summary = simulate(scenario, args.out, seed=args.seed, progress=progress)
    if shown["percent"] >= 0:
        print(file=sys.stderr)
    for line in summary.lines():
        print(line)
    print(f"wrote {args.out} ({args.out.stat().st_size / 1024:.0f} kB)")
    return 0


def _utc(t_unix: float | None) -> str:
    if t_unix is None:
        return "-"
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(t_unix))


def cmd_apikey(args: argparse.Namespace) -> int:
    from cuas.api.auth import ApiKeyError, ApiKeyStore, Role
    from cuas.store.database import store_path

    config = load_config(args.config or default_config())
    keys = ApiKeyStore(store_path(config.data_dir))
    try:
        if args.action == "create":
            key, secret = keys.create(args.name, Role(args.role))
            print(
                f"API key {key.key_id} for {key.name!r}, role {key.role.value}. It is shown only "
                "now and stored only as a hash: keep it safe, revoke it if it leaks.",
                file=sys.stderr,
            )
            print(secret)
        elif args.action == "list":
            print(f"{'id':>4}  {'name':<24} {'role':<8}  {'created':<20}  {'last used':<20}  state")
            for k in keys.list_keys():
                state = (
                    "active" if k.revoked_t_unix is None else f"revoked {_utc(k.revoked_t_unix)}"
                )
                print(
                    f"{k.key_id:>4}  {k.name:<24} {k.role.value:<8}  {_utc(k.created_t_unix):<20}"
                    f"  {_utc(k.last_used_t_unix):<20}  {state}"
                )
        else:
            key = keys.revoke(args.key)
            print(f"revoked API key {key.key_id} ({key.name!r}, {key.role.value})")
    except ApiKeyError as exc:
        print(f"cuas apikey: {exc}", file=sys.stderr)
        return 2
    finally:
        keys.close()
    return 0


def cmd_score(args: argparse.Namespace) -> int:
    from cuas.replay.deployment import replay_deployment
    from cuas.score.metrics import ScoreError
    from cuas.score.report import build_report, format_table, write_plots

    config = replay_deployment(args.replay, args.config, default_config)
    params = {"c_m": args.cutoff_m, "p": args.order, "approach_m": args.approach_m}
    try:
        report = build_report(
            config,
            args.replay,
            tracks_file=args.tracks,
            progress_label=f"replaying {args.replay.name}" if sys.stderr.isatty() else None,
            **{k: v for k, v in params.items() if v is not None},
        )
        plots = write_plots(report, args.plots) if args.plots else []
    except ScoreError as exc:
        print(f"cuas score: {exc}", file=sys.stderr)
        return 2
    print(json.dumps(report.as_dict(), indent=2) if args.json else format_table(report))
    for path in plots:
        print(f"wrote {path}", file=sys.stderr)
    return 0


def cmd_init(args: argparse.Namespace) -> int:
    from cuas.site_init import SiteSpec, parse_reference, read_geojson_polygons, slug, write_site

    lat, lon, alt = parse_reference(args.reference)
    try:
        radii = [float(r) for r in args.zones.split(",")] if args.zones else []
    except ValueError:
        raise ConfigError(f"--zones {args.zones!r}: radii in metres, e.g. 1500,500") from None
    spec = SiteSpec(
        name=args.name,
        lat_deg=lat,
        lon_deg=lon,
        alt_m=alt,
        radii_m=radii,
        polygons=read_geojson_polygons(args.polygon) if args.polygon else [],
        drivers=args.sensor or [],
    )
    out = args.out or Path(f"{slug(args.name)}.toml")
    write_site(spec, out, force=args.force)
    print(f"wrote {out}; edit the sensors' sources and positions, then: cuas check --config {out}")
    return 0


def cmd_backup(args: argparse.Namespace) -> int:
    from cuas.store.backup import backup_store
    from cuas.store.database import store_path

    config = load_config(args.config)
    print(f"wrote {backup_store(store_path(config.data_dir), args.out, args.keep)}")
    return 0


def cmd_warmup(args: argparse.Namespace) -> int:
    from cuas.warmup import run_warmup

    return run_warmup(args.config, lambda text: print(text, flush=True))


def cmd_bench(args: argparse.Namespace) -> int:
    from cuas.bundled import REPO_ROOT, demo_file
    from cuas.score.bench import run_bench

    scenarios = args.scenarios or REPO_ROOT / "replay_data" / "scenarios"
    if args.scenarios is not None and not scenarios.is_dir():
        print(f"cuas bench: {scenarios}: no such folder of scenarios", file=sys.stderr)
        return 2
    demo = demo_file(Path("replay_data") / "demo.jsonl.gz")
    command = "cuas bench"
    for flag, value in (("--scenarios", args.scenarios), ("--out", args.out)):
        command += f" {flag} {shlex.quote(str(value))}" if value is not None else ""
    return run_bench(
        scenarios if scenarios.is_dir() else None, demo, default_config(), args.out, command
    )


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="cuas", description="Counter-drone sensor fusion and alerting (passive)."
    )
    sub = parser.add_subparsers(dest="command")

    run = sub.add_parser("run", help="run the service (the bundled demo without --config)")
    run.add_argument("--config", type=Path, help="deployment TOML (default: configs/demo.toml)")
    run.add_argument("--record", help="also capture every sensor's raw input to this replay file")
    run.add_argument("--port", type=int, help="API/dashboard port (overrides api.port)")
    run.add_argument(
        "--exercise",
        type=Path,
        metavar="SCENARIO.toml",
        help="inject this scenario's simulated sensors into the live run; all it causes is "
        "marked EXERCISE",
    )
    run.add_argument(
        "--exercise-delay",
        type=_seconds,
        metavar="S",
        help="seconds from now to the exercise scenario's time zero (default 10)",
    )
    run.set_defaults(func=cmd_run)

    replay = sub.add_parser("replay", help="play a replay file through drivers and tracker")
    replay.add_argument("file", type=Path)
    replay.add_argument(
        "--config",
        type=Path,
        help="deployment TOML for sites and sensors (default: the one the file carries, else "
        "the demo)",
    )
    replay.add_argument(
        "--speed", type=_speed, default=None, help="1 = real time, N = N times, max (default)"
    )
    replay.add_argument("--out", help="write tracks and alerts as JSON Lines here")
    replay.set_defaults(func=cmd_replay)

    record = sub.add_parser("record", help="capture live sensor input to a replay file")
    record.add_argument("--config", type=Path, required=True)
    record.add_argument("-o", "--out", type=Path, required=True)
    record.add_argument("--duration", type=float, help="seconds (default: until Ctrl-C)")
    record.add_argument("--description", default="recorded with cuas record")
    record.set_defaults(func=cmd_record)

    drivers = sub.add_parser("drivers", help="list installed sensor drivers; test one on a capture")
    drivers_sub = drivers.add_subparsers(dest="action", required=True)
    drivers_sub.add_parser("list", help="installed drivers and their options").set_defaults(
        func=cmd_drivers
    )
    dtest = drivers_sub.add_parser(
        "test", help="decode a capture through a driver and print what it saw"
    )
    dtest.add_argument("name", help="the driver, as `cuas drivers list` names it")
    dtest.add_argument(
        "--input",
        type=Path,
        required=True,
        help="a replay file, or a raw capture (one frame per line for line/message drivers)",
    )
    dtest.add_argument("--config", type=Path, help="take the sensor's metadata and options here")
    dtest.add_argument("--sensor", help="the sensor id in the config or the replay file")
    dtest.add_argument(
        "--time", type=float, help="receive time (UNIX s) of a raw capture's frames (default: now)"
    )
    dtest.set_defaults(func=cmd_drivers_test)

    keys = sub.add_parser("keys", help="ZeroMQ CURVE keys for authenticated sensor links")
    keys_sub = keys.add_subparsers(dest="action", required=True)
    create = keys_sub.add_parser("create", help="write NAME.key and NAME.key_secret into DIR")
    create.add_argument("dir", type=Path)
    create.add_argument("--name", required=True, help="e.g. engine, or the driver box's name")
    create.set_defaults(func=cmd_keys)

    capture = sub.add_parser(
        "import-capture",
        help="turn a Wi-Fi/Bluetooth pcap or pcapng into a replay file of Remote ID frames",
    )
    capture.add_argument("capture", type=Path)
    capture.add_argument("-o", "--out", type=Path, required=True)
    capture.add_argument("--sensor", default="rid-pcap", help="sensor id in the replay file")
    capture.set_defaults(func=cmd_import_capture)

    init = sub.add_parser("init", help="write a commented config for a new site")
    init.add_argument("name", help='the site\'s name, e.g. "North Gate Substation"')
    init.add_argument(
        "--reference", required=True, metavar="LAT,LON[,ALT_M]", help="the site's centre"
    )
    init.add_argument(
        "--zones", metavar="R1,R2,...", help="circle zones about the reference, radii in metres"
    )
    init.add_argument("--polygon", type=Path, help="zones from a GeoJSON file's polygons")
    init.add_argument(
        "--sensor",
        action="append",
        metavar="DRIVER",
        help="a sensor with this built-in driver (repeat; see cuas drivers list)",
    )
    init.add_argument("-o", "--out", type=Path, help="the file to write (default: NAME.toml)")
    init.add_argument("--force", action="store_true", help="overwrite an existing file")
    init.set_defaults(func=cmd_init)
    backup = sub.add_parser("backup", help="a consistent copy of the store, while it runs")
    backup.add_argument("--config", type=Path, required=True)
    backup.add_argument("--out", type=Path, required=True, help="folder for the backups")
    backup.add_argument("--keep", type=int, default=14, help="newest backups kept (14)")
    backup.set_defaults(func=cmd_backup)
    warmup = sub.add_parser(
        "warmup", help="compile the tracker's kernels now, not at the first start"
    )
    warmup.add_argument("--config", type=Path, help="deployment TOML (default: the demo)")
    warmup.set_defaults(func=cmd_warmup)
    check = sub.add_parser("check", help="validate a deployment config without starting")
    check.add_argument("--config", type=Path, help="deployment TOML (default: the demo)")
    check.set_defaults(func=cmd_check)

    simulate = sub.add_parser(
        "simulate", help="write a scenario's sensor frames and ground truth to a replay file"
    )
    simulate.add_argument("scenario", type=Path, help="scenario TOML")
    simulate.add_argument("-o", "--out", type=Path, required=True, help="replay file (.gz: gzip)")
    simulate.add_argument("--seed", type=int, help="override the scenario's seed")
    simulate.set_defaults(func=cmd_simulate)

    apikey = sub.add_parser("apikey", help="API keys and their roles (viewer, operator, admin)")
    apikey_sub = apikey.add_subparsers(dest="action", required=True)
    akcreate = apikey_sub.add_parser("create", help="make a key and print it, once")
    akcreate.add_argument("--name", required=True, help="who or what uses it, e.g. anna")
    akcreate.add_argument(
        "--role",
        required=True,
        choices=["viewer", "operator", "admin"],
        help="viewer reads; operator also acknowledges; admin may do everything",
    )
    aklist = apikey_sub.add_parser("list", help="every key: id, name, role, use, revocation")
    akrevoke = apikey_sub.add_parser("revoke", help="stop a key working, at once")
    akrevoke.add_argument("key", help="the key's id or name (see `cuas apikey list`)")
    for command in (akcreate, aklist, akrevoke):
        command.add_argument(
            "--config", type=Path, help="deployment TOML (its data_dir holds the keys)"
        )
        command.set_defaults(func=cmd_apikey)

    score = sub.add_parser(
        "score", help="score a replay's tracks and alerts against its ground truth"
    )
    score.add_argument("--replay", type=Path, required=True, help="a replay file with truth")
    score.add_argument(
        "--config",
        type=Path,
        help="deployment TOML: site, zones, sensors (default: the file's own, else the demo)",
    )
    score.add_argument(
        "--tracks", type=Path, help="score this `cuas replay --out` file instead of running"
    )
    score.add_argument("--json", action="store_true", help="print the report as JSON")
    score.add_argument(
        "--plots", type=Path, metavar="DIR", help="write tracks_enu.png and gospa.png here"
    )
    score.add_argument(
        "-c", "--cutoff-m", type=float, metavar="C", help="GOSPA/OSPA cut-off c, m (default 50)"
    )
    score.add_argument("-p", "--order", type=float, metavar="P", help="GOSPA/OSPA order p (1)")
    score.add_argument(
        "--approach-m",
        type=float,
        help="an alert on an object this near its zone is not false (default 100)",
    )
    score.set_defaults(func=cmd_score)

    bench = sub.add_parser("bench", help="score every scenario: accuracy, alerts, speed")
    bench.add_argument(
        "--scenarios", type=Path, help="folder of scenarios (default: replay_data/scenarios)"
    )
    bench.add_argument(
        "--out", type=Path, metavar="RESULTS.md", help="write the tables as its '## bench' section"
    )
    bench.set_defaults(func=cmd_bench)
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    parser = build_parser()
    args = parser.parse_args(argv or ["run"])
    if args.command is None:
        parser.print_help()
        return 2
    try:
        return args.func(args)
    except (ConfigError, ReplayFormatError) as exc:
        print(f"cuas: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"\ncuas {args.command}: interrupted", file=sys.stderr)
        return 130
    except OSError as exc:
        if exc.filename is None:  # not a file the user named (a socket, a pipe): a real fault
            raise
        print(f"cuas {args.command}: {exc.filename}: {exc.strerror}", file=sys.stderr)
        return 2
