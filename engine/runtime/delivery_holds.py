"""Items that must wait after their person's earlier ones (``Destination.send_delay``).

Some vendors apply what they accept in the background, so an item that needs an earlier
one applied first (a merge into a primary person the identify before it creates) must not
go with it, or right after. ``held_back`` splits a claim's prepared items into those to
send now and those to give back for a while. An item with a delay is held at its first
claim (no attempt yet), and again whenever an earlier item of its person is sent in the
same claim (one retried meanwhile, say); delivery counts the delay from when the claim's
requests went (first from as late as they may go, so a step that fails or is cancelled
still holds them). Every earlier item of its person was settled before its first claim or is
in it, so the item goes at least the delay after them. The hold counts as an attempt
(that is how a later claim knows it waited). Its person's items after it in the claim
wait with it, untouched, and the queue's per-person hold keeps the rest of the person
back. Not covered: an earlier item retried after the first hold that ends one claim while
the item opens the next.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from ..contracts.destination import PreparedItem
from ..contracts.queue import QueueEntry

HOLD_REASON = "held after its person's earlier items, as its destination asks (send_delay)"

Holds = dict[float, list[Any]]
"""Queue ids by the delay (seconds) they wait."""


def held_back(
    items: Sequence[PreparedItem], delay_of: Callable[[PreparedItem], float]
) -> tuple[list[PreparedItem], Holds, Holds]:
    """The items to send now; the ids of those held, by their delay (to retry that long
    after the claim's requests went, an attempt counted: ``HOLD_REASON``); the ids of
    their persons' items after them, by the same delay (to give back until then). Each
    item's ``key`` is its ``QueueEntry``; an item without a person (no ``order_key``) is
    never held, nor one tried before with none of its person's items sent before it in
    this claim."""
    send: list[PreparedItem] = []
    held: Holds = {}
    behind: Holds = {}
    waiting: dict[str, float] = {}  # the people held back, and for how long
    sending: set[str] = set()  # the people with an item sent now
    for item in items:
        entry: QueueEntry = item.key
        person = entry.order_key
        delay = waiting.get(person) if person else None
        if delay is not None:
            behind.setdefault(delay, []).append(entry.id)
            continue
        if person and (entry.attempts == 0 or person in sending):
            delay = delay_of(item)
            if delay > 0:
                waiting[person] = delay
                held.setdefault(delay, []).append(entry.id)
                continue
        if person:
            sending.add(person)
        send.append(item)
    return send, held, behind
