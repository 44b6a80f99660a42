"""One way to open the deployment's SQLite file, shared by everything that persists.

Several processes (engine, API, outbound) each hold a connection to the same file. WAL lets
readers run beside one writer; autocommit with one ``BEGIN IMMEDIATE`` per write means a
state is read and changed under one write lock, whichever process holds it; a thread lock
lets the threads of one process share the connection.
"""

from __future__ import annotations

import os
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path

STORE_FILE = "cuas.sqlite"


def store_path(data_dir: Path) -> Path:
    """The deployment's SQLite file in its ``[service] data_dir``."""
    return data_dir / STORE_FILE


def _private_file(path: Path) -> None:
    """Create the database file readable by its owner only (alerts, identities, key hashes:
    not for other local users), and tighten one made before; SQLite gives its -wal and -shm
    files the same mode as the database's."""
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    if not path.exists():
        # Only a file that does not exist yet is opened here: closing a descriptor of a
        # database that another connection of this process holds would drop that
        # connection's POSIX locks (SQLite's "how to corrupt a database"), and a reader
        # then missed other processes' commits (a revoked API key kept working).
        with suppress(FileExistsError):  # made by another process meanwhile
            os.close(os.open(path, os.O_CREAT | os.O_EXCL | os.O_RDWR, 0o600))
    for part in (path, path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm")):
        if part.exists():
            part.chmod(0o600)


class Database:
    """A connection to the deployment's SQLite file; subclasses own their tables."""

    def __init__(self, path: str | Path, schema: str) -> None:
        self.path = str(path)
        if self.path != ":memory:":
            _private_file(Path(self.path))
        self._db = sqlite3.connect(
            self.path, timeout=10.0, check_same_thread=False, isolation_level=None
        )
        self._lock = threading.Lock()
        with self._lock:
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=NORMAL")  # durable at checkpoint; WAL-safe
            self._db.execute("PRAGMA foreign_keys=ON")
            self._db.executescript(schema)

    @contextmanager
    def read(self) -> Iterator[sqlite3.Connection]:
        """The connection, for reads, while no other thread of this process uses it."""
        with self._lock:
            yield self._db

    @contextmanager
    def write(self) -> Iterator[sqlite3.Connection]:
        """One write transaction, holding SQLite's write lock from its first read."""
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                yield self._db
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")

    def close(self) -> None:
        with self._lock:
            self._db.close()
