"""Queueing several inputs in one call (``enqueue_groups``, an optional ``Queue`` method):
what a queue plugin that offers it can reuse.

``enqueue_groups(connection, groups, *, dedup, dedup_ttl, progress)`` queues every group's
actions, in order, in one transaction, and returns one ``EnqueueResult`` per group; a key
repeated in a later group makes that group's action a duplicate, as if each group were
queued by its own call (``docs/hooks.md``).
"""

from __future__ import annotations

import inspect
from collections.abc import Sequence
from typing import Any, TypeVar

from .actions import Action
from .errors import PluginError
from .queue import EnqueueResult
from .store import StateStore

Q = TypeVar("Q")


def checked_grouping(queue: Q) -> Q:
    """``queue``, if it offers no ``enqueue_groups`` or one that takes the contract's
    arguments; else a ``PluginError`` that says so, at start-up: called otherwise, the
    ``TypeError`` would read as input the queue cannot store, and every request would be
    refused (422)."""
    grouped = getattr(queue, "enqueue_groups", None)
    if grouped is None:
        return queue
    try:
        inspect.signature(grouped).bind("c", [], dedup=None, dedup_ttl=None, progress=None)
    except TypeError as exc:
        raise PluginError(
            f"the queue {type(queue).__name__!r} has an enqueue_groups that does not take"
            f" (connection, groups, *, dedup, dedup_ttl, progress): {exc}"
        ) from None
    except ValueError:  # no signature to read: assume the contract
        pass
    return queue


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
