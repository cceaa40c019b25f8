"""A claim's items and requests: each claimed entry restored from the item prepared at
intake or prepared again (``prepared_items``); the requests built so that one item a
destination cannot build never stops its connection (``build_isolated``); and built again
without some of their items (``rebuilt_without``: those the queue deleted, their person
erased since the claim)."""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping, Sequence
from typing import Any

from ..contracts.destination import Destination, OutboundRequest, PreparedItem
from ..contracts.errors import MapwireError, PermanentDeliveryError
from ..contracts.queue import Failure, QueueEntry


def prepared_items(
    destination: Destination,
    settings: Mapping[str, Any],
    entries: Sequence[QueueEntry],
    redact: Callable[[str], str],
) -> tuple[list[PreparedItem], list[tuple[QueueEntry, Failure]]]:
    """Each entry's item: restored from its wire (prepared at intake, valid unless the
    settings that shaped it changed since), else prepared now; and those it refuses, with
    the reason (``redact``ed), to be dead-lettered."""
    prepared: list[PreparedItem] = []
    rejected: list[tuple[QueueEntry, Failure]] = []
    for entry in entries:
        wire = entry.wire
        if wire is not None:
            item = destination.restore(wire, settings, key=entry)
            if item is not None:
                prepared.append(item)
                continue
        try:
            prepared.append(destination.prepare(entry.action, settings, key=entry))
        except PermanentDeliveryError as exc:
            rejected.append((entry, Failure(redact(exc.reason), {"item": "not built"})))
        except MapwireError as exc:
            rejected.append((entry, Failure(redact(str(exc)), {"item": "not built"})))
    return prepared, rejected


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
