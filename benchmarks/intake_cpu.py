"""Intake CPU: what taking in one request costs ``serve``, without the network or delivery.

    python benchmarks/intake_cpu.py [--requests 6000] [--events 5] [--concurrency 64]
                                    [--handler-only] [--flow events|webhooks]

The server's application (``create_app``, as ``mapwire serve`` makes it, delivery off) runs
in this process on uvloop, with the shipped events mapping, a SQLite queue in a temporary
folder and its group committer; Events API batches (one user, ``--events`` custom events
each, the bodies of ``benchmarks/serve_speed.py``) go straight to its ASGI interface,
``--concurrency`` at a time, and every answer must be 202. It prints requests/s and the
process's CPU time per request and per mapped action (the events and the identify of
each request): HTTP parsing and sockets are left out (uvicorn's, the same for any app),
so this is the request handler, the group committer, the mapping, the destination's
checks and prepared items, and the queue's writes. ``--handler-only`` replaces the group
committer with one that answers at once: the handler's own cost (authentication, reading,
parsing, splitting, the answer, the log line and the metrics). The first 200 requests
warm up and are not counted.

``--flow webhooks`` posts Customer.io reporting webhooks instead, one email event a
request, signed, to ``/customerio/webhook`` and the shipped activity flow (mParticle):
each carries dedup keys (its ``event_id``, and the delivery's first time), so this
measures what a group of such requests costs to queue.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "server"))
from delivery_cpu import mp_documents
from serve_speed import make_bodies
from server_helpers import signed

from mapwire.runtime.config import load_config
from mapwire.runtime.submissions import ConnectionReport, IntakeReport, Part
from mapwire.server.app import create_app
from mapwire.server.committer import GroupCommitter

WARM_UP = 200
TOKEN = "bench-token"
SIGNING_KEY = "bench-signing-key"


def answer_at_once(
    self: GroupCommitter, parts: Sequence[Part], pipeline: Any = None
) -> asyncio.Future[IntakeReport]:
    """``GroupCommitter.submit`` for ``--handler-only``: queued at once, nothing mapped."""
    future: asyncio.Future[IntakeReport] = asyncio.get_running_loop().create_future()
    documents = sum(len(part.documents) for part in parts)
    future.set_result(IntakeReport(documents, {"cio": ConnectionReport(queued=documents)}))
    return future


def scope_of(body: bytes, path: str, headers: list[tuple[bytes, bytes]]) -> dict[str, Any]:
    headers = [
        (b"host", b"bench"),
        *headers,
        (b"content-length", str(len(body)).encode()),
    ]
    return {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": headers,
        "client": ("127.0.0.1", 50000),
        "server": ("127.0.0.1", 8080),
    }


def events_requests(count: int, events: int) -> list[dict[str, Any]]:
    """Events API batches, with the inbound token."""
    headers = [
        (b"authorization", f"Bearer {TOKEN}".encode()),
        (b"content-type", b"application/json"),
    ]
    return [
        scope_of(body, "/mparticle/events", headers) | {"body": body}
        for body in make_bodies(0, count, events)
    ]


def webhook_requests(count: int) -> list[dict[str, Any]]:
    """Customer.io reporting webhooks, one email event each (``delivery_cpu``'s), signed
    now."""
    requests = []
    for document in mp_documents(count, 2000)[1]:
        body = json.dumps(document).encode()
        headers = [(k.lower().encode(), v.encode()) for k, v in signed(body, SIGNING_KEY).items()]
        requests.append(scope_of(body, "/customerio/webhook", headers) | {"body": body})
    return requests


async def post(app: Any, request: dict[str, Any]) -> None:
    body = request["body"]
    sent = False

    async def receive() -> dict[str, Any]:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        await asyncio.Event().wait()  # the client never disconnects
        raise AssertionError("unreachable")

    status: list[int] = []

    async def send(message: dict[str, Any]) -> None:
        if message["type"] == "http.response.start":
            status.append(message["status"])

    await app(request, receive, send)
    if status != [202]:
        raise SystemExit(f"answered {status}, expected 202")


async def run(args: argparse.Namespace, folder: Path) -> dict[str, Any]:
    if args.flow == "events":
        connection = {
            "name": "cio",
            "flow": "mparticle-events-to-customerio",
            "destination": {"site_id": "site", "api_key": "key"},
        }
    else:
        connection = {
            "name": "activity",
            "flow": "customerio-activity-to-mparticle",
            "destination": {"api_key": "key", "api_secret": "secret"},
            "source": {"webhook_signing_key": SIGNING_KEY},
        }
    config = {
        "mapwire": 1,
        "store": "sqlite:///state.db",
        "server": {"auth": {"bearer_token": TOKEN}},
        "connections": [connection],
    }
    (folder / "mapwire.yaml").write_text(json.dumps(config))
    app = create_app(load_config(folder / "mapwire.yaml"), delivers=False, settle=True)
    lifespan_in: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
    lifespan_out: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
    await lifespan_in.put({"type": "lifespan.startup"})
    life = asyncio.create_task(
        app({"type": "lifespan", "asgi": {"version": "3.0"}}, lifespan_in.get, lifespan_out.put)
    )
    started = await lifespan_out.get()
    if started["type"] != "lifespan.startup.complete":
        raise SystemExit(f"the app did not start: {started}")
    total = args.requests + WARM_UP
    bodies = (
        events_requests(total, args.events) if args.flow == "events" else webhook_requests(total)
    )
    try:
        await asyncio.gather(*(post(app, body) for body in bodies[:WARM_UP]))
        counted = bodies[WARM_UP:]
        wall, cpu = time.perf_counter(), time.process_time()
        for start in range(0, len(counted), args.concurrency):
            await asyncio.gather(
                *(post(app, body) for body in counted[start : start + args.concurrency])
            )
        wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    finally:
        await lifespan_in.put({"type": "lifespan.shutdown"})
        await life
    actions = len(counted) * (args.events + 1 if args.flow == "events" else 1)
    return {
        "mode": "handler only" if args.handler_only else "intake",
        "flow": args.flow,
        "requests": len(counted),
        "requests_per_second": round(len(counted) / wall),
        "cpu_us_per_request": round(cpu / len(counted) * 1e6, 1),
        "cpu_us_per_action": round(cpu / actions * 1e6, 2),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=6000)
    parser.add_argument("--events", type=int, default=5)
    parser.add_argument("--concurrency", type=int, default=64)
    parser.add_argument("--handler-only", action="store_true")
    parser.add_argument("--flow", choices=("events", "webhooks"), default="events")
    args = parser.parse_args()
    if args.handler_only:
        GroupCommitter.submit = answer_at_once  # type: ignore[method-assign]
    try:
        import uvloop
    except ImportError:  # pragma: no cover - a plain asyncio loop measures the same code
        uvloop = None
    with tempfile.TemporaryDirectory() as folder:
        here = os.getcwd()
        os.chdir(folder)
        try:
            coroutine = run(args, Path(folder))
            result = uvloop.run(coroutine) if uvloop is not None else asyncio.run(coroutine)
        finally:
            os.chdir(here)
    print(json.dumps(result))


if __name__ == "__main__":
    main()
