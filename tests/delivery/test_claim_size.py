"""A claim takes whole requests' worth of entries, at least ``CLAIM_AT_LEAST``: mParticle's
100-batch requests go three to a claim, one after another, each person's items in order;
Customer.io's 500-item requests one to a claim."""

from __future__ import annotations

import asyncio
import copy
import dataclasses
import time
from pathlib import Path
from typing import Any

import pytest
from delivery_helpers import cio_connection, mp_connection, write_config

from mapwire.runtime.config import load_config
from mapwire.runtime.delivery import CLAIM_AT_LEAST, CLAIM_REQUESTS, Deliverer
from mapwire.runtime.process import Runtime

pytestmark = pytest.mark.usefixtures("secrets")

NOW = int(time.time()) - 3600  # seconds: an hour ago, so every batch goes to /bulkevents


def webhooks(count: int, people: int) -> list[dict[str, Any]]:
    """Customer.io reporting webhooks: ``count`` email events of ``people`` people, each
    person's in the order of their ``delivery_id``."""
    return [
        {
            "event_id": f"evt-{i:06d}",
            "object_type": "email",
            "metric": "sent",
            "timestamp": NOW + i,
            "data": {
                "action_id": 1,
                "delivery_id": f"d-{i:06d}",
                "identifiers": {"id": f"p{i % people}"},
                "recipient": f"p{i % people}@example.com",
            },
        }
        for i in range(count)
    ]


async def steps(runtime: Runtime, count: int) -> list[Any]:
    [conn] = runtime.config.connections
    deliverer = runtime.deliverer(conn)
    try:
        return [await deliverer.step() for _ in range(count)]
    finally:
        await runtime.aclose()


def test_mparticle_claims_three_requests_worth_and_keeps_each_persons_order(
    tmp_path: Path, mparticle_server: Any
) -> None:
    runtime = Runtime(load_config(write_config(tmp_path, [mp_connection(mparticle_server)])))
    try:
        runtime.pipeline.submit("customerio.reporting_webhook", webhooks(320, 40))
        first, second = asyncio.run(steps(runtime, 2))
    finally:
        runtime.close()
    assert (CLAIM_AT_LEAST, CLAIM_REQUESTS) == (250, 4)
    assert (first.claimed, first.requests, first.delivered) == (300, 3, 300)
    assert (second.claimed, second.requests, second.delivered) == (20, 1, 20)
    batches = mparticle_server.accepted_items("POST /v2/bulkevents")
    assert len(batches) == 320 and mparticle_server.request_count == 4
    for person in range(40):
        ids = [
            b["events"][0]["data"]["custom_attributes"]["delivery_id"]
            for b in batches
            if b["user_identities"]["customer_id"] == f"p{person}"
        ]
        assert ids == sorted(ids) and len(ids) == 8


def test_customerio_claims_one_request_worth(tmp_path: Path, customerio_server: Any) -> None:
    runtime = Runtime(load_config(write_config(tmp_path, [cio_connection(customerio_server)])))
    try:
        [conn] = runtime.config.connections
        assert runtime.deliverer(conn).claim_limit == 500
    finally:
        runtime.close()


def test_a_destination_of_small_requests_claims_at_most_four_of_them(
    tmp_path: Path, customerio_server: Any
) -> None:
    """A claim is sent request after request: a destination of one item per request would
    otherwise claim 250 and give most back each lease."""
    runtime = Runtime(load_config(write_config(tmp_path, [cio_connection(customerio_server)])))
    try:
        [conn] = runtime.config.connections
        cio = runtime.deliverer(conn)
        for per_request, claimed in [(1, 4), (10, 40), (100, 300), (250, 250), (500, 500)]:
            limits = dataclasses.replace(
                cio.destination.capabilities, max_items_per_request=per_request
            )
            small = copy.copy(cio.destination)
            small.capabilities = limits  # type: ignore[misc]
            deliverer = Deliverer(
                conn.name,
                small,
                cio.settings,
                cio.queue,
                cio.client,
                limiter=cio.limiter,
                metrics=cio.metrics,
            )
            assert deliverer.claim_limit == claimed, per_request
    finally:
        runtime.close()
