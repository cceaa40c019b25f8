"""The dedup step between mapping and queueing: each action's keys are recorded through
the state store; an action any of whose keys was seen before is skipped as a duplicate."""

from __future__ import annotations

from collections.abc import Sequence

from .actions import Action, MapResult
from .store import StateStore, first_seen_all

DUPLICATE = "duplicate"


def actions_kept(actions: Sequence[Action], new: Sequence[bool]) -> list[bool]:
    """Whether each action goes on: every one of its keys new (``new``: one answer per key,
    in the order of the actions' ``dedup_keys``, as ``first_seen_all`` gives them for
    those keys). All its keys are recorded either way."""
    answers = iter(new)
    return [all([next(answers) for _ in a.dedup_keys]) for a in actions]


def apply_dedup(
    result: MapResult, store: StateStore, namespace: str, ttl: float | None = None
) -> MapResult:
    """Drop (and count) the actions whose dedup keys were already recorded."""
    actions = result.actions
    if not any(a.dedup_keys for a in actions):
        return result
    keys = [k for a in actions for k in a.dedup_keys]
    kept = actions_kept(actions, first_seen_all(store, namespace, keys, ttl))
    result.actions = [a for a, new in zip(actions, kept, strict=True) if new]
    for new in kept:
        if not new:
            result.skip(DUPLICATE)
    return result
