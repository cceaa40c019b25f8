"""Queueing several inputs in one call (``enqueue_groups``, an optional ``Queue`` method):
what a queue plugin that offers it can reuse.

``enqueue_groups(connection, groups, *, dedup, dedup_ttl, progress)`` queues every group's
actions, in order, in one transaction, and returns one ``EnqueueResult`` per group; a key
repeated in a later group makes that group's action a duplicate, as if each group were
queued by its own call (``docs/hooks.md``).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from .actions import Action
from .queue import EnqueueResult
from .store import StateStore


def group_results(
    groups: Sequence[Sequence[Action]], kept: Sequence[bool] | None
) -> list[EnqueueResult]:
    """What each group of an ``enqueue_groups`` call queued and skipped, from ``kept``
    (whether each action, in order, was queued; None: every one was)."""
    results, start = [], 0
    for group in groups:
        size = len(group)
        queued = size if kept is None else sum(kept[start : start + size])
        results.append(EnqueueResult(queued, size - queued))
        start += size
    return results


class EnqueueByGroups:
    """``enqueue`` for a queue that offers ``enqueue_groups``: one group of it."""

    def enqueue(
        self,
        connection: str,
        actions: Sequence[Action],
        *,
        dedup: StateStore | None = None,
        dedup_ttl: float | None = None,
        progress: tuple[str, str] | None = None,
    ) -> EnqueueResult:
        """Queue ``actions`` for ``connection``, skipping duplicates, atomically.

        Dedup keys are recorded in the namespace ``connection``; an action is a duplicate
        if any of its keys was seen before (all its keys are recorded regardless). When
        ``progress`` = (key, value) is given it is recorded in the same transaction.

        Raises:
            TypeError, ValueError: an action cannot be serialised; nothing is recorded.
        """
        grouped: Any = self
        results: list[EnqueueResult] = grouped.enqueue_groups(
            connection, [actions], dedup=dedup, dedup_ttl=dedup_ttl, progress=progress
        )
        return results[0]
