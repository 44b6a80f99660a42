"""The ``cuas`` command line."""

from __future__ import annotations

import argparse
import json
import sys
import threading
import time
from pathlib import Path

from cuas.config import ConfigError, load_config
from cuas.replay.format import ReplayFormatError

REPO_ROOT = Path(__file__).resolve().parents[2]


def default_config() -> Path:
    """The bundled demo config, from the source tree or the current folder."""
    for candidate in (REPO_ROOT / "configs" / "demo.toml", Path("configs") / "demo.toml"):
        if candidate.is_file():
            return candidate
    raise ConfigError(
        "no --config given and the bundled configs/demo.toml was not found; "
        "run from a cuas checkout or pass --config FILE"
    )


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


def cmd_run(args: argparse.Namespace) -> int:
    from cuas.supervisor import run

    return run(args.config or default_config(), args.record, args.port)


def cmd_replay(args: argparse.Namespace) -> int:
    from cuas.replay.pipeline import run_replay

    config = load_config(args.config or default_config())
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
    from cuas.replay.format import ReplayWriter

    config = load_config(args.config)
    writer = ReplayWriter(
        args.out,
        description=args.description,
        sensors={s.id: {"driver": s.driver} for s in config.sensors},
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

    for name, target in sorted(installed_drivers().items()):
        cls = load_driver_class(name)
        print(f"{name}  ({target}, framing: {cls.framing.value})")
        for key, fld in cls.Options.model_fields.items():
            default = "" if fld.is_required() else f" = {fld.default!r}"
            print(f"    options.{key}{default}  {fld.description or ''}".rstrip())
    return 0


def cmd_check(args: argparse.Namespace) -> int:
    from cuas.driver.service import validate_sensors

    config = load_config(args.config)
    validate_sensors(config)
    zones = sum(len(s.zones) for s in config.sites)
    print(
        f"{args.config}: OK ({len(config.sites)} sites, {zones} zones, "
        f"{len(config.sensors)} sensors)"
    )
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="cuas", description="Counter-drone sensor fusion and alerting (passive)."
    )
    sub = parser.add_subparsers(dest="command")

    run = sub.add_parser("run", help="run the service (the bundled demo without --config)")
    run.add_argument("--config", type=Path, help="deployment TOML (default: configs/demo.toml)")
    run.add_argument("--record", help="also capture every sensor's raw input to this replay file")
    run.add_argument("--port", type=int, help="API/dashboard port (overrides api.port)")
    run.set_defaults(func=cmd_run)

    replay = sub.add_parser("replay", help="play a replay file through drivers and tracker")
    replay.add_argument("file", type=Path)
    replay.add_argument("--config", type=Path, help="deployment TOML for sites and sensors")
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

    drivers = sub.add_parser("drivers", help="list installed sensor drivers and their options")
    drivers.add_argument("action", choices=["list"])
    drivers.set_defaults(func=cmd_drivers)

    check = sub.add_parser("check", help="validate a deployment config without starting")
    check.add_argument("--config", type=Path, required=True)
    check.set_defaults(func=cmd_check)
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
