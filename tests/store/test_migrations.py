"""Numbered migrations: an old store is brought to the latest schema once, its rows kept;
a fresh one starts at the latest; a store from a newer cuas is refused by name."""

import sqlite3

import pytest

from cuas.store.migrations import LATEST, StoreVersionError
from cuas.store.sqlite import Store

# The alerts and alert_events tables as the first releases made them (no user_version).
OLD_SCHEMA = """
CREATE TABLE alerts (
    alert_id INTEGER PRIMARY KEY AUTOINCREMENT, site_id TEXT NOT NULL, zone_id TEXT,
    zone_level TEXT NOT NULL, rule TEXT NOT NULL, object_key TEXT NOT NULL, track_id TEXT,
    state TEXT NOT NULL, raised_t REAL NOT NULL, updated_t REAL NOT NULL,
    acknowledged_by TEXT, acknowledged_t REAL, note TEXT, track_json TEXT
);
CREATE TABLE alert_events (
    event_id INTEGER PRIMARY KEY AUTOINCREMENT, alert_id INTEGER NOT NULL,
    t REAL NOT NULL, from_state TEXT, to_state TEXT NOT NULL, actor TEXT NOT NULL,
    reason TEXT NOT NULL DEFAULT ''
);
INSERT INTO alerts (site_id, zone_level, rule, object_key, state, raised_t, updated_t)
    VALUES ('s', 'critical', 'drone_in_zone', 'rid:OLD', 'raised', 1.0, 1.0);
"""


def version(path) -> int:
    with sqlite3.connect(path) as db:
        return db.execute("PRAGMA user_version").fetchone()[0]


def test_an_old_store_is_migrated_once_and_keeps_its_alerts(tmp_path):
    path = tmp_path / "cuas.sqlite"
    with sqlite3.connect(path) as db:
        db.executescript(OLD_SCHEMA)
    assert version(path) == 0
    store = Store(path)
    try:
        [alert] = store.open_alerts()
        assert alert.object_key == "rid:OLD" and alert.reason == "" and not alert.exercise
    finally:
        store.close()
    assert version(path) == LATEST
    with sqlite3.connect(path) as db:
        assert "alert_json" in {r[1] for r in db.execute("PRAGMA table_info(alert_events)")}
    Store(path).close()  # opening again changes nothing
    assert version(path) == LATEST


def test_a_fresh_store_starts_at_the_latest_version(tmp_path):
    Store(tmp_path / "cuas.sqlite").close()
    assert version(tmp_path / "cuas.sqlite") == LATEST


def test_a_store_from_a_newer_cuas_is_refused(tmp_path):
    path = tmp_path / "cuas.sqlite"
    Store(path).close()
    with sqlite3.connect(path) as db:
        db.execute(f"PRAGMA user_version = {LATEST + 1}")
    with pytest.raises(StoreVersionError, match=f"version {LATEST + 1}.*newer cuas"):
        Store(path)
