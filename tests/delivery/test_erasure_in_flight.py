"""An erasure that arrives while a worker has the person's update in flight: the update,
answered with a transient failure, is not retried after the erasure (in another
connection to the same Customer.io workspace it would re-create the erased person).
Against the Customer.io stand-in on loopback, through the real queue."""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path
from typing import Any

import pytest
from delivery_helpers import cio_connection, write_config

from mapwire.runtime.config import load_config
from mapwire.runtime.delivery import ERASED_LOOK_AFTER, Settled
from mapwire.runtime.process import Runtime

pytestmark = pytest.mark.usefixtures("secrets")

EVENTS = "mparticle.events_api_batch"

#: A person's attributes become an identify; an ``erase`` attribute a suppress instead.
MAPPING = (Path(__file__).parents[1] / "flow_files" / "erase_or_update.yaml").read_text()


def _batch(person: str, **attributes: Any) -> dict[str, Any]:
    return {
        "environment": "production",
        "user_identities": {"customer_id": person},
        "user_attributes": attributes,
    }


def _runtime(tmp_path: Path, server: Any, **destination: Any) -> Runtime:
    """``updates`` and ``people``: two connections to one Customer.io workspace."""
    (tmp_path / "erase.yaml").write_text(MAPPING)
    flow = str(tmp_path / "erase.yaml")
    flows = [
        cio_connection(server, name, flow=flow, settings=destination)
        for name in ("updates", "people")
    ]
    return Runtime(load_config(write_config(tmp_path, flows)))


def _sent(server: Any) -> list[tuple[str, str]]:
    return [
        (i["action"], i["identifiers"]["id"]) for i in server.accepted_items("POST /api/v2/batch")
    ]


async def _arrived(server: Any, within: float = 30.0) -> None:
    """Wait until the stand-in has a request in hand (a bound, so a regression fails the
    test rather than hanging the run)."""
    deadline = asyncio.get_running_loop().time() + within
    while server.arrived == 0:
        assert asyncio.get_running_loop().time() < deadline, "no request reached the vendor"
        await asyncio.sleep(0.01)


async def _erase_p1_while_a_request_goes(runtime: Runtime, server: Any) -> Settled:
    """One step of ``updates`` whose first request is held in flight while p1's erasure
    is queued through ``people``, and then past ``ERASED_LOOK_AFTER`` (a request sent
    sooner after the claim goes unlooked at); what the step settled."""
    updates = runtime.config.connections[0]
    server.hold_answers()
    sending = asyncio.ensure_future(runtime.deliverer(updates).step())
    await _arrived(server)
    await asyncio.to_thread(
        runtime.pipeline.submit, EVENTS, [_batch("p1", erase=True)], only="people"
    )
    await asyncio.sleep(2 * ERASED_LOOK_AFTER)
    server.answer_held()
    return await sending


def test_an_update_in_flight_when_its_person_is_erased_is_not_retried(
    tmp_path: Path, customerio_server: Any
) -> None:
    runtime = _runtime(tmp_path, customerio_server)
    updates, people = runtime.config.connections
    runtime.pipeline.submit(
        EVENTS, [_batch("p1", plan="a"), _batch("p2", plan="b")], only="updates"
    )

    async def run() -> tuple[Settled, Settled, Settled]:
        customerio_server.hold_answers()  # the update is in flight until erased, then fails
        customerio_server.fail_next(1, 503)
        sending = asyncio.ensure_future(runtime.deliverer(updates).step())
        await _arrived(customerio_server)  # the erasure comes while it is in flight
        await asyncio.to_thread(
            runtime.pipeline.submit, EVENTS, [_batch("p1", erase=True)], only="people"
        )
        customerio_server.answer_held()
        failed = await sending
        erased = await runtime.deliverer(people).step()
        await asyncio.sleep(2.5)  # past any backoff (max_backoff_seconds: 2)
        again = await runtime.deliverer(updates).step()
        await runtime.aclose()
        return failed, erased, again

    try:
        failed, erased, again = asyncio.run(run())
        assert _sent(customerio_server) == [("suppress", "p1"), ("identify", "p2")]
        assert runtime.queue.depth() == 0 and runtime.queue.dead_letters() == []
        assert (failed.retried, failed.erased) == (1, 1), "p1's update deleted, p2's retried"
        assert erased.delivered == 1
        assert (again.delivered, again.erased) == (1, 0), "p2's update only"
        metrics = runtime.metrics.render().decode()
        assert 'mapwire_erased_claimed_actions_total{connection="updates"} 1.0' in metrics
    finally:
        runtime.close()


def test_a_redelivered_erasure_does_not_delete_the_first_one_in_flight(
    tmp_path: Path, customerio_server: Any
) -> None:
    """The erase rule's dedup key (the request's id) makes the redelivered erasure a
    duplicate: the first one, in flight and failing, must stay to be retried."""
    (tmp_path / "erase.yaml").write_text(
        MAPPING + '    dedup_key: "doc.user_attributes.request_id"\n'
    )
    flows = [cio_connection(customerio_server, "people", flow=str(tmp_path / "erase.yaml"))]
    runtime = Runtime(load_config(write_config(tmp_path, flows)))
    (people,) = runtime.config.connections
    erase = [_batch("p1", erase=True, request_id="dsr-1")]
    runtime.pipeline.submit(EVENTS, erase, only="people")

    async def run() -> tuple[Settled, Settled]:
        customerio_server.hold_answers()
        customerio_server.fail_next(1, 503)
        sending = asyncio.ensure_future(runtime.deliverer(people).step())
        await _arrived(customerio_server)
        await asyncio.to_thread(runtime.pipeline.submit, EVENTS, erase, only="people")
        customerio_server.answer_held()
        first = await sending
        await asyncio.sleep(2.5)  # past any backoff (max_backoff_seconds: 2)
        again = await runtime.deliverer(people).step()
        await runtime.aclose()
        return first, again

    try:
        first, again = asyncio.run(run())
        assert (first.retried, first.erased) == (1, 0), "retried, not deleted"
        assert again.delivered == 1
        assert _sent(customerio_server) == [("suppress", "p1")]
        assert runtime.queue.depth() == 0
    finally:
        runtime.close()


def test_an_erased_update_that_fails_for_good_is_not_counted_as_dead_lettered(
    tmp_path: Path, customerio_server: Any
) -> None:
    runtime = _runtime(tmp_path, customerio_server)
    runtime.pipeline.submit(EVENTS, [_batch("p1", plan="a")], only="updates")

    async def run() -> Settled:
        customerio_server.fail_next(1, 400)  # for good: a dead letter, but for the erasure
        done = await _erase_p1_while_a_request_goes(runtime, customerio_server)
        await runtime.aclose()
        return done

    try:
        done = asyncio.run(run())
        assert runtime.queue.dead_letters() == []
        assert (done.dead_lettered, done.erased) == (0, 1)
        metrics = runtime.metrics.render().decode()
        assert 'mapwire_dead_lettered_actions_total{connection="updates"} 1.0' not in metrics
        assert 'mapwire_erased_claimed_actions_total{connection="updates"} 1.0' in metrics
    finally:
        runtime.close()


def test_a_claims_update_not_yet_sent_when_its_person_is_erased_never_goes(
    tmp_path: Path, customerio_server: Any
) -> None:
    """With ``api: v1`` each item is a request of its own, sent one after another: p1's
    update, claimed with p2's, is not sent once p1 is erased while p2's request goes."""
    runtime = _runtime(tmp_path, customerio_server, api="v1")
    people = runtime.config.connections[1]
    runtime.pipeline.submit(
        EVENTS, [_batch("p2", plan="b"), _batch("p1", plan="a")], only="updates"
    )

    async def run() -> tuple[Settled, Settled]:
        done = await _erase_p1_while_a_request_goes(runtime, customerio_server)  # p2's
        erased = await runtime.deliverer(people).step()
        await runtime.aclose()
        return done, erased

    try:
        done, erased = asyncio.run(run())
        sent = [(r.method, r.path.rsplit("/", 1)[-1]) for r in customerio_server.requests]
        assert ("PUT", "p1") not in sent, "p1's update never goes"
        assert sent[0] == ("PUT", "p2")
        assert (done.delivered, done.erased, done.requests) == (1, 1, 1)
        assert erased.delivered == 1
        assert runtime.queue.depth() == 0 and runtime.queue.dead_letters() == []
    finally:
        runtime.close()


@pytest.mark.parametrize(
    "order",
    [
        pytest.param(["p2", "p1", "p3", "p1", "p3"], id="apart"),
        pytest.param(["p2", "p1", "p1", "p3", "p3"], id="one-after-another"),
    ],
)
def test_only_the_erased_persons_updates_leave_the_claims_later_requests(
    tmp_path: Path, customerio_server: Any, order: list[str]
) -> None:
    """p1 erased while p2's request goes: p1's two updates are taken out, p3's two go."""
    runtime = _runtime(tmp_path, customerio_server, api="v1")
    batches = [_batch(p, n=n) for n, p in enumerate(order)]
    runtime.pipeline.submit(EVENTS, batches, only="updates")

    async def run() -> Settled:
        done = await _erase_p1_while_a_request_goes(runtime, customerio_server)  # p2's
        await runtime.aclose()
        return done

    try:
        done = asyncio.run(run())
        sent = [r.path.rsplit("/", 1)[-1] for r in customerio_server.requests]
        assert sent == ["p2", "p3", "p3"]
        assert (done.delivered, done.erased, done.requests) == (3, 2, 3)
        assert runtime.queue.depth("updates") == 0
    finally:
        runtime.close()


def test_a_request_of_several_people_goes_without_the_erased_ones(
    tmp_path: Path, customerio_server: Any
) -> None:
    """A v2 batch carrying p1's and p3's updates, not yet sent when p1 is erased, is built
    again with p3's alone (``Deliverer._without_erased``, asked before a request goes)."""
    runtime = _runtime(tmp_path, customerio_server)
    updates, _ = runtime.config.connections
    order = ["p1", "p3", "p1", "p3"]
    runtime.pipeline.submit(EVENTS, [_batch(p, n=n) for n, p in enumerate(order)], only="updates")
    deliverer = runtime.deliverer(updates)
    entries = runtime.queue.claim("updates", 10, 30)
    destination, settings = deliverer.destination, deliverer.settings
    items = [destination.restore(e.wire, settings, key=e) for e in entries if e.wire]
    (request,) = destination.build_requests(items, settings)
    runtime.queue.drop_person("updates", entries[0].order_key)

    async def run() -> tuple[list[Any], Settled]:
        done = Settled()
        rebuilt = await deliverer._without_erased(request, done)
        await runtime.aclose()
        return rebuilt, done

    try:
        rebuilt, done = asyncio.run(run())
        assert [[i.key.id for i in r.items] for r in rebuilt] == [[entries[1].id, entries[3].id]]
        body = json.loads(rebuilt[0].request.content)
        assert [b["identifiers"]["id"] for b in body["batch"]] == ["p3", "p3"]
        assert done.erased == 2
        assert runtime.queue.depth("updates") == 2, "p3's two, still claimed"
    finally:
        runtime.close()


class _HeldLimiter:
    """A rate limit that holds the first request until the test lets it go."""

    def __init__(self) -> None:
        self.waiting = asyncio.Event()
        self.go = asyncio.Event()

    async def acquire(self) -> None:
        self.waiting.set()
        await self.go.wait()


def test_a_claims_first_request_held_by_the_rate_limit_goes_without_the_erased(
    tmp_path: Path, customerio_server: Any
) -> None:
    """The rate limit holds a claim's only request while p1 is erased: it goes with p3's
    update alone."""
    runtime = _runtime(tmp_path, customerio_server)
    updates = runtime.config.connections[0]
    runtime.pipeline.submit(
        EVENTS, [_batch("p1", plan="a"), _batch("p3", plan="c")], only="updates"
    )

    async def run() -> Settled:
        deliverer = runtime.deliverer(updates)
        limiter = _HeldLimiter()
        deliverer.limiter = limiter  # type: ignore[assignment]
        sending = asyncio.ensure_future(deliverer.step())
        await asyncio.wait_for(limiter.waiting.wait(), 30)
        await asyncio.to_thread(
            runtime.pipeline.submit, EVENTS, [_batch("p1", erase=True)], only="people"
        )
        await asyncio.sleep(0.1)  # held past a moment after the claim
        limiter.go.set()
        done = await asyncio.wait_for(sending, 30)
        await runtime.aclose()
        return done

    try:
        done = asyncio.run(run())
        assert _sent(customerio_server) == [("identify", "p3")]
        assert (done.delivered, done.erased) == (1, 1)
    finally:
        runtime.close()


class _FailingLook:
    """The queue, but its look for erased entries fails (a locked database, a lost Redis
    connection): ``drop_erased`` raises."""

    def __init__(self, queue: Any) -> None:
        self._queue = queue

    def __getattr__(self, name: str) -> Any:
        return getattr(self._queue, name)

    def drop_erased(self, ids: Any) -> list[Any]:
        raise RuntimeError("the look failed")


def test_a_failed_look_ahead_keeps_the_settled_requests_counts(
    tmp_path: Path, customerio_server: Any
) -> None:
    """A request's settling hop also looks at the next request; when that look fails, the
    request it settled is still counted (it was acknowledged), and the failure is raised
    where the look is made again, before the next request goes."""
    runtime = _runtime(tmp_path, customerio_server, api="v1")
    updates = runtime.config.connections[0]
    runtime.pipeline.submit(
        EVENTS, [_batch("p2", plan="b"), _batch("p1", plan="a")], only="updates"
    )

    async def run() -> None:
        deliverer = runtime.deliverer(updates)
        deliverer.queue = _FailingLook(runtime.queue)
        # The first request goes unlooked at (the claim just looked), whatever the machine's
        # pace; once it has reached the vendor the next one is due for a look.
        start = time.time()
        deliverer.clock = lambda: start + (1.0 if customerio_server.arrived else 0.0)
        with pytest.raises(RuntimeError, match="the look failed"):
            await deliverer.step()
        await runtime.aclose()

    try:
        asyncio.run(run())
        metrics = runtime.metrics.render().decode()
        assert 'mapwire_delivered_actions_total{connection="updates"} 1.0' in metrics
        assert runtime.queue.depth("updates") == 1  # p2 acknowledged, p1 still queued
    finally:
        runtime.close()


def test_a_retry_pause_does_not_look_ahead(tmp_path: Path, customerio_server: Any) -> None:
    """A request answered 503 gives the rest of the claim back: the next request is not
    sent, so it is not looked at, and a look that would fail does not stop the pause."""
    runtime = _runtime(tmp_path, customerio_server, api="v1")
    updates = runtime.config.connections[0]
    runtime.pipeline.submit(
        EVENTS, [_batch("p2", plan="b"), _batch("p1", plan="a")], only="updates"
    )

    async def run() -> tuple[Settled, float]:
        deliverer = runtime.deliverer(updates)
        deliverer.queue = _FailingLook(runtime.queue)
        start = time.time()  # the first request goes unlooked at, whatever the pace
        deliverer.clock = lambda: start
        customerio_server.fail_next(1, 503)
        done = await deliverer.step()
        await runtime.aclose()
        return done, deliverer.paused_until

    try:
        done, paused_until = asyncio.run(run())
        assert done.retried == 1 and paused_until > 0
        assert runtime.queue.depth("updates") == 2  # both still queued, none leased away
    finally:
        runtime.close()


class _CountedLooks(_FailingLook):
    """The queue, counting its looks for erased entries."""

    def __init__(self, queue: Any) -> None:
        super().__init__(queue)
        self.looks = 0

    def drop_erased(self, ids: Any) -> list[Any]:
        self.looks += 1
        return list(self._queue.drop_erased(ids))


@pytest.mark.parametrize("tick", [0.0, 2 * ERASED_LOOK_AFTER])
def test_a_claims_requests_are_looked_at_once_due(
    tmp_path: Path, customerio_server: Any, tick: float
) -> None:
    """A claim of three requests (``api: v1``: one an action): sent within
    ``ERASED_LOOK_AFTER`` of the claim, which looked at them all, the later two are not
    looked at again and no hop goes to the queue between them (two in all: the claim, and
    the last request's settling with the acknowledgement); on a clock that moves
    ``tick`` each reading every request is due, the first too, and is looked at."""
    runtime = _runtime(tmp_path, customerio_server, api="v1")
    updates = runtime.config.connections[0]
    batches = [_batch(p, plan=p) for p in ("p1", "p2", "p3")]
    runtime.pipeline.submit(EVENTS, batches, only="updates")

    async def run() -> tuple[Settled, int, int]:
        deliverer = runtime.deliverer(updates)
        counted = _CountedLooks(runtime.queue)
        deliverer.queue = counted
        readings = iter(range(1_000))
        start = time.time()
        deliverer.clock = lambda: start + tick * next(readings)
        hops = 0
        hop = deliverer.hop

        def counting(fn: Any, *args: Any) -> Any:
            nonlocal hops
            hops += 1
            return hop(fn, *args)

        deliverer.hop = counting  # type: ignore[method-assign]
        done = await deliverer.step()
        await runtime.aclose()
        return done, counted.looks, hops

    try:
        done, looks, hops = asyncio.run(run())
        assert (done.delivered, done.requests) == (3, 3)
        assert _sent(customerio_server) == [] and len(customerio_server.requests) == 3
        assert runtime.queue.depth("updates") == 0
        if tick:  # each due before it goes (and the next in each settling hop, too)
            assert looks >= 3
        else:
            assert (looks, hops) == (0, 2)
    finally:
        runtime.close()
