"""A consistent copy of the deployment's store while the service runs.

SQLite's online backup copies the database page by page under its own locking, so the copy
is a snapshot even while the engine and API write (WAL mode); copying the file with ``cp``
is not, since recent writes may still sit in the ``-wal`` file.
"""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path

from cuas.config import ConfigError

PREFIX = "cuas-"
SUFFIX = ".sqlite"


def backup_store(store_file: Path, out_dir: Path, keep: int) -> Path:
    """Write ``out_dir/cuas-YYYYmmddTHHMMSSZ.sqlite`` and delete all but the newest ``keep``
    backups there; return the new file."""
    if not store_file.is_file():
        raise ConfigError(f"{store_file}: no store to back up (has the service run yet?)")
    if keep < 1:
        raise ConfigError(f"--keep {keep}: keep at least one backup")
    out_dir.mkdir(parents=True, exist_ok=True)
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
    target = out_dir / f"{PREFIX}{stamp}{SUFFIX}"
    partial = target.with_suffix(".partial")
    source = sqlite3.connect(f"file:{store_file}?mode=ro", uri=True)
    try:
        copy = sqlite3.connect(partial)
        try:
            source.backup(copy)
        finally:
            copy.close()
    finally:
        source.close()
    partial.replace(target)  # a backup that exists is whole
    for old in sorted(out_dir.glob(f"{PREFIX}*{SUFFIX}"))[:-keep]:
        old.unlink()
    return target
