"""``cuas init``: write a commented deployment TOML for a new site, so setting one up starts
from a file that ``cuas check`` passes rather than from a guess.

The site is a name and a reference point; its zones are circles of given radii about the
reference (outermost watch, innermost critical) or polygons from a GeoJSON file; its sensors
are built-in drivers, each with the usual source for that kind of sensor and its options
listed, commented out, with their defaults.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path

from cuas.config import ConfigError

# The source each kind of sensor is usually reached at (README, "Sensor source URLs").
DEFAULT_SOURCES = {
    "dragonsync": "zmq+tcp://127.0.0.1:4224",  # a WarDragon's DragonSync decoder feed
    "odid_frames": "udp://0.0.0.0:4225",  # Open Drone ID frames, one per datagram
    "dronescout": "serial:///dev/ttyACM0?baud=115200",  # a DroneScout receiver's lines
    "sbs": "tcp://127.0.0.1:30003",  # dump1090/readsb SBS (BaseStation) output
    "beast": "tcp://127.0.0.1:30005",  # dump1090/readsb Beast binary output
    "asterix": "udp://0.0.0.0:8600",  # a radar's ASTERIX CAT048/062 datagrams
    "sapient": "tcp-listen://0.0.0.0:5020",  # SAPIENT nodes connect to us
    "rfserial": "serial:///dev/ttyUSB0?baud=115200",  # an RF detector's $CURF sentences
}
# Coverage to draw until the site measures its own: Remote ID and ADS-B are heard all round.
DEFAULT_RANGE_M = {"sbs": 20_000.0, "beast": 20_000.0, "asterix": 5_000.0, "sapient": 2_000.0}
LEVELS_BY_COUNT = {1: ["critical"], 2: ["warning", "critical"], 3: ["watch", "warning", "critical"]}


@dataclass
class SiteSpec:
    """What ``cuas init`` was told."""

    name: str
    lat_deg: float
    lon_deg: float
    alt_m: float
    radii_m: list[float]
    polygons: list[tuple[str, list[tuple[float, float]]]]  # (name, [(lat, lon), ...])
    drivers: list[str]


def slug(text: str) -> str:
    """An id from a name: lower case, words joined by hyphens."""
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-") or "site"


def parse_reference(text: str) -> tuple[float, float, float]:
    """``LAT,LON[,ALT_M]`` in WGS84 degrees (and metres)."""
    try:
        values = [float(v) for v in text.split(",")]
    except ValueError:
        values = []
    if len(values) not in (2, 3):
        raise ConfigError(f"--reference {text!r}: write LAT,LON or LAT,LON,ALT_M in degrees")
    lat, lon = values[0], values[1]
    if not (-90 <= lat <= 90 and -180 <= lon <= 180):
        raise ConfigError(f"--reference {text!r}: latitude or longitude out of range")
    return lat, lon, values[2] if len(values) == 3 else 0.0


def read_geojson_polygons(path: Path) -> list[tuple[str, list[tuple[float, float]]]]:
    """Every Polygon's outer ring (and each part of a MultiPolygon) in a GeoJSON file, as
    (name, [(lat, lon), ...]); GeoJSON writes [lon, lat] (RFC 7946)."""
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"--polygon {path}: no such file") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(f"--polygon {path}: not JSON ({exc})") from None
    features = doc.get("features", [doc]) if isinstance(doc, dict) else []
    found: list[tuple[str, list[tuple[float, float]]]] = []
    for i, feature in enumerate(features):
        geometry = feature.get("geometry", feature) if isinstance(feature, dict) else {}
        props = feature.get("properties") or {} if isinstance(feature, dict) else {}
        kind = geometry.get("type") if isinstance(geometry, dict) else None
        if kind == "Polygon":
            polygons = [geometry.get("coordinates")]
        elif kind == "MultiPolygon":
            polygons = geometry.get("coordinates") or []
        else:
            continue
        for j, polygon in enumerate(polygons):
            try:
                outer = [(float(p[1]), float(p[0])) for p in polygon[0]]
            except (TypeError, IndexError, ValueError):
                raise ConfigError(f"--polygon {path}: feature {i} has no [lon, lat] ring") from None
            if len(outer) > 1 and outer[0] == outer[-1]:
                outer = outer[:-1]  # GeoJSON closes rings; our polygons close themselves
            if len(outer) < 3:
                raise ConfigError(f"--polygon {path}: feature {i} has fewer than 3 corners")
            name = str(props.get("name") or f"Zone {len(found) + 1}")
            found.append((name if j == 0 else f"{name} ({j + 1})", outer))
    if not found:
        raise ConfigError(f"--polygon {path}: no Polygon or MultiPolygon in it")
    return found


def _options_comment(driver: str) -> list[str]:
    from cuas.driver.registry import load_driver_class
    from cuas.toml_text import toml_value

    lines = []
    for key, fld in load_driver_class(driver).Options.model_fields.items():
        value = None if fld.is_required() else fld.get_default(call_default_factory=True)
        shown = "..." if value is None else toml_value(value)
        about = f"  # {fld.description}" if fld.description else ""
        lines.append(f"# {key} = {shown}{about}")
    return lines


def render_site(spec: SiteSpec) -> str:
    """The deployment TOML, commented for whoever edits it next."""
    site_id = slug(spec.name)
    out = [
        f"# cuas deployment: {spec.name}. Written by `cuas init`; check it with",
        "# `cuas check --config THIS_FILE` after every edit. Relative paths are relative to",
        "# this file. Every key is explained in the README's Configuration section.",
        "",
        "[service]",
        f'data_dir = "var/{site_id}"   # SQLite store: alerts, audit trail, track history',
        'log_level = "info"            # debug, info, warning, error',
        "",
        "[api]",
        'host = "127.0.0.1"   # loopback: the dashboard on this machine only. To serve the',
        "port = 8000          # control room, set the machine's address; keys are then needed",
        "# An operator's key: cuas apikey create --config THIS_FILE --name NAME --role operator",
        "",
        "[bus]",
        "# ingest (drivers -> engine) and output (engine -> API and consumers) unset: IPC",
        "# sockets in data_dir/bus. A driver host on another machine needs TCP with CURVE,",
        '# e.g. ingest = "tcp://0.0.0.0:5550" (README, "Sensor link security").',
        "",
        "[alerts]",
        'drone_classes = ["drone"]     # classes that raise drone alerts',
        "sensor_silent_after_s = 15.0  # a sensor silent this long raises a coverage alert",
        "",
        "[[sites]]",
        f'id = "{site_id}"',
        f"name = {json.dumps(spec.name)}",
        "# The reference point: the origin of the tracking frame; zone heights are above it.",
        f"reference = {{ lat_deg = {spec.lat_deg:.6f}, lon_deg = {spec.lon_deg:.6f}, "
        f"alt_m = {spec.alt_m:.1f} }}",
    ]
    levels = LEVELS_BY_COUNT.get(len(spec.radii_m), [])
    for radius_m, level in zip(sorted(spec.radii_m, reverse=True), levels, strict=False):
        out += [
            "",
            "[[sites.zones]]",
            f'id = "r{radius_m:g}m"',
            f'name = "Within {radius_m:g} m"',
            f'level = "{level}"   # watch, warning, critical, or ignore',
            "floor_m = 0.0",
            "ceiling_m = 400.0      # heights above the reference",
            f"circle = {{ lat_deg = {spec.lat_deg:.6f}, lon_deg = {spec.lon_deg:.6f}, "
            f"radius_m = {radius_m:g} }}",
        ]
    for i, (name, ring) in enumerate(spec.polygons):
        corners = ", ".join(f"[{lat:.6f}, {lon:.6f}]" for lat, lon in ring)
        out += [
            "",
            "[[sites.zones]]",
            f'id = "{slug(name)}-{i + 1}"',
            f"name = {json.dumps(name)}",
            'level = "critical"   # watch, warning, critical, or ignore',
            "floor_m = 0.0",
            "ceiling_m = 400.0",
            f"polygon = [{corners}]   # [lat, lon] corners",
        ]
    counts: dict[str, int] = {}
    for driver in spec.drivers:
        counts[driver] = counts.get(driver, 0) + 1
        sensor_id = f"{driver}-{counts[driver]}"
        range_m = DEFAULT_RANGE_M.get(driver, 2_500.0)
        out += [
            "",
            "[[sensors]]",
            f'id = "{sensor_id}"',
            f'driver = "{driver}"',
            f'source = "{DEFAULT_SOURCES[driver]}"   # where this sensor is heard; see README',
            "# Where the sensor stands (here: the reference; put the real place).",
            f"position = {{ lat_deg = {spec.lat_deg:.6f}, lon_deg = {spec.lon_deg:.6f}, "
            f"alt_m = {spec.alt_m:.1f} }}",
            "# What it covers, drawn on the dashboard: azimuth_width_deg < 360 is a sector",
            "# centred on orientation.yaw_deg (radars, direction finders).",
            f"coverage = {{ range_m = {range_m:g}, azimuth_width_deg = 360.0 }}",
            "",
            "[sensors.options]",
            "# The driver's options and their defaults (`cuas drivers list`):",
            *_options_comment(driver),
        ]
    return "\n".join(out) + "\n"


def write_site(spec: SiteSpec, out: Path, *, force: bool = False) -> None:
    from cuas.config import load_config
    from cuas.driver.registry import installed_drivers

    known = installed_drivers()
    for driver in spec.drivers:
        if driver not in known:
            raise ConfigError(
                f"--sensor {driver!r}: no such driver (installed: {', '.join(sorted(known))})"
            )
        if driver not in DEFAULT_SOURCES:
            raise ConfigError(f"--sensor {driver!r}: a plugin driver; add its [[sensors]] by hand")
    if not spec.radii_m and not spec.polygons:
        raise ConfigError("give the site a zone: --zones RADIUS_M[,...] or --polygon FILE")
    if len(spec.radii_m) > 3 or any(r <= 0 for r in spec.radii_m):
        raise ConfigError("--zones: one to three radii in metres, each above 0")
    if out.exists() and not force:
        raise ConfigError(f"{out}: exists already; pass --force to overwrite it")
    text = render_site(spec)
    out.write_text(text, encoding="utf-8")
    load_config(out)  # what we wrote must be a valid deployment
