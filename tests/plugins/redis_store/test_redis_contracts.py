"""The ``StateStore`` and ``Queue`` contracts the SQLite plugin passes, against Redis."""

from __future__ import annotations

import functools
from pathlib import Path

from queue_contract import QueueContract, QueueOpener
from redis_helpers import REDIS_URL, prefix_for
from store_contract import FakeClock, StateStoreContract, StoreOpener

from mapwire import StateStore
from mapwire.engine.queue import Queue
from mapwire.plugins.redis_store.queue import RedisQueue
from mapwire.plugins.redis_store.store import RedisStore


class TestRedisStoreContract(StateStoreContract):
    def make_store(self, location: Path, clock: FakeClock) -> StateStore:
        return RedisStore(REDIS_URL, prefix=prefix_for(location), clock=clock)

    def process_opener(self, location: Path) -> StoreOpener:
        return functools.partial(RedisStore, REDIS_URL, prefix=prefix_for(location))

    def kept_dedup_keys(self, store: StateStore, namespace: str) -> int:
        """Keys Redis keeps for good: those without an expiry. Every key recorded with a
        TTL must carry one no longer than the TTL (Redis then removes it on its own)."""
        assert isinstance(store, RedisStore)
        client = store._open()
        kept = 0
        for name in client.scan_iter(match=store.keys.seen(namespace, "*"), count=1000):
            pttl = client.pttl(name)
            assert pttl != -2
            if pttl == -1:
                kept += 1
            else:
                assert pttl <= 86400 * 1000
        return kept


class TestRedisQueueContract(QueueContract):
    def make_queue(self, location: Path, clock: FakeClock) -> Queue:
        return RedisQueue(REDIS_URL, prefix=prefix_for(location), clock=clock)

    def make_dedup(self, location: Path, clock: FakeClock) -> StateStore:
        return RedisStore(REDIS_URL, prefix=prefix_for(location), clock=clock)

    def process_opener(self, location: Path) -> QueueOpener:
        return functools.partial(RedisQueue, REDIS_URL, prefix=prefix_for(location))
