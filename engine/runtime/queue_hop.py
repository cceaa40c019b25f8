"""A deliverer's hops to its queue: the queue's calls, run one at a time on a thread of
the deliverer's own.

A queue's operations block (a SQLite transaction waiting for another process's write lock,
a round trip to Redis), so a deliverer never makes them on the event loop, which in
``serve`` also answers HTTP. ``asyncio.to_thread`` cost about 70 µs of CPU a call here (a
copy of the context, the default executor's lock and work item, a concurrent future
chained to the loop's); a thread that takes the calls from a queue and resolves the
loop's future itself costs about 45, most of it the two wake-ups any hand-over between
threads makes. A claim of three 100-item requests makes two to four hops.

A deliverer's calls run in the order they were made, one at a time: its lanes, if it has
several, take turns (for a SQLite queue they did anyway, at the file's lock; a Redis
queue's round trips, which could overlap, now follow one another). A call runs even if
its awaiter was cancelled meanwhile (its outcome is dropped): an acknowledgement asked for
is made. ``wait`` lets whoever closes the queue first wait for the calls made, as
``asyncio.run`` waited for the default executor's threads.

The thread ends once it has had nothing to do for ``IDLE`` seconds and the next call
starts another, so a deliverer dropped without a word leaves no thread behind for long; it
is a daemon thread (an idle one must not hold up the interpreter's exit: ``wait`` is what
keeps a call in progress from being cut short), and a process forked from one with a
thread gets its own.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import threading
from collections.abc import Callable
from queue import Empty, SimpleQueue
from typing import Any, TypeVar

T = TypeVar("T")

#: Seconds the thread waits for a call before it ends.
IDLE = 10.0

_Call = tuple[asyncio.AbstractEventLoop, "asyncio.Future[Any]", Callable[..., Any], tuple[Any, ...]]


class QueueHop:
    """``await hop(fn, *args)``: ``fn(*args)`` on the hop's thread, its result or its
    exception on the awaiting loop."""

    def __init__(self) -> None:
        self._reset()

    def _reset(self) -> None:
        self._calls: SimpleQueue[_Call] = SimpleQueue()
        self._lock = threading.Lock()
        self._done = threading.Condition(self._lock)  # notified when no call is left
        self._unfinished = 0  # calls made and not finished
        self._running = False
        self._pid = os.getpid()

    def __call__(self, fn: Callable[..., T], *args: Any) -> asyncio.Future[T]:
        loop = asyncio.get_running_loop()
        future: asyncio.Future[T] = loop.create_future()
        self._own()
        with self._lock:  # the thread ends under this lock only with nothing left to do
            if not self._running:  # started first: a thread that cannot start queues nothing
                threading.Thread(target=self._serve, name="mapwire-queue", daemon=True).start()
                self._running = True
            self._unfinished += 1
            self._calls.put((loop, future, fn, args))
        return future

    def wait(self, timeout: float) -> bool:
        """Wait until every call made has finished (at most ``timeout`` seconds); whether
        they have."""
        self._own()
        with self._done:
            return self._done.wait_for(lambda: not self._unfinished, timeout)

    def _own(self) -> None:
        """In a process forked from the one that made this hop, start afresh: the parent's
        thread and calls are not here."""
        if self._pid != os.getpid():
            self._reset()

    def _serve(self) -> None:
        calls = self._calls
        while True:
            try:
                loop, future, fn, args = calls.get(timeout=IDLE)
            except Empty:
                with self._lock:
                    if calls.empty():
                        self._running = False
                        return
                continue
            try:
                outcome: tuple[Any, BaseException | None] = (fn(*args), None)
            except BaseException as exc:  # handed to the awaiter, as to_thread would
                outcome = (None, exc)
            with contextlib.suppress(RuntimeError):  # a closed loop: no one awaits it
                loop.call_soon_threadsafe(_settle, future, *outcome)
            del loop, future, fn, args, outcome  # nothing held while the thread waits
            with self._done:
                self._unfinished -= 1
                if not self._unfinished:
                    self._done.notify_all()


def _settle(future: asyncio.Future[Any], result: Any, exc: BaseException | None) -> None:
    if future.cancelled():
        return
    if exc is None:
        future.set_result(result)
    else:
        future.set_exception(exc)
