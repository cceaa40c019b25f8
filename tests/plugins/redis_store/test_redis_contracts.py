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


class TestRedisQueueContract(QueueContract):
    def make_queue(self, location: Path, clock: FakeClock) -> Queue:
        return RedisQueue(REDIS_URL, prefix=prefix_for(location), clock=clock)

    def make_dedup(self, location: Path, clock: FakeClock) -> StateStore:
        return RedisStore(REDIS_URL, prefix=prefix_for(location), clock=clock)

    def process_opener(self, location: Path) -> QueueOpener:
        return functools.partial(RedisQueue, REDIS_URL, prefix=prefix_for(location))
