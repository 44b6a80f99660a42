"""`cuas backup`: a whole, readable copy of a store that is open for writing, and rotation."""

import sqlite3
import subprocess
import sys

from support import DEMO_CONFIG


def test_backup_copies_a_store_in_use_and_keeps_the_newest(tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    config = tmp_path / "site.toml"
    config.write_text(DEMO_CONFIG.read_text().replace('"../var/demo"', f'"{data.as_posix()}"'))
    store = sqlite3.connect(data / "cuas.sqlite")
    store.execute("PRAGMA journal_mode=WAL")
    store.execute("CREATE TABLE t (v INTEGER)")
    store.executemany("INSERT INTO t VALUES (?)", [(i,) for i in range(1000)])
    store.commit()  # in the -wal file, not yet in the main file: a plain copy would miss it
    out = tmp_path / "backups"
    for old in ("cuas-20200101T000000Z.sqlite", "cuas-20200102T000000Z.sqlite"):
        out.mkdir(exist_ok=True)
        (out / old).write_bytes(b"")
    done = subprocess.run(
        [sys.executable, "-m", "cuas", "backup", "--config", str(config), "--out", str(out),
         "--keep", "2"],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    store.close()
    assert done.returncode == 0, done.stderr
    kept = sorted(p.name for p in out.iterdir())
    assert len(kept) == 2 and kept[0] == "cuas-20200102T000000Z.sqlite"
    with sqlite3.connect(out / kept[1]) as copy:
        assert copy.execute("SELECT count(*), sum(v) FROM t").fetchone() == (1000, 499500)


def test_backup_without_a_store_says_so(tmp_path):
    config = tmp_path / "site.toml"
    config.write_text(DEMO_CONFIG.read_text().replace('"../var/demo"', '"nothing-here"'))
    done = subprocess.run(
        [sys.executable, "-m", "cuas", "backup", "--config", str(config), "--out", str(tmp_path)],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert done.returncode == 2 and "no store to back up" in done.stderr
