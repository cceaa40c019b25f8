"""A stop that outlasts its grace cancels delivery; what the cancelled claim delivered is
still acknowledged before whoever stopped delivery goes on (and closes the queue): in
``serve`` the queue is closed right after, on the same loop."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest
from delivery_helpers import cio_connection, write_config

from mapwire import Action
from mapwire.runtime import delivery as delivery_module
from mapwire.runtime.config import load_config
from mapwire.runtime.process import Runtime
from mapwire.server import app as app_module

pytestmark = pytest.mark.usefixtures("secrets")


def _event(person: str, name: str) -> Action:
    payload = {"identifiers": {"id": person}, "name": name, "timestamp": 1_713_484_800}
    return Action("customerio", "event", payload, order_key=f"id:{person}")


def test_a_cancelled_claim_acknowledges_what_it_delivered_before_the_stop_returns(
    tmp_path: Path, customerio_server: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``api: v1``: a request an action. The first goes; the vendor holds the second past
    the stop's grace, so delivery is cancelled: the first's acknowledgement, waiting for
    the claim's end, is made by the time ``stop_delivery`` returns."""
    monkeypatch.setattr(app_module, "DELIVERY_STOP_SECONDS", 0.3)
    conn = cio_connection(customerio_server, settings={"api": "v1"})
    runtime = Runtime(load_config(write_config(tmp_path, [conn])))
    runtime.queue.enqueue("cio", [_event("p1", f"e{i}") for i in range(3)])
    sends: list[int] = []
    send = delivery_module.Deliverer._send

    async def slow_second(self: Any, sent: Any) -> Any:
        sends.append(1)
        if len(sends) == 2:
            await asyncio.sleep(60)  # the vendor holds it: the stop's grace runs out
        return await send(self, sent)

    monkeypatch.setattr(delivery_module.Deliverer, "_send", slow_second)

    async def stop_during_the_second() -> int:
        stop = asyncio.Event()
        delivery = asyncio.create_task(runtime.deliver(stop))
        while len(sends) < 2:
            await asyncio.sleep(0.01)
        stop.set()
        runtime.wake_all()
        await app_module.stop_delivery(delivery)
        assert delivery.done()
        left = runtime.queue.depth("cio")  # at once: as serve closes the queue next
        await runtime.aclose()
        return left

    try:
        assert asyncio.run(stop_during_the_second()) == 2, "e0 acknowledged, e1 and e2 left"
    finally:
        runtime.close()
