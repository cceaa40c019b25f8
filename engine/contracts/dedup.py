"""The dedup step between mapping and queueing: each action's keys are recorded through
the state store; an action any of whose keys was seen before is skipped as a duplicate."""

from __future__ import annotations

from .actions import MapResult
from .store import StateStore

DUPLICATE = "duplicate"


def apply_dedup(
    result: MapResult, store: StateStore, namespace: str, ttl: float | None = None
) -> MapResult:
    """Drop (and count) the actions whose dedup keys were already recorded."""
    if not any(a.dedup_keys for a in result.actions):
        return result
    kept = []
    for action in result.actions:
        new = True
        for key in action.dedup_keys:
            # Record every key, even after one was seen, so each is remembered.
            if not store.first_seen(namespace, key, ttl):
                new = False
        if new:
            kept.append(action)
        else:
            result.skip(DUPLICATE)
    result.actions = kept
    return result
