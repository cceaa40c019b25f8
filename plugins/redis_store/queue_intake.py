"""``RedisQueue``'s intake: ``enqueue``, and ``enqueue_groups``, which queues several
inputs' actions in one script and says what each input queued (a key repeated in a later
input makes that input's action a duplicate, as in a later call).

A ``RedisQueue`` part (it supplies ``_open``, ``_clock``, ``keys``, ``identity`` and the
registered ``_enqueue`` script, ``queue_scripts.ENQUEUE``).
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

from .entries import encode
from .queue_scripts import GROUP
from .store import RedisStore, expiry_args


class QueueIntake(EnqueueByGroups):
    """``enqueue_groups`` of ``RedisQueue`` (``RedisClient`` raises its Redis errors as
    ``unavailable``), and ``enqueue``: one group."""

    def enqueue_groups(
        self,
        connection: str,
        groups: Sequence[Sequence[Action]],
        *,
        dedup: StateStore | None = None,
        dedup_ttl: float | None = None,
        progress: tuple[str, str] | None = None,
    ) -> list[EnqueueResult]:
        """``enqueue`` of every group's actions, in order, in one script: one result per
        group (a key repeated in a later group makes that group's action a duplicate, as
        in a later call). Raises as ``enqueue`` does, for the whole call."""
        queue: Any = self
        client = queue._open()
        actions = [a for group in groups for a in group]
        encoded = [(i, encode(a), a.order_key) for i, a in enumerate(actions)]
        counts = [0] * len(encoded)
        flat = [k for a in actions for k in a.dedup_keys]
        keys: list[str] = []
        new: list[bool] = []  # whether each of ``flat`` was new to another store
        dedup_now = queue._clock()
        if isinstance(dedup, RedisStore) and dedup.identity == queue.identity:
            counts = [len(a.dedup_keys) for a in actions]
            keys = [queue.keys.seen(connection, k) for k in flat]
            dedup_now = dedup.clock()
        elif dedup is not None:
            new = first_seen_all(dedup, connection, flat, dedup_ttl)
            keep = actions_kept(actions, new)
            encoded = [e for e, kept in zip(encoded, keep, strict=True) if kept]
            counts = [0] * len(encoded)
        queued: set[int] = set()
        if encoded or progress is not None:
            has_progress, pkey, pvalue = ("1", *progress) if progress else ("0", "", "")
            args: list[Any] = [GROUP, connection, repr(queue._clock()), has_progress, pkey, pvalue]
            args += expiry_args(dedup_now, dedup_ttl)
            for n, (_, action, order_key) in zip(counts, encoded, strict=True):
                args += [n, action, order_key]
            all_keys = [queue.keys.stream(connection), queue.keys.connections, queue.keys.progress]
            with undo_seen_on_failure(dedup, connection, flat, new):  # keys of another store
                positions = queue._enqueue(keys=[*all_keys, *keys], args=args, client=client)
            queued = {encoded[int(at)][0] for at in positions}
        return group_results(groups, [i in queued for i in range(len(actions))])
