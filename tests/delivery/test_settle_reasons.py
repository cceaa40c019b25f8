"""Settling one request's outcomes: each item retried keeps its own reason, redacted, and
an item past the retry window is dead-lettered with its own; nothing of one item's
outcome reaches another's entry, and no secret reaches the queue file (a real SQLite
queue; the request is never sent). Each retried entry once got the reason of the
request's last item, unredacted when that one had run out of its retry window."""

from __future__ import annotations

import asyncio
from pathlib import Path

import httpx

from mapwire import Action, OutboundRequest, Outcome, PreparedItem
from mapwire.contracts.ratelimit import RateLimiter
from mapwire.runtime.delivery import Deliverer, Settled
from mapwire.runtime.delivery_acks import PendingAcks
from mapwire.runtime.metrics import Metrics
from plugins.customerio.destination import CustomerIO
from plugins.sqlite_store.queue import SqliteQueue

SECRET = "api-key-SENTINEL-93c1"
DAY = 24 * 3600.0


def _action(person: str) -> Action:
    payload = {"identifiers": {"id": person}, "name": "viewed", "timestamp": 1713484800}
    return Action("customerio", "event", payload, order_key=f"id:{person}")


def test_each_retried_item_keeps_its_own_redacted_reason(tmp_path: Path) -> None:
    now = [1_000_000.0]
    queue = SqliteQueue(tmp_path / "q.db", clock=lambda: now[0])
    queue.enqueue("cio", [_action("old")])  # enqueued a day before the rest
    now[0] += DAY
    queue.enqueue("cio", [_action("fresh"), _action("other")])
    entries = {e.action.payload["identifiers"]["id"]: e for e in queue.claim("cio", 10, 60)}
    settings = {"site_id": "site", "api_key": SECRET}
    deliverer = Deliverer(
        "cio",
        CustomerIO(),
        settings,
        queue,
        httpx.AsyncClient(),
        limiter=RateLimiter(100),
        metrics=Metrics(),
        retry_window_seconds=DAY / 2,
        clock=lambda: now[0],
    )
    order = ["fresh", "other", "old"]
    sent = OutboundRequest(
        httpx.Request("POST", "https://track.customer.io/api/v2/batch"),
        [PreparedItem(key=entries[name], body={}, size=2) for name in order],
    )
    outcomes = [
        Outcome("retry", reason=f"HTTP 503: key {SECRET} is throttled"),
        Outcome("retry", reason="HTTP 429: slow down", retry_after=1.0),
        Outcome("retry", reason=f"HTTP 500: key {SECRET} failed"),  # past the window
    ]
    done = Settled()
    asyncio.run(deliverer._settle(sent, outcomes, None, done, None, PendingAcks(queue)))
    assert (done.retried, done.dead_lettered) == (2, 1)

    [letter] = queue.dead_letters("cio")
    assert letter.action.payload["identifiers"] == {"id": "old"}
    assert letter.reason == "retry window exceeded; last error: HTTP 500: key [redacted] failed"

    now[0] += 3600  # past every backoff
    again = {e.action.payload["identifiers"]["id"]: e for e in queue.claim("cio", 10, 60)}
    assert again["fresh"].last_error == "HTTP 503: key [redacted] is throttled"
    assert again["other"].last_error == "HTTP 429: slow down"
    assert (again["fresh"].attempts, again["other"].attempts) == (1, 1)
    queue.close()
    stored = b"".join(path.read_bytes() for path in tmp_path.glob("q.db*"))
    assert SECRET.encode() not in stored
