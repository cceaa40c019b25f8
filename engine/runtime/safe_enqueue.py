"""Queueing the actions of many inputs so that one unstorable input cannot block the rest.

The queue's ``enqueue`` refuses the whole call (recording nothing) when any action cannot
be serialised, e.g. a value nested deeper than the serialiser allows. ``enqueue_storable``
first tries every group of actions (one group per input document or request) in one
call; if that is refused, it bisects the groups, queues every group that can be stored
and returns the indexes of those that cannot, for the caller to report.

A ``progress`` mark (``send``'s file position) goes with the last call only, so it is
recorded once everything before it is queued. Bisecting commits the halves separately:
if the process dies in between, the rerun reads the chunk again and its dedup keys
absorb what was already queued.
"""

from __future__ import annotations

from collections.abc import Sequence

from ..contracts.actions import Action
from ..contracts.queue import EnqueueResult, Queue
from ..contracts.store import StateStore


def enqueue_storable(
    queue: Queue,
    connection: str,
    groups: Sequence[Sequence[Action]],
    *,
    dedup: StateStore | None = None,
    dedup_ttl: float | None = None,
    progress: tuple[str, str] | None = None,
) -> tuple[EnqueueResult, list[int]]:
    """Queue the storable groups: (what was queued, indexes of the groups refused).

    The halves are tried depth first, the first before the second, from a stack rather
    than by a function calling itself: a nested function that refers to itself is a
    reference cycle, which kept every action of every request alive until the cyclic
    collector found it, instead of freeing them when the call returns."""
    total = EnqueueResult()
    refused: list[int] = []
    pending: list[tuple[int, int, tuple[str, str] | None]] = [(0, len(groups), progress)]
    while pending:
        lo, hi, mark = pending.pop()
        actions = [a for g in groups[lo:hi] for a in g]
        try:
            result = queue.enqueue(
                connection, actions, dedup=dedup, dedup_ttl=dedup_ttl, progress=mark
            )
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
        total.queued += result.queued
        total.duplicates += result.duplicates
    return total, refused
