"""``SqliteQueue``: the built-in durable delivery ``Queue``, in one SQLite file.

It may share its file with ``SqliteStore`` (the default config does): its tables,
``queue``, ``dead_letters`` and ``progress``, sit beside the store's. The concurrency model
is the store's: WAL, a busy timeout, every write either one atomic statement or one
``BEGIN IMMEDIATE`` transaction; one connection per object, guarded by a lock, never used
across ``fork()``.

* ``enqueue`` is one transaction. When ``dedup`` is a ``SqliteStore`` on the same file, the
  dedup keys are recorded in that transaction too, so an input is accepted entirely (keys,
  actions and progress) or not at all. Any other store records its keys before the
  transaction starts; if the transaction fails, the keys this call recorded are removed
  again (``undo_seen_on_failure``), so the refused input's retry is queued. Only a crash
  between the two (or a store that cannot remove keys) leaves keys recorded for actions
  that were never queued, and a replay of that input would skip them as duplicates.
  Actions are serialised before any key is recorded, so an action that cannot be stored
  fails the call without recording anything, whatever the store.
* ``claim`` selects the ready entries and writes their leases in one ``BEGIN IMMEDIATE``
  transaction: concurrent claimers, threads or processes, never get the same entry. Leases
  are rows of their own narrow table (``leases``), so claiming never rewrites an entry's
  row; settling one deletes its lease in the same transaction. A lease that runs out (a
  crashed worker) makes its entries claimable again, with their attempts unchanged.
* Per-person order: every entry carries its action's ``order_key``; an entry is not
  claimable while an entry of the same key and connection is held: leased, or waiting for
  a retry (a retry or a delayed release writes a lease row without an owner, lasting until
  the entry's ``not_before``). Lease rows name their entry's person, so a claim finds a
  person's holds among the few rows in flight, and the queue needs no index by person. A
  dead-lettered entry leaves the queue and so unblocks its key.
  Each claim records its owner (``claim_owner``); the first claim of a connection by a
  new ``SqliteQueue`` releases the leases of owners that are provably dead, so a process
  restarted after ``kill -9`` resumes with the killed one's entries, in order, at once.
* ``drop_person`` (an erasure) deletes a person's entries no worker holds and marks the
  lease rows of those claimed (``leases.erased``): settling such an entry other than by
  acknowledging it, or its lease running out, deletes it (``queue_sql.DROP_PERSON_MARK``).
* Dead letters of both kinds (``delivery``, ``mapping``) share the ``dead_letters`` table:
  ``kind`` tells them apart and ``detail`` (JSON) holds what a mapping failure adds (the
  mapping, field, code and source document). A dead letter's history travels in its
  action's JSON (``h``), so a requeued entry carries it back into the queue. Files written
  before these two columns existed get them on open (``ALTER TABLE ... ADD COLUMN``, with
  defaults that describe the old rows); older mapwire versions still read such files. The
  queue's ``order_key``, ``owner`` and ``wire`` columns, and ``leases.erased``, are added
  the same way (``queue_schema``). Leases that
  older versions held in the entry's row (``lease_until``, ``owner``) move to ``leases``
  at open, in the schema's transaction; a file from before lease rows named their person
  gets them named, and its delayed entries' holds written, likewise (``KEY_OLD_HOLDS``). A
  file used at once by such a version and this one is not supported (each would miss the
  other's leases).
* ``wire`` holds the item the destination prepared at intake (``Action.wire``), as given;
  an entry without one (older rows, dead letters put back) is prepared at delivery.
* Ids are never reused (``AUTOINCREMENT``), so settling an id a stale worker still holds
  can never touch a newer entry. Entries are settled by id alone: a worker whose lease ran
  out may settle an entry another worker has claimed since (delivery is at least once).
"""

from __future__ import annotations

import os
import sqlite3
import time
from collections.abc import Callable, Sequence
from functools import partial
from typing import Any

from mapwire import (
    DELIVERY,
    Action,
    DeadLetter,
    Failure,
    MappingFailure,
    QueueEntry,
    claim_owner_id,
    claim_owner_is_dead,
)

from . import queue_sql as sql
from .database import SqliteFile, immediate
from .erasure_marks import ErasureMarks
from .queue_intake import QueueIntake
from .queue_rows import (
    action_and_history,
    dead_filter,
    dead_letter_row,
    dumps,
    dumps_lenient,
    encode,
    id_list,
    id_range,
)
from .queue_schema import setup_queue_schema
from .store import database_file, sqlite_path


def open_queue(url: str, options: dict[str, Any]) -> SqliteQueue | None:
    """A ``SqliteQueue`` for a ``sqlite://`` URL (None for other schemes).

    The URL forms are the store's (see ``sqlite_path``). Known option: ``busy_timeout``
    (seconds a writer waits for the lock, default 5); others are ignored.
    """
    path = sqlite_path(url)
    if path is None:
        return None
    return SqliteQueue(path, busy_timeout=float(options.get("busy_timeout", 5.0)))


class SqliteQueue(QueueIntake, ErasureMarks, SqliteFile):
    """A durable ``Queue`` in one SQLite file; safe across processes and threads.

    Args:
        path: the database file (created with its parent folders), or ``":memory:"``.
        busy_timeout: seconds to wait for another process's write lock before failing.
        clock: the time source for leases, delays and timestamps, in seconds.
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        busy_timeout: float = 5.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._clock = clock
        self.file = database_file(str(path))
        #: recorded with every claim, so a restart can release a dead owner's claims
        self.owner = claim_owner_id()
        self._reclaimed: set[str] = set()
        super().__init__(path, busy_timeout)

    # -- delivery -------------------------------------------------------------------------
    def claim(self, connection: str, limit: int, lease_seconds: float) -> list[QueueEntry]:
        """Up to ``limit`` ready entries, oldest first, leased for ``lease_seconds``.

        Ready: past ``not_before``, not leased (or the lease ran out), and no earlier
        entry of its ordering key pending. The first claim of a connection releases the
        leases of owners that are provably dead (a killed process on this host).
        """
        if limit <= 0:
            return []
        if connection not in self._reclaimed:
            self._reclaimed.add(connection)
            self.reclaim_dead(connection)
        with self._connection() as conn, immediate(conn):
            now = self._clock()  # read once the write lock is held
            args = {"connection": connection, "now": now, "limit": limit}
            if conn.execute(sql.DROP_ERASED_RUN_OUT, args).rowcount:  # erased, not to go
                conn.execute(sql.UNLEASE_ERASED_RUN_OUT, args)
            rows = conn.execute(sql.CLAIM, args).fetchall()
            if rows:
                lease = {"lease": now + lease_seconds, "owner": self.owner}
                first, last = rows[0][0], rows[-1][0]
                if last - first + 1 == len(rows):
                    conn.execute(sql.LEASE_RANGE, {**lease, "first": first, "last": last})
                else:
                    conn.execute(sql.LEASE, {**lease, "ids": dumps([row[0] for row in rows])})
        deferred, decode = QueueEntry.deferred, action_and_history
        return [  # each action is decoded when read: one restored from its wire never is
            deferred(id_, connection, partial(decode, text, wire), wire, tries, at, error, key)
            for id_, text, tries, at, error, wire, key in rows
        ]

    def reclaim_dead(self, connection: str) -> int:
        """Make the leased entries of dead owners (``claim_owner_is_dead``) claimable now;
        returns how many. Reads the connection's entries once. Those whose person was
        erased meanwhile are deleted instead (and not counted)."""
        now = self._clock()
        with self._connection() as conn:
            owners = [str(row[0]) for row in conn.execute(sql.OWNERS, (connection, now))]
            dead = [owner for owner in owners if claim_owner_is_dead(owner)]
            if not dead:
                return 0
            with immediate(conn):
                args = (now, dumps(dead), connection)
                erased = int(conn.execute(sql.RECLAIM_ERASED, args).rowcount)
                return int(conn.execute(sql.RECLAIM, args).rowcount) - erased

    def ack(self, ids: Sequence[Any]) -> None:
        """Delivered: delete the entries and their leases (by their range when they fill one)."""
        ids = list(ids)  # looked at twice: an iterator would be spent by the first look
        if not ids:
            return
        span = id_range(ids)
        if span is None:
            self._settle(sql.ACK, (), ids, marked=False)
            return
        with self._connection() as conn, immediate(conn):
            conn.execute(sql.ACK_RANGE, span)
            conn.execute(sql.UNLEASE_RANGE, span)

    def retry(self, ids: Sequence[Any], not_before: float, reason: str) -> int:
        """Release with one more attempt counted; not claimable before ``not_before``.
        Returns how many were deleted instead, their person erased (``drop_person``)."""
        return self._settle(sql.RETRY, (not_before, reason), ids, hold=True) if ids else 0

    def release(self, ids: Sequence[Any], not_before: float = 0.0) -> int:
        """Give entries back without counting an attempt (they were not sent). Returns
        how many were deleted instead, their person erased (``drop_person``)."""
        return self._settle(sql.RELEASE, (not_before,), ids, hold=not_before > 0) if ids else 0

    def _settle(
        self,
        statement: str,
        args: tuple[Any, ...],
        ids: Sequence[Any],
        *,
        hold: bool = False,
        marked: bool = True,
    ) -> int:
        """``statement`` on the entries ``ids`` (its last argument) and their leases dropped,
        in one transaction; ``hold``: then those of a person whose ``not_before`` is to come
        hold it until then (``sql.HOLD``). ``marked``: those of an erased person are
        deleted first (an acknowledgement deletes them anyway); returns how many."""
        listed = id_list(ids)
        with self._connection() as conn, immediate(conn):
            erased = int(conn.execute(sql.DROP_ERASED, (listed,)).rowcount) if marked else 0
            conn.execute(statement, (*args, listed))
            conn.execute(sql.UNLEASE, (listed,))
            if hold:
                conn.execute(sql.HOLD, (listed, self._clock()))
        return erased

    def dead_letter(self, failed: Sequence[tuple[QueueEntry, Failure]]) -> int:
        """Move entries to the dead letters, with the failure, in one transaction.

        The dead letter's ``attempts`` counts this last, failed try. Entries no longer in
        the queue (settled elsewhere after their lease ran out) are skipped; those whose
        person was erased while claimed are deleted, and counted (returned). Request and
        response are stored as JSON; what JSON cannot hold is stored as its ``str``.
        """
        if not failed:
            return 0
        now = self._clock()
        rows = []
        for entry, f in failed:
            history = entry.failed_for_good(now, f.reason)
            total = sum(h.attempts for h in history)
            request, response = dumps_lenient(f.request), dumps_lenient(f.response)
            action = encode(entry.action, history)
            rows.append((action, f.reason, total, now, request, response, entry.id))
        listed = id_list([entry.id for entry, _ in failed])
        with self._connection() as conn, immediate(conn):
            erased = int(conn.execute(sql.DROP_ERASED, (listed,)).rowcount)
            conn.executemany(sql.BURY, rows)
            conn.executemany(sql.DELETE_ONE, [(entry.id,) for entry, _ in failed])
            conn.execute(sql.UNLEASE, (listed,))
        return erased

    def record_mapping_failures(self, failures: Sequence[MappingFailure]) -> None:
        """Keep items that failed to map as ``mapping`` dead letters, in one transaction.

        Raises:
            TypeError, ValueError: a source document cannot be stored as JSON.
        """
        if not failures:
            return
        now = self._clock()
        rows = []
        for f in failures:
            history = f.total_history(now)
            action = encode(Action("", "", {}, rule=f.rule), history)
            detail = dumps({"m": f.mapping, "f": f.field, "c": f.code, "i": f.item, "s": f.source})
            total = sum(h.attempts for h in history)
            rows.append((f.connection, action, f.message, total, now, now, detail))
        with self._connection() as conn, immediate(conn):
            conn.executemany(sql.RECORD, rows)

    # -- inspection -----------------------------------------------------------------------
    def depth(self, connection: str | None = None) -> int:
        """Entries not yet settled (leased ones included). A count: O(entries counted)."""
        with self._connection() as conn:
            if connection is None:
                (n,) = conn.execute("SELECT count(*) FROM queue").fetchone()
            else:
                query = "SELECT count(*) FROM queue WHERE connection = ?"
                (n,) = conn.execute(query, (connection,)).fetchone()
        return int(n)

    def next_ready_at(self, connection: str) -> float | None:
        """When the next entry of ``connection`` becomes claimable (may be in the past);
        None if it has none."""
        with self._connection() as conn:
            (at,) = conn.execute(sql.NEXT_READY, (connection,)).fetchone()
        return None if at is None else float(at)

    def progress(self, key: str) -> str | None:
        """The value last recorded for ``key`` by ``enqueue``, or None."""
        with self._connection() as conn:
            row = conn.execute("SELECT value FROM progress WHERE key = ?", (key,)).fetchone()
        return None if row is None else str(row[0])

    # -- dead letters ---------------------------------------------------------------------
    def dead_letters(
        self,
        connection: str | None = None,
        limit: int = 100,
        offset: int = 0,
        *,
        kind: str | None = None,
    ) -> list[DeadLetter]:
        """Dead letters, newest first, optionally of one connection and/or kind only."""
        where, args = dead_filter(None, connection, None, kind)
        query = f"SELECT {sql.DEAD_COLUMNS} FROM dead_letters WHERE {where} ORDER BY id DESC"
        with self._connection() as conn:
            rows = conn.execute(f"{query} LIMIT ? OFFSET ?", (*args, limit, offset)).fetchall()
        return [dead_letter_row(row) for row in rows]

    def get_dead_letter(self, id: Any) -> DeadLetter | None:
        """One dead letter by id, or None."""
        with self._connection() as conn:
            query = f"SELECT {sql.DEAD_COLUMNS} FROM dead_letters WHERE id = ?"
            row = conn.execute(query, (id,)).fetchone()
        return None if row is None else dead_letter_row(row)

    def requeue_dead_letters(self, ids: Sequence[Any] | None, connection: str | None) -> int:
        """Move ``delivery`` dead letters back to the queue, oldest first, as new entries
        (no attempts, enqueued now, their history in their action); ``ids=None``: all of
        them (of ``connection`` if given). ``mapping`` dead letters stay. Returns how many
        moved."""
        where, args = dead_filter(ids, connection, None, DELIVERY)
        move = sql.REQUEUE.format(where=where)
        with self._connection() as conn, immediate(conn):
            moved = conn.execute(move, (self._clock(), *args)).rowcount
            conn.execute(f"DELETE FROM dead_letters WHERE {where}", args)
        return int(moved)

    def purge_dead_letters(
        self,
        ids: Sequence[Any] | None,
        connection: str | None,
        older_than: float | None,
        *,
        kind: str | None = None,
    ) -> int:
        """Delete dead letters; ``ids=None``: all of them (of ``connection`` and ``kind``
        if given). ``older_than`` (seconds) keeps those that failed less than that long
        ago. Returns how many were deleted."""
        before = None if older_than is None else self._clock() - older_than
        where, args = dead_filter(ids, connection, before, kind)
        with self._connection() as conn:
            return int(conn.execute(f"DELETE FROM dead_letters WHERE {where}", args).rowcount)

    # -- internals ------------------------------------------------------------------------
    def _setup_schema(self, conn: sqlite3.Connection) -> None:
        setup_queue_schema(conn, self._clock())
