"""Items that must wait after their person's earlier ones (``Destination.send_delay``).

Some vendors apply what they accept in the background, so an item that needs an earlier
one applied first (a merge into a primary person the identify before it creates) must not
go with it, or right after. ``held_back`` splits a claim's prepared items
into those to send now and those to give back, untouched, until a time: an item with a
delay waits that long after now when an earlier item of its person is in the claim (it
is sent now), and until that long after it was queued otherwise; its person's items after
it wait with it, so the person's order holds. The queue's per-person hold keeps the rest
of the person back until then; the item then goes in a claim of its own.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from ..contracts.destination import PreparedItem
from ..contracts.queue import QueueEntry


def held_back(
    items: Sequence[PreparedItem], delay_of: Callable[[PreparedItem], float], now: float
) -> tuple[list[PreparedItem], dict[float, list[Any]]]:
    """The items to send now, and the ids of the others by the time they wait until.
    Each item's ``key`` is its ``QueueEntry``; an item without a person (no
    ``order_key``) never waits."""
    send: list[PreparedItem] = []
    held: dict[float, list[Any]] = {}
    seen: set[str] = set()  # the people with an item sent now
    waiting: dict[str, float] = {}  # the people held back, and until when
    for item in items:
        entry: QueueEntry = item.key
        person = entry.order_key
        until = waiting.get(person) if person else None
        if until is None and person:
            delay = delay_of(item)
            if delay > 0:
                until = now + delay if person in seen else entry.enqueued_at + delay
                if until > now:
                    waiting[person] = until
                else:
                    until = None
        if until is not None:
            held.setdefault(until, []).append(entry.id)
            continue
        if person:
            seen.add(person)
        send.append(item)
    return send, held
