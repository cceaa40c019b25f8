"""The delivery loops of a process: one ``run_until`` per delivering connection, and how a
reload changes them while they run.

``DeliveryLoops.run`` starts a loop for each delivering connection and waits until the
caller's ``stop`` is set (or a loop fails, whose error it raises); then every loop
finishes the request it is sending and stops.

``update`` (after ``Runtime.adopt`` took a new config) compares what each loop delivers
with (destination and its settings, transport, delivery options, whether it delivers at
all): a loop whose connection changed finishes its request and stops, its client and rate
limiter are closed, and a new loop starts with the new settings. A connection that is no
longer delivering (removed, or disabled with ``when_disabled: hold``) stops; what is
queued for it stays queued, exactly as after a restart. A new delivering connection gets
a loop. Loops whose connection did not change keep running untouched.

Nothing claimed is dropped: a loop is never cancelled by a reload, only told to stop after
its current step, which settles everything it claimed.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Protocol

from .config import Connection
from .delivery import Deliverer
from .delivery_lanes import run_until


class LoopOwner(Protocol):
    """What the loops need from the process that runs them (``Runtime``)."""

    def delivering(self, only: Iterable[str] | None = None) -> list[Connection]: ...
    def deliverer(self, conn: Connection) -> Deliverer: ...
    def wake_event(self, connection: str) -> asyncio.Event: ...
    async def retire(self, deliverer: Deliverer) -> None: ...


def delivery_identity(conn: Connection) -> tuple[object, ...]:
    """What a running loop was made from: a change restarts the loop."""
    return (
        conn.plan.destination,
        repr(sorted(conn.destination.items())),
        conn.transport,
        conn.delivery,
        conn.delivers,
    )


@dataclass
class _Loop:
    conn: Connection
    deliverer: Deliverer
    stop: asyncio.Event
    task: asyncio.Task[None]


class DeliveryLoops:
    def __init__(
        self, owner: LoopOwner, only: Iterable[str] | None = None, *, idle_poll: float = 1.0
    ) -> None:
        self.owner = owner
        self.only = list(only) if only is not None else None
        self.idle_poll = idle_poll
        self._loops: dict[str, _Loop] = {}
        self._retiring: set[asyncio.Task[None]] = set()
        self._failed = asyncio.Event()
        self._error: BaseException | None = None
        self._stopping = False
        self._lock = asyncio.Lock()

    @property
    def deliverers(self) -> dict[str, Deliverer]:
        return {name: loop.deliverer for name, loop in self._loops.items()}

    def _start(self, conn: Connection) -> None:
        deliverer = self.owner.deliverer(conn)
        stop = asyncio.Event()
        task = asyncio.create_task(
            run_until(
                deliverer,
                stop,
                wake=self.owner.wake_event(conn.name),
                batch_wait=conn.delivery.batch_wait_ms / 1000,
                idle_poll=self.idle_poll,
                lanes=conn.delivery.concurrency,
            ),
            name=f"deliver:{conn.name}",
        )
        task.add_done_callback(self._ended)
        self._loops[conn.name] = _Loop(conn, deliverer, stop, task)

    def _ended(self, task: asyncio.Task[None]) -> None:
        if not task.cancelled() and task.exception() is not None and self._error is None:
            self._error = task.exception()
            self._failed.set()

    def _tell_stop(self, loop: _Loop) -> None:
        loop.stop.set()
        self.owner.wake_event(loop.conn.name).set()  # an idle loop sees it at once

    async def run(self, stop: asyncio.Event) -> None:
        """Deliver until ``stop`` is set; raises the error of a loop that failed."""
        for conn in self.owner.delivering(self.only):
            self._start(conn)
        waiters = [asyncio.create_task(stop.wait()), asyncio.create_task(self._failed.wait())]
        try:
            await asyncio.wait(waiters, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for waiter in waiters:
                waiter.cancel()
        self._stopping = True
        if self._error is not None:
            raise self._error
        for loop in self._loops.values():
            self._tell_stop(loop)
        await asyncio.gather(*(loop.task for loop in self._loops.values()), *self._retiring)

    def cancel(self) -> None:
        for loop in self._loops.values():
            loop.task.cancel()
        for task in self._retiring:
            task.cancel()

    async def cancelled(self, timeout: float) -> None:
        """Wait (at most ``timeout`` seconds) for the cancelled loops to end: what their
        claims delivered is acknowledged on the way out (``PendingAcks.flush``), and that
        must reach the queue before whoever stops delivery closes it."""
        tasks = [loop.task for loop in self._loops.values() if not loop.task.done()]
        tasks += [task for task in self._retiring if not task.done()]
        if tasks:
            await asyncio.wait(tasks, timeout=timeout)

    async def update(self) -> list[str]:
        """Restart the loops whose connection changed, stop those no longer delivering,
        start the new ones; the names of the connections whose loop stopped."""
        async with self._lock:
            if self._stopping:
                return []
            wanted = {c.name: c for c in self.owner.delivering(self.only)}
            stopped = [
                name
                for name, loop in self._loops.items()
                if name not in wanted
                or delivery_identity(loop.conn) != delivery_identity(wanted[name])
            ]
            for name in stopped:
                loop = self._loops.pop(name)
                self._tell_stop(loop)
                self._retiring.add(loop.task)
                loop.task.add_done_callback(self._retiring.discard)
                with contextlib.suppress(Exception):  # a failure is raised by ``run``
                    await asyncio.shield(loop.task)
                await self.owner.retire(loop.deliverer)
            if not self._stopping:
                for name, conn in wanted.items():
                    if name not in self._loops:
                        self._start(conn)
            return stopped
