"""A delivery lane that sent a claim smaller than a request can carry has caught up: it lets
the next batch gather for ``batch_wait`` instead of claiming again at once (a request for
every few actions that trickle in); after a full claim it claims again at once."""

from __future__ import annotations

import asyncio
import time
from itertools import pairwise
from types import SimpleNamespace
from typing import Any

from mapwire.runtime.delivery import Settled
from mapwire.runtime.delivery_lanes import run_until
from mapwire.runtime.queue_hop import QueueHop

BATCH_WAIT = 0.2


class ScriptedDeliverer:
    """Each step claims the next count of ``claims`` and sends it in one request; once
    they are used up, nothing is ready and ``stop`` is set."""

    claim_limit = 10
    connection = "c"
    paused_until = 0.0

    def __init__(self, claims: list[int], stop: asyncio.Event) -> None:
        self.claims = claims
        self.stop = stop
        self.steps: list[float] = []
        self.queue: Any = SimpleNamespace(next_ready_at=lambda connection: None)
        self.hop = QueueHop()
        self.clock = time.time

    async def step(self) -> Settled:
        self.steps.append(time.monotonic())
        if not self.claims:
            self.stop.set()
            return Settled()
        claimed = self.claims.pop(0)
        return Settled(delivered=claimed, requests=1, claimed=claimed)


async def gaps(claims: list[int], lanes: int) -> list[float]:
    stop = asyncio.Event()
    deliverer: Any = ScriptedDeliverer(claims, stop)
    await asyncio.wait_for(
        run_until(deliverer, stop, batch_wait=BATCH_WAIT, idle_poll=0.01, lanes=lanes), 10
    )
    steps = deliverer.steps
    return [later - earlier for earlier, later in pairwise(steps)]


def test_a_partial_claim_lets_the_next_batch_gather_and_a_full_one_does_not() -> None:
    after_full, after_partial, after_full_again = asyncio.run(gaps([10, 3, 10], lanes=1))
    assert after_full < BATCH_WAIT / 2
    assert after_partial >= BATCH_WAIT * 0.9
    assert after_full_again < BATCH_WAIT / 2


def test_the_first_of_several_lanes_gathers_too() -> None:
    first_gap, *_ = asyncio.run(gaps([4, 4], lanes=4))
    assert first_gap >= BATCH_WAIT * 0.9
