"""``delivery_holds.held_back``: which of a claim's items wait (``Destination.send_delay``),
until when, and that a person's items after a waiting one wait with it."""

from __future__ import annotations

from typing import Any

from mapwire import Action
from mapwire.contracts.destination import PreparedItem
from mapwire.contracts.queue import QueueEntry
from mapwire.runtime.delivery_holds import held_back

NOW = 1000.0


def _item(id_: int, person: str, kind: str, queued: float = NOW - 1) -> PreparedItem:
    action = Action("d", kind, {}, order_key=person)
    return PreparedItem(key=QueueEntry(id_, "c", action, 0, queued), body={"kind": kind}, size=1)


def _delay(item: PreparedItem) -> float:
    return 5.0 if item.body["kind"] == "merge" else 0.0


def _split(items: list[PreparedItem]) -> tuple[list[Any], dict[float, list[Any]]]:
    send, held = held_back(items, _delay, NOW)
    return [i.key.id for i in send], held


def test_an_item_waits_after_its_persons_earlier_item_in_the_claim() -> None:
    items = [
        _item(1, "p", "identify"),
        _item(2, "q", "event"),
        _item(3, "p", "merge"),
        _item(4, "s", "merge", queued=NOW - 60),  # first of its person, queued long ago
        _item(5, "p", "event"),  # behind p's merge: waits with it
        _item(6, "r", "merge", queued=NOW - 2),  # first of its person, queued 2 s ago
        _item(7, "", "merge"),  # no person: nothing to wait behind
    ]
    assert _split(items) == ([1, 2, 4, 7], {NOW + 5: [3, 5], NOW + 3: [6]})


def test_nothing_waits_without_a_delay() -> None:
    items = [_item(1, "p", "identify"), _item(2, "p", "event")]
    assert _split(items) == ([1, 2], {})
