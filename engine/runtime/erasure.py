"""Erasure before queueing: an action that erases its person drops that person's pending
entries first.

A destination says which of its actions erase a person (``Destination.erases``, e.g. a
delete or a suppress); before such an action is queued, the queue drops the entries of
its ``order_key`` (the same person) that no worker holds (``Queue.drop_person``), so no
older update re-creates the person after the erasure. Entries a worker has already
claimed may still go out; per-person order then sends the erasure after them.
"""

from __future__ import annotations

from collections.abc import Iterable

from ..contracts.actions import Action
from ..contracts.destination import Destination
from ..contracts.queue import Queue


def drop_erased_people(
    queue: Queue, connection: str, actions: Iterable[Action], destination: Destination | None
) -> int:
    """Drop the pending entries of every person an action in ``actions`` erases; how many."""
    if destination is None:
        return 0
    keys = {a.order_key for a in actions if a.order_key and destination.erases(a.action)}
    return sum(queue.drop_person(connection, key) for key in sorted(keys))
