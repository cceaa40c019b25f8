"""What the SQLite files delete is overwritten, not left in their free pages: an erased
person's queued updates and a delivered action's payload cannot be read back from the
file (``PRAGMA secure_delete``, whatever the SQLite library's own default)."""

from __future__ import annotations

import sqlite3
import uuid
from pathlib import Path
from typing import Any

import pytest

from mapwire import Action
from mapwire.plugins.sqlite_store import database
from mapwire.plugins.sqlite_store.queue import SqliteQueue
from mapwire.plugins.sqlite_store.store import SqliteStore


@pytest.fixture(autouse=True)
def library_default_off(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every connection starts as a SQLite library built without secure deletes would."""
    connect = sqlite3.connect

    def connect_off(*args: Any, **kwargs: Any) -> sqlite3.Connection:
        conn = connect(*args, **kwargs)
        conn.execute("PRAGMA secure_delete = OFF")
        return conn

    monkeypatch.setattr(database.sqlite3, "connect", connect_off)


def person_update(marker: str, n: int) -> Action:
    payload = {"userId": marker, "name": "Order Completed", "email": f"{marker}@example.com"}
    return Action("customerio", "track", {**payload, "n": n}, order_key=marker)


def file_bytes(db: Path) -> bytes:
    """The database file once the log is folded into it and emptied."""
    with sqlite3.connect(db) as conn:
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    return db.read_bytes()


def test_an_erased_person_s_queued_updates_are_gone_from_the_file(tmp_path: Path) -> None:
    db = tmp_path / "queue.db"
    marker = f"erase-me-{uuid.uuid4().hex}"
    with SqliteQueue(db) as queue:
        queue.enqueue("cio", [person_update(marker, n) for n in range(20)])
        assert marker.encode() in file_bytes(db)

        assert queue.drop_person("cio", marker) == 20

    assert marker.encode() not in file_bytes(db)


def test_a_delivered_action_s_payload_is_gone_from_the_file(tmp_path: Path) -> None:
    db = tmp_path / "queue.db"
    marker = f"delivered-{uuid.uuid4().hex}"
    with SqliteQueue(db) as queue:
        queue.enqueue("cio", [person_update(marker, n) for n in range(20)])
        queue.ack([entry.id for entry in queue.claim("cio", 100, 60)])

    assert marker.encode() not in file_bytes(db)


def test_both_files_overwrite_what_they_delete(tmp_path: Path) -> None:
    with SqliteQueue(tmp_path / "q.db") as queue, SqliteStore(tmp_path / "s.db") as store:
        for opened in (queue, store):
            with opened._connection() as conn:
                assert conn.execute("PRAGMA secure_delete").fetchone() == (1,)
