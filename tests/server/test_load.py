"""A bounded load test: 600 requests of 10 events, 16 at a time, on loopback; every event
is acknowledged, queued and delivered exactly once, and requests are group-committed.

Not a timed test: speed is measured by ``benchmarks/serve_speed.py``. ``HANG_GUARD`` only
stops a wedged run from hanging the suite."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from pathlib import Path

import httpx
from server_helpers import INBOUND_TOKEN, RunningServer, events_batch, sink_flows, write_config

Serve = Callable[[Path], RunningServer]
REQUESTS = 600
EVENTS = 10
CONCURRENCY = 16
HANG_GUARD = 300.0


async def _post_all(url: str, bodies: list[bytes]) -> list[int]:
    statuses: list[int] = []
    todo = iter(bodies)
    headers = {"Authorization": f"Bearer {INBOUND_TOKEN}", "Content-Type": "application/json"}
    limits = httpx.Limits(max_connections=CONCURRENCY)
    async with httpx.AsyncClient(base_url=url, limits=limits, timeout=30) as client:

        async def worker() -> None:
            for body in todo:
                response = await client.post("/mparticle/events", content=body, headers=headers)
                statuses.append(response.status_code)

        async with asyncio.timeout(HANG_GUARD):
            await asyncio.gather(*(worker() for _ in range(CONCURRENCY)))
    return statuses


def test_many_concurrent_requests_are_all_delivered_once(serve: Serve, tmp_path: Path) -> None:
    server = serve(write_config(tmp_path, sink_flows()[:1]))
    bodies = [json.dumps(events_batch(f"load-{i}", EVENTS)).encode() for i in range(REQUESTS)]
    statuses = asyncio.run(_post_all(server.url, bodies))
    assert statuses == [202] * REQUESTS
    server.wait_delivered(timeout=HANG_GUARD)
    items = [
        item
        for path in (tmp_path / "out").glob("*.ndjson")
        for line in path.read_text().splitlines()
        for item in json.loads(line)["body"]["batch"]
    ]
    events = [i["id"] for i in items if i["action"] == "event"]
    assert len(events) == len(set(events)) == REQUESTS * EVENTS
    assert sum(1 for i in items if i["action"] == "identify") == REQUESTS
    state = server.state
    assert state.committer is not None and state.committer.groups < state.committer.submissions
