"""``SqliteStore``: the built-in ``StateStore``, one SQLite file shared by every process.

Concurrency model:

* Several processes may open the same file. The database runs in WAL mode with a busy
  timeout, and every operation is either one atomic statement or one ``BEGIN IMMEDIATE``
  transaction, so racing processes serialise on SQLite's write lock and never lose an update.
* Within a process, one store object holds one connection guarded by a lock, so it may be
  shared by threads (calls are serialised; SQLite serialises writers anyway). A store must
  not cross ``fork()``: open one per process. Using it in a forked child raises
  ``RuntimeError``.

Expired dedup keys count as new again at once (the upsert in ``first_seen`` revives them);
their rows are deleted lazily, a small batch at a time through an index on ``expires_at``.
Membership tombstones are kept, which is what makes late, out-of-order changes converge;
``forget`` (an erasure) removes a person's set, tombstones and recorded aliases alike.
Schema version 2 added the ``aliases`` table; a version 1 file is upgraded when opened.
"""

from __future__ import annotations

import os
import sqlite3
import time
from collections.abc import Callable, Sequence
from typing import Any

from mapwire import (
    Change,
    MapwireError,
    MembershipUpdate,
    StoreSchemaError,
    StoreUnavailable,
    apply_in_order,
)

from .database import SqliteFile, immediate, insert_rows

SCHEMA_VERSION = 2

_SCHEMA = """
CREATE TABLE IF NOT EXISTS seen (
    ns TEXT NOT NULL,
    key TEXT NOT NULL,
    expires_at REAL,
    PRIMARY KEY (ns, key)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS seen_expiry ON seen (expires_at) WHERE expires_at IS NOT NULL;
CREATE TABLE IF NOT EXISTS members (
    ns TEXT NOT NULL,
    key TEXT NOT NULL,
    member TEXT NOT NULL,
    present INTEGER NOT NULL,
    version INTEGER NOT NULL,
    PRIMARY KEY (ns, key, member)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS aliases (
    ns TEXT NOT NULL,
    alias TEXT NOT NULL,
    key TEXT NOT NULL,
    PRIMARY KEY (ns, alias, key)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS aliases_of_key ON aliases (ns, key);
"""

# Inserts a new key, or revives an expired one; changes() is 1 exactly when the key is new.
# For many keys at once: ``_RECORD_SEEN``, the rows' values, then ``_REVIVE_EXPIRED`` and
# ``now`` (``database.insert_rows``).
_RECORD_SEEN = "INSERT INTO seen (ns, key, expires_at) VALUES"
_REVIVE_EXPIRED = """
ON CONFLICT (ns, key) DO UPDATE SET expires_at = excluded.expires_at
WHERE seen.expires_at IS NOT NULL AND seen.expires_at <= ?
"""
_FIRST_SEEN = f"{_RECORD_SEEN} (?, ?, ?) {_REVIVE_EXPIRED}"

# The keys of a namespace that are recorded and not expired, among the listed ones.
_LIVE = """
SELECT key FROM seen
WHERE ns = ? AND (expires_at IS NULL OR expires_at > ?) AND key IN ({})
"""
_LIVE_CHUNK = 500

_UNSEE = "DELETE FROM seen WHERE ns = ? AND key IN ({})"

_PURGE = """
DELETE FROM seen WHERE (ns, key) IN (
    SELECT ns, key FROM seen WHERE expires_at IS NOT NULL AND expires_at <= ? LIMIT ?
)
"""

# Last writer wins per member; an equal version applied later wins too (as MemoryStore).
_APPLY_CHANGE = """
INSERT INTO members (ns, key, member, present, version) VALUES (?, ?, ?, ?, ?)
ON CONFLICT (ns, key, member) DO UPDATE
SET present = excluded.present, version = excluded.version
WHERE excluded.version >= members.version
"""

_MEMBERS = "SELECT member FROM members WHERE ns = ? AND key = ? AND present = 1 ORDER BY member"
_STORED = "SELECT member, present, version FROM members WHERE ns = ? AND key = ? AND member IN ({})"

_ADD_ALIAS = "INSERT OR IGNORE INTO aliases (ns, alias, key) VALUES (?, ?, ?)"
# The keys ``forget`` removes: those named, and those a named key is an alias of.
_ALIASED = "SELECT key FROM aliases WHERE ns = ? AND alias IN ({})"
_STORED_KEYS = "SELECT DISTINCT key FROM members WHERE ns = ? AND key IN ({})"
_FORGET_MEMBERS = "DELETE FROM members WHERE ns = ? AND key IN ({})"
_FORGET_ALIASES = "DELETE FROM aliases WHERE ns = ? AND (key IN ({0}) OR alias IN ({1}))"

_URL_PREFIX = "sqlite://"


def sqlite_path(url: str) -> str | None:
    """The database path named by a ``sqlite://`` URL, or None for any other scheme.

    ``sqlite:///relative/path.db`` is relative to the working directory,
    ``sqlite:////abs/path.db`` is absolute, and ``sqlite://:memory:`` (or
    ``sqlite:///:memory:``) is a private in-memory database.

    Raises:
        MapwireError: the URL is a ``sqlite:`` URL of any other shape.
    """
    if not url.lower().startswith("sqlite:"):
        return None
    rest = url[len(_URL_PREFIX) :] if url.lower().startswith(_URL_PREFIX) else ""
    if rest in {":memory:", "/:memory:"}:
        return ":memory:"
    if rest.startswith("/") and len(rest) > 1:
        return rest[1:]
    raise MapwireError(
        f"state store URL {url!r}: expected sqlite:///relative/path.db, "
        "sqlite:////absolute/path.db or sqlite://:memory:"
    )


def database_file(path: str) -> str | None:
    """The resolved path of a database file, to tell whether two objects share one file;
    None for ``":memory:"`` (every in-memory database is private)."""
    return None if path == ":memory:" else os.path.realpath(path)


def open_store(url: str, options: dict[str, Any]) -> SqliteStore | None:
    """A ``SqliteStore`` for a ``sqlite://`` URL (None for other schemes).

    Known options: ``busy_timeout`` (seconds a writer waits for the lock, default 5),
    ``purge_every`` and ``purge_batch`` (see ``SqliteStore``). Other options are ignored:
    the config may carry settings meant for the pipeline or for other stores.
    """
    path = sqlite_path(url)
    if path is None:
        return None
    return SqliteStore(
        path,
        busy_timeout=float(options.get("busy_timeout", 5.0)),
        purge_every=int(options.get("purge_every", 100)),
        purge_batch=int(options.get("purge_batch", 500)),
    )


class SqliteStore(SqliteFile):
    """A ``StateStore`` in one SQLite file; safe across processes and threads.

    Args:
        path: the database file (created with its parent folders), or ``":memory:"``;
            ``file`` is its resolved path (None in memory).
        busy_timeout: seconds to wait for another process's write lock before failing.
        clock: the time source for TTLs, in seconds (``time.time``; inject one in tests).
        purge_every: how many ``first_seen`` keys are recorded between two purges of
            expired dedup keys.
        purge_batch: how many expired keys one purge deletes at most, through the expiry
            index, so no call ever scans the table. The defaults remove up to five expired
            keys per key recorded: faster than they can pile up.

    A failure of SQLite raises ``StoreUnavailable`` (see ``database``).
    """

    unavailable = StoreUnavailable

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        busy_timeout: float = 5.0,
        clock: Callable[[], float] = time.time,
        purge_every: int = 100,
        purge_batch: int = 500,
    ) -> None:
        self._clock = clock
        self._purge_every = max(1, purge_every)
        self._purge_batch = max(1, purge_batch)
        self._until_purge = 0
        self.file = database_file(str(path))
        super().__init__(path, busy_timeout)

    # -- the StateStore protocol --------------------------------------------------------
    def first_seen(self, namespace: str, key: str, ttl: float | None = None) -> bool:
        """Record ``key`` in ``namespace``; True if it was not there (or had expired)."""
        with self._connection() as conn:
            now = self._clock()
            expires_at = None if ttl is None else now + ttl
            new = conn.execute(_FIRST_SEEN, (namespace, key, expires_at, now)).rowcount == 1
            self._maybe_purge(conn, now, 1)
            return new

    def first_seen_many(
        self, namespace: str, keys: Sequence[str], ttl: float | None = None
    ) -> list[bool]:
        """``first_seen`` for each key, in order, in one transaction.

        A key repeated within ``keys`` sees its earlier occurrence (so it is not new
        again unless ``ttl`` is zero or less).
        """
        if not keys:
            return []
        with self._connection() as conn, immediate(conn):
            return self.first_seen_on(conn, namespace, keys, ttl)

    def first_seen_on(
        self, conn: sqlite3.Connection, namespace: str, keys: Sequence[str], ttl: float | None
    ) -> list[bool]:
        """``first_seen_many`` through ``conn`` (this store's connection, or another one to
        its file) inside a ``BEGIN IMMEDIATE`` transaction its caller holds: the keys commit
        or roll back with the caller's own writes (the queue records dedup keys this way).

        The keys already live are read first, then all are recorded in a few multi-row
        statements; the write lock held throughout makes this equal to ``first_seen`` key by
        key.
        """
        if self._conn is None:
            raise RuntimeError(f"{self!r} is closed")
        now = self._clock()
        expires_at = None if ttl is None else now + ttl
        distinct = list(dict.fromkeys(keys))
        live: set[str] = set()
        for start in range(0, len(distinct), _LIVE_CHUNK):
            chunk = distinct[start : start + _LIVE_CHUNK]
            query = _LIVE.format(", ".join("?" * len(chunk)))
            live.update(row[0] for row in conn.execute(query, (namespace, now, *chunk)))
        rows = [(namespace, key, expires_at) for key in keys]
        insert_rows(conn, _RECORD_SEEN, rows, tail=_REVIVE_EXPIRED, tail_args=(now,))
        self._maybe_purge(conn, now, len(keys))
        # A key repeated in ``keys`` sees its earlier occurrence, which expired at once if
        # ``ttl`` is zero or less.
        again = expires_at is not None and expires_at <= now
        recorded: set[str] = set()
        result = []
        for key in keys:
            result.append(key not in live and (again or key not in recorded))
            recorded.add(key)
        return result

    def forget_seen(self, namespace: str, keys: Sequence[str]) -> None:
        """Remove dedup keys ``first_seen`` recorded, in one transaction: each is new
        again. Keys not recorded are ignored."""
        distinct = list(dict.fromkeys(keys))
        if not distinct:
            return
        with self._connection() as conn, immediate(conn):
            for start in range(0, len(distinct), _LIVE_CHUNK):
                chunk = distinct[start : start + _LIVE_CHUNK]
                conn.execute(_UNSEE.format(", ".join("?" * len(chunk))), (namespace, *chunk))

    def update_membership(
        self, namespace: str, key: str, changes: Sequence[tuple[str, bool, int]]
    ) -> list[str]:
        """Apply ``(member, present, version)`` changes; return the sorted present members."""
        with self._connection() as conn:
            if not changes:
                return [row[0] for row in conn.execute(_MEMBERS, (namespace, key))]
            with immediate(conn):
                conn.executemany(
                    _APPLY_CHANGE,
                    [
                        (namespace, key, member, int(present), version)
                        for member, present, version in changes
                    ],
                )
                return [row[0] for row in conn.execute(_MEMBERS, (namespace, key))]

    def apply_membership(
        self, namespace: str, key: str, changes: Sequence[Change]
    ) -> MembershipUpdate:
        """``update_membership``, saying what each change did (applied or stale, and the
        member's stored state before it). The write lock is held from the read of the
        stored versions to the commit, so the outcomes are exactly what was applied."""
        with self._connection() as conn, immediate(conn):
            distinct = list(dict.fromkeys(member for member, _, _ in changes))
            stored: dict[str, tuple[bool, int]] = {}
            for start in range(0, len(distinct), _LIVE_CHUNK):
                chunk = distinct[start : start + _LIVE_CHUNK]
                query = _STORED.format(", ".join("?" * len(chunk)))
                for member, present, version in conn.execute(query, (namespace, key, *chunk)):
                    stored[member] = (bool(present), version)
            outcomes = apply_in_order(stored, changes)
            conn.executemany(
                _APPLY_CHANGE,
                [
                    (namespace, key, member, int(present), version)
                    for member, present, version in changes
                ],
            )
            members = [row[0] for row in conn.execute(_MEMBERS, (namespace, key))]
            return MembershipUpdate(members, outcomes)

    def add_aliases(self, namespace: str, key: str, aliases: Sequence[str]) -> None:
        """Record ``aliases`` as other names of the set stored under ``key``."""
        if not aliases:
            return
        with self._connection() as conn, immediate(conn):
            conn.executemany(_ADD_ALIAS, [(namespace, alias, key) for alias in aliases])

    def forget(self, namespace: str, keys: Sequence[str]) -> int:
        """Remove the sets stored under ``keys`` or under a key one of them is an alias
        of, with their aliases, in one transaction; how many sets were removed."""
        named = list(dict.fromkeys(keys))
        if not named:
            return 0
        with self._connection() as conn, immediate(conn):
            marks = ", ".join("?" * len(named))
            aliased = conn.execute(_ALIASED.format(marks), (namespace, *named))
            targets = list(dict.fromkeys([*named, *(row[0] for row in aliased)]))
            tmarks = ", ".join("?" * len(targets))
            stored = conn.execute(_STORED_KEYS.format(tmarks), (namespace, *targets)).fetchall()
            conn.execute(_FORGET_MEMBERS.format(tmarks), (namespace, *targets))
            conn.execute(_FORGET_ALIASES.format(tmarks, marks), (namespace, *targets, *named))
            return len(stored)

    # -- internals ----------------------------------------------------------------------
    def _maybe_purge(self, conn: sqlite3.Connection, now: float, recorded: int) -> None:
        self._until_purge -= recorded
        if self._until_purge <= 0:
            self._until_purge = self._purge_every
            conn.execute(_PURGE, (now, self._purge_batch))

    def _setup_schema(self, conn: sqlite3.Connection) -> None:
        with immediate(conn):
            (version,) = conn.execute("PRAGMA user_version").fetchone()
            if version > SCHEMA_VERSION:
                raise StoreSchemaError(
                    f"state store schema version {version} is newer than this mapwire "
                    f"supports ({SCHEMA_VERSION}); upgrade mapwire"
                )
            if version < SCHEMA_VERSION:
                for statement in _SCHEMA.split(";"):
                    if statement.strip():
                        conn.execute(statement)
                conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
