"""A queue plugin written to the contract from before erasures reached claimed entries:
its ``retry``, ``release`` and ``dead_letter`` return None, and its ``drop_person`` takes
no ``keep``. Delivery counts none of its entries as erased, and goes on; an erasure still
drops the person."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from delivery_helpers import cio_connection, write_config

from mapwire.contracts.actions import Action
from mapwire.contracts.queue import Queue
from mapwire.runtime.config import load_config
from mapwire.runtime.delivery import Settled
from mapwire.runtime.erasure import erase_people
from mapwire.runtime.process import Runtime

pytestmark = pytest.mark.usefixtures("secrets")

EVENTS = "mparticle.events_api_batch"

MAPPING = """\
mapwire: 1
name: update
source: mparticle.events_api_batch
destination: customerio
rules:
  - name: update
    action: identify
    fields:
      identifiers: "{id: doc.user_identities.customer_id}"
      attributes: doc.user_attributes
"""


class OldContractQueue:
    """The runtime's queue, but settling returns None, as under the old contract."""

    def __init__(self, queue: Queue) -> None:
        self._queue = queue

    def __getattr__(self, name: str) -> Any:
        return getattr(self._queue, name)

    def retry(self, ids: Any, not_before: float, reason: str) -> None:
        self._queue.retry(ids, not_before, reason)

    def release(self, ids: Any, not_before: float = 0.0) -> None:
        self._queue.release(ids, not_before)

    def dead_letter(self, failed: Any) -> None:
        self._queue.dead_letter(failed)


def test_a_queue_returning_none_from_settling_is_delivered_from(
    tmp_path: Path, customerio_server: Any
) -> None:
    (tmp_path / "update.yaml").write_text(MAPPING)
    flow = cio_connection(
        customerio_server,
        "updates",
        flow=str(tmp_path / "update.yaml"),
        settings={"api": "v1"},  # one request per item: a retry gives the rest back (release)
    )
    runtime = Runtime(load_config(write_config(tmp_path, [flow])))
    (updates,) = runtime.config.connections
    batches = [
        {
            "environment": "production",
            "user_identities": {"customer_id": p},
            "user_attributes": {"n": 1},
        }
        for p in ("p1", "p2", "p3")
    ]
    runtime.pipeline.submit(EVENTS, batches, only="updates")

    async def run() -> Settled:
        deliverer = runtime.deliverer(updates)
        deliverer.queue = OldContractQueue(runtime.queue)  # type: ignore[assignment]
        customerio_server.fail_next(1, 503)
        try:
            return await deliverer.step()
        finally:
            await runtime.aclose()

    try:
        done = asyncio.run(run())
        assert (done.retried, done.erased, done.requests) == (1, 0, 1)
        assert runtime.queue.depth() == 3, "the retried one and the two given back"
    finally:
        runtime.close()


class TwoArgumentDropQueue:
    """A queue whose ``drop_person`` takes no ``keep`` (the contract before it existed)."""

    def __init__(self) -> None:
        self.dropped: list[tuple[str, str]] = []

    def drop_person(self, connection: str, order_key: str) -> int:
        self.dropped.append((connection, order_key))
        return 1


class KeepingQueue(TwoArgumentDropQueue):
    def drop_person(  # type: ignore[override]
        self, connection: str, order_key: str, keep: Sequence[str] = ()
    ) -> int:
        self.dropped.append((connection, order_key, *keep))  # type: ignore[arg-type]
        return 1


class KeywordKeepQueue(TwoArgumentDropQueue):
    def drop_person(  # type: ignore[override]
        self, connection: str, order_key: str, *, keep: Sequence[str] = ()
    ) -> int:
        self.dropped.append((connection, order_key, *keep))  # type: ignore[arg-type]
        return 1


class Forwarding:
    """A wrapper handing every attribute on to the queue it wraps."""

    def __init__(self, queue: TwoArgumentDropQueue) -> None:
        self._queue = queue
        self.dropped = queue.dropped

    def __getattr__(self, name: str) -> Any:
        return getattr(self._queue, name)


@pytest.mark.parametrize(
    ("queue", "called"),
    [
        pytest.param(TwoArgumentDropQueue(), ("c", "k"), id="two-arguments"),
        pytest.param(KeepingQueue(), ("c", "k", "erase"), id="with-keep"),
        pytest.param(KeywordKeepQueue(), ("c", "k", "erase"), id="keyword-keep"),
        pytest.param(Forwarding(TwoArgumentDropQueue()), ("c", "k"), id="wrapped-two"),
        pytest.param(Forwarding(KeepingQueue()), ("c", "k", "erase"), id="wrapped-keep"),
    ],
)
def test_an_erasure_drops_the_person_in_a_queue_of_either_contract(
    queue: TwoArgumentDropQueue, called: tuple[str, ...]
) -> None:
    class Erasing:
        actions = {"erase": None, "update": None}

        def erases(self, action: str) -> bool:
            return action == "erase"

    connection = SimpleNamespace(name="c", state_namespace="c:")
    action = Action("d", "erase", {}, order_key="k")
    erased = erase_people(queue, None, [connection], [action], Erasing())  # type: ignore[arg-type]
    assert erased.dropped == 1
    assert queue.dropped == [called]
