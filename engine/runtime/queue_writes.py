"""How a deliverer writes to its queue, run in a worker thread: a claim's ids, the
settling writes run in order (each one's count of entries deleted because their person
was erased), and the look for entries erased since the claim. A queue plugin written to
an older contract (settling returns None; no ``drop_erased``) still works: it has
deleted none, and is not asked."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from ..contracts.destination import OutboundRequest
from ..contracts.queue import Queue


def ids_of(requests: Sequence[OutboundRequest]) -> list[Any]:
    """The queue ids of the items ``requests`` carry, in order."""
    return [item.key.id for sent in requests for item in sent.items]


def acknowledge(queue: Queue, ids: Sequence[Any]) -> None:
    """``queue.ack``, whatever it returns: an acknowledgement deletes nothing as erased."""
    queue.ack(ids)


def run_all(writes: Sequence[Callable[[], int | None]]) -> list[int]:
    """Run the queue's writes in order; how many entries each deleted, their person erased
    (None, from a queue written before ``drop_person`` marked claimed entries: none)."""
    return [write() or 0 for write in writes]


def erased_among(queue: Queue, ids: Sequence[Any]) -> set[Any]:
    """Those of the claimed entries ``ids`` the queue deleted because their person was
    erased since the claim (``Queue.drop_erased``); none from a queue without it. Only ids
    asked about count: an id the queue returns in another form is not one of them."""
    drop_erased = getattr(queue, "drop_erased", None)
    if drop_erased is None or not ids:
        return set()
    return set(drop_erased(ids)) & set(ids)


def settle_then_look(
    queue: Queue, writes: Sequence[Callable[[], int | None]], ids: Sequence[Any]
) -> tuple[list[int], set[Any] | None]:
    """``run_all(writes)``, then ``erased_among(queue, ids)``: a request settled and the
    claim's next one looked at in one hop to the queue thread, not two. A look that fails
    gives None (not looked at): the writes done are still counted, and the request is
    looked at again before it goes if it is due by then, where the failure is raised (one
    looked at only because the hop wrote anyway may go unlooked, within its claim's
    ``ERASED_LOOK_AFTER``)."""
    settled = run_all(writes)
    try:
        return settled, erased_among(queue, ids)
    except Exception:
        return settled, None
