"""Delivery of items prepared at intake, against the Customer.io stand-in on loopback: the
vendor gets the same bytes whether an entry carries its wire or not (an entry queued before
this, or by a queue that keeps none: the stand-in absorbs the second as a duplicate of the
same event ULID), and a refused item's dead letter holds the same
request item either way."""

from __future__ import annotations

import asyncio
import dataclasses
from pathlib import Path
from typing import Any

import pytest
from delivery_helpers import cio_connection, write_config

from mapwire.runtime.config import load_config
from mapwire.runtime.process import Runtime

pytestmark = pytest.mark.usefixtures("secrets")

PAYLOAD = {
    "identifiers": {"id": "p1"},
    "name": "n" * 120,  # repaired: cut to 100 bytes
    "event_id": "src-1",
    "timestamp": 1_713_484_800,
    "data": {"recipient": "x@example.com", "sku": "A"},  # the override key is left out
}


def queue_twice(runtime: Runtime) -> None:
    """The action as intake queues it (with its wire), then once more without the wire."""
    from mapwire import Action
    from mapwire.runtime.intake_check import held_back

    [conn] = runtime.config.connections
    action = Action("customerio", "event", dict(PAYLOAD), rule="r")
    kept, held = held_back(conn, {}, [action], runtime.registry.destinations())
    assert kept == [action] and not held and action.wire is not None
    bare = dataclasses.replace(action, wire=None)
    runtime.queue.enqueue(conn.name, [action, bare])


async def deliver(runtime: Runtime) -> Any:
    [conn] = runtime.config.connections
    try:
        return await runtime.deliverer(conn).step()
    finally:
        await runtime.aclose()


def test_the_vendor_gets_the_same_item_with_or_without_the_wire(
    tmp_path: Path, customerio_server: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    runtime = Runtime(load_config(write_config(tmp_path, [cio_connection(customerio_server)])))
    cio = runtime.registry.destinations()["customerio"]
    prepared: list[Any] = []
    prepare = cio.prepare

    def counted(action: Any, settings: Any, *, key: Any = None) -> Any:
        prepared.append(action)
        return prepare(action, settings, key=key)

    monkeypatch.setattr(cio, "prepare", counted)
    try:
        queue_twice(runtime)
        done = asyncio.run(deliver(runtime))
        assert (done.delivered, done.requests) == (2, 1)
        assert [a.wire for a in prepared] == [None], "only the entry without a wire"
        [item] = customerio_server.accepted_items("POST /api/v2/batch")
        assert customerio_server.duplicates_absorbed == 1, "the same event ULID both times"
        assert item["name"] == "n" * 100 and item["attributes"] == {"sku": "A"}
    finally:
        runtime.close()


def test_a_refused_item_is_dead_lettered_with_the_same_request_either_way(
    tmp_path: Path, customerio_server: Any
) -> None:
    runtime = Runtime(load_config(write_config(tmp_path, [cio_connection(customerio_server)])))
    try:
        queue_twice(runtime)
        customerio_server.fail_next(1, 400, body={"errors": [{"message": "bad"}]})
        done = asyncio.run(deliver(runtime))
        assert done.dead_lettered == 2
        restored, prepared = sorted(runtime.queue.dead_letters(), key=lambda d: d.id)
        assert restored.request == prepared.request
        assert restored.response == prepared.response and restored.response["status"] == 400
        assert restored.request["item"]["name"] == "n" * 100
    finally:
        runtime.close()
