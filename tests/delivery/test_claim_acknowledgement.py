"""A claim's deliveries are acknowledged once, in one queue transaction: in the hop that
settles its last request, or the one that pauses it, or with the rest given back late in
the lease; before the claim waits for the rate limiter; and whatever is left when it ends
otherwise (a failing write, cancelled). Nothing delivered is left for another claim to
send again; nothing not delivered is acknowledged."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any, cast

import httpx
import pytest
from delivery_helpers import mp_connection, write_config
from test_claim_size import webhooks
from test_delivery_faults import Fixture, _event

from mapwire import Queue
from mapwire.contracts.ratelimit import RateLimiter
from mapwire.runtime.config import load_config
from mapwire.runtime.delivery_acks import PendingAcks
from mapwire.runtime.process import Runtime
from plugins.sqlite_store.queue import SqliteQueue

pytestmark = pytest.mark.usefixtures("secrets")


def recorded_acks(runtime: Runtime | Fixture) -> list[list[Any]]:
    """Every ``ack`` the queue gets from now on, as the list of ids it was given (the real
    queue still acknowledges them)."""
    calls: list[list[Any]] = []
    queue: Queue = runtime.queue
    ack = queue.ack

    def recording(ids: Sequence[Any]) -> None:
        calls.append(list(ids))
        ack(ids)

    queue.ack = recording  # type: ignore[method-assign]
    return calls


def unlimited_mp(server: Any) -> dict[str, Any]:
    """An mParticle connection whose rate limit never holds a request back (its default,
    270 batches a second, spaces a claim's requests: each is then acknowledged alone)."""
    return mp_connection(server, delivery={"rate_limit": 1000})


def cio_v1(tmp_path: Path, server: Any, events: int) -> Fixture:
    """Customer.io's v1 API, one request per action: ``events`` of one person queued."""
    cio = Fixture(tmp_path, server, api="v1")
    cio.clock = time.time  # the lease runs on real time here
    cio.queue.enqueue("cio", [_event("p1", f"e{i}") for i in range(events)])
    return cio


def steps(cio: Fixture, count: int, **options: Any) -> list[Any]:
    async def run() -> list[Any]:
        async with httpx.AsyncClient(timeout=10) as client:
            deliverer = cio.deliverer(client, **options)
            return [await deliverer.step() for _ in range(count)]

    return asyncio.run(run())


def another_worker_claims(cio: Fixture) -> list[str]:
    """What another queue on the same file claims now: the names of the events."""
    other = SqliteQueue(cio.path)
    try:
        return [e.action.payload["name"] for e in other.claim("cio", 100, 60.0)]
    finally:
        other.close()


def queued_ids(runtime: Runtime) -> set[Any]:
    entries = runtime.queue.claim("mp", 10_000, 60.0)
    runtime.queue.release([e.id for e in entries])
    return {e.id for e in entries}


class Mp:
    """An mParticle connection with 320 webhooks of 40 people queued, its deliverer, and
    the acknowledgements its queue gets (``acks``, once ``record`` is called)."""

    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime
        [conn] = runtime.config.connections
        self.deliverer = runtime.deliverer(conn)
        self.acks: list[list[Any]] = []

    def record(self) -> None:
        self.acks = recorded_acks(self.runtime)

    def step(self) -> Any:
        async def one_step() -> Any:
            try:
                return await self.deliverer.step()
            finally:
                await self.runtime.aclose()

        return asyncio.run(one_step())


@pytest.fixture
def mp(tmp_path: Path, mparticle_server: Any) -> Iterator[Mp]:
    runtime = Runtime(load_config(write_config(tmp_path, [unlimited_mp(mparticle_server)])))
    try:
        runtime.pipeline.submit("customerio.reporting_webhook", webhooks(320, 40))
        yield Mp(runtime)
    finally:
        runtime.close()


def test_a_claim_of_three_requests_is_acknowledged_once(mp: Mp, mparticle_server: Any) -> None:
    before = queued_ids(mp.runtime)
    mp.record()
    done = mp.step()
    left = queued_ids(mp.runtime)
    assert (done.requests, done.delivered) == (3, 300)
    assert mparticle_server.request_count == 3
    [acked] = mp.acks  # one transaction for the three requests
    assert len(acked) == 300 and set(acked) == before - left
    assert len(left) == 20


def test_a_retry_mid_claim_acknowledges_what_went_before_it_and_nothing_after(
    mp: Mp, mparticle_server: Any
) -> None:
    mp.record()
    mparticle_server.fail_next(1, 202)  # the first request is taken, with no body
    mparticle_server.fail_next(1, 503, retry_after=1)
    done = mp.step()
    assert (done.requests, done.delivered, done.retried) == (2, 100, 100)
    [acked] = mp.acks
    assert len(acked) == 100
    assert mp.runtime.queue.depth("mp") == 220  # retried, given back untried, not claimed


def test_a_claim_cancelled_mid_way_acknowledges_what_it_delivered(
    mp: Mp, mparticle_server: Any
) -> None:
    mp.record()
    taken: list[Any] = []  # what the vendor had taken when the claim was cancelled

    async def cancelled_in_the_second_request() -> None:
        mparticle_server.hold_answers()
        step = asyncio.ensure_future(mp.deliverer.step())
        try:
            while mparticle_server.arrived < 1:
                await asyncio.sleep(0.005)
            mparticle_server.answer_held()  # the first request is answered ...
            mparticle_server.hold_answers()  # ... the second waits
            while mparticle_server.arrived < 2:
                await asyncio.sleep(0.005)
            step.cancel()
            with pytest.raises(asyncio.CancelledError):
                await step
            taken.extend(mparticle_server.accepted_items("POST /v2/bulkevents"))
        finally:
            mparticle_server.answer_held()
            await mp.runtime.aclose()

    asyncio.run(cancelled_in_the_second_request())
    [acked] = mp.acks
    assert len(acked) == 100
    assert mp.runtime.queue.depth("mp") == 220  # the rest stays, leased until it runs out
    assert len(taken) == 100


def test_given_back_late_in_the_lease_what_went_before_is_acknowledged_with_it(
    tmp_path: Path, customerio_server: Any
) -> None:
    cio = cio_v1(tmp_path, customerio_server, 5)
    acks = recorded_acks(cio)
    customerio_server.set_delay(0.25)
    [first] = steps(cio, 1, lease_seconds=1.0)  # a third request would start 0.5 s in
    assert (first.requests, first.delivered) == (2, 2)
    assert [len(a) for a in acks] == [2]
    assert another_worker_claims(cio) == ["e2", "e3", "e4"]


def test_a_wait_for_the_rate_limiter_comes_after_the_acknowledgement(
    tmp_path: Path, customerio_server: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A wait may outlast the lease: what the claim delivered is acknowledged before it."""
    cio = cio_v1(tmp_path, customerio_server, 3)
    acks = recorded_acks(cio)
    sent_after: list[int] = []  # acknowledgements made when each request arrived
    record = customerio_server.handle

    def handle(request: Any) -> Any:
        sent_after.append(len(acks))
        return record(request)

    monkeypatch.setattr(customerio_server, "handle", handle)
    [first] = steps(cio, 1, limiter=RateLimiter(5, burst=1))  # 0.2 s between requests
    assert first.delivered == 3
    assert [len(a) for a in acks] == [1, 1, 1]
    assert sent_after == [0, 1, 2]


def test_a_failing_last_write_leaves_the_claims_deliveries_acknowledged(
    tmp_path: Path, customerio_server: Any
) -> None:
    cio = cio_v1(tmp_path, customerio_server, 3)
    acks = recorded_acks(cio)

    def release(ids: Sequence[Any], not_before: float = 0.0) -> int:
        raise RuntimeError("the queue is gone")

    cio.queue.release = release  # type: ignore[method-assign]
    customerio_server.fail_next(2, 200, body={})  # taken
    customerio_server.fail_next(1, 401)  # the key refused: the third is given back
    with pytest.raises(RuntimeError, match="the queue is gone"):
        steps(cio, 1)
    assert acks and all(len(a) == 2 for a in acks)  # in the failing hop, before the release
    assert cio.queue.depth("cio") == 1  # the third, its give-back failed: leased, then again


def test_a_claim_cancelled_while_it_waits_for_the_rate_limiter_leaves_no_wait_behind() -> None:
    """The limiter's wait runs beside the acknowledgement; cancelled, it goes too (no
    task left to take a token for a request that will not be sent)."""
    acked: list[list[Any]] = []

    class Recorded:
        def ack(self, ids: Sequence[Any]) -> None:
            acked.append(list(ids))

    async def run() -> list[asyncio.Task[Any]]:
        limiter = RateLimiter(5, burst=1)
        await limiter.acquire()  # the next waits about 0.2 s
        pending = PendingAcks(cast(Queue, Recorded()))
        pending.ids.append(1)
        waiting = asyncio.ensure_future(pending.acquire(limiter))
        await asyncio.sleep(0.1)  # acknowledged (after 0.05 s), still waiting
        waiting.cancel()
        with pytest.raises(asyncio.CancelledError):
            await waiting
        return [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]

    assert asyncio.run(run()) == []
    assert acked == [[1]]


def test_a_free_token_is_taken_without_a_task_and_a_taken_one_is_not() -> None:
    """With ids waiting, a limiter that can answer at once (``try_acquire``) is asked
    that first: no waiting ``acquire`` (and no task racing it) for a token free to take."""

    class AskedFirst(RateLimiter):
        async def acquire(self) -> None:
            raise AssertionError("a free token was waited for")

    limiter = RateLimiter(5, burst=1)
    assert limiter.try_acquire() is True  # the bucket's one token
    assert limiter.try_acquire() is False  # none left: nothing taken, no wait
    pending = PendingAcks(cast(Queue, object()))
    pending.ids.append(1)
    asyncio.run(pending.acquire(AskedFirst(1000)))
    assert pending.ids == [1]  # still waiting for the claim's last request
