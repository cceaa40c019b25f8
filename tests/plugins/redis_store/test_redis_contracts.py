"""The ``StateStore`` (with its erasure part) and ``Queue`` contracts the SQLite plugin
passes, against Redis."""

from __future__ import annotations

import functools
from pathlib import Path

from forget_contract import ForgetContract
from queue_contract import QueueContract, QueueOpener
from redis_helpers import REDIS_URL, prefix_for
from store_contract import FakeClock, StateStoreContract, StoreOpener

from mapwire import StateStore
from mapwire.contracts.queue import Queue
from mapwire.plugins.redis_store.queue import RedisQueue
from mapwire.plugins.redis_store.store import RedisStore


class TestRedisStoreContract(StateStoreContract, ForgetContract):
    def make_store(self, location: Path, clock: FakeClock) -> StateStore:
        return RedisStore(REDIS_URL, prefix=prefix_for(location), clock=clock)

    def process_opener(self, location: Path) -> StoreOpener:
        return functools.partial(RedisStore, REDIS_URL, prefix=prefix_for(location))

    def kept_dedup_keys(self, store: StateStore, namespace: str) -> int:
        """Keys Redis keeps for good: those without an expiry. Every key recorded with a
        TTL must carry one no longer than the TTL (Redis then removes it on its own)."""
        assert isinstance(store, RedisStore)
        client = store._open()
        names = list(client.scan_iter(match=store.keys.seen(namespace, "*"), count=1000))
        pipe = client.pipeline(transaction=False)
        for name in names:
            pipe.pttl(name)
        lifetimes = pipe.execute()
        assert all(pttl == -1 or 0 < pttl <= 86400 * 1000 for pttl in lifetimes)
        return sum(1 for pttl in lifetimes if pttl == -1)


class TestRedisQueueContract(QueueContract):
    def make_queue(self, location: Path, clock: FakeClock) -> Queue:
        return RedisQueue(REDIS_URL, prefix=prefix_for(location), clock=clock)

    def make_dedup(self, location: Path, clock: FakeClock) -> StateStore:
        return RedisStore(REDIS_URL, prefix=prefix_for(location), clock=clock)

    def process_opener(self, location: Path) -> QueueOpener:
        return functools.partial(RedisQueue, REDIS_URL, prefix=prefix_for(location))
