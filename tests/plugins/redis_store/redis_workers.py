"""Worker functions for the multi-process Redis tests; module-level in an importable
module, so that ``spawn`` children can load them."""

from __future__ import annotations

import asyncio
import functools
import time
from pathlib import Path
from typing import Any

from queue_contract import QueueOpener, act, numbers
from redis_helpers import REDIS_URL, prefix_for
from store_contract import MP_TIMEOUT

from mapwire.plugins.redis_store.queue import RedisQueue
from mapwire.plugins.redis_store.ratelimit import RedisRateLimiter

LEASE = 1.0


def opener_for(location: Path) -> QueueOpener:
    return functools.partial(RedisQueue, REDIS_URL, prefix=prefix_for(location))


def fill(opener: QueueOpener, count: int) -> None:
    queue = opener()
    try:
        for start in range(0, count, 500):
            queue.enqueue("w", [act(n) for n in range(start, min(count, start + 500))])
    finally:
        queue.close()


def deliver_until_drained(opener: QueueOpener, seed: int, barrier: Any) -> list[int]:
    """Claim, "deliver" and ack until nothing is left (leased entries included); return
    the numbers this worker acknowledged."""
    queue = opener()
    delivered: list[int] = []
    try:
        barrier.wait(timeout=MP_TIMEOUT)
        deadline = time.monotonic() + MP_TIMEOUT
        while queue.depth("w") and time.monotonic() < deadline:
            entries = queue.claim("w", 5 + seed, LEASE * 10)
            if not entries:
                time.sleep(0.02)
                continue
            time.sleep(0.001)
            queue.ack([e.id for e in entries])
            delivered += numbers(entries)
        return delivered
    finally:
        queue.close()


def acquire_for(rate: float, burst: float, prefix: str, seconds: float, barrier: Any) -> int:
    """Acquire from the shared limiter for ``seconds``; return how many were granted."""
    limiter = RedisRateLimiter(REDIS_URL, "cio", rate, burst=burst, prefix=prefix)

    async def run() -> int:
        barrier.wait(timeout=MP_TIMEOUT)
        deadline = time.monotonic() + seconds
        granted = 0
        while True:
            await limiter.acquire()
            if time.monotonic() >= deadline:
                return granted
            granted += 1

    try:
        return asyncio.run(run())
    finally:
        limiter.close()
