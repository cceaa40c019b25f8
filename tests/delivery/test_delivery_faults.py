"""Faults one connection's delivery must survive without stopping, against the Customer.io
contract server on loopback and a real SQLite queue: an answer that cannot be decoded, an
item the destination cannot build, a vendor slow enough to outlast a claim's lease, and a
vendor that echoes the request's credentials into its error."""

from __future__ import annotations

import asyncio
import base64
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

from mapwire import Action
from mapwire.contracts.ratelimit import RateLimiter
from mapwire.runtime.delivery import Deliverer, Settled
from mapwire.runtime.delivery_failures import MAX_BODY_IN_DEAD_LETTER
from mapwire.runtime.metrics import Metrics
from plugins.customerio.destination import CustomerIO
from plugins.customerio.requests import MAX_ITEMS_PER_BATCH
from plugins.sqlite_store.queue import SqliteQueue


def _event(person: str, name: str) -> Action:
    payload = {"identifiers": {"id": person}, "name": name, "timestamp": 1_713_484_800}
    return Action("customerio", "event", payload, order_key=f"id:{person}")


class Fixture:
    def __init__(self, tmp_path: Path, server: Any, **settings: Any) -> None:
        self.now = [1_000_000.0]
        self.clock: Callable[[], float] = lambda: self.now[0]
        self.path = tmp_path / "q.db"
        self.queue = SqliteQueue(self.path, clock=lambda: self.clock())
        self.server = server
        self.destination = CustomerIO()
        self.settings = {
            "site_id": server.site_id,
            "api_key": server.api_key,
            "base_url": server.origin,
            **settings,
        }

    def deliverer(self, client: httpx.AsyncClient, **options: Any) -> Deliverer:
        return Deliverer(
            "cio",
            self.destination,
            self.settings,
            self.queue,
            client,
            limiter=options.pop("limiter", RateLimiter(1000)),
            metrics=Metrics(),
            clock=lambda: self.clock(),
            **options,
        )

    def step(self, **options: Any) -> Settled:
        async def run() -> Settled:
            async with httpx.AsyncClient(timeout=10) as client:
                return await self.deliverer(client, **options).step()

        return asyncio.run(run())

    def names(self) -> list[str]:
        return [record.item.get("name") for record in self.server.accepted]

    def stored(self) -> bytes:
        """Every byte of the queue's files."""
        return b"".join(path.read_bytes() for path in self.path.parent.glob("q.db*"))


@pytest.fixture
def cio(tmp_path: Path, customerio_server: Any) -> Fixture:
    return Fixture(tmp_path, customerio_server)


def test_an_answer_that_cannot_be_decoded_is_a_retry_not_the_end_of_delivery(
    cio: Fixture,
) -> None:
    cio.queue.enqueue("cio", [_event("p1", "a"), _event("p2", "b")])
    cio.server.fail_next(1, 502, body=b"not gzip at all", headers={"Content-Encoding": "gzip"})
    done = cio.step()
    assert (done.retried, done.delivered) == (2, 0)
    cio.now[0] += 3600
    entries = cio.queue.claim("cio", 10, 60)
    assert {e.last_error for e in entries} == {"the answer could not be read (DecodingError)"}
    cio.queue.release([e.id for e in entries])
    assert cio.step().delivered == 2


def test_an_item_the_destination_cannot_build_is_dead_lettered_alone(
    cio: Fixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    real = cio.destination.build_requests

    def build_requests(items: Any, settings: Any) -> Any:
        if any(item.key.action.payload["name"] == "poison" for item in items):
            raise ValueError("a bug this item exposes, quoting p2")
        return real(items, settings)

    monkeypatch.setattr(cio.destination, "build_requests", build_requests)
    cio.queue.enqueue("cio", [_event("p1", "a"), _event("p2", "poison"), _event("p3", "c")])
    done = cio.step()
    assert (done.delivered, done.dead_lettered) == (2, 1)
    assert cio.names() == ["a", "c"]
    [letter] = cio.queue.dead_letters("cio")
    assert letter.reason == "the destination could not build a request for it (ValueError)"
    assert letter.action.payload["name"] == "poison"


def test_a_claim_sends_nothing_late_in_its_lease_and_gives_the_rest_back_in_order(
    tmp_path: Path, customerio_server: Any
) -> None:
    """A claim's requests go one after another; one that would start late in the lease is
    not sent (its items and the rest are given back), so every request is settled before
    another claim could take its person's entries."""
    cio = Fixture(tmp_path, customerio_server, api="v1")  # one request per action
    cio.clock = time.time  # the lease runs on real time here
    cio.queue.enqueue("cio", [_event("p1", f"e{i}") for i in range(5)])
    cio.server.set_delay(0.25)

    async def run() -> list[Settled]:
        async with httpx.AsyncClient(timeout=10) as client:
            deliverer = cio.deliverer(client, lease_seconds=1.0)
            return [await deliverer.step() for _ in range(4)]

    steps = asyncio.run(run())
    assert steps[0].requests == 2  # a third would start 0.5 s into a 1 s lease
    assert sum(s.delivered for s in steps) == 5
    assert cio.names() == [f"e{i}" for i in range(5)]


def test_a_slow_look_for_erased_entries_counts_against_the_lease(
    tmp_path: Path, customerio_server: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The look before a request (for entries erased since the claim) is a hop to the
    queue, which may wait for its lock: a request is sent only if, after it, there is time
    left in the lease to settle it."""
    cio = Fixture(tmp_path, customerio_server, api="v1")  # one request per action
    cio.clock = time.time
    cio.queue.enqueue("cio", [_event("p1", f"e{i}") for i in range(3)])
    looks = 0
    drop_erased = cio.queue.drop_erased

    def slow_first_look(ids: Any) -> Any:
        nonlocal looks
        looks += 1
        if looks == 1:  # the look before the second request, past the limiter's wait
            time.sleep(0.5)
        return drop_erased(ids)

    monkeypatch.setattr(cio.queue, "drop_erased", slow_first_look)

    async def run() -> Settled:
        async with httpx.AsyncClient(timeout=10) as client:
            limiter = RateLimiter(5, burst=1)  # 0.2 s between requests: the look is redone
            return await cio.deliverer(client, lease_seconds=1.0, limiter=limiter).step()

    first = asyncio.run(run())
    assert (first.requests, first.delivered) == (1, 1)  # 0.7 s into a 1 s lease: given back
    assert cio.queue.depth("cio") == 2


def test_a_request_slower_than_the_lease_allows_is_retried(cio: Fixture) -> None:
    cio.queue.enqueue("cio", [_event("p1", "a")])
    cio.server.set_delay(0.6)  # past 0.4 of a 1 s lease
    done = cio.step(lease_seconds=1.0)
    assert (done.retried, done.delivered) == (1, 0)
    cio.now[0] += 3600
    [entry] = cio.queue.claim("cio", 10, 60)
    assert entry.last_error == "no answer within the claim's lease"


def test_credentials_the_vendor_echoes_are_not_stored(cio: Fixture) -> None:
    token = base64.b64encode(f"{cio.server.site_id}:{cio.server.api_key}".encode()).decode()
    key = cio.server.api_key
    cio.queue.enqueue("cio", [_event("p1", "a")])
    cio.server.fail_next(1, 400, body=f"bad request; you sent Authorization: Basic {token}")
    assert cio.step().dead_lettered == 1
    # the key across the cut of the stored body: redacted before the body is cut
    cio.queue.enqueue("cio", [_event("p2", "b")])
    cio.server.fail_next(1, 400, body="x" * (MAX_BODY_IN_DEAD_LETTER - 5) + key)
    assert cio.step().dead_lettered == 1
    letters = {letter.action.payload["name"]: letter for letter in cio.queue.dead_letters("cio")}
    echoed, cut = letters["a"].response["body"], letters["b"].response["body"]
    assert echoed == "bad request; you sent Authorization: Basic [redacted]"
    assert cut == "x" * (MAX_BODY_IN_DEAD_LETTER - 5) + "[reda"
    cio.queue.close()
    stored = cio.stored()
    assert token.encode() not in stored
    assert b"xxxxx" + key[:5].encode() not in stored


def test_past_the_credentials_hold_each_try_is_dead_lettered_and_the_rest_waits(
    cio: Fixture,
) -> None:
    """Refused credentials past the hold dead-letter what was tried, but the connection
    stays paused between tries: the queue is not drained into the dead letters."""
    per_request = MAX_ITEMS_PER_BATCH  # a claim is one request's worth
    cio.queue.enqueue("cio", [_event(f"p{i}", "a") for i in range(per_request + 50)])
    cio.server.fail_next(10, 401)

    async def two_steps() -> list[Settled]:
        async with httpx.AsyncClient(timeout=10) as client:
            deliverer = cio.deliverer(client, credentials_hold_seconds=0)
            return [await deliverer.step(), await deliverer.step()]

    tried, paused = asyncio.run(two_steps())
    assert (tried.requests, tried.dead_lettered) == (1, per_request)
    assert (paused.claimed, paused.requests) == (0, 0)  # was: the next 50 at once
    assert cio.queue.depth("cio") == 50
    [reason] = {letter.reason for letter in cio.queue.dead_letters("cio", limit=1000)}
    assert reason.startswith("credentials refused for 0 minutes")
