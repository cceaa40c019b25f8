"""The plugin's hooks, and the one-line switch: ``store: redis://...`` is all a config
needs to run the whole runtime on Redis."""

from __future__ import annotations

import asyncio
import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
from redis_helpers import REDIS_URL, prefix_for

import mapwire.plugins.redis_store as redis_store
from mapwire import Action, QueueUnavailable, StateStore, StoreUnavailable
from mapwire.contracts.ratelimit import RateLimiter
from mapwire.plugins.redis_store.connection import server_identity
from mapwire.plugins.redis_store.entries import EntryId
from mapwire.plugins.redis_store.queue import RedisQueue
from mapwire.plugins.redis_store.ratelimit import RedisRateLimiter
from mapwire.plugins.redis_store.store import RedisStore
from mapwire.plugins.sqlite_store.store import SqliteStore
from mapwire.runtime.config import load_config
from mapwire.runtime.process import Runtime
from mapwire.runtime.registry import Registry, build_registry, reset_registry

DELIVERY = Path(__file__).resolve().parents[2] / "delivery"


@pytest.fixture
def registry() -> Iterator[Registry]:
    """The registry of the installed entry points: the Redis plugin loads like any other."""
    registry = build_registry()
    assert "redis_store" in {p.name for p in registry.plugins}
    reset_registry(registry)
    yield registry
    reset_registry(None)


def test_hook_make_state_store(registry: Registry, tmp_path: Path) -> None:
    store = registry.make_state_store(REDIS_URL, {"prefix": prefix_for(tmp_path)})
    try:
        assert isinstance(store, RedisStore)
        assert store.first_seen("ns", "k") and not store.first_seen("ns", "k")
    finally:
        store.close()
    assert redis_store.make_state_store(url="sqlite:///x.db", options={}) is None


def test_hook_make_queue(registry: Registry, tmp_path: Path) -> None:
    queue = registry.make_queue(REDIS_URL, {"prefix": prefix_for(tmp_path)})
    try:
        assert isinstance(queue, RedisQueue)
        assert queue.depth() == 0
    finally:
        queue.close()
    assert redis_store.make_queue(url="sqlite:///x.db", options={}) is None


def test_hook_make_rate_limiter(registry: Registry, tmp_path: Path) -> None:
    options = {"prefix": prefix_for(tmp_path), "burst": 3}
    # A slow rate, so that a loaded machine's pauses between the calls cannot refill it.
    limiter = registry.make_rate_limiter(REDIS_URL, "k", 0.5, options)
    assert isinstance(limiter, RedisRateLimiter) and limiter.burst == 3
    try:
        waits = [limiter.reserve() for _ in range(5)]
    finally:
        limiter.close()
    assert waits[:3] == [0.0, 0.0, 0.0] and 0 < waits[3] < waits[4] <= 4.0
    fallback = registry.make_rate_limiter("sqlite:///x.db", "k", 5.0)
    assert type(fallback) is RateLimiter and fallback.rate == 5.0, "the built-in default"


def test_the_identity_leaves_the_password_out() -> None:
    identity = server_identity("redis://:s3cret-pw@cache.internal:6380/2", "mapwire")
    assert "s3cret-pw" not in identity and "cache.internal:6380/2" in identity


def test_switching_the_store_url_moves_the_whole_runtime_to_redis(
    registry: Registry, tmp_path: Path, customerio_server: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.syspath_prepend(str(DELIVERY))
    from delivery_helpers import batches, cio_connection, event_ids, write_config

    monkeypatch.setenv("TEST_CIO_API_KEY", customerio_server.api_key)
    path = write_config(tmp_path, [cio_connection(customerio_server)])
    config = json.loads(path.read_text())
    prefix = quote(prefix_for(tmp_path), safe="")
    config["store"] = f"{REDIS_URL}?prefix={prefix}"  # the only change from SQLite
    path.write_text(json.dumps(config))

    runtime = Runtime(load_config(path), registry)
    try:
        assert isinstance(runtime.store, RedisStore) and isinstance(runtime.queue, RedisQueue)
        docs = batches(3, 4, prefix=f"e2e-{os.getpid()}-{tmp_path.name}")
        report = runtime.pipeline.submit("mparticle.events_api_batch", docs)
        assert report.connections["cio"].queued == 3 * 4 + 3

        async def deliver() -> None:
            stop = asyncio.Event()
            task = asyncio.create_task(runtime.deliver(stop))
            for _ in range(100):
                await asyncio.sleep(0.05)
                if runtime.queue.depth("cio") == 0:
                    break
            stop.set()
            await task
            await runtime.aclose()

        asyncio.run(deliver())
        assert runtime.queue.depth("cio") == 0
        assert len(set(event_ids(customerio_server))) == 12
        assert not runtime.queue.dead_letters("cio")
        assert isinstance(runtime._limiters[0], RedisRateLimiter), "the rate limit is shared"
    finally:
        runtime.close()


def test_a_prefix_in_the_url_names_the_keys(tmp_path: Path) -> None:
    prefix = prefix_for(tmp_path)
    store = redis_store.make_state_store(url=f"{REDIS_URL}?prefix={prefix}", options={})
    assert isinstance(store, RedisStore) and store.keys.prefix == prefix
    store.close()


def test_redis_errors_become_the_engines_errors(request: pytest.FixtureRequest) -> None:
    """An error reply (a key of the wrong type) and an unreachable server are the engine's
    ``StoreUnavailable``/``QueueUnavailable``, the Redis error chained."""
    import redis

    prefix = prefix_for(request.node.name)
    with RedisStore(REDIS_URL, prefix=prefix) as store, RedisQueue(REDIS_URL, prefix=prefix) as q:
        client = redis.Redis.from_url(REDIS_URL)
        try:
            client.set(store.keys.members("seg", "u"), "not a hash")
        finally:
            client.close()
        with pytest.raises(StoreUnavailable) as caught:
            store.update_membership("seg", "u", [("a", True, 1)])
        assert isinstance(caught.value.__cause__, redis.ResponseError)
        assert q.depth("c") == 0
    closed = "redis://127.0.0.1:9/0"
    options = {"timeout_seconds": 0.5}
    with RedisQueue(closed, options=options) as down, RedisStore(closed, options=options) as gone:
        with pytest.raises(QueueUnavailable) as refused:
            down.depth("c")
        assert isinstance(refused.value.__cause__, redis.ConnectionError)
        for erasing in (  # the erasure's methods, from a mixin of the queue
            lambda: down.drop_person("c", "person", keep=["suppress"]),
            lambda: down.drop_erased([EntryId.parse("c", "1-0")]),
        ):
            with pytest.raises(QueueUnavailable):
                erasing()
        with pytest.raises(StoreUnavailable):
            gone.first_seen("n", "k")


def act(n: int, *keys: str) -> Action:
    return Action("customerio", "track", {"n": n}, dedup_keys=keys, rule="orders")


@pytest.mark.parametrize("kind", ["sqlite", "redis"])
def test_a_refused_enqueue_leaves_no_keys_in_another_store(
    kind: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    """Keys recorded in a store the queue's script does not share are removed when the
    script fails (the input is refused, 503 at intake), so its retry is queued, not skipped
    as duplicates; keys recorded by an earlier call stay."""
    import redis

    prefix = prefix_for(request.node.name)
    other: StateStore = (
        SqliteStore(tmp_path / "state.db")
        if kind == "sqlite"
        else RedisStore(REDIS_URL, prefix=prefix + ":store")
    )
    client = redis.Redis.from_url(REDIS_URL)
    with RedisQueue(REDIS_URL, prefix=prefix) as queue:
        try:
            assert queue.enqueue("c", [act(0, "k0")], dedup=other).queued == 1
            client.set(queue.keys.stream("c"), "not a stream")  # the script's XADD fails
            actions = [act(1, "k0"), act(2, "k1"), act(3, "k2", "k3")]
            with pytest.raises(QueueUnavailable) as caught:
                queue.enqueue("c", actions, dedup=other, progress=("p", "3"))
            assert isinstance(caught.value.__cause__, redis.ResponseError)
            client.delete(queue.keys.stream("c"))
            result = queue.enqueue("c", actions, dedup=other, progress=("p", "3"))
            assert (result.queued, result.duplicates, queue.progress("p")) == (2, 1, "3")
            assert [e.action.payload["n"] for e in queue.claim("c", 10, 60)] == [2, 3]
        finally:
            client.close()
            other.close()
