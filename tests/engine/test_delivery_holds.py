"""``delivery_holds.held_back``: which of a claim's items wait (``Destination.send_delay``),
until when, and that a person's items after a waiting one wait with it."""

from __future__ import annotations

from typing import Any

from mapwire import Action
from mapwire.contracts.destination import PreparedItem
from mapwire.contracts.queue import QueueEntry
from mapwire.runtime.delivery_holds import held_back

NOW = 1000.0


def _item(id_: int, person: str, kind: str, attempts: int = 0) -> PreparedItem:
    entry = QueueEntry(id_, "c", Action("d", kind, {}, order_key=person), attempts, NOW - 60)
    return PreparedItem(key=entry, body={"kind": kind}, size=1)


def _delay(item: PreparedItem) -> float:
    return 5.0 if item.body["kind"] == "merge" else 0.0


def _split(items: list[PreparedItem]) -> tuple[list[Any], dict[float, list[Any]], Any]:
    send, held, behind = held_back(items, _delay, alone_from=NOW, sent_from=NOW + 12)
    return [i.key.id for i in send], held, behind


def test_an_item_with_a_delay_is_held_at_its_first_claim_with_its_persons_later_items() -> None:
    items = [
        _item(1, "p", "identify"),
        _item(2, "q", "event"),
        _item(3, "p", "merge"),  # after p's identify, sent now: held from as late as it goes
        _item(4, "s", "merge"),  # first of its person here: held from the claim
        _item(5, "p", "event"),  # behind p's merge: waits with it, untouched
        _item(6, "q", "event"),
        _item(7, "r", "merge", attempts=1),  # held before (or tried): goes now
        _item(8, "", "merge"),  # no person: nothing to keep in order
    ]
    assert _split(items) == ([1, 2, 6, 7, 8], {NOW + 17: [3], NOW + 5: [4]}, {NOW + 17: [5]})


def test_nothing_waits_without_a_delay() -> None:
    items = [_item(1, "p", "identify"), _item(2, "p", "event")]
    assert _split(items) == ([1, 2], {}, {})


def test_an_item_tried_before_is_held_again_behind_its_persons_item_in_the_claim() -> None:
    """Its person's identify was retried after the first hold: claimed together again, the
    merge waits again rather than go in the identify's request."""
    items = [_item(1, "p", "identify", attempts=1), _item(2, "p", "merge", attempts=1)]
    assert _split(items) == ([1], {NOW + 17: [2]}, {})
