"""Items that must wait after their person's earlier ones (``Destination.send_delay``).

Some vendors apply what they accept in the background, so an item that needs an earlier
one applied first (a merge into a primary person the identify before it creates) must not
go with it, or right after. ``held_back`` splits a claim's prepared items into those to
send now and those to give back until a time. An item with a delay is held at its first
claim (no attempt yet), and again whenever an earlier item of its person is sent in the
same claim (one retried meanwhile, say). The hold is written before the claim's requests
go, so a step that fails or is cancelled still holds the item: the delay counts from the
claim when no item of its person is in it (they were settled before), else from as late
as the claim's requests may go. The hold counts as an attempt (that is how a later claim
knows it waited). Its person's items after it in the claim wait with it, untouched, and
the queue's per-person hold keeps the rest of the person back. Not covered: an earlier
item retried after the first hold that ends one claim while the item opens the next.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from ..contracts.destination import PreparedItem
from ..contracts.queue import QueueEntry

HOLD_REASON = "held after its person's earlier items, as its destination asks (send_delay)"

Holds = dict[float, list[Any]]
"""Queue ids by the time they wait until."""


def held_back(
    items: Sequence[PreparedItem],
    delay_of: Callable[[PreparedItem], float],
    *,
    alone_from: float,
    sent_from: float,
) -> tuple[list[PreparedItem], Holds, Holds]:
    """The items to send now; the ids of those held, by the time they wait until (to
    retry then, an attempt counted: ``HOLD_REASON``); the ids of their persons' items
    after them, by the same time (to give back until then). A held item waits its delay
    from ``sent_from`` (as late as the claim's requests may go) when an item of its person
    is sent in this claim, else from ``alone_from`` (the claim: its person's earlier items
    were settled before). Each item's ``key`` is its ``QueueEntry``; an item without a
    person (no ``order_key``) is never held, nor one tried before with none of its
    person's items sent before it in this claim."""
    send: list[PreparedItem] = []
    held: Holds = {}
    behind: Holds = {}
    waiting: dict[str, float] = {}  # the people held back, and until when
    sending: set[str] = set()  # the people with an item sent now
    for item in items:
        entry: QueueEntry = item.key
        person = entry.order_key
        until = waiting.get(person) if person else None
        if until is not None:
            behind.setdefault(until, []).append(entry.id)
            continue
        if person and (entry.attempts == 0 or person in sending):
            delay = delay_of(item)
            if delay > 0:
                until = (sent_from if person in sending else alone_from) + delay
                waiting[person] = until
                held.setdefault(until, []).append(entry.id)
                continue
        if person:
            sending.add(person)
        send.append(item)
    return send, held, behind
