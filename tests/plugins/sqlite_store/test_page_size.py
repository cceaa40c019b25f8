"""A new SQLite file gets 8 KB pages (``database.PAGE_SIZE``); a file that exists keeps the
page size it was made with, and works as before, whether it was left in WAL mode or not."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from mapwire import Action
from mapwire.plugins.sqlite_store.database import PAGE_SIZE
from mapwire.plugins.sqlite_store.queue import SqliteQueue
from mapwire.plugins.sqlite_store.store import SqliteStore


def page_size(db: Path) -> int:
    with sqlite3.connect(db) as conn:
        return int(conn.execute("PRAGMA page_size").fetchone()[0])


def test_new_files_get_the_larger_pages(tmp_path: Path) -> None:
    assert PAGE_SIZE == 8192
    with SqliteQueue(tmp_path / "q.db"), SqliteStore(tmp_path / "s.db"):
        pass
    assert page_size(tmp_path / "q.db") == PAGE_SIZE
    assert page_size(tmp_path / "s.db") == PAGE_SIZE


@pytest.mark.parametrize("journal", ["wal", "delete"])
def test_an_existing_file_keeps_its_pages_and_its_entries(tmp_path: Path, journal: str) -> None:
    db = tmp_path / "queue.db"
    with SqliteQueue(db) as queue:  # made by this version, then rewritten with 4 KB pages
        queue.enqueue("cio", [Action("customerio", "event", {"n": n}) for n in range(5)])
    with sqlite3.connect(db, isolation_level=None) as conn:
        conn.execute("PRAGMA journal_mode = delete")
        conn.execute("PRAGMA page_size = 4096")
        conn.execute("VACUUM")
        conn.execute(f"PRAGMA journal_mode = {journal}")
    assert page_size(db) == 4096

    with SqliteQueue(db) as queue:
        queue.enqueue("cio", [Action("customerio", "event", {"n": 5})])
        entries = queue.claim("cio", 100, 60)
        assert [entry.action.payload["n"] for entry in entries] == list(range(6))
        queue.ack([entry.id for entry in entries])
        assert queue.depth("cio") == 0
    assert page_size(db) == 4096
