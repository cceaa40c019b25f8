"""Waiting for another connection's write lock (``database.begin_immediate``): a writer
polls for the lock itself (SQLite's busy handler, off meanwhile, sleeps whole
milliseconds), gets it once it is free, gives up with SQLite's own error after its busy
timeout, and leaves its connection's busy timeout as it found it and no transaction open,
whatever interrupts it."""

from __future__ import annotations

import sqlite3
import threading
import time
from pathlib import Path

import pytest

from mapwire import Action, QueueUnavailable
from mapwire.plugins.sqlite_store.database import (
    TimedConnection,
    begin_immediate,
    immediate,
    is_busy,
)
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


def test_while_it_waits_the_writer_polls_with_sqlites_handler_off(tmp_path: Path) -> None:
    queue = SqliteQueue(tmp_path / "q.db", busy_timeout=10)
    other = hold_lock(tmp_path / "q.db")
    assert queue._conn is not None
    conn = queue._conn
    seen: list[int] = []

    def watch_then_release() -> None:
        time.sleep(0.15)  # the writer is waiting by now
        seen.append(conn.execute("PRAGMA busy_timeout").fetchone()[0])
        other.execute("COMMIT")

    watcher = threading.Thread(target=watch_then_release)
    watcher.start()
    try:
        queue.enqueue("c", [action(1)])
        watcher.join()
        assert seen == [0], "SQLite's own busy handler is off while the writer polls"
        assert conn.execute("PRAGMA busy_timeout").fetchone() == (10_000,)
    finally:
        queue.close()
        other.close()


class InterruptedAfterBegin(TimedConnection):
    """Ctrl-C arriving just as ``BEGIN IMMEDIATE`` returns."""

    def execute(self, sql: str, *args: object) -> sqlite3.Cursor:
        cursor = super().execute(sql, *args)
        if sql == "BEGIN IMMEDIATE":
            raise KeyboardInterrupt
        return cursor


def test_an_interrupt_just_after_begin_leaves_no_transaction_open(tmp_path: Path) -> None:
    path = tmp_path / "i.db"
    conn = sqlite3.connect(path, isolation_level=None, factory=InterruptedAfterBegin)
    conn.busy_timeout_ms = 2_000
    conn.execute("PRAGMA busy_timeout = 2000")
    other = sqlite3.connect(path, isolation_level=None, timeout=0)
    try:
        with pytest.raises(KeyboardInterrupt), immediate(conn):
            raise AssertionError("not reached: the transaction never began for the caller")
        assert not conn.in_transaction
        assert conn.execute("PRAGMA busy_timeout").fetchone() == (2000,)
        other.execute("BEGIN IMMEDIATE")  # the write lock is free
        other.execute("COMMIT")
    finally:
        conn.close()
        other.close()


@pytest.mark.parametrize(("code", "busy"), [(5, True), (261, True), (517, True), (2067, False)])
def test_busy_includes_sqlites_extended_busy_codes(code: int, busy: bool) -> None:
    exc = sqlite3.OperationalError("database is locked")
    exc.sqlite_errorcode = code
    assert is_busy(exc) is busy
