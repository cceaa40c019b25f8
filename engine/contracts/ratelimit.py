"""A token bucket per destination credential, so a process never exceeds the vendor's rate.

``acquire()`` waits (asyncio) until a request may go. The bucket holds at most ``burst``
tokens, so an idle period does not turn into a burst the vendor would throttle. A shared,
cluster-wide limit is a plugin concern (e.g. Redis); this one is per process.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable


class RateLimiter:
    def __init__(
        self,
        rate: float,
        burst: float | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if rate <= 0:
            raise ValueError("rate must be positive")
        self.rate = rate
        self.burst = burst if burst is not None else max(1.0, rate)
        self._tokens = self.burst
        self._clock = clock
        self._last = clock()
        self._lock = asyncio.Lock()

    def _refill(self) -> None:
        now = self._clock()
        self._tokens = min(self.burst, self._tokens + (now - self._last) * self.rate)
        self._last = now

    def delay(self) -> float:
        """Seconds until a token is available (0 if one is now)."""
        self._refill()
        return 0.0 if self._tokens >= 1 else (1 - self._tokens) / self.rate

    def try_acquire(self) -> bool:
        """Take a token without waiting: False (nothing taken) when none is there now or
        another caller waits for one. Optional for other limiters: a caller that would do
        something before a wait asks it first."""
        if self._lock.locked() or self.delay() > 0:
            return False
        self._tokens -= 1
        return True

    async def acquire(self) -> None:
        async with self._lock:
            while True:
                wait = self.delay()
                if wait <= 0:
                    self._tokens -= 1
                    return
                await asyncio.sleep(wait)
