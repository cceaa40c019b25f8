"""Parsing large bodies off the event loop, with a bound on the bytes parsed at once.

The depth check and the JSON parser run in the request's coroutine for small bodies (a
thread hop costs more than parsing them). A body over ``INLINE_PARSE_BYTES`` is parsed by
a parsing thread instead, so that the event loop keeps accepting, authenticating and
answering other requests while it is read; and the bodies being parsed at once total at
most the configured ``server.max_parse_bytes``: past it a request waits for its turn (it
is never refused for it). A body larger than the whole budget waits until nothing else is
being parsed.

While a large body is parsed the cyclic garbage collector is paused: the parser creates
every container of the body at once, and the collections this would trigger (each holding
the interpreter lock, so the event loop too, for its whole run) cost several times the
parse itself on a body of millions of small arrays. JSON values cannot form cycles; the
collector runs again as soon as the parse is over.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import threading
from collections.abc import AsyncIterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from .intake import parse_json

#: Bodies up to this size are parsed inline, on the event loop.
INLINE_PARSE_BYTES = 65_536
#: Threads parsing large bodies: parsing holds the interpreter lock, so more threads would
#: only take it from the event loop more often.
PARSE_THREADS = 1


_collector_paused = 0
_collector_lock = threading.Lock()


def parse_large(body: bytes, max_depth: int) -> Any:
    """``parse_json`` with the cyclic garbage collector paused (see the module's notes)."""
    global _collector_paused
    with _collector_lock:
        if _collector_paused == 0 and not gc.isenabled():
            return parse_json(body, max_depth)  # someone else turned it off: leave it so
        _collector_paused += 1
        gc.disable()
    try:
        return parse_json(body, max_depth)
    finally:
        with _collector_lock:
            _collector_paused -= 1
            if _collector_paused == 0:
                gc.enable()


class ParseBudget:
    """Parses JSON bodies; large ones in threads, within a budget of bytes in flight."""

    def __init__(self, limit: int, *, inline_bytes: int = INLINE_PARSE_BYTES) -> None:
        self.limit = limit
        self.inline_bytes = inline_bytes
        self.in_flight = 0
        self._changed: asyncio.Condition | None = None
        self._pool: ThreadPoolExecutor | None = None

    async def parse(self, body: bytes, max_depth: int) -> Any:
        """``parse_json(body, max_depth)``, off the event loop if the body is large."""
        if len(body) <= self.inline_bytes:
            return parse_json(body, max_depth)
        async with self.turn(len(body)):
            loop = asyncio.get_running_loop()
            return await loop.run_in_executor(self._executor(), parse_large, body, max_depth)

    @contextlib.asynccontextmanager
    async def turn(self, size: int) -> AsyncIterator[None]:
        """Wait until ``size`` more bytes fit in the budget; hold them until the block ends."""
        weight = min(size, self.limit)
        changed = self._condition()
        async with changed:
            await changed.wait_for(lambda: self.in_flight + weight <= self.limit)
            self.in_flight += weight
        try:
            yield
        finally:
            async with changed:
                self.in_flight -= weight
                changed.notify_all()

    def close(self) -> None:
        """Stop the threads (a parse in progress finishes; its answer is not awaited)."""
        if self._pool is not None:
            self._pool.shutdown(wait=False, cancel_futures=True)
            self._pool = None

    def _condition(self) -> asyncio.Condition:
        if self._changed is None:
            self._changed = asyncio.Condition()
        return self._changed

    def _executor(self) -> ThreadPoolExecutor:
        if self._pool is None:
            self._pool = ThreadPoolExecutor(PARSE_THREADS, thread_name_prefix="mapwire-parse")
        return self._pool
