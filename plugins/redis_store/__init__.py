"""Scale-out across processes and hosts: ``redis://`` (or ``rediss://``) URLs open a
``RedisStore``, a ``RedisQueue`` and a cluster-wide ``RedisRateLimiter``.

Set the config's ``store:`` to a Redis URL; the queue defaults to the same URL and the
rate limit of each destination credential is then shared by every process too. The
client library is an optional dependency (``pip install 'mapwire[redis]'``), imported
only when a Redis URL is opened.
"""

from __future__ import annotations

from typing import Any

from mapwire import Queue, StateStore, hookimpl

from .connection import is_redis_url, require_client


@hookimpl
def make_state_store(url: str, options: dict[str, Any]) -> StateStore | None:
    """Open a ``RedisStore`` for Redis URLs; None for any other scheme."""
    if not is_redis_url(url):
        return None
    require_client()
    from .store import open_store

    return open_store(url, options)


@hookimpl
def make_queue(url: str, options: dict[str, Any]) -> Queue | None:
    """Open a ``RedisQueue`` for Redis URLs; None for any other scheme."""
    if not is_redis_url(url):
        return None
    require_client()
    from .queue import open_queue

    return open_queue(url, options)


@hookimpl
def make_rate_limiter(url: str, key: str, rate: float, options: dict[str, Any]) -> Any | None:
    """Open a cluster-wide ``RedisRateLimiter`` for Redis store URLs; None otherwise."""
    if not is_redis_url(url):
        return None
    require_client()
    from .ratelimit import open_rate_limiter

    return open_rate_limiter(url, key, rate, options)
