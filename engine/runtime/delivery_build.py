"""Building a claim's requests so that one item a destination cannot build never stops
its connection: ``build_isolated``; and building them again without some of their items
(``rebuilt_without``: those the queue deleted, their person erased since the claim)."""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from typing import Any

from ..contracts.destination import Destination, OutboundRequest, PreparedItem
from ..contracts.queue import Failure, QueueEntry


def build_isolated(
    destination: Destination, prepared: Sequence[PreparedItem], settings: Mapping[str, Any]
) -> tuple[list[OutboundRequest], list[tuple[QueueEntry, Failure]]]:
    """``destination.build_requests`` for ``prepared``, and nothing to dead-letter; if it
    raises (a bug an item exposes), each item is tried alone, the ones it still cannot
    build are returned to be dead-lettered (named by the error's type, never its message)
    and the rest are built together again (each alone if that fails too)."""
    try:
        return destination.build_requests(prepared, settings), []
    except Exception:  # isolated below, item by item
        pass
    good: list[PreparedItem] = []
    unbuilt: list[tuple[QueueEntry, Failure]] = []
    for item in prepared:
        try:
            destination.build_requests([item], settings)
        except Exception as exc:  # this one is dead-lettered
            why = f"the destination could not build a request for it ({type(exc).__name__})"
            unbuilt.append((item.key, Failure(why, {"item": "not built"})))
        else:
            good.append(item)
    try:
        return destination.build_requests(good, settings), unbuilt
    except Exception:  # together they still fail: each alone, then
        return [r for item in good for r in destination.build_requests([item], settings)], unbuilt


def rebuilt_without(
    destination: Destination,
    requests: Sequence[OutboundRequest],
    gone: Collection[Any],
    settings: Mapping[str, Any],
) -> tuple[list[OutboundRequest], list[tuple[QueueEntry, Failure]]]:
    """``requests`` built again, in order, without the items whose queue ids are in
    ``gone`` (``build_isolated``)."""
    items = [item for sent in requests for item in sent.items if item.key.id not in gone]
    return build_isolated(destination, items, settings) if items else ([], [])
