"""The cuas replay file, version 2: raw sensor frames with their receive times, and truth.

JSON Lines, UTF-8, optionally gzip-compressed (detected from the first two bytes, not the
file name). One record per line, each an object with a ``type``:

    {"type": "header", "format": "cuas-replay", "version": 2, "created_unix": 1764400000.0,
     "description": "...", "sensors": {"rid-1": {"driver": "dragonsync"}},
     "deployment": {"version": 1, "sites": [...], "sensors": [...]}}
    {"type": "frame", "t": 1764400000.25, "sensor": "rid-1", "data": "<frame as UTF-8 text>"}
    {"type": "frame", "t": 1764400000.50, "sensor": "radar-1", "b64": "<frame as base64>"}
    {"type": "truth", "t": 1764400000.25, "object": "drone-1", "object_class": "drone",
     "lat_deg": 42.87, "lon_deg": 74.60, "alt_m": 850.0, "velocity_enu_mps": [3.0, 1.0, 0.0]}

The header comes first. ``t`` is UNIX seconds at which the frame was received (frames)
or the object was there (truth). A frame holds exactly the bytes the driver got from its
transport: text frames are stored as ``data`` to stay readable, others as ``b64``.
Records of an unknown ``type`` are skipped and counted, so newer files stay readable.

``deployment`` (version 2; optional) is the deployment the file was made with: the
``[[sites]]`` and ``[[sensors]]`` tables of a deployment TOML (and ``tracker`` and
``alerts`` where they differ from the defaults) as JSON, each sensor's ``source``
replaced by ``replay:``. ``cuas replay`` and ``cuas score`` use it unless given
``--config`` (``cuas.replay.deployment``). Its own ``version`` counts changes of that
table's layout. Version 1 files (no deployment) are still read.
"""

from __future__ import annotations

import base64
import gzip
import io
import json
import logging
import threading
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from cuas.schema import ObjectClass

log = logging.getLogger(__name__)

FORMAT_NAME = "cuas-replay"
FORMAT_VERSION = 2
READABLE_VERSIONS = (1, 2)
MAX_LINE_BYTES = 4 * 1024 * 1024


class ReplayFormatError(ValueError):
    """The file is not a replay file this build can read."""


@dataclass(frozen=True)
class Header:
    version: int
    description: str
    sensors: dict[str, dict[str, Any]]
    created_unix: float | None = None
    deployment: dict[str, Any] | None = None  # the deployment the file was made with


@dataclass(frozen=True)
class Frame:
    t_unix: float
    sensor_id: str
    data: bytes


@dataclass(frozen=True)
class Truth:
    t_unix: float
    object_id: str
    object_class: ObjectClass
    lat_deg: float
    lon_deg: float
    alt_m: float
    velocity_enu_mps: tuple[float, float, float] | None = None


def _open_text(path: Path) -> IO[str]:
    raw = path.open("rb")
    if raw.read(2) == b"\x1f\x8b":
        raw.seek(0)
        return io.TextIOWrapper(gzip.GzipFile(fileobj=raw), encoding="utf-8", errors="replace")
    raw.seek(0)
    return io.TextIOWrapper(raw, encoding="utf-8", errors="replace")


def _parse(obj: dict[str, Any]) -> Frame | Truth | Header | None:
    kind = obj.get("type")
    if kind == "frame":
        if "data" in obj:
            data = str(obj["data"]).encode("utf-8")
        else:
            data = base64.b64decode(obj["b64"], validate=True)
        return Frame(float(obj["t"]), str(obj["sensor"]), data)
    if kind == "truth":
        vel = obj.get("velocity_enu_mps")
        return Truth(
            float(obj["t"]),
            str(obj["object"]),
            ObjectClass(obj.get("object_class", "unknown")),
            float(obj["lat_deg"]),
            float(obj["lon_deg"]),
            float(obj["alt_m"]),
            None if vel is None else (float(vel[0]), float(vel[1]), float(vel[2])),
        )
    if kind == "header":
        return Header(
            int(obj["version"]),
            str(obj.get("description", "")),
            dict(obj.get("sensors", {})),
            obj.get("created_unix"),
            obj.get("deployment"),
        )
    return None


class ReplayReader:
    """Iterates a replay file's frames and truth; bad lines are counted and skipped."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        if not self.path.is_file():
            raise ReplayFormatError(f"{self.path}: no such replay file")
        self.counters: Counter[str] = Counter()
        self.header = self._read_header()

    def _read_header(self) -> Header:
        with _open_text(self.path) as fh:
            try:
                first = json.loads(fh.readline(MAX_LINE_BYTES))
            except (json.JSONDecodeError, EOFError, OSError) as exc:
                raise ReplayFormatError(f"{self.path}: first line is not JSON ({exc})") from None
        if not isinstance(first, dict) or first.get("format") != FORMAT_NAME:
            raise ReplayFormatError(
                f"{self.path}: not a cuas replay file (the first line must be a header with "
                f'"format": "{FORMAT_NAME}")'
            )
        if first.get("version") not in READABLE_VERSIONS:
            raise ReplayFormatError(
                f"{self.path}: replay format version {first.get('version')!r}; "
                f"this build reads versions {', '.join(map(str, READABLE_VERSIONS))}"
            )
        if not isinstance(first.get("deployment", {}), dict):
            raise ReplayFormatError(f"{self.path}: the header's deployment is not an object")
        header = _parse(first)
        assert isinstance(header, Header)
        return header

    def __iter__(self) -> Iterator[Frame | Truth]:
        with _open_text(self.path) as fh:
            fh.readline(MAX_LINE_BYTES)
            lineno = 1
            while True:
                try:
                    line = fh.readline(MAX_LINE_BYTES)
                except (EOFError, OSError, gzip.BadGzipFile) as exc:
                    self._bad(lineno + 1, f"file ends early: {exc}")
                    return
                if not line:
                    return
                lineno += 1
                if not line.endswith("\n") and len(line) >= MAX_LINE_BYTES:
                    self._bad(lineno, f"line longer than {MAX_LINE_BYTES} bytes")
                    while line and not line.endswith("\n"):
                        line = fh.readline(MAX_LINE_BYTES)
                    continue
                if not line.strip():
                    continue
                try:
                    obj = json.loads(line)
                    record = _parse(obj) if isinstance(obj, dict) else None
                    if not isinstance(obj, dict):
                        raise ValueError("record is not a JSON object")
                except (ValueError, KeyError, TypeError) as exc:
                    self._bad(lineno, str(exc))
                    continue
                if record is None or isinstance(record, Header):
                    self.counters["unknown_records"] += 1
                    continue
                self.counters["frames" if isinstance(record, Frame) else "truth"] += 1
                yield record

    def _bad(self, lineno: int, reason: str) -> None:
        self.counters["malformed"] += 1
        if self.counters["malformed"] <= 3:
            log.warning("%s line %d skipped: %s", self.path.name, lineno, reason)


@dataclass
class ReplayWriter:
    """Appends frames and truth to a new replay file; safe to call from several threads."""

    path: Path
    description: str = ""
    sensors: dict[str, dict[str, Any]] = field(default_factory=dict)
    created_unix: float | None = None  # defaults to now; fixed for reproducible files
    deployment: dict[str, Any] | None = None  # cuas.replay.deployment.header_deployment

    def __post_init__(self) -> None:
        self.path = Path(self.path)
        self._lock = threading.Lock()
        self._fh: IO[str]
        if self.path.suffix == ".gz":
            # no name or time in the gzip header, so the same content gives the same bytes
            gz = gzip.GzipFile(filename="", mode="wb", fileobj=self.path.open("wb"), mtime=0)
            self._raw = gz.fileobj
            self._fh = io.TextIOWrapper(gz, encoding="utf-8")
        else:
            self._fh = self.path.open("w", encoding="utf-8")
        header = {
            "type": "header",
            "format": FORMAT_NAME,
            "version": FORMAT_VERSION,
            "created_unix": round(self.created_unix or time.time(), 3),
            "description": self.description,
            "sensors": self.sensors,
        }
        if self.deployment is not None:
            header["deployment"] = self.deployment
        self._write(header)

    def _write(self, obj: dict[str, Any]) -> None:
        line = json.dumps(obj, separators=(",", ":"), ensure_ascii=False) + "\n"
        with self._lock:
            self._fh.write(line)

    def frame(self, t_unix: float, sensor_id: str, data: bytes) -> None:
        record: dict[str, Any] = {"type": "frame", "t": round(t_unix, 6), "sensor": sensor_id}
        try:
            text = data.decode("utf-8")
            if "\x00" in text:
                raise UnicodeDecodeError("utf-8", data, 0, 1, "NUL byte")
            record["data"] = text
        except UnicodeDecodeError:
            record["b64"] = base64.b64encode(data).decode("ascii")
        self._write(record)

    def truth(self, truth: Truth) -> None:
        record: dict[str, Any] = {
            "type": "truth",
            "t": round(truth.t_unix, 6),
            "object": truth.object_id,
            "object_class": truth.object_class.value,
            "lat_deg": round(truth.lat_deg, 8),
            "lon_deg": round(truth.lon_deg, 8),
            "alt_m": round(truth.alt_m, 3),
        }
        if truth.velocity_enu_mps is not None:
            record["velocity_enu_mps"] = [round(v, 3) for v in truth.velocity_enu_mps]
        self._write(record)

    def flush(self) -> None:
        with self._lock:
            self._fh.flush()

    def close(self) -> None:
        with self._lock:
            self._fh.close()
            if getattr(self, "_raw", None) is not None:
                self._raw.close()  # GzipFile does not close a file object it was handed
