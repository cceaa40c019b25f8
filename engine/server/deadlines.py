"""Long time limits at a low price: ``Deadlines.limit``, a coarse ``asyncio.timeout``.

Every request is read and committed within a limit of seconds (``intake.BODY_TIMEOUT_SECONDS``,
``handling.SUBMIT_TIMEOUT_SECONDS``). ``asyncio.timeout`` schedules and cancels a timer of
the event loop each time, twice per request: a few microseconds each, a noticeable part of a
small request's cost. Those limits need no precision, so one ``Deadlines`` per server keeps
the active limits in a dict and one timer, ticking every ``TICK_SECONDS`` while any limit is
active, cancels the tasks whose deadline has passed. The context manager then raises
``TimeoutError``, as ``asyncio.timeout`` does: a limit fires between its deadline and one
tick later, and a cancellation from anywhere else passes through as it came.
"""

from __future__ import annotations

import asyncio
from types import TracebackType

TICK_SECONDS = 0.25


class Deadlines:
    """The limits of one event loop (the first to use it), checked every ``tick`` seconds."""

    def __init__(self, tick: float = TICK_SECONDS) -> None:
        self.tick = tick
        self._active: dict[Limit, None] = {}
        self._timer: asyncio.TimerHandle | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    def limit(self, seconds: float) -> Limit:
        """An async context manager: its block is cancelled with ``TimeoutError`` once it
        has run for ``seconds`` (up to one tick more)."""
        return Limit(self, seconds)

    def __len__(self) -> int:
        return len(self._active)

    def _start(self, limit: Limit, loop: asyncio.AbstractEventLoop) -> None:
        self._active[limit] = None
        if self._timer is None or self._loop is not loop:  # a new loop: its own timer
            self._loop = loop
            self._timer = loop.call_later(self.tick, self._check)

    def _stop(self, limit: Limit) -> None:
        self._active.pop(limit, None)

    def _check(self) -> None:
        self._timer = None
        assert self._loop is not None
        now = self._loop.time()
        for limit in [limit for limit in self._active if limit.when <= now]:
            del self._active[limit]
            limit.expire()
        if self._active:
            self._timer = self._loop.call_later(self.tick, self._check)


class Limit:
    """One use of ``Deadlines.limit`` (see there); not reentrant."""

    __slots__ = ("_cancelling", "_deadlines", "_seconds", "_task", "expired", "when")

    def __init__(self, deadlines: Deadlines, seconds: float) -> None:
        self._deadlines = deadlines
        self._seconds = seconds
        self._task: asyncio.Task[object] | None = None
        self._cancelling = 0
        self.expired = False
        self.when = 0.0

    async def __aenter__(self) -> Limit:
        task = asyncio.current_task()
        if task is None:
            raise RuntimeError("a time limit must be used inside a task")
        loop = task.get_loop()
        self._task = task
        self._cancelling = task.cancelling()
        self.when = loop.time() + self._seconds
        self._deadlines._start(self, loop)
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._deadlines._stop(self)
        if self.expired:
            assert self._task is not None
            # Our own cancellation, with no other pending: it becomes the timeout.
            if self._task.uncancel() <= self._cancelling and exc_type is asyncio.CancelledError:
                raise TimeoutError from exc

    def expire(self) -> None:
        """The deadline passed: cancel the task (its block then raises ``TimeoutError``)."""
        if self._task is not None and not self._task.done():
            self.expired = True
            self._task.cancel()
