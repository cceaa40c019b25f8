"""``RedisQueue``: a durable delivery ``Queue`` in Redis Streams, shared by every process.

Design (the keys are described in ``queue_index``, the scripts in ``queue_scripts`` and
``settle_scripts``):

* Each connection is one stream read by one consumer group; each process is one
  consumer, named by its ``claim_owner`` id. ``claim`` is one script: it first takes over,
  with ``XCLAIM``, pending work that is ready (a lease ran out, a retry time came), then
  reads new entries with ``XREADGROUP``; a retried entry keeps its place.
* Leases and retry times are kept in sorted sets per connection, on the caller's clock,
  rather than left to ``XAUTOCLAIM``'s idle time: a retried entry must stay hidden until
  its ``not_before`` however long it has been idle, a lease is chosen per claim, and an
  injected clock makes both testable. Hosts are expected to keep their clocks in sync.
* Per-person order: a claim takes an entry with an ordering key (field ``k``) only when
  no other entry of its key is pending unready (leased, or waiting for a retry), and goes
  straight to the people who are free however large the backlog behind busy ones. The
  first claim of a connection by a ``RedisQueue`` makes the leases of consumers that are
  provably dead (``claim_owner_is_dead``: a killed process on this host) claimable now.
* ``enqueue`` is one script: when the dedup store is a ``RedisStore`` on the same server
  and prefix, the dedup keys (``SET``), the new entries (``XADD``) and the progress value
  are recorded together, atomically. Any other store records its keys first, and they
  are removed again if the script fails, as with ``SqliteQueue``. An action is a
  duplicate if any of its keys was seen before. ``enqueue_groups`` queues several
  inputs' actions in that one script and says what each queued (``queue_intake``).
* ``ack``, ``retry`` (an attempt counted), ``release`` and ``dead_letter`` are one script
  each. Settling an entry another worker has claimed since (after this worker's lease ran
  out) is allowed: delivery is at least once, as with ``SqliteQueue``.

Entry ids are ``EntryId(connection, ms, seq)``: the stream id with its connection, so
``ack`` and ``retry`` need nothing else. Dead letter ids are integers.
"""

from __future__ import annotations

import time
from collections import defaultdict
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from mapwire import (
    DELIVERY,
    DeadLetter,
    Failure,
    MappingFailure,
    QueueEntry,
    claim_owner_id,
    claim_owner_is_dead,
)

from . import queue_scripts as scripts
from . import settle_scripts as settle
from .connection import (
    DEFAULT_PREFIX,
    RedisClient,
    is_redis_url,
    split_prefix,
)
from .dead_letter_reads import (
    load_dead_letters,
    page_of_dead_letters,
    select_dead_letters,
)
from .entries import (
    EntryId,
    by_connection,
    encode,
    entry_from,
    lenient,
    mapping_failure_fields,
    stream_id_of,
)
from .person_drop import PersonDrop
from .queue_index import LAYOUT
from .queue_intake import QueueIntake

GROUP = scripts.GROUP
#: New entries parked (their person busy) per claim at most; pending entries indexed per
#: step of indexing a queue written without the index.
PARK_CAP, REBUILD_PAGE = 1_000, 1_000


def open_queue(url: str, options: dict[str, Any]) -> RedisQueue | None:
    """A ``RedisQueue`` for a Redis URL (None for other schemes). Known options:
    ``prefix`` (of every key, default ``mapwire``; the URL's ``?prefix=`` wins) and
    ``timeout_seconds``."""
    if not is_redis_url(url):
        return None
    url, prefix = split_prefix(url, options)
    return RedisQueue(url, prefix=prefix, options=options)


class RedisQueue(QueueIntake, RedisClient, PersonDrop):
    """A durable ``Queue`` in Redis; safe across processes, threads and ``fork()``.

    Args:
        url: ``redis://[:password@]host:port/db`` (or ``rediss://``, ``unix://``).
        prefix: the first part of every key name.
        clock: the time source for leases, delays and timestamps, in seconds.
        options: client settings (``timeout_seconds``).
    """

    def __init__(
        self,
        url: str,
        *,
        prefix: str = DEFAULT_PREFIX,
        clock: Callable[[], float] = time.time,
        options: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(url, prefix, options)
        self.consumer = claim_owner_id()
        self._clock = clock
        self._started: set[str] = set()
        c = self._open()
        self._enqueue = c.register_script(scripts.ENQUEUE)
        self._claim = c.register_script(scripts.CLAIM)
        self._next_ready = c.register_script(scripts.NEXT_READY)
        self._rebuild = c.register_script(scripts.REBUILD)
        self._give_back = c.register_script(settle.GIVE_BACK)
        self._bury = c.register_script(settle.DEAD_LETTER)
        self._requeue = c.register_script(settle.REQUEUE)
        self._ack = c.register_script(settle.ACK)
        self._reclaim = c.register_script(settle.RECLAIM)

    # -- delivery -------------------------------------------------------------------------
    def claim(self, connection: str, limit: int, lease_seconds: float) -> list[QueueEntry]:
        """Up to ``limit`` ready entries, oldest first, leased for ``lease_seconds``.

        Ready: new to the group, or pending past their lease or retry time; and no entry
        of its ordering key pending unready."""
        if limit <= 0:
            return []
        if connection not in self._started:
            self._start(connection)
        now = self._clock()
        keys = [*self._pending_keys(connection), self.keys.layout]
        lease_until = repr(now + lease_seconds)
        args: list[str | int] = [GROUP, self.consumer, repr(now), lease_until, limit]
        args += [PARK_CAP, connection, LAYOUT]
        rows = self._claim(keys=keys, args=args, client=self._open())
        if rows == "unindexed":  # being built by another process, or its record lost
            self._start(connection)
            rows = self._claim(keys=keys, args=args, client=self._open())
        return [] if rows == "unindexed" else [entry_from(connection, *row) for row in rows]

    def reclaim_dead(self, connection: str) -> int:
        """Make the leases of dead consumers (``claim_owner_is_dead``) claimable now;
        returns how many entries."""
        client, stream = self._open(), self.keys.stream(connection)
        consumers = client.xinfo_consumers(stream, GROUP) if client.exists(stream) else []
        dead = [str(c["name"]) for c in consumers if claim_owner_is_dead(str(c["name"]))]
        keys, moved, more = self._pending_keys(connection), 0, len(dead)
        while more:
            args = [GROUP, repr(self._clock()), *dead]
            count, more = self._reclaim(keys=keys, args=args, client=client)
            moved += int(count)
        return moved

    def ack(self, ids: Sequence[Any]) -> None:
        """Delivered: acknowledge and delete the entries."""
        for connection, sids in by_connection(ids).items():
            keys = self._pending_keys(connection)
            args = [GROUP, repr(self._clock()), *sids]
            self._ack(keys=keys, args=args, client=self._open())

    def retry(self, ids: Sequence[Any], not_before: float, reason: str) -> int:
        """Release with one more attempt counted; not claimable before ``not_before``.
        Returns how many were deleted instead, their person erased (``drop_person``)."""
        return self._give_back_all(ids, not_before, "1", reason)

    def release(self, ids: Sequence[Any], not_before: float = 0.0) -> int:
        """Give entries back without counting an attempt (they were not sent). Returns
        how many were deleted instead, their person erased (``drop_person``)."""
        return self._give_back_all(ids, not_before, "0", "")

    def dead_letter(self, failed: Sequence[tuple[QueueEntry, Failure]]) -> int:
        """Move entries to the dead letters, with the failure, one script per connection.

        The dead letter's ``attempts`` counts this last, failed try. Entries no longer
        pending (settled elsewhere after their lease ran out) are skipped; those whose
        person was erased while claimed are deleted, and counted (returned). Request and
        response are stored as JSON; what JSON cannot hold is stored as its ``str``.
        """
        if not failed:
            return 0
        client = self._open()
        last = int(client.incrby(self.keys.dead_sequence, len(failed)))
        dead_ids = iter(range(last - len(failed) + 1, last + 1))
        groups: dict[str, list[tuple[QueueEntry, Failure, int]]] = defaultdict(list)
        for entry, failure in failed:
            groups[entry.connection].append((entry, failure, next(dead_ids)))
        now, erased = repr(self._clock()), 0
        for connection, items in groups.items():
            keys = [
                *self._pending_keys(connection),
                self.keys.dead_all,
                self.keys.dead_of(connection),
                *(self.keys.dead(dead) for _, _, dead in items),
            ]
            args: list[Any] = [GROUP, connection, now]
            for entry, f, dead in items:
                sid = EntryId.parse(connection, stream_id_of(entry.id)).stream_id
                history = entry.failed_for_good(float(now), f.reason)
                total = sum(h.attempts for h in history)
                action = encode(entry.action, history)
                args += [sid, dead, f.reason, lenient(f.request), lenient(f.response)]
                args += [action, total]
            erased += int(self._bury(keys=keys, args=args, client=client))
        return erased

    def record_mapping_failures(self, failures: Sequence[MappingFailure]) -> None:
        """Keep items that failed to map as ``mapping`` dead letters, in one transaction.

        Raises:
            TypeError: a source document cannot be stored as JSON; nothing is recorded.
        """
        if not failures:
            return
        now = self._clock()
        rows: list[Mapping[Any, Any]] = [mapping_failure_fields(f, now) for f in failures]
        client = self._open()
        first = int(client.incrby(self.keys.dead_sequence, len(rows))) - len(rows) + 1
        with client.pipeline(transaction=True) as pipe:
            for number, (f, row) in enumerate(zip(failures, rows, strict=True), first):
                pipe.hset(self.keys.dead(number), mapping=row)
                pipe.zadd(self.keys.dead_all, {str(number): number})
                pipe.zadd(self.keys.dead_of(f.connection), {str(number): number})
            pipe.execute()

    # -- inspection -----------------------------------------------------------------------
    def depth(self, connection: str | None = None) -> int:
        """Entries not yet settled (leased ones included): the streams' lengths."""
        client = self._open()
        if connection is not None:
            return int(client.xlen(self.keys.stream(connection)))
        names = sorted(str(name) for name in client.smembers(self.keys.connections))
        with client.pipeline(transaction=False) as pipe:
            for name in names:
                pipe.xlen(self.keys.stream(name))
            return sum(int(n) for n in pipe.execute())

    def next_ready_at(self, connection: str) -> float | None:
        """When the next entry of ``connection`` becomes claimable (may be in the past);
        None if it has none."""
        if connection not in self._started:
            self._start(connection)
        keys = self._pending_keys(connection)
        at = self._next_ready(keys=keys, args=[], client=self._open())
        return None if at is None else float(at)

    def progress(self, key: str) -> str | None:
        """The value last recorded for ``key`` by ``enqueue``, or None."""
        value = self._open().hget(self.keys.progress, key)
        return None if value is None else str(value)

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
        return page_of_dead_letters(self._open(), self.keys, connection, limit, offset, kind)

    def get_dead_letter(self, id: Any) -> DeadLetter | None:
        """One dead letter by id, or None."""
        try:
            number = int(id)
        except (TypeError, ValueError):
            return None
        found = load_dead_letters(self._open(), self.keys, [number])
        return found[0] if found else None

    def requeue_dead_letters(self, ids: Sequence[Any] | None, connection: str | None) -> int:
        """Move dead letters back to the queue, oldest first, as new entries (no attempts,
        enqueued now); ``ids=None``: all of them (of ``connection`` if given). Returns how
        many moved."""
        moved = 0
        now = repr(self._clock())
        selected = select_dead_letters(self._open(), self.keys, ids, connection, kind=DELIVERY)
        for name, numbers in selected.items():
            keys = [
                self.keys.stream(name),
                self.keys.connections,
                self.keys.dead_all,
                self.keys.dead_of(name),
                *(self.keys.dead(n) for n in numbers),
            ]
            args: list[str | int] = [GROUP, name, now, *numbers]
            moved += int(self._requeue(keys=keys, args=args, client=self._open()))
        return moved

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
        selected = select_dead_letters(
            self._open(), self.keys, ids, connection, failed_before=before, kind=kind
        )
        if not selected:
            return 0
        with self._open().pipeline(transaction=True) as pipe:
            for name, numbers in selected.items():
                pipe.delete(*(self.keys.dead(n) for n in numbers))
                pipe.zrem(self.keys.dead_all, *numbers)
                pipe.zrem(self.keys.dead_of(name), *numbers)
            results = pipe.execute()
        return sum(int(n) for n in results[0::3])

    # Entries this consumer still holds when it closes stay pending, and come back to
    # other consumers after their lease.

    # -- internals ------------------------------------------------------------------------
    def _start(self, connection: str) -> None:
        """First, index a queue written without the per-person index (or finish another
        process's build), a page at a time; then free provably dead consumers' leases."""
        keys = [*self._pending_keys(connection), self.keys.layout]
        args: list[str | int] = [connection, LAYOUT, REBUILD_PAGE]
        while not self._rebuild(keys=keys, args=args, client=self._open()):
            pass
        self.reclaim_dead(connection)
        self._started.add(connection)

    def _give_back_all(self, ids: Sequence[Any], not_before: float, count: str, why: str) -> int:
        erased = 0
        for connection, sids in by_connection(ids).items():
            args = [GROUP, repr(not_before), count, why, repr(self._clock()), *sids]
            keys, client = self._pending_keys(connection), self._open()
            erased += int(self._give_back(keys=keys, args=args, client=client))
        return erased

    def _pending_keys(self, connection: str) -> list[str]:
        return self.keys.queue_keys(connection)
