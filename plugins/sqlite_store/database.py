"""What the SQLite store and the SQLite queue share: one file, one connection.

``SqliteFile`` opens the file (creating its folders), sets the busy timeout, switches it to
WAL (retrying while other processes race to do the same) with ``synchronous=NORMAL``, and
hands the connection out under a lock, so an object may be shared by threads. An object
must not cross ``fork()``: using it in a forked child raises ``RuntimeError``.

This is the plugin's error boundary: a ``sqlite3.Error`` raised while opening the file or
while the connection is handed out becomes the engine's ``QueueUnavailable`` (or
``StoreUnavailable`` for the store), naming the file and SQLite's message, with the
original chained. The engine never sees ``sqlite3``.
"""

from __future__ import annotations

import os
import sqlite3
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from functools import lru_cache
from pathlib import Path
from types import TracebackType
from typing import Any, Self

from mapwire import QueueUnavailable, StoreUnavailable


class SqliteFile:
    """Base of ``SqliteStore`` and ``SqliteQueue``: ``_setup_schema`` is theirs to write."""

    #: What a ``sqlite3.Error`` becomes: the queue's error here, ``SqliteStore`` sets its own.
    unavailable: type[QueueUnavailable | StoreUnavailable] = QueueUnavailable

    def __init__(self, path: str | os.PathLike[str], busy_timeout: float) -> None:
        self.path = str(path)
        self._lock = threading.Lock()
        self._pid = os.getpid()
        if self.path != ":memory:":
            Path(self.path).parent.mkdir(parents=True, exist_ok=True)
        try:
            self._conn: sqlite3.Connection | None = sqlite3.connect(
                self.path, timeout=busy_timeout, isolation_level=None, check_same_thread=False
            )
        except sqlite3.Error as exc:
            raise self._translated(exc) from exc
        try:
            self._conn.execute(f"PRAGMA busy_timeout = {int(busy_timeout * 1000)}")
            enable_wal(self._conn, busy_timeout)
            self._conn.execute("PRAGMA synchronous = NORMAL")
            self._setup_schema(self._conn)
        except BaseException as exc:
            self._conn.close()
            if isinstance(exc, sqlite3.Error):
                raise self._translated(exc) from exc
            raise

    def _setup_schema(self, conn: sqlite3.Connection) -> None:
        raise NotImplementedError

    def close(self) -> None:
        """Close the connection; closing twice is harmless."""
        with self._lock:
            if self._conn is not None and self._pid == os.getpid():
                self._conn.close()
            self._conn = None

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.path!r})"

    @contextmanager
    def _connection(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            if self._pid != os.getpid():
                raise RuntimeError(
                    f"a {type(self).__name__} cannot be used across fork(); open a new one"
                )
            if self._conn is None:
                raise RuntimeError(f"{self!r} is closed")
            try:
                yield self._conn
            except sqlite3.Error as exc:
                raise self._translated(exc) from exc

    def _translated(self, exc: sqlite3.Error) -> QueueUnavailable | StoreUnavailable:
        """The engine's error for a failure of SQLite (its message names no stored value)."""
        return self.unavailable(f"SQLite file {self.path!r}: {exc}")


def enable_wal(conn: sqlite3.Connection, busy_timeout: float) -> None:
    """Switch a new file to WAL, retrying while other processes race to do the same.

    The switch needs an exclusive lock and may fail at once with ``SQLITE_BUSY`` instead of
    waiting for the busy timeout, so we wait here.
    """
    deadline = time.monotonic() + busy_timeout
    while True:
        try:
            conn.execute("PRAGMA journal_mode = WAL")
            return
        except sqlite3.OperationalError as exc:
            if exc.sqlite_errorcode != sqlite3.SQLITE_BUSY or time.monotonic() >= deadline:
                raise
        time.sleep(0.005)


@contextmanager
def immediate(conn: sqlite3.Connection) -> Iterator[None]:
    """A ``BEGIN IMMEDIATE`` transaction: the write lock is taken up front, or we wait."""
    conn.execute("BEGIN IMMEDIATE")
    try:
        yield
    except BaseException:
        if conn.in_transaction:  # some errors (e.g. a full disk) have rolled back already
            conn.execute("ROLLBACK")
        raise
    conn.execute("COMMIT")


#: The sizes of the multi-row statements ``insert_rows`` writes, largest first: any count
#: of rows goes in a few of them, and few distinct statements reach the statement cache.
ROWS_PER_STATEMENT = (256, 64, 16, 4, 1)


def insert_rows(
    conn: sqlite3.Connection,
    insert: str,
    rows: Sequence[Sequence[Any]],
    *,
    tail: str = "",
    tail_args: Sequence[Any] = (),
) -> None:
    """``insert`` (``INSERT INTO t (a, b) VALUES``, then ``tail`` and its ``tail_args``,
    such as an ``ON CONFLICT`` clause) for every row, in order, as few multi-row statements.

    SQLite runs each statement in one call that releases the interpreter lock once, where
    ``executemany`` takes the lock back after every row to bind the next one: in a process
    whose other threads are busy (the server's event loop), each row would wait for them.
    Rows go in statements of ``ROWS_PER_STATEMENT`` sizes within the connection's limit on
    bound values.
    """
    if not rows:
        return
    width = len(rows[0])
    room = conn.getlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER) - len(tail_args)
    start = 0
    for size in ROWS_PER_STATEMENT:
        if size > 1 and size * width > room:
            continue
        statement = _multi_row(insert, width, size, tail)
        while len(rows) - start >= size:
            chunk = rows[start : start + size]
            conn.execute(statement, [*(v for row in chunk for v in row), *tail_args])
            start += size


@lru_cache(maxsize=64)
def _multi_row(insert: str, width: int, size: int, tail: str) -> str:
    one = "(" + ", ".join("?" * width) + ")"
    return f"{insert} {', '.join([one] * size)} {tail}"
