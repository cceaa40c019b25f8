"""Every SQLite file lets its write-ahead log grow to ``database.CHECKPOINT_BYTES`` before
a commit copies it into the file, in pages of whatever size the file has, and cuts it back
to twice that after a checkpoint."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from mapwire import Action
from mapwire.plugins.sqlite_store.database import CHECKPOINT_BYTES, PAGE_SIZE
from mapwire.plugins.sqlite_store.queue import SqliteQueue
from mapwire.plugins.sqlite_store.store import SqliteStore


def settings(conn: sqlite3.Connection) -> tuple[int, int]:
    autocheckpoint = int(conn.execute("PRAGMA wal_autocheckpoint").fetchone()[0])
    limit = int(conn.execute("PRAGMA journal_size_limit").fetchone()[0])
    return autocheckpoint, limit


def test_queue_and_store_checkpoint_every_32_mb(tmp_path: Path) -> None:
    assert CHECKPOINT_BYTES == 32 * 1024 * 1024
    with SqliteQueue(tmp_path / "q.db") as queue, SqliteStore(tmp_path / "s.db") as store:
        for database in (queue, store):
            with database._connection() as conn:
                assert settings(conn) == (CHECKPOINT_BYTES // PAGE_SIZE, 2 * CHECKPOINT_BYTES)


def test_a_file_with_smaller_pages_counts_more_of_them(tmp_path: Path) -> None:
    db = tmp_path / "queue.db"
    with sqlite3.connect(db, isolation_level=None) as conn:  # made by an older version
        conn.execute("PRAGMA page_size = 4096")
        conn.execute("PRAGMA journal_mode = wal")
        conn.execute("CREATE TABLE t (x)")
    with SqliteQueue(db) as queue:
        with queue._connection() as conn:
            assert settings(conn) == (CHECKPOINT_BYTES // 4096, 2 * CHECKPOINT_BYTES)
        queue.enqueue("cio", [Action("customerio", "event", {"n": n}) for n in range(3)])
        assert [e.action.payload["n"] for e in queue.claim("cio", 10, 60)] == [0, 1, 2]
