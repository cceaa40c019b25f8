"""Shared by the Redis tests: the server's URL, per-test key prefixes, and cleanup."""

from __future__ import annotations

import os
import uuid
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import redis

REDIS_URL = os.environ.get("MAPWIRE_TEST_REDIS_URL", "redis://127.0.0.1:6390/0")
#: Distinguishes this test session's keys from any other's on the same server.
SESSION = uuid.uuid4().hex[:12]


def shown_url(url: str = REDIS_URL) -> str:
    """The server's URL for messages: any password replaced by ``***``."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    user = parts.username or ""
    host = parts.hostname or ""
    port = f":{parts.port}" if parts.port is not None else ""
    return urlunsplit(parts._replace(netloc=f"{user}:***@{host}{port}"))


def prefix_for(location: Path | str) -> str:
    """A key prefix unique to a test's folder (and to this session)."""
    return f"mwtest:{SESSION}:{location}"


def unreachable() -> str | None:
    """Why Redis cannot be used (None if it answers a PING)."""
    try:
        client = redis.Redis.from_url(REDIS_URL, socket_connect_timeout=2, socket_timeout=2)
        try:
            client.ping()
        finally:
            client.close()
    except redis.RedisError as exc:
        return f"{type(exc).__name__}: {exc}"
    return None


def delete_prefix(prefix: str) -> int:
    """Delete every key starting with ``prefix``; returns how many."""
    client = redis.Redis.from_url(REDIS_URL)
    try:
        deleted = 0
        batch: list[bytes] = []
        for key in client.scan_iter(match=f"{prefix}*", count=1000):
            batch.append(key)
            if len(batch) >= 500:
                deleted += int(client.unlink(*batch))
                batch.clear()
        if batch:
            deleted += int(client.unlink(*batch))
        return deleted
    finally:
        client.close()
