"""``RedisRateLimiter``: one request rate shared by every process of a deployment.

The limit is a GCRA (generic cell rate algorithm) kept in one Redis key per destination
credential: the key holds the theoretical arrival time of the next request. Each
``acquire()`` is one script call that *reserves* the next slot and returns how long to
wait for it; the caller then sleeps that long, with no polling and no second round trip.
Requests from all processes are therefore spaced ``1 / rate`` apart, after an initial
burst of at most ``burst``: over any period ``t`` no more than ``rate * t + burst`` go.

Time is the Redis server's (``TIME``), so hosts need not agree on the clock. A caller
cancelled while waiting gives up its slot unused: the limit is never exceeded, only not
reached for that one slot.
"""

from __future__ import annotations

import asyncio
from typing import Any

import redis

from .connection import (
    DEFAULT_PREFIX,
    Keys,
    is_redis_url,
    open_client,
    split_prefix,
)

#: KEYS: the limit's key. ARGV: the interval between requests and the burst tolerance
#: (both in microseconds). Returns the wait before the reserved slot, in microseconds.
_RESERVE = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local interval, tolerance = tonumber(ARGV[1]), tonumber(ARGV[2])
local tat = tonumber(redis.call('GET', KEYS[1]) or '0')
if tat < now then tat = now end
local wait = tat - now - tolerance
if wait < 0 then wait = 0 end
local after = tat + interval
redis.call('SET', KEYS[1], string.format('%.0f', after),
  'PX', math.floor((after - now) / 1000) + 1000)
return string.format('%.0f', wait)
"""


def open_rate_limiter(
    url: str, key: str, rate: float, options: dict[str, Any]
) -> RedisRateLimiter | None:
    """A ``RedisRateLimiter`` for a Redis URL (None for other schemes).

    Known options: ``burst`` (default ``max(1, rate)``, as the in-process limiter),
    ``prefix`` (a ``?prefix=`` in the URL wins) and ``timeout_seconds``.
    """
    if not is_redis_url(url):
        return None
    burst = options.get("burst")
    url, prefix = split_prefix(url, options)
    return RedisRateLimiter(
        url,
        key,
        rate,
        burst=None if burst is None else float(burst),
        prefix=prefix,
        options=options,
    )


class RedisRateLimiter:
    """A cluster-wide limit of ``rate`` requests per second for one credential ``key``.

    The interface is that of ``mapwire.contracts.ratelimit.RateLimiter``: ``await
    acquire()`` before each request.

    Args:
        url: the Redis server.
        key: names the limit; the runtime passes a hash, never a credential.
        rate: requests per second, across every process using the same key.
        burst: requests that may go at once after an idle period (default ``max(1, rate)``).
        prefix: the first part of the key name.
        options: client settings (``timeout_seconds``).
    """

    def __init__(
        self,
        url: str,
        key: str,
        rate: float,
        *,
        burst: float | None = None,
        prefix: str = DEFAULT_PREFIX,
        options: dict[str, Any] | None = None,
    ) -> None:
        if rate <= 0:
            raise ValueError("rate must be positive")
        self.rate = rate
        self.burst = burst if burst is not None else max(1.0, rate)
        self._key = Keys(prefix).rate(key)
        interval = 1_000_000 / rate
        self._args = (repr(interval), repr(max(0.0, self.burst - 1) * interval))
        self._client: redis.Redis | None = open_client(url, options or {})
        self._reserve = self._client.register_script(_RESERVE)

    def reserve(self) -> float:
        """Take the next slot; return the seconds to wait for it (0: go now)."""
        if self._client is None:
            raise RuntimeError("the rate limiter is closed")
        wait = self._reserve(keys=[self._key], args=self._args, client=self._client)
        return int(wait) / 1_000_000

    async def acquire(self) -> None:
        """Wait until a request may go (the script runs in a worker thread)."""
        wait = await asyncio.to_thread(self.reserve)
        if wait > 0:
            await asyncio.sleep(wait)

    def close(self) -> None:
        """Close the client's connections; closing twice is harmless."""
        if self._client is not None:
            self._client.close()
            self._client = None

    def __repr__(self) -> str:
        return f"RedisRateLimiter(rate={self.rate}, burst={self.burst})"
