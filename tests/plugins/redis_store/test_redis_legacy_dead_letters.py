"""A dead letter from before histories were kept (its one failure only in its fields) keeps
that failure across ``dlq retry``: it becomes the history the action carries back, so a
later failure adds to it (as the SQLite queue does with its first release's rows)."""

from __future__ import annotations

from pathlib import Path

import redis
from redis_helpers import REDIS_URL, prefix_for

from mapwire.contracts.queue import Failure
from plugins.redis_store.queue import RedisQueue


def test_a_dead_letter_without_history_keeps_its_failure_across_a_retry(tmp_path: Path) -> None:
    prefix = prefix_for(tmp_path)
    client = redis.Redis.from_url(REDIS_URL)
    action = '{"d":"d","a":"a","p":{"n":12345678901234567890},"r":"r"}'
    fields = {"c": "c", "a": action, "t": "1.0", "n": "3", "r": 'HTTP 400 "x"', "f": "2.0"}
    client.hset(f"{prefix}:dead:item:1", mapping={**fields, "q": "{}", "s": "{}"})
    client.zadd(f"{prefix}:dead:all", {"1": 1})
    client.zadd(f"{prefix}:dead:by:c", {"1": 1})
    client.set(f"{prefix}:dead:seq", 1)
    now = [10.0]
    with RedisQueue(REDIS_URL, prefix=prefix, clock=lambda: now[0]) as queue:
        assert queue.requeue_dead_letters(None, None) == 1
        (entry,) = queue.claim("c", 1, 60)
        assert entry.action.payload == {"n": 12345678901234567890}  # not re-encoded
        queue.dead_letter([(entry, Failure("HTTP 422"))])
        (letter,) = queue.dead_letters()
    assert [(h.at, h.reason, h.attempts) for h in letter.history] == [
        (2.0, 'HTTP 400 "x"', 3),
        (10.0, "HTTP 422", 1),
    ]
    assert letter.attempts == 4
