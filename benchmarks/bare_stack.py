"""A bare receiver written by hand: the reference ``benchmarks/serve_pair.py`` holds
``mapwire serve`` against.

    python benchmarks/bare_stack.py --port P --db FILE --vendor ORIGIN --site-id S --api-key K

uvicorn + Starlette intake (``POST /mparticle/events``, bearer ``bench-token``); orjson parse
and a trivial mapping (each custom event -> one Customer.io Track v2 ``event`` entity);
a durable SQLite queue, group-committed: one writer thread takes every request waiting,
inserts them in one transaction and commits, then the requests are answered 202; one
deliverer thread posts up to 100 entities per ``/api/v2/batch`` request with httpx and
deletes what the vendor accepted. ``GET /readyz`` answers 200, ``GET /stats`` gives
``{"queued", "delivered"}`` (entities). No retries, rate limits, dedup, validation or
metrics: the floor a real receiver is compared with.
"""

from __future__ import annotations

import argparse
import asyncio
import queue
import sqlite3
import threading
from typing import Any

import httpx
import orjson
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

Waiting = tuple[list[bytes], asyncio.AbstractEventLoop, "asyncio.Future[None]"]


class Queue:
    def __init__(self, path: str) -> None:
        self.path = path
        self.incoming: queue.SimpleQueue[Waiting] = queue.SimpleQueue()
        self.queued = 0
        self.delivered = 0
        self.work = threading.Event()
        db = self.connect()
        db.execute("CREATE TABLE IF NOT EXISTS q (id INTEGER PRIMARY KEY, body BLOB)")
        db.close()

    def connect(self) -> sqlite3.Connection:
        db = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("PRAGMA synchronous=NORMAL")
        db.execute("PRAGMA busy_timeout=10000")
        return db

    def writer(self) -> None:
        db = self.connect()
        while True:
            group = [self.incoming.get()]
            while True:
                try:
                    group.append(self.incoming.get_nowait())
                except queue.Empty:
                    break
            db.execute("BEGIN IMMEDIATE")
            for rows, _, _ in group:
                db.executemany("INSERT INTO q (body) VALUES (?)", [(r,) for r in rows])
            db.execute("COMMIT")
            self.queued += sum(len(rows) for rows, _, _ in group)
            self.work.set()
            for _, loop, done in group:
                loop.call_soon_threadsafe(done.set_result, None)

    def deliverer(self, vendor: str, site_id: str, api_key: str) -> None:
        db = self.connect()
        client = httpx.Client(base_url=vendor, auth=(site_id, api_key), timeout=30)
        headers = {"Content-Type": "application/json"}
        while True:
            rows = db.execute("SELECT id, body FROM q ORDER BY id LIMIT 100").fetchall()
            if not rows:
                self.work.wait(0.05)
                self.work.clear()
                continue
            body = b'{"batch":[' + b",".join(r[1] for r in rows) + b"]}"
            response = client.post("/api/v2/batch", content=body, headers=headers)
            if response.status_code < 300:
                db.execute("DELETE FROM q WHERE id <= ?", (rows[-1][0],))
                self.delivered += len(rows)


def map_batch(doc: dict[str, Any]) -> list[bytes]:
    identifiers = {"id": str(doc["user_identities"]["customer_id"])}
    out = []
    for event in doc.get("events") or ():
        if event.get("event_type") != "custom_event":
            continue
        data = event["data"]
        entity = {
            "type": "person",
            "action": "event",
            "identifiers": identifiers,
            "name": data["event_name"],
            "id": data["source_message_id"],
            "timestamp": data["timestamp_unixtime_ms"] // 1000,
            "attributes": data.get("custom_attributes") or {},
        }
        out.append(orjson.dumps(entity))
    return out


def make_app(store: Queue) -> Starlette:
    async def intake(request: Request) -> Response:
        if request.headers.get("authorization") != "Bearer bench-token":
            return Response(status_code=401)
        rows = map_batch(orjson.loads(await request.body()))
        loop = asyncio.get_running_loop()
        done: asyncio.Future[None] = loop.create_future()
        store.incoming.put((rows, loop, done))
        await done
        return Response(b'{"status":"accepted"}', 202, media_type="application/json")

    async def ready(request: Request) -> Response:
        return Response(b"ok")

    async def stats(request: Request) -> Response:
        body = orjson.dumps({"queued": store.queued, "delivered": store.delivered})
        return Response(body, media_type="application/json")

    return Starlette(
        routes=[
            Route("/mparticle/events", intake, methods=["POST"]),
            Route("/readyz", ready),
            Route("/stats", stats),
        ]
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    for name in ("--db", "--vendor", "--site-id", "--api-key"):
        ap.add_argument(name, required=True)
    ap.add_argument("--port", type=int, required=True)
    args = ap.parse_args()
    store = Queue(args.db)
    threading.Thread(target=store.writer, daemon=True).start()
    threading.Thread(
        target=store.deliverer, args=(args.vendor, args.site_id, args.api_key), daemon=True
    ).start()
    uvicorn.run(make_app(store), host="127.0.0.1", port=args.port, log_level="warning")


if __name__ == "__main__":
    main()
