"""The durable delivery queue: the contract, whatever stores it (SQLite, Redis, ...).

Intake writes actions with ``enqueue`` *before* it acknowledges its input; delivery
``claim``s a batch (leased, so a crashed worker's items come back after the lease, or at
once to a process that finds their owner dead on its own host), and
settles every claimed item exactly once: ``ack`` (delivered), ``retry`` (try again later),
or ``dead_letter`` (never going to work; kept with the request, the response and the
reason for ``mapwire dlq``). An item whose person was erased while it was claimed
(``drop_person``) is deleted by any of these but ``ack``.

Dead letters are of two kinds. ``delivery``: a queued action a destination refused (or
that never reached it within the retry window). ``mapping``: an input item that failed to
map, kept with its source document (``record_mapping_failures``) so that ``mapwire dlq
replay`` can map it again once the mapping is fixed. Every dead letter keeps its history:
one ``FailedAttempt`` per time it failed for good. A delivery dead letter put back in the
queue (``requeue_dead_letters``) carries its history in the queue entry, so if it fails
again its new dead letter appends to that history and counts every attempt.

Per-person order: ``claim`` never hands out an entry while an earlier entry with the same
``Action.order_key`` (same connection) is pending, i.e. claimed and not settled, or waiting
for a retry; entries without a key are ordered with no other.

A queue may offer ``enqueue_groups`` (optional): several inputs' actions in one
transaction, with what each input queued and skipped as duplicates (see
``docs/hooks.md``); intake then queues a whole group commit in one call.

``enqueue`` also records the actions' dedup keys through the given state store; when the
store and the queue share one SQLite file this happens in the same transaction, so an
input is either fully accepted (keys recorded and actions queued) or not at all. With a
store elsewhere the keys are recorded first, and removed again if the queue's own write
fails (``undo_seen_on_failure``), so a refused input's retry is not skipped as duplicates.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from .actions import Action
from .store import StateStore


@dataclass(slots=True)
class FailedAttempt:
    """One time an item failed for good: when, why, and after how many tries."""

    at: float
    reason: str
    attempts: int = 1

    def as_list(self) -> list[Any]:
        return [self.at, self.reason, self.attempts]

    @classmethod
    def from_list(cls, row: Sequence[Any]) -> FailedAttempt:
        return cls(float(row[0]), str(row[1]), int(row[2]))


def history_from(rows: Any) -> list[FailedAttempt]:
    """A history stored as JSON (a list of ``[at, reason, attempts]``) -> attempts."""
    return [FailedAttempt.from_list(row) for row in rows or ()]


class QueueEntry:
    """A claimed item: the action and its delivery history.

    ``attempts`` counts the tries since it was (re)queued; ``history`` lists the times it
    was dead-lettered before and then put back in the queue (``mapwire dlq retry``).
    ``wire`` is the action's item prepared at intake (``Action.wire``), if any. A queue
    may hand out entries whose action and history are decoded only when first read
    (``QueueEntry.deferred``): delivering an item restored from its ``wire`` then never
    decodes its action. ``order_key`` is the person it was queued under (``Action.order_key``).
    """

    __slots__ = (
        "_action",
        "_decode",
        "_history",
        "attempts",
        "connection",
        "enqueued_at",
        "id",
        "last_error",
        "order_key",
        "wire",
    )

    def __init__(
        self,
        id: Any,
        connection: str,
        action: Action,
        attempts: int,
        enqueued_at: float,
        last_error: str = "",
        history: list[FailedAttempt] | None = None,
    ) -> None:
        self.id = id
        self.connection = connection
        self.attempts = attempts
        self.enqueued_at = enqueued_at
        self.last_error = last_error
        self.order_key = action.order_key
        self.wire = action.wire
        self._action: Action | None = action
        self._history: list[FailedAttempt] = [] if history is None else history
        self._decode: Callable[[], tuple[Action, list[FailedAttempt]]] | None = None

    @classmethod
    def deferred(
        cls,
        id: Any,
        connection: str,
        decode: Callable[[], tuple[Action, list[FailedAttempt]]],
        wire: bytes | None,
        attempts: int,
        enqueued_at: float,
        last_error: str = "",
        order_key: str = "",
    ) -> QueueEntry:
        """An entry whose action and history ``decode`` returns when first read."""
        entry = cls.__new__(cls)
        entry.id, entry.connection, entry.wire = id, connection, wire
        entry.attempts, entry.enqueued_at, entry.last_error = attempts, enqueued_at, last_error
        entry.order_key = order_key
        entry._action, entry._history, entry._decode = None, [], decode
        return entry

    def _decoded(self) -> Action:
        if self._action is None:
            decode, self._decode = self._decode, None
            assert decode is not None
            self._action, self._history = decode()
        return self._action

    @property
    def action(self) -> Action:
        return self._decoded()

    @action.setter
    def action(self, value: Action) -> None:
        self._decoded()
        self._action = value

    @property
    def history(self) -> list[FailedAttempt]:
        self._decoded()
        return self._history

    @history.setter
    def history(self, value: list[FailedAttempt]) -> None:
        self._decoded()
        self._history = value

    def _fields(self) -> tuple[Any, ...]:
        return (
            self.id,
            self.connection,
            self.action,
            self.attempts,
            self.enqueued_at,
            self.last_error,
            self.history,
        )

    def __eq__(self, other: object) -> bool:
        if other.__class__ is not self.__class__:
            return NotImplemented
        assert isinstance(other, QueueEntry)
        return self._fields() == other._fields()

    __hash__ = None  # type: ignore[assignment]  # mutable, like the dataclass it was

    def __repr__(self) -> str:
        return (
            f"QueueEntry(id={self.id!r}, connection={self.connection!r}, "
            f"action={self.action!r}, attempts={self.attempts!r}, "
            f"enqueued_at={self.enqueued_at!r}, last_error={self.last_error!r}, "
            f"history={self.history!r})"
        )

    def failed_for_good(self, at: float, reason: str) -> list[FailedAttempt]:
        """The history once this attempt failed for good: the old one plus this failure."""
        return [*self.history, FailedAttempt(at, reason, self.attempts + 1)]


@dataclass(slots=True)
class EnqueueResult:
    queued: int = 0
    duplicates: int = 0


DELIVERY = "delivery"
MAPPING = "mapping"


@dataclass(slots=True)
class DeadLetter:
    """A permanently failed item and everything needed to understand or replay it.

    ``kind`` is ``delivery`` (``action`` is what was refused) or ``mapping`` (``action``
    is empty; ``source`` is the input document, ``mapping``/``rule``/``field``/``code``
    say what failed). ``attempts`` counts every try over the whole ``history``;
    ``source`` is None when the document was not kept (delivery dead letters).
    """

    id: Any
    connection: str
    action: Action
    reason: str
    attempts: int
    enqueued_at: float
    failed_at: float
    request: dict[str, Any] = dataclasses.field(default_factory=dict)
    response: dict[str, Any] = dataclasses.field(default_factory=dict)
    kind: str = DELIVERY
    history: list[FailedAttempt] = dataclasses.field(default_factory=list)
    source: Any = None
    mapping: str = ""
    rule: str = ""
    field: str = ""
    code: str = ""
    item: str = ""

    @property
    def first_failed_at(self) -> float:
        return self.history[0].at if self.history else self.failed_at


@dataclass(slots=True)
class MappingFailure:
    """An input item that failed to map, to keep as a ``mapping`` dead letter.

    ``message`` and ``code`` describe the failure without any input value; ``source`` is
    the whole input document, for ``mapwire dlq replay``; ``history`` holds the earlier
    failures of the same item (when a replay failed again).
    """

    connection: str
    mapping: str
    rule: str
    field: str
    code: str
    message: str
    source: Any
    item: str = ""
    history: list[FailedAttempt] = dataclasses.field(default_factory=list)

    def describe(self) -> str:
        """One line for people: where it failed and why, never a value."""
        where = [f"connection {self.connection!r}", f"mapping {self.mapping!r}"]
        if self.rule:  # none when the mapping failed on the document as a whole
            where.append(f"rule {self.rule!r}")
        if self.item:
            where.append(f"item {self.item}")
        if self.field:
            where.append(f"field {self.field!r}")
        return f"{', '.join(where)}: {self.code}: {self.message}"

    def total_history(self, at: float) -> list[FailedAttempt]:
        """The history with this failure appended."""
        return [*self.history, FailedAttempt(at, self.message, 1)]


@dataclass(slots=True)
class Failure:
    """Why an entry is dead-lettered, with the (redacted) request and response."""

    reason: str
    request: dict[str, Any] = dataclasses.field(default_factory=dict)
    response: dict[str, Any] = dataclasses.field(default_factory=dict)


class Queue(Protocol):
    def enqueue(
        self,
        connection: str,
        actions: Sequence[Action],
        *,
        dedup: StateStore | None = None,
        dedup_ttl: float | None = None,
        progress: tuple[str, str] | None = None,
    ) -> EnqueueResult:
        """Atomically queue ``actions`` (skipping those whose dedup keys were seen) and,
        when ``progress`` = (key, value) is given, record it in the same transaction."""
        ...

    def claim(self, connection: str, limit: int, lease_seconds: float) -> list[QueueEntry]:
        """Up to ``limit`` ready entries, oldest first, leased for ``lease_seconds``;
        an entry is not ready while an earlier one of its ``order_key`` is pending."""
        ...

    def drop_person(self, connection: str, order_key: str, keep: Collection[str] = ()) -> int:
        """Atomically delete the entries of ``connection`` with this ``order_key`` (one
        person's, see ``Destination.ordering_key``) that no worker holds: new, waiting for
        a retry, or whose lease ran out; for an erasure request. Entries a live worker has
        claimed (they may be in flight already) are marked *erased* in the same step: one
        acknowledged is removed as usual, one retried, released or dead-lettered is
        deleted instead (never sent again, never kept as a dead letter), and one whose
        lease runs out is deleted by the next claim (or ``drop_person``), never handed out
        again. The person's dead letters of ``connection`` are deleted too (they hold the
        person's data, and a ``dlq retry`` would re-create the person). An empty key drops
        nothing. Entries whose action name is in ``keep`` (the erasing actions: an
        erasure must not delete an earlier erasure of the person, in flight, waiting for
        a retry, which keeps its hold on the person, or failed) are neither deleted nor
        marked, and their dead letters stay. Returns how many entries and dead
        letters were deleted (marked entries are counted when they are deleted, by the
        call that settles them)."""
        ...

    def drop_erased(self, ids: Sequence[Any]) -> list[Any]:
        """Of the claimed entries ``ids``, delete those ``drop_person`` marked since they
        were claimed (their person erased) and return their ids. Delivery asks for each
        request of a claim at most 50 ms before it goes (a first one sent within 50 ms of
        the claim is not asked for; a later one is asked for in the hop that settles the
        request before it, and again if it goes later than 50 ms after), so an erasure
        that arrives while a claim waits on the rate limit, or while its requests go out
        one after another, stops the person's entries not yet sent. A request asked for
        may still be given back unsent (the claim's lease runs short).
        Return the ids as given (equal, hashing alike): delivery takes out of the
        request only those. Cheap when no person was erased: asked for every such
        request. A queue written before this method existed is not asked (those entries
        then go)."""
        ...

    def ack(self, ids: Sequence[Any]) -> None: ...

    def retry(self, ids: Sequence[Any], not_before: float, reason: str) -> int:
        """Release with one more attempt counted; not claimable before ``not_before``.
        Entries whose person was erased while they were claimed (``drop_person``) are
        deleted instead; returns how many."""
        ...

    def release(self, ids: Sequence[Any], not_before: float = 0.0) -> int:
        """Give entries back without counting an attempt (they were not sent). Entries
        whose person was erased while they were claimed are deleted instead; returns how
        many."""
        ...

    def dead_letter(self, failed: Sequence[tuple[QueueEntry, Failure]]) -> int:
        """Move entries to the dead letters; each dead letter's history is the entry's
        history plus this failure, and its ``attempts`` the sum over that history.
        Entries whose person was erased while they were claimed are deleted instead, and
        keep no dead letter; returns how many."""
        ...

    def record_mapping_failures(self, failures: Sequence[MappingFailure]) -> None:
        """Keep items that failed to map as ``mapping`` dead letters, in one write."""
        ...

    def depth(self, connection: str | None = None) -> int: ...

    def next_ready_at(self, connection: str) -> float | None: ...

    def progress(self, key: str) -> str | None: ...

    def dead_letters(
        self,
        connection: str | None = None,
        limit: int = 100,
        offset: int = 0,
        *,
        kind: str | None = None,
    ) -> list[DeadLetter]:
        """Newest first; of one connection and/or one kind if given."""
        ...

    def get_dead_letter(self, id: Any) -> DeadLetter | None: ...

    def requeue_dead_letters(self, ids: Sequence[Any] | None, connection: str | None) -> int:
        """Put ``delivery`` dead letters back in the queue with their history (``mapping``
        ones are left: they have no action; replay them instead). Returns how many."""
        ...

    def purge_dead_letters(
        self,
        ids: Sequence[Any] | None,
        connection: str | None,
        older_than: float | None,
        *,
        kind: str | None = None,
    ) -> int: ...

    def close(self) -> None: ...
