"""``SqliteQueue``'s intake: ``enqueue``, and ``enqueue_groups``, which queues several
inputs' actions in one transaction and says what each input queued.

Both record the actions' dedup keys as the module docstring of ``queue`` says: in the
same transaction when the store shares the queue's file, else first, undone if the
transaction fails. An action is a duplicate if any of its keys was seen before, in an
earlier transaction or earlier in this one: a key repeated in a later group makes that
group's action a duplicate, exactly as if the groups had been queued one call each.

A ``SqliteQueue`` part (it supplies ``_connection``, ``_clock`` and ``file``).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from mapwire import (
    Action,
    EnqueueByGroups,
    EnqueueResult,
    StateStore,
    actions_kept,
    first_seen_all,
    group_results,
    undo_seen_on_failure,
)

from . import queue_sql as sql
from .database import immediate, insert_rows
from .queue_rows import encode
from .store import SqliteStore


class QueueIntake(EnqueueByGroups):
    """``enqueue_groups`` of ``SqliteQueue``, and ``enqueue``: one group of it."""

    def enqueue_groups(
        self,
        connection: str,
        groups: Sequence[Sequence[Action]],
        *,
        dedup: StateStore | None = None,
        dedup_ttl: float | None = None,
        progress: tuple[str, str] | None = None,
    ) -> list[EnqueueResult]:
        """``enqueue`` of every group's actions, in order, in one transaction: one result
        per group (what it queued, what it skipped as duplicates). Raises as ``enqueue``
        does, for the whole call: nothing of any group is recorded then."""
        queue: Any = self
        now = queue._clock()
        actions = [a for group in groups for a in group]
        # ``wire`` is bound as a bytearray, the same BLOB: the sqlite3 module binds a few
        # types at once (bytearray among them, bytes not) and offers any other value to its
        # adapters first, two failed attribute look-ups that cost more than this small copy.
        rows = [
            (connection, encode(a), now, a.order_key, None if w is None else bytearray(w))
            for a in actions
            for w in (a.wire,)
        ]
        keys = [k for a in actions for k in a.dedup_keys] if dedup is not None else []
        same_file = queue.file is not None and getattr(dedup, "file", None) == queue.file
        paired = dedup if isinstance(dedup, SqliteStore) and same_file else None
        elsewhere: list[bool] = []  # whether each key was new to a store on another file
        kept: list[bool] | None = None  # per action, once dedup keys were looked at
        if keys and dedup is not None and paired is None:
            elsewhere = first_seen_all(dedup, connection, keys, dedup_ttl)
            kept = actions_kept(actions, elsewhere)
            rows = _kept_rows(rows, kept)
        if not rows and progress is None:
            return group_results(groups, kept)
        undo = undo_seen_on_failure(dedup, connection, keys, elsewhere)
        with undo, queue._connection() as conn, immediate(conn):
            if keys and paired is not None:
                kept = actions_kept(
                    actions, paired.first_seen_on(conn, connection, keys, dedup_ttl)
                )
                rows = _kept_rows(rows, kept)
            insert_rows(conn, sql.INSERT, rows)
            if progress is not None:
                conn.execute(sql.SET_PROGRESS, progress)
        return group_results(groups, kept)


def _kept_rows(rows: list[Any], kept: list[bool]) -> list[Any]:
    """The rows of the actions that go on (``kept``: one flag per action)."""
    return [row for row, new in zip(rows, kept, strict=True) if new]
