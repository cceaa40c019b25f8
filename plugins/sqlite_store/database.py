"""What the SQLite store and the SQLite queue share: one file, one connection.

``SqliteFile`` opens the file (creating its folders), sets the busy timeout, switches it to
WAL (retrying while other processes race to do the same) with ``synchronous=NORMAL``, a
32 MB log between checkpoints (``CHECKPOINT_BYTES``) and ``secure_delete`` (deleted rows
are overwritten, not left readable in free pages), and hands the connection out under a
lock, so an object may be shared by threads. An object must not cross ``fork()``: using it
in a forked child raises ``RuntimeError``.

This is the plugin's error boundary: a ``sqlite3.Error`` raised while opening the file or
while the connection is handed out becomes the engine's ``QueueUnavailable`` (or
``StoreUnavailable`` for the store), naming the file and SQLite's message, with the
original chained. The engine never sees ``sqlite3``.
"""

from __future__ import annotations

import itertools
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

#: The page size of a new file, in bytes (SQLite's default is 4096). A queued entry with
#: its prepared item is about a kilobyte (an mParticle batch with its action): 4 KB pages
#: hold three, 8 KB pages seven, so the same entries fill fewer pages and claiming and
#: acknowledging them reads and writes fewer (mParticle delivery about a microsecond less
#: per action; the rest measured the same). A file keeps the page size it was created with.
PAGE_SIZE = 8192

#: How much write-ahead log a connection's commits let grow before they copy it into the
#: file (SQLite's automatic checkpoint, every 1,000 pages by default: 8 MB of 8 KB pages);
#: a log a checkpoint emptied is cut back to twice that (``journal_size_limit``: above the
#: size the log reaches between checkpoints, with its frames' headers, so it is not cut and
#: grown again each time; a large transaction's log does not stay). A checkpoint copies
#: the latest version of each page in the log once. The queue writes a page when its
#: entries are queued, again when they are acknowledged, then frees it: with the log longer
#: than an entry's stay in the queue (a fraction of a second at full load), most pages are
#: copied once, freed, where a short log copied them full and then again freed.
#: Measured under the 5-event load (2 intake processes, 1 deliverer): end to end 3-5% more
#: with 32 or 64 MB than with 8 (alternated runs). A longer log costs a backlog's delivery:
#: 20,000 mParticle entries (22 MB, no checkpoint in between) took 0.6-0.9 µs more CPU
#: each to deliver with 64 MB than with 8, with 32 about 0.2 µs more (the noise is 0.4).
CHECKPOINT_BYTES = 32 * 1024 * 1024


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
            conn = sqlite3.connect(
                self.path,
                timeout=busy_timeout,
                isolation_level=None,
                check_same_thread=False,
                factory=TimedConnection,
            )
            conn.busy_timeout_ms = int(busy_timeout * 1000)
            self._conn: sqlite3.Connection | None = conn
        except sqlite3.Error as exc:
            raise self._translated(exc) from exc
        try:
            conn.execute(f"PRAGMA busy_timeout = {conn.busy_timeout_ms}")
            # Before anything is written: a new file gets PAGE_SIZE pages, one that exists
            # keeps its own (SQLite ignores the setting then).
            conn.execute(f"PRAGMA page_size = {PAGE_SIZE}")
            enable_wal(self._conn, busy_timeout)
            self._conn.execute("PRAGMA synchronous = NORMAL")
            page_size = int(conn.execute("PRAGMA page_size").fetchone()[0])
            conn.execute(f"PRAGMA wal_autocheckpoint = {CHECKPOINT_BYTES // page_size}")
            conn.execute(f"PRAGMA journal_size_limit = {2 * CHECKPOINT_BYTES}")
            # What is deleted (an erased person's updates, a delivered payload) is
            # overwritten in the file, not left in its free pages, whatever the SQLite
            # library's default (Debian's is on, others' off). It costs the acknowledgement
            # about a microsecond per action: the price of an erasure that erases.
            self._conn.execute("PRAGMA secure_delete = ON")
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
            if not is_busy(exc) or time.monotonic() >= deadline:
                raise
        time.sleep(0.005)


#: Seconds between tries for the write lock while another connection holds it (the last
#: one repeats). SQLite's own busy handler sleeps 1, 2, 5, 10, 15 ... ms between its
#: tries, so a writer waited whole milliseconds, often several, for a lock held a fraction
#: of one: with two intake processes and a deliverer on one file, each process spent about
#: a sixth of its time asleep that way, its requests waiting with it.
LOCK_POLL = (0.0001, 0.0002, 0.0005, 0.001, 0.002)


class TimedConnection(sqlite3.Connection):
    """A connection that knows its busy timeout (``begin_immediate`` waits that long)."""

    busy_timeout_ms = 0


def is_busy(exc: sqlite3.OperationalError) -> bool:
    """SQLite's ``SQLITE_BUSY``, extended codes included (``SQLITE_BUSY_RECOVERY`` ...)."""
    return exc.sqlite_errorcode & 0xFF == sqlite3.SQLITE_BUSY


def begin_immediate(conn: sqlite3.Connection) -> None:
    """``BEGIN IMMEDIATE``: while another connection holds the write lock, try again after
    each of ``LOCK_POLL`` for as long as the connection's busy timeout (then SQLite's
    ``database is locked`` error is raised, as before). A connection that is no
    ``TimedConnection`` waits with SQLite's own busy handler. Whatever interrupts it (an
    error, Ctrl-C), it leaves no transaction open and the busy timeout as it was."""
    timeout_ms = getattr(conn, "busy_timeout_ms", 0)
    try:
        if not timeout_ms:
            conn.execute("BEGIN IMMEDIATE")
            return
        try:
            conn.execute("PRAGMA busy_timeout = 0")  # each try answers at once
            _poll_for_lock(conn, timeout_ms / 1000)
        finally:
            conn.execute(f"PRAGMA busy_timeout = {timeout_ms}")
    except BaseException:
        if conn.in_transaction:  # begun, then interrupted before the caller got it
            conn.execute("ROLLBACK")
        raise


def _poll_for_lock(conn: sqlite3.Connection, timeout: float) -> None:
    deadline = 0.0
    for attempt in itertools.count():
        try:
            conn.execute("BEGIN IMMEDIATE")
            return
        except sqlite3.OperationalError as exc:
            if not is_busy(exc):
                raise
            now = time.monotonic()
            deadline = deadline or now + timeout
            if now >= deadline:
                raise
        time.sleep(LOCK_POLL[min(attempt, len(LOCK_POLL) - 1)])


@contextmanager
def immediate(conn: sqlite3.Connection) -> Iterator[None]:
    """A ``BEGIN IMMEDIATE`` transaction: the write lock is taken up front, or we wait
    (``begin_immediate``)."""
    begin_immediate(conn)
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

#: The rows' values in order, as one statement binds them: chained in C, where a generator
#: expression took a Python step per value (the intake thread binds thousands a second).
_values = itertools.chain.from_iterable


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
            conn.execute(statement, [*_values(chunk), *tail_args])
            start += size


@lru_cache(maxsize=64)
def _multi_row(insert: str, width: int, size: int, tail: str) -> str:
    one = "(" + ", ".join("?" * width) + ")"
    return f"{insert} {', '.join([one] * size)} {tail}"
