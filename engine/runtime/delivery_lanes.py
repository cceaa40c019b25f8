"""How a connection's deliverer runs: ``run_until`` loops ``Deliverer.step`` until told to
stop, sleeping while nothing is ready, with up to ``delivery.concurrency`` lanes (claims
in flight at once) while there is a backlog."""

from __future__ import annotations

import asyncio
import contextlib

from .delivery import Deliverer

BLOCKED_POLL_SECONDS = 0.05
"""How soon to look again when entries are ready but wait behind a person's earlier ones."""


async def run_until(
    deliverer: Deliverer,
    stop: asyncio.Event,
    *,
    wake: asyncio.Event | None = None,
    batch_wait: float = 0.05,
    idle_poll: float = 1.0,
    lanes: int = 1,
) -> None:
    """Deliver until ``stop`` is set; sleep while nothing is ready.

    ``wake`` (set by in-process intake) cuts the sleep short; delivery then waits
    ``batch_wait`` so a batch can fill instead of sending one request per event. So does a
    lane that sent a claim smaller than ``claim_limit``: it has caught up, and what arrived
    meanwhile would make a request of a few actions.

    ``lanes``: how many claims of the connection may be in flight at once, each sent by
    its own loop (``delivery.concurrency``), so a vendor's round trip does not cap the rate
    at one request per round trip. The first lane always runs; the others only while the
    last claim was full (a backlog), so a light load still fills each request as one lane
    would. A person's actions keep their order: the queue never hands out an action while
    an earlier one of the same person is claimed, so two lanes never hold one person's
    actions at once. The first error of a lane stops the others and is raised.
    """
    if lanes <= 1:
        await _lane(deliverer, stop, wake, batch_wait, idle_poll, None, gated=False)
        return
    backlog = asyncio.Event()

    async def stopping() -> None:
        await stop.wait()
        backlog.set()  # the waiting lanes see ``stop`` at once

    tasks = [asyncio.create_task(stopping())] + [
        asyncio.create_task(
            _lane(deliverer, stop, wake, batch_wait, idle_poll, backlog, gated=n > 0)
        )
        for n in range(lanes)
    ]
    try:
        done, _ = await asyncio.wait(tasks[1:], return_when=asyncio.FIRST_EXCEPTION)
    finally:
        for task in tasks:
            task.cancel()  # a lane still running when another failed, or when cancelled
        await asyncio.gather(*tasks, return_exceptions=True)
    for task in done:
        if not task.cancelled() and task.exception() is not None:
            raise task.exception()  # type: ignore[misc]


async def _lane(
    deliverer: Deliverer,
    stop: asyncio.Event,
    wake: asyncio.Event | None,
    batch_wait: float,
    idle_poll: float,
    backlog: asyncio.Event | None,
    *,
    gated: bool,
) -> None:
    """One loop of ``run_until``: claim, send and settle, or wait for work. ``backlog``,
    shared by the lanes, is set while claims come back full; a ``gated`` lane (not the
    first) claims only then."""
    while not stop.is_set():
        if gated and backlog is not None:
            if not backlog.is_set():
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(backlog.wait(), timeout=idle_poll)
                continue
            await asyncio.sleep(batch_wait)  # let a full batch gather for this lane too
        done = await deliverer.step()
        if backlog is not None:
            if done.claimed >= deliverer.claim_limit:
                backlog.set()
            else:
                backlog.clear()
        if done.requests or done.dead_lettered or done.held or done.erased:
            if done.claimed < deliverer.claim_limit:
                # Caught up: what arrived meanwhile is less than a request. Let the next
                # batch gather rather than send a request for every few actions.
                await asyncio.sleep(batch_wait)
            continue
        ready_at = await deliverer.hop(deliverer.queue.next_ready_at, deliverer.connection)
        now = deliverer.clock()
        if ready_at is not None:
            ready_at = max(ready_at, deliverer.paused_until)
        # Ready but nothing claimed: the entries wait behind earlier ones of their person,
        # claimed elsewhere; look again soon rather than at once.
        floor = BLOCKED_POLL_SECONDS if ready_at is not None and ready_at <= now else 0.005
        timeout = idle_poll if ready_at is None else max(floor, min(idle_poll, ready_at - now))
        waiter = wake or stop
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(waiter.wait(), timeout=timeout)
        if wake is not None and wake.is_set():
            wake.clear()
            await asyncio.sleep(batch_wait)
