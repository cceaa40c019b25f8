"""Floors: what the parts every receiver of this shape is built from cost here, alone.

    python benchmarks/floors.py [--requests 20000] [--actions 60000] [--sends 1000] [--small]

``mapwire serve`` and the bare stack (``benchmarks/bare_stack.py``) are both an HTTP server,
a durable SQLite queue and an HTTP client. This measures those three parts with nothing of
either receiver around them, so the CPU a receiver spends per action can be set against
the least it could spend with these parts:

* **HTTP intake**: a trivial ASGI application (read the body, parse it with orjson, answer
  202) under uvicorn (uvloop and httptools when installed, as ``serve`` runs it), driven by
  ``benchmarks/serve_speed.py``'s raw load generator with 5-event Events API batches over
  64 connections: the server process's CPU per request (and the load generator's, which
  shares the machine with the receiver in ``benchmarks/serve_pair.py``).
* **The queue's rows**: SQLite with ``mapwire``'s own queue schema (WAL, ``synchronous =
  NORMAL``): inserting six rows per request, 33 requests per transaction (the group commit
  of ``serve`` at this load), then claiming 250 at a time (select and lease rows) and
  acknowledging them (delete): CPU per action; and the same with one row per request
  holding its six actions, leased once: a bound (the queue leases each action under its
  person, so that a person's later entries wait; see docs/scaling.md on packs).
* **Sending to the vendor**: httpx posting 50 KB bodies (a Customer.io batch of about 200
  events) to a trivial server on loopback, one request at a time: the client's CPU per
  request, with ``AsyncClient`` on httpx's own transport, with the deliverers' client (its
  lean HTTP/1.1 transport, ``mapwire.runtime.http1``, as delivery runs it) and with the
  synchronous ``Client``.

It prints one JSON object. ``--small`` is a smoke test (a few hundred of each).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
import orjson

sys.path.insert(0, str(Path(__file__).resolve().parent))
from serve_speed import drive_raw, free_port, make_bodies, wait_ready

from mapwire.plugins.sqlite_store.queue_sql import INDEXES, SCHEMA

TICKS = os.sysconf("SC_CLK_TCK")
ACCEPTED = b'{"status":"accepted"}'


# -- the trivial server (its own process: ``--serve PORT``) --------------------------------
async def trivial_app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    if scope["type"] != "http":
        return
    body, more = b"", True
    while more:
        message = await receive()
        body += message.get("body", b"")
        more = message.get("more_body", False)
    if scope["path"] == "/mparticle/events":
        orjson.loads(body)
    status = 200 if scope["path"] == "/readyz" else 202
    headers = [(b"content-type", b"application/json"), (b"content-length", b"21")]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": ACCEPTED})


def serve(port: int) -> None:
    import uvicorn

    uvicorn.run(trivial_app, host="127.0.0.1", port=port, log_level="warning", access_log=False)


def start_server() -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    server = subprocess.Popen([sys.executable, __file__, "--serve", str(port)])
    url = f"http://127.0.0.1:{port}"
    wait_ready(url)
    return server, url


def process_cpu(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS


# -- the three parts --------------------------------------------------------------------------
def http_intake(url: str, pid: int, requests: int) -> tuple[float, float]:
    """CPU microseconds per 5-event request: the server's, and the load generator's."""
    bodies = make_bodies(0, requests, 5)
    asyncio.run(drive_raw(url, bodies[: max(1, requests // 10)], 64))  # warm up
    before, mine = process_cpu(pid), time.process_time()
    asyncio.run(drive_raw(url, bodies, 64))
    mine = time.process_time() - mine
    return (process_cpu(pid) - before) / requests * 1e6, mine / requests * 1e6


def queue_rows(folder: Path, actions: int, per_row: int) -> dict[str, float]:
    """CPU microseconds per action to insert, claim and acknowledge ``actions`` actions
    stored ``per_row`` to a row (1: as the queue stores them; 6: a request's in one)."""
    db = sqlite3.connect(folder / f"rows-{per_row}.db", isolation_level=None)
    db.execute("PRAGMA journal_mode = WAL")
    db.execute("PRAGMA synchronous = NORMAL")
    db.executescript(SCHEMA)
    for statement in INDEXES:
        db.execute(statement)
    payload = {"identifiers": {"id": "user-1"}, "name": "Viewed_Product_0", "data": {"a": 1}}
    action = orjson.dumps({"d": "customerio", "a": "event", "p": payload, "k": 1}).decode()
    wire = b"cio1 v2 truncate 0 \n" + orjson.dumps({"type": "person", **payload})
    text, blob = ("[" + ",".join([action] * per_row) + "]", wire * per_row)
    rows_per_request, group = 6 // per_row, 33
    requests = actions // 6
    insert = "INSERT INTO queue (connection, action, enqueued_at, order_key, wire)"
    started = time.process_time()
    for first in range(0, requests, group):
        db.execute("BEGIN IMMEDIATE")
        db.executemany(
            insert + " VALUES ('c', ?, 1.0, ?, ?)",
            [
                (text, f"person-{r}", blob)
                for r in range(first, min(first + group, requests))
                for _ in range(rows_per_request)
            ],
        )
        db.execute("COMMIT")
    inserted = time.process_time() - started
    started = time.process_time()
    taken = 0
    while True:
        db.execute("BEGIN IMMEDIATE")
        rows = db.execute(
            "SELECT id, action, wire, order_key FROM queue WHERE connection = 'c'"
            " ORDER BY id LIMIT ?",
            (250 // per_row,),
        ).fetchall()
        db.executemany(
            "INSERT INTO leases (id, lease_until, owner, connection, order_key)"
            " VALUES (?, 2.0, 'me', 'c', ?)",
            [(row[0], row[3]) for row in rows],
        )
        db.execute("COMMIT")
        if not rows:
            break
        ids = json.dumps([row[0] for row in rows])
        db.execute("BEGIN IMMEDIATE")
        db.execute("DELETE FROM queue WHERE id IN (SELECT value FROM json_each(?))", (ids,))
        db.execute("DELETE FROM leases WHERE id IN (SELECT value FROM json_each(?))", (ids,))
        db.execute("COMMIT")
        taken += len(rows) * per_row
    settled = time.process_time() - started
    db.close()
    if taken != requests * 6:
        raise SystemExit(f"queue rows: took {taken} of {requests * 6} actions")
    return {
        "insert_us_per_action": round(inserted / taken * 1e6, 2),
        "claim_and_ack_us_per_action": round(settled / taken * 1e6, 2),
    }


async def send_async(url: str, body: bytes, sends: int, *, lean: bool = False) -> float:
    from mapwire.runtime.http1 import vendor_client

    client = vendor_client("auto", 5.0) if lean else httpx.AsyncClient()
    client.base_url = httpx.URL(url)
    async with client:
        for _ in range(max(1, sends // 10)):
            (await client.post("/api/v2/batch", content=body)).raise_for_status()
        started = time.process_time()
        for _ in range(sends):
            (await client.post("/api/v2/batch", content=body)).raise_for_status()
        return (time.process_time() - started) / sends * 1e6


def send_sync(url: str, body: bytes, sends: int) -> float:
    with httpx.Client(base_url=url) as client:
        for _ in range(max(1, sends // 10)):
            client.post("/api/v2/batch", content=body).raise_for_status()
        started = time.process_time()
        for _ in range(sends):
            client.post("/api/v2/batch", content=body).raise_for_status()
        return (time.process_time() - started) / sends * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=20_000)
    parser.add_argument("--actions", type=int, default=60_000)
    parser.add_argument("--sends", type=int, default=1_000)
    parser.add_argument("--small", action="store_true")
    parser.add_argument("--serve", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        serve(args.serve)
        return
    if args.small:
        args.requests, args.actions, args.sends = 300, 1_200, 30
    server, url = start_server()
    try:
        http, client = http_intake(url, server.pid, args.requests)
        body = b'{"batch":[' + b",".join([b'{"type":"person","x":"' + b"y" * 230 + b'"}'] * 200)
        body += b"]}"
        sent_async = asyncio.run(send_async(url, body, args.sends))
        sent_lean = asyncio.run(send_async(url, body, args.sends, lean=True))
        sent_sync = send_sync(url, body, args.sends)
    finally:
        server.terminate()
        server.wait(30)
    with tempfile.TemporaryDirectory() as folder:
        one = queue_rows(Path(folder), args.actions, 1)
        six = queue_rows(Path(folder), args.actions, 6)
    print(
        json.dumps(
            {
                "http_server_us_per_request": round(http, 1),
                "load_generator_us_per_request": round(client, 1),
                "queue_one_action_per_row": one,
                "queue_six_actions_per_row": six,
                "httpx_async_us_per_request": round(sent_async, 1),
                "deliverers_client_us_per_request": round(sent_lean, 1),
                "httpx_sync_us_per_request": round(sent_sync, 1),
                "body_bytes": len(body),
            }
        )
    )


if __name__ == "__main__":
    main()
