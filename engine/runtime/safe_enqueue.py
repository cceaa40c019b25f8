"""Queueing the actions of many inputs so that one unstorable input cannot block the rest.

The queue's ``enqueue`` refuses the whole call (recording nothing) when any action cannot
be serialised, e.g. a value nested deeper than the serialiser allows. ``enqueue_storable``
first tries every group of actions (one group per input document or request) in one
call; if that is refused, it bisects the groups, queues every group that can be stored
and returns the indexes of those that cannot, for the caller to report.

A ``progress`` mark (``send``'s file position) goes with the last call only, so it is
recorded once everything before it is queued. Bisecting commits the halves separately:
if the process dies in between, the rerun reads the chunk again and its dedup keys
absorb what was already queued. If the queue fails once some halves went in, what went in
stays queued and is reported so (``Stored.error``, ``Stored.failed``): those inputs are
answered as queued, the others with the failure.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, NamedTuple

from ..contracts.actions import Action
from ..contracts.errors import QueueUnavailable, Unavailable
from ..contracts.queue import EnqueueResult, Queue
from ..contracts.store import StateStore


def not_queued(exc: Exception) -> Unavailable:
    """``exc`` as the failure of the request it stopped: a store's ``Unavailable`` as it is,
    a bug as a ``QueueUnavailable`` naming only its type (its frames kept, for the log)."""
    if isinstance(exc, Unavailable):
        return exc
    failed = QueueUnavailable(f"the request was not queued ({type(exc).__name__})")
    failed.__cause__, failed.__traceback__ = exc, exc.__traceback__
    return failed


class Stored(NamedTuple):
    """What ``enqueue_storable`` queued."""

    #: every group's actions together
    total: EnqueueResult
    #: indexes of the groups that could not be stored
    refused: list[int]
    #: per group what it queued and skipped (None for a refused group), when the queue
    #: tells (``enqueue_groups``); else None: ``total`` is all there is
    each: list[EnqueueResult | None] | None
    #: the queue's failure after some groups were queued (bisecting commits the halves
    #: apart), and the indexes of the groups it left unqueued
    error: Unavailable | None = None
    failed: Sequence[int] = ()


def enqueue_storable(
    queue: Queue,
    connection: str,
    groups: Sequence[Sequence[Action]],
    *,
    dedup: StateStore | None = None,
    dedup_ttl: float | None = None,
    progress: tuple[str, str] | None = None,
) -> Stored:
    """Queue the storable groups: what was queued, and the indexes of the groups refused.

    A queue with ``enqueue_groups`` (optional, see ``contracts.queue``) queues the groups
    of one call in one transaction and says what each queued; another is given them as
    one ``enqueue``. The halves are tried depth first, the first before the second, from
    a stack rather than by a function calling itself: a nested function that refers to
    itself is a reference cycle, which kept every action of every request alive until the
    cyclic collector found it, instead of freeing them when the call returns."""
    grouped: Any = getattr(queue, "enqueue_groups", None)
    total = EnqueueResult()
    refused: list[int] = []
    each: list[EnqueueResult | None] | None = [None] * len(groups) if grouped else None
    pending: list[tuple[int, int, tuple[str, str] | None]] = [(0, len(groups), progress)]
    queued_any = False  # a call with actions went through (they are in the queue)
    while pending:
        lo, hi, mark = pending.pop()
        options: dict[str, Any] = {"dedup": dedup, "dedup_ttl": dedup_ttl, "progress": mark}
        try:
            if each is not None:
                results = grouped(connection, groups[lo:hi], **options)
                each[lo:hi] = results
            else:
                actions = [a for g in groups[lo:hi] for a in g]
                results = [queue.enqueue(connection, actions, **options)]
        except Unavailable as exc:
            unsent = [(lo, hi, mark), *pending]
            if not queued_any or any(m is not None for _, _, m in unsent):
                raise  # nothing went in (or the mark did not): the call failed, as one
            left = [i for first, last, _ in unsent for i in range(first, last)]
            return Stored(total, refused, each, exc, left)
        except (TypeError, ValueError):
            if hi - lo == 0:  # nothing to store: not a serialisation problem
                raise
            if hi - lo > 1:
                mid = (lo + hi) // 2
                pending += [(mid, hi, mark), (lo, mid, None)]  # the first half first
                continue
            refused.append(lo)
            if mark is not None:  # the position still moves past the refused input
                pending.append((lo, lo, mark))
            continue
        queued_any = queued_any or any(groups[lo:hi])  # a call that wrote actions
        for result in results:
            total.queued += result.queued
            total.duplicates += result.duplicates
    return Stored(total, refused, each)
