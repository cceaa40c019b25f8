"""A Customer.io merge waits after its person's earlier actions (``merge_delay_seconds``):
Customer.io merges into a primary person that must already exist, and applies the
identify that creates it in the background, so a merge sent in the same batch may find
no primary. Against the Customer.io stand-in on loopback, through the real queue."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import sqlite3
import time
from pathlib import Path
from typing import Any

import pytest
from delivery_helpers import cio_connection, write_config

from mapwire import Action, ConfigError
from mapwire.plugins.customerio.settings import read_settings
from mapwire.runtime.config import load_config
from mapwire.runtime.delivery import SEND_WITHIN_LEASE
from mapwire.runtime.delivery_holds import HOLD_REASON
from mapwire.runtime.intake_check import held_back
from mapwire.runtime.process import Runtime

pytestmark = pytest.mark.usefixtures("secrets")

DELAY = 0.6


def _actions() -> list[Action]:
    return [
        Action("customerio", "identify", {"identifiers": {"id": "new-1"}, "attributes": {"a": 1}}),
        Action("customerio", "merge", {"primary": {"id": "new-1"}, "secondary": {"id": "old-1"}}),
        Action("customerio", "event", {"identifiers": {"id": "new-1"}, "name": "after merge"}),
        Action("customerio", "event", {"identifiers": {"id": "other"}, "name": "someone else"}),
    ]


LEASE = 2.0
AFTER_SENT = 2 * SEND_WITHIN_LEASE * LEASE + DELAY
"""How long a merge waits after a claim that sent an earlier action of its person: from as
late as the claim's requests may go (the hold is written before they go)."""


def _runtime(tmp_path: Path, server: Any, delay: float) -> Runtime:
    conn = cio_connection(server)
    conn["destination"]["merge_delay_seconds"] = delay
    timing = {"lease_seconds": LEASE, "timeout_seconds": LEASE / 2}
    return Runtime(load_config(write_config(tmp_path, [conn], delivery=timing)))


def _queue(runtime: Runtime, actions: list[Action], *, wire: bool) -> None:
    """As intake queues them: their person's key, and (``wire``) the item prepared ahead."""
    [conn] = runtime.config.connections
    cio = runtime.registry.destinations()["customerio"]
    kept, held = held_back(conn, {}, actions, runtime.registry.destinations())
    assert kept == actions and not held
    queued = [
        dataclasses.replace(a, order_key=cio.ordering_key(a.action, a.payload), wire=a.wire)
        if wire
        else dataclasses.replace(a, order_key=cio.ordering_key(a.action, a.payload), wire=None)
        for a in kept
    ]
    runtime.queue.enqueue(conn.name, queued)


def _sent(server: Any) -> list[tuple[str, str]]:
    """(action, name or primary) of what Customer.io accepted, in order."""
    return [
        (i["action"], i.get("name") or i.get("primary", i.get("identifiers", {})).get("id"))
        for i in server.accepted_items("POST /api/v2/batch")
    ]


async def _steps(runtime: Runtime, pause: float) -> list[int]:
    """Delivered per step: two at once, then one after ``pause``."""
    [conn] = runtime.config.connections
    deliverer = runtime.deliverer(conn)
    try:
        first = await deliverer.step()
        second = await deliverer.step()
        await asyncio.sleep(pause)
        third = await deliverer.step()
        return [first.delivered, second.delivered, third.delivered]
    finally:
        await runtime.aclose()


@pytest.mark.parametrize("wire", [True, False], ids=["prepared at intake", "at delivery"])
def test_a_merge_waits_after_the_identify_that_creates_its_primary(
    tmp_path: Path, customerio_server: Any, wire: bool
) -> None:
    runtime = _runtime(tmp_path, customerio_server, DELAY)
    try:
        _queue(runtime, _actions(), wire=wire)
        started = time.monotonic()
        delivered = asyncio.run(_steps(runtime, AFTER_SENT + 0.2))
        assert delivered == [2, 0, 2], "the merge and its person's next action wait"
        assert time.monotonic() - started >= DELAY
        assert _sent(customerio_server) == [
            ("identify", "new-1"),
            ("event", "someone else"),
            ("merge", "new-1"),
            ("event", "after merge"),
        ]
        assert customerio_server.request_count == 2
        assert runtime.queue.depth() == 0
    finally:
        runtime.close()


def test_a_merge_claimed_after_its_identify_still_waits_after_it(
    tmp_path: Path, customerio_server: Any
) -> None:
    """A backlog older than the delay, the identify last in one claim and the merge first
    in the next: the merge still goes the delay after the identify."""
    runtime = _runtime(tmp_path, customerio_server, DELAY)
    claim = runtime.deliverer(runtime.config.connections[0]).claim_limit
    others = [
        Action("customerio", "event", {"identifiers": {"id": f"o{i}"}, "name": "e"})
        for i in range(claim - 1)
    ]
    try:
        _queue(runtime, [*others, *_actions()[:2]], wire=True)
        time.sleep(DELAY + 0.1)  # every action waited longer than the delay
        [conn] = runtime.config.connections

        async def steps() -> list[tuple[int, float]]:
            deliverer = runtime.deliverer(conn)
            out = []
            try:
                for pause in (0.0, 0.0, DELAY + 0.2):
                    await asyncio.sleep(pause)
                    done = await deliverer.step()
                    out.append((done.delivered, time.monotonic()))
            finally:
                await runtime.aclose()
            return out

        (first, at), (second, _), (third, later) = asyncio.run(steps())
        assert (first, second, third) == (claim, 0, 1)
        assert later - at >= DELAY
        assert _sent(customerio_server)[-2:] == [("identify", "new-1"), ("merge", "new-1")]
    finally:
        runtime.close()


def test_a_held_merge_counts_the_hold_as_its_first_attempt(
    tmp_path: Path, customerio_server: Any
) -> None:
    """So a later claim knows it waited (and sends it); the reason says why."""
    runtime = _runtime(tmp_path, customerio_server, DELAY)
    try:
        _queue(runtime, _actions()[1:2], wire=True)
        [conn] = runtime.config.connections

        async def one_step() -> Any:
            try:
                return await runtime.deliverer(conn).step()
            finally:
                await runtime.aclose()

        done = asyncio.run(one_step())
        assert (done.delivered, done.held, done.retried) == (0, 1, 0), "held, not retried"
        assert 'mapwire_held_actions_total{connection="cio"} 1.0' in (
            runtime.metrics.render().decode()
        )
        assert runtime.queue.claim(conn.name, 10, 30) == [], "held until the delay is over"
        time.sleep(DELAY + 0.1)
        [entry] = runtime.queue.claim(conn.name, 10, 30)
        assert (entry.action.action, entry.attempts) == ("merge", 1)
        assert entry.last_error == HOLD_REASON
        assert customerio_server.request_count == 0
    finally:
        runtime.close()


def test_a_merge_waits_again_after_its_identify_is_retried(
    tmp_path: Path, customerio_server: Any
) -> None:
    """The identify sent with the first hold fails (503) and is retried: claimed together
    again, the merge waits again instead of going in the identify's request."""
    runtime = _runtime(tmp_path, customerio_server, DELAY)
    try:
        _queue(runtime, _actions()[:2], wire=True)
        customerio_server.fail_next(1, 503)
        [conn] = runtime.config.connections

        async def steps() -> list[int]:
            deliverer = runtime.deliverer(conn)
            try:
                first = await deliverer.step()  # the identify fails, the merge is held
                await asyncio.sleep(max(2.2, AFTER_SENT + 0.2))  # its backoff, the hold
                second = await deliverer.step()  # the identify again; the merge waits
                await asyncio.sleep(AFTER_SENT + 0.2)
                third = await deliverer.step()
                return [first.retried, second.delivered, third.delivered]
            finally:
                await runtime.aclose()

        assert asyncio.run(steps()) == [1, 1, 1]
        assert customerio_server.request_count == 3
        assert _sent(customerio_server) == [("identify", "new-1"), ("merge", "new-1")]
    finally:
        runtime.close()


def test_the_delay_counts_from_when_the_identify_went_not_from_the_claim(
    tmp_path: Path, customerio_server: Any
) -> None:
    """The identify waits half a second for the rate limit (shared with the account's other
    connections) before it goes: the merge still goes the delay after it."""
    runtime = _runtime(tmp_path, customerio_server, DELAY)
    try:
        _queue(runtime, _actions()[:2], wire=True)
        [conn] = runtime.config.connections
        sent: list[float] = []

        async def steps() -> None:
            deliverer = runtime.deliverer(conn)
            acquire, send = deliverer.limiter.acquire, deliverer.client.send

            async def busy_limit() -> None:
                if not sent:
                    await asyncio.sleep(0.5)  # within the part of the lease requests may start in
                await acquire()

            async def timed_send(request: Any, **kwargs: Any) -> Any:
                sent.append(time.monotonic())
                return await send(request, **kwargs)

            deliverer.limiter.acquire = busy_limit  # type: ignore[method-assign]
            deliverer.client.send = timed_send  # type: ignore[method-assign]
            try:
                while len(sent) < 2:
                    await deliverer.step()
                    await asyncio.sleep(0.05)
            finally:
                await runtime.aclose()

        asyncio.run(asyncio.wait_for(steps(), 10))
        assert sent[1] - sent[0] >= DELAY
        assert _sent(customerio_server) == [("identify", "new-1"), ("merge", "new-1")]
    finally:
        runtime.close()


def test_a_step_cancelled_while_sending_still_holds_the_merge(
    tmp_path: Path, customerio_server: Any
) -> None:
    """The hold is written before the claim's requests go, from as late as they may go:
    a step cancelled (shutdown) while its identify is in flight leaves the merge held."""
    runtime = _runtime(tmp_path, customerio_server, DELAY)
    try:
        _queue(runtime, _actions()[:2], wire=True)
        [conn] = runtime.config.connections

        async def cancelled_step() -> float:
            deliverer = runtime.deliverer(conn)

            async def in_flight(request: Any, **kwargs: Any) -> Any:
                await asyncio.sleep(30)

            deliverer.client.send = in_flight  # type: ignore[method-assign]
            started = time.time()
            step = asyncio.create_task(deliverer.step())
            await asyncio.sleep(0.3)
            step.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await step
            await runtime.aclose()
            return started + 2 * SEND_WITHIN_LEASE * deliverer.lease_seconds + DELAY

        held_until = asyncio.run(cancelled_step())
        with sqlite3.connect(tmp_path / "state.db") as db:
            [(attempts, not_before, why)] = db.execute(
                "SELECT attempts, not_before, last_error FROM queue WHERE action LIKE '%merge%'"
            ).fetchall()
        assert (attempts, why) == (1, HOLD_REASON)
        assert not_before >= held_until - 1
    finally:
        runtime.close()


def test_with_no_delay_a_merge_goes_with_the_identify(
    tmp_path: Path, customerio_server: Any
) -> None:
    runtime = _runtime(tmp_path, customerio_server, 0)
    try:
        _queue(runtime, _actions(), wire=True)
        assert asyncio.run(_steps(runtime, 0)) == [4, 0, 0]
        assert customerio_server.request_count == 1
    finally:
        runtime.close()


@pytest.mark.parametrize("value", [-1, 3601, "10", True, None])
def test_the_delay_is_a_number_of_seconds(value: Any) -> None:
    with pytest.raises(ConfigError, match="merge_delay_seconds"):
        read_settings({"site_id": "s", "api_key": "k", "merge_delay_seconds": value})
