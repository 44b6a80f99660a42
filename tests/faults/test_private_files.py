"""The SQLite store (alerts, identities, API key hashes) is readable by its owner only.

Before: cuas.sqlite and its -wal file were created 0644, readable by every local user.
"""

from __future__ import annotations

import stat

from cuas.store.sqlite import Store


def _mode(path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_a_new_store_and_its_wal_are_private(tmp_path):
    path = tmp_path / "data" / "cuas.sqlite"
    store = Store(path)
    try:
        store.reserve("track_id", 10)  # a write, so the -wal file exists
        wal = path.with_name(path.name + "-wal")
        assert wal.exists()
        assert (_mode(path), _mode(wal)) == (0o600, 0o600)
        assert _mode(path.parent) == 0o700
    finally:
        store.close()


def test_an_older_store_made_world_readable_is_tightened(tmp_path):
    path = tmp_path / "cuas.sqlite"
    Store(path).close()
    path.chmod(0o644)
    Store(path).close()
    assert _mode(path) == 0o600
