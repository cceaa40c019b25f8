"""The durable delivery queue: the contract, whatever stores it (SQLite, Redis, ...).

Intake writes actions with ``enqueue`` *before* it acknowledges its input; delivery
``claim``s a batch (leased, so a crashed worker's items come back after the lease), and
settles every claimed item exactly once: ``ack`` (delivered), ``retry`` (try again later),
or ``dead_letter`` (never going to work; kept with the request, the response and the
reason for ``mapwire dlq``).

``enqueue`` also records the actions' dedup keys through the given state store; when the
store and the queue share one SQLite file this happens in the same transaction, so an
input is either fully accepted (keys recorded and actions queued) or not at all.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from mapwire.engine.actions import Action
from mapwire.engine.store import StateStore


@dataclass(slots=True)
class QueueEntry:
    """A claimed item: the action and its delivery history."""

    id: Any
    connection: str
    action: Action
    attempts: int
    enqueued_at: float
    last_error: str = ""


@dataclass(slots=True)
class EnqueueResult:
    queued: int = 0
    duplicates: int = 0


@dataclass(slots=True)
class DeadLetter:
    """A permanently failed item and everything needed to understand or replay it."""

    id: Any
    connection: str
    action: Action
    reason: str
    attempts: int
    enqueued_at: float
    failed_at: float
    request: dict[str, Any] = field(default_factory=dict)
    response: dict[str, Any] = field(default_factory=dict)


@dataclass(slots=True)
class Failure:
    """Why an entry is dead-lettered, with the (redacted) request and response."""

    reason: str
    request: dict[str, Any] = field(default_factory=dict)
    response: dict[str, Any] = field(default_factory=dict)


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
        """Up to ``limit`` ready entries, oldest first, leased for ``lease_seconds``."""
        ...

    def ack(self, ids: Sequence[Any]) -> None: ...

    def retry(self, ids: Sequence[Any], not_before: float, reason: str) -> None:
        """Release with one more attempt counted; not claimable before ``not_before``."""
        ...

    def release(self, ids: Sequence[Any], not_before: float = 0.0) -> None:
        """Give entries back without counting an attempt (they were not sent)."""
        ...

    def dead_letter(self, failed: Sequence[tuple[QueueEntry, Failure]]) -> None: ...

    def depth(self, connection: str | None = None) -> int: ...

    def next_ready_at(self, connection: str) -> float | None: ...

    def progress(self, key: str) -> str | None: ...

    def dead_letters(
        self, connection: str | None = None, limit: int = 100, offset: int = 0
    ) -> list[DeadLetter]: ...

    def get_dead_letter(self, id: Any) -> DeadLetter | None: ...

    def requeue_dead_letters(self, ids: Sequence[Any] | None, connection: str | None) -> int: ...

    def purge_dead_letters(
        self, ids: Sequence[Any] | None, connection: str | None, older_than: float | None
    ) -> int: ...

    def close(self) -> None: ...
