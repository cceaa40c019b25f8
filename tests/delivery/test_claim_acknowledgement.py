"""A claim's deliveries are acknowledged once, in one queue transaction: with its last
request's settling, or, when the claim ends otherwise (a retry pauses it, it is
cancelled), as it ends. Nothing delivered is left to be sent again; nothing not
delivered is acknowledged."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest
from delivery_helpers import mp_connection, write_config
from test_claim_size import webhooks

from mapwire.runtime.config import load_config
from mapwire.runtime.process import Runtime

pytestmark = pytest.mark.usefixtures("secrets")


def recorded_acks(runtime: Runtime) -> list[list[Any]]:
    """Every ``ack`` the queue gets from now on, as the list of ids it was given (the real
    queue still acknowledges them)."""
    calls: list[list[Any]] = []
    ack = runtime.queue.ack

    def recording(ids: Sequence[Any]) -> None:
        calls.append(list(ids))
        ack(ids)

    runtime.queue.ack = recording  # type: ignore[method-assign]
    return calls


def queued_ids(runtime: Runtime) -> set[Any]:
    entries = runtime.queue.claim("mp", 10_000, 60.0)
    runtime.queue.release([e.id for e in entries])
    return {e.id for e in entries}


def test_a_claim_of_three_requests_is_acknowledged_once(
    tmp_path: Path, mparticle_server: Any
) -> None:
    runtime = Runtime(load_config(write_config(tmp_path, [mp_connection(mparticle_server)])))
    try:
        runtime.pipeline.submit("customerio.reporting_webhook", webhooks(320, 40))
        before = queued_ids(runtime)
        acks = recorded_acks(runtime)
        [conn] = runtime.config.connections
        deliverer = runtime.deliverer(conn)

        async def one_step() -> Any:
            try:
                return await deliverer.step()
            finally:
                await runtime.aclose()

        done = asyncio.run(one_step())
        left = queued_ids(runtime)
    finally:
        runtime.close()
    assert (done.requests, done.delivered) == (3, 300)
    assert mparticle_server.request_count == 3
    [acked] = acks  # one transaction for the three requests
    assert len(acked) == 300 and set(acked) == before - left
    assert len(left) == 20


def test_a_retry_mid_claim_acknowledges_what_went_before_it_and_nothing_after(
    tmp_path: Path, mparticle_server: Any
) -> None:
    runtime = Runtime(load_config(write_config(tmp_path, [mp_connection(mparticle_server)])))
    try:
        runtime.pipeline.submit("customerio.reporting_webhook", webhooks(320, 40))
        acks = recorded_acks(runtime)
        [conn] = runtime.config.connections
        deliverer = runtime.deliverer(conn)
        mparticle_server.fail_next(1, 202)  # the first request is taken, with no body
        mparticle_server.fail_next(1, 503, retry_after=1)

        async def one_step() -> Any:
            try:
                return await deliverer.step()
            finally:
                await runtime.aclose()

        done = asyncio.run(one_step())
        depth = runtime.queue.depth("mp")
    finally:
        runtime.close()
    assert (done.requests, done.delivered, done.retried) == (2, 100, 100)
    [acked] = acks
    assert len(acked) == 100
    assert depth == 220  # the retried 100, the 100 given back untried, the 20 not claimed


def test_a_claim_cancelled_mid_way_acknowledges_what_it_delivered(
    tmp_path: Path, mparticle_server: Any
) -> None:
    runtime = Runtime(load_config(write_config(tmp_path, [mp_connection(mparticle_server)])))
    try:
        runtime.pipeline.submit("customerio.reporting_webhook", webhooks(320, 40))
        acks = recorded_acks(runtime)
        [conn] = runtime.config.connections
        deliverer = runtime.deliverer(conn)
        taken: list[Any] = []  # what the vendor had taken when the claim was cancelled

        async def cancelled_in_the_second_request() -> None:
            mparticle_server.hold_answers()
            step = asyncio.ensure_future(deliverer.step())
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
                await runtime.aclose()

        asyncio.run(cancelled_in_the_second_request())
        depth = runtime.queue.depth("mp")
    finally:
        runtime.close()
    [acked] = acks
    assert len(acked) == 100
    assert depth == 220  # the second and third requests' entries stay, leased until it runs out
    assert len(taken) == 100
