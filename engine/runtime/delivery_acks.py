"""A claim's deliveries waiting for their acknowledgement.

A claim of several requests acknowledges what they delivered once, in one queue
transaction (``Deliverer`` writes it in the hop settling the claim's last request, or the
one that pauses it, or with the rest given back late in the lease). Until then the ids wait
here: before the claim waits for the rate limiter longer than ``ACK_BEFORE_WAITING`` they
are acknowledged (a wait may outlast the lease, and another claim would take them again),
and whatever is left when the claim ends otherwise (a failure, cancelled) is acknowledged
then (``flush``).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from functools import partial
from typing import Any

from ..contracts.queue import Queue
from ..contracts.ratelimit import RateLimiter
from .queue_hop import QueueHop
from .queue_writes import acknowledge

#: Seconds a claim waits for the rate limiter before acknowledging what it delivered.
ACK_BEFORE_WAITING = 0.05


class PendingAcks:
    def __init__(self, queue: Queue, hop: QueueHop | None = None) -> None:
        self.queue = queue
        self.hop = QueueHop() if hop is None else hop
        self.ids: list[Any] = []

    async def acquire(self, limiter: RateLimiter) -> None:
        """``limiter``'s go; the ids waiting are acknowledged first if it is not given at
        once (within ``ACK_BEFORE_WAITING``). A limiter that can answer without waiting
        (``try_acquire``, the in-process one) is asked that first: no task to race."""
        if not self.ids:
            await limiter.acquire()
            return
        now = getattr(limiter, "try_acquire", None)
        if now is not None and now():
            return
        go = asyncio.ensure_future(limiter.acquire())
        try:
            if not (await asyncio.wait({go}, timeout=ACK_BEFORE_WAITING))[0]:
                await self.flush()
            await go
        except BaseException:  # cancelled, or the flush failed: the go is not taken
            go.cancel()
            raise

    def add(self, ids: Sequence[Any]) -> None:
        """Delivered: to be acknowledged with the claim's others."""
        self.ids.extend(ids)

    def writes(self) -> list[Callable[[], None]]:
        """The acknowledgement of the ids waiting, as the first write of a settling hop's
        batch (none when none wait); ``written`` once the hop went through."""
        return [partial(acknowledge, self.queue, list(self.ids))] if self.ids else []

    def written(self) -> None:
        """The hop with ``write``'s acknowledgement went through: forget those ids."""
        self.ids.clear()

    async def flush(self) -> None:
        """Acknowledge the ids waiting (on the deliverer's queue thread); they are
        forgotten only once the queue took the acknowledgement."""
        for write in self.writes():
            await self.hop(write)
            self.written()
