"""Waiting for another connection's write lock (``database.begin_immediate``): a writer
gets the lock once it is free, gives up with SQLite's own error after its busy timeout,
and leaves its connection's busy timeout as it found it."""

from __future__ import annotations

import sqlite3
import threading
import time
from pathlib import Path

import pytest

from mapwire import Action, QueueUnavailable
from mapwire.plugins.sqlite_store.database import begin_immediate
from mapwire.plugins.sqlite_store.queue import SqliteQueue


def action(n: int) -> Action:
    return Action("sink", "record", {"n": n})


def hold_lock(path: Path) -> sqlite3.Connection:
    """Another connection of the file, holding its write lock."""
    other = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    other.execute("BEGIN IMMEDIATE")
    return other


def test_a_writer_waits_for_the_lock_and_then_writes(tmp_path: Path) -> None:
    queue = SqliteQueue(tmp_path / "q.db", busy_timeout=10)
    other = hold_lock(tmp_path / "q.db")
    released = threading.Event()

    def release() -> None:
        time.sleep(0.2)
        other.execute("COMMIT")
        released.set()

    threading.Thread(target=release).start()
    try:
        queue.enqueue("c", [action(1), action(2)])
        assert released.is_set(), "the write waited for the other connection's commit"
        assert queue.depth("c") == 2
        assert queue._conn is not None
        assert queue._conn.execute("PRAGMA busy_timeout").fetchone() == (10_000,)
    finally:
        queue.close()
        other.close()


def test_a_writer_gives_up_after_its_busy_timeout(tmp_path: Path) -> None:
    queue = SqliteQueue(tmp_path / "q.db", busy_timeout=0.3)
    other = hold_lock(tmp_path / "q.db")
    try:
        started = time.monotonic()
        with pytest.raises(QueueUnavailable, match="database is locked"):
            queue.enqueue("c", [action(1)])
        assert time.monotonic() - started >= 0.25, "it waited about its busy timeout"
        assert queue._conn is not None
        assert not queue._conn.in_transaction
        assert queue._conn.execute("PRAGMA busy_timeout").fetchone() == (300,)
        other.execute("COMMIT")
        queue.enqueue("c", [action(2)])  # the connection works on once the lock is free
        assert queue.depth("c") == 1
    finally:
        queue.close()
        other.close()


def test_a_plain_connection_waits_with_sqlites_own_handler(tmp_path: Path) -> None:
    path = tmp_path / "plain.db"
    plain = sqlite3.connect(path, timeout=5, isolation_level=None, check_same_thread=False)
    other = hold_lock(path)
    timer = threading.Timer(0.1, lambda: other.execute("COMMIT"))
    timer.start()
    try:
        begin_immediate(plain)
        assert plain.in_transaction
        plain.execute("COMMIT")
    finally:
        timer.join()
        plain.close()
        other.close()
