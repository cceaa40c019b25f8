"""Receiver speed: ``mapwire serve`` end to end, from HTTP requests to the vendor.

    python benchmarks/serve_speed.py [--requests 4000] [--events 25] [--concurrency 64]

Three processes: the Customer.io contract server (``tests/contract``, validation off, so it
accepts bodies without decoding them), ``mapwire serve`` with a real SQLite file delivering
to it, and this one, which posts Events API batches (one user, ``--events`` custom events
each) with httpx async clients (``--clients`` processes, ``--concurrency`` connections in
all). It reports:

* acknowledgement: requests/s and events/s until every request was answered 202, with the
  p50/p99 latency of one acknowledgement;
* end to end: events/s until the contract server received every action;
* HTTP requests to the vendor per 1,000 events.

The connection's rate limit is raised to 1,000 requests/s (Customer.io's documented
ceiling) so that the default fair-use limit of 100/s does not cap the result.
``--intake-only`` points delivery at a closed port, to measure acknowledgement alone.
``--profile FILE`` runs the server under cProfile (main thread only) and writes FILE.
``--workers N --deliverers M`` are passed to ``mapwire serve``: N intake processes and M
delivery processes (default 1 and 0: one process). With more than one process each
``/metrics`` answer is one worker's, so the end of delivery is read from the queue depth
(shared) and the delivered count from the contract server.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib.util
import json
import multiprocessing
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

import httpx
import orjson

REPO = Path(__file__).resolve().parents[1]
CONTRACT = REPO / "tests" / "contract"
CLOSED_PORT = "http://127.0.0.1:9"


# -- the contract server (its own process) ------------------------------------------------
def run_contract_server(pipe: Connection) -> None:
    sys.path.insert(0, str(CONTRACT))
    from contract_servers import CustomerIOServer

    with CustomerIOServer() as server:
        server.set_validate(False)
        pipe.send((server.origin, server.site_id, server.api_key))
        pipe.recv()  # told to stop
        items = server.accepted_items("POST /api/v2/batch")
        pipe.send((server.request_count, len(items)))


def start_contract_server(
    ctx: Any,
) -> tuple[Any, Connection, tuple[str, str, str]]:
    """The Customer.io contract server in its own process: (process, pipe, (origin, site
    id, API key)). Send ``"stop"`` on the pipe to get (requests seen, batch items)."""
    contract_pipe, child_pipe = ctx.Pipe()
    contract = ctx.Process(target=run_contract_server, args=(child_pipe,), daemon=True)
    contract.start()
    return contract, contract_pipe, receive(contract_pipe, contract)


# -- load generation (one or more processes) ------------------------------------------------
def make_bodies(first: int, count: int, events: int) -> list[bytes]:
    bodies = []
    for u in range(first, first + count):
        batch = {
            "environment": "production",
            "mpid": 7_346_244_611_012_968_789 + u,
            "user_identities": {"customer_id": f"user-{u}", "email": f"user{u}@example.com"},
            "user_attributes": {"$FirstName": "Ann", "$LastName": "Lee", "plan": "pro"},
            "device_info": {"platform": "iOS", "os_version": "17.4"},
            "events": [
                {
                    "event_type": "custom_event",
                    "data": {
                        "event_name": f"Viewed Product {e % 5}",
                        "custom_event_type": "navigation",
                        "source_message_id": f"{u:08x}-{e:04x}-4bde-9b7e-7c0b2f6d2a11",
                        "timestamp_unixtime_ms": 1_713_484_800_000 + u * 1000 + e,
                        "custom_attributes": {"sku": f"SKU-{e}", "price": "9.99"},
                    },
                }
                for e in range(events)
            ],
        }
        bodies.append(orjson.dumps(batch))
    return bodies


async def drive_raw(url: str, bodies: list[bytes], concurrency: int) -> list[float]:
    """Keep-alive HTTP/1.1 over asyncio streams: pre-encoded requests, minimal parsing."""
    host, port = url.split("://", 1)[1].split(":")
    latencies: list[float] = []
    todo = iter(bodies)
    head = (
        "POST /mparticle/events HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\n"
        "Authorization: Bearer bench-token\r\nContent-Length: {length}\r\n\r\n"
    )

    async def worker() -> None:
        reader, writer = await asyncio.open_connection(host, int(port))
        for body in todo:
            started = time.perf_counter()
            writer.write(head.format(host=host, length=len(body)).encode() + body)
            response = await reader.readuntil(b"\r\n\r\n")
            status = int(response[9:12])
            at = response.lower().find(b"content-length:") + len(b"content-length:")
            length = int(response[at : response.find(b"\r\n", at)])
            answer = await reader.readexactly(length)
            latencies.append(time.perf_counter() - started)
            if status != 202:
                raise SystemExit(f"unexpected {status}: {answer[:200]!r}")
        writer.close()
        await writer.wait_closed()

    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return latencies


async def drive_httpx(url: str, bodies: list[bytes], concurrency: int) -> list[float]:
    latencies: list[float] = []
    todo = iter(bodies)
    headers = {"Content-Type": "application/json", "Authorization": "Bearer bench-token"}
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(base_url=url, limits=limits, timeout=60) as client:

        async def worker() -> None:
            for body in todo:
                started = time.perf_counter()
                response = await client.post("/mparticle/events", content=body, headers=headers)
                latencies.append(time.perf_counter() - started)
                if response.status_code != 202:
                    raise SystemExit(f"unexpected {response.status_code}: {response.text}")

        await asyncio.gather(*(worker() for _ in range(concurrency)))
    return latencies


def run_client(
    kind: str, url: str, first: int, count: int, events: int, concurrency: int, pipe: Connection
) -> None:
    bodies = make_bodies(first, count, events)
    pipe.send("ready")
    pipe.recv()  # go
    drive = drive_raw if kind == "raw" else drive_httpx
    latencies = asyncio.run(drive(url, bodies, concurrency))
    pipe.send(latencies)


def receive(pipe: Connection, process: Any, timeout: float = 600) -> Any:
    """The next message from a child process; fail if it died instead."""
    deadline = time.monotonic() + timeout
    while not pipe.poll(0.1):
        if not process.is_alive() or time.monotonic() > deadline:
            raise SystemExit(f"{process.name} stopped without answering (exit {process.exitcode})")
    return pipe.recv()


# -- the server under test ------------------------------------------------------------------
def write_config(folder: Path, origin: str, site_id: str) -> Path:
    config = {
        "mapwire": 1,
        "store": "sqlite:///state.db",
        "server": {"auth": {"bearer_token": "bench-token"}},
        "connections": [
            {
                "name": "cio",
                "flow": "mparticle-events-to-customerio",
                "destination": {
                    "site_id": site_id,
                    "api_key": {"env": "BENCH_CIO_API_KEY"},
                    "base_url": origin,
                },
                "delivery": {"rate_limit": 1000},
            }
        ],
    }
    path = folder / "mapwire.yaml"
    path.write_text(json.dumps(config, indent=2))
    return path


def metric_total(text: str, name: str) -> float:
    total = 0.0
    for line in text.splitlines():
        if line.startswith(name) and line[len(name) : len(name) + 1] in ("{", " "):
            total += float(line.rsplit(" ", 1)[1])
    return total


def wait_ready(url: str, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if httpx.get(url + "/readyz", timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    raise SystemExit("the server did not become ready")


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=4000)
    parser.add_argument("--events", type=int, default=25)
    parser.add_argument("--concurrency", type=int, default=64)
    parser.add_argument("--clients", type=int, default=1, help="load-generating processes")
    parser.add_argument(
        "--client",
        choices=["raw", "httpx"],
        default="raw",
        help="raw asyncio HTTP/1.1 (default) or httpx.AsyncClient",
    )
    parser.add_argument("--profile", type=Path, help="write a cProfile of the server here")
    parser.add_argument(
        "--intake-only",
        action="store_true",
        help="point delivery at a closed port (it backs off) to measure acknowledgement alone",
    )
    parser.add_argument("--keep", action="store_true", help="keep the server's folder and log")
    parser.add_argument("--workers", type=int, default=1, help="serve --workers")
    parser.add_argument("--deliverers", type=int, default=0, help="serve --deliverers")
    args = parser.parse_args()

    ctx = multiprocessing.get_context("spawn")
    contract, contract_pipe, (origin, site_id, api_key) = start_contract_server(ctx)

    folder = Path(tempfile.mkdtemp(prefix="mapwire-bench-"))
    config = write_config(folder, CLOSED_PORT if args.intake_only else origin, site_id)
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    exe = Path(sys.executable).parent / "mapwire"
    command = [str(exe), "serve", "--config", str(config), "--port", str(port)]
    command += ["--workers", str(args.workers), "--deliverers", str(args.deliverers)]
    supervised = args.workers > 1 or args.deliverers > 0
    if args.profile:
        command = [sys.executable, "-m", "cProfile", "-o", str(args.profile.resolve()), *command]
    log = (folder / "serve.log").open("w")
    server = subprocess.Popen(
        command, cwd=folder, env={**os.environ, "BENCH_CIO_API_KEY": api_key}, stderr=log
    )
    try:
        wait_ready(url)
        per_client = -(-args.requests // args.clients)
        clients = []
        for i in range(args.clients):
            count = min(per_client, args.requests - i * per_client)
            mine, theirs = ctx.Pipe()
            process = ctx.Process(
                target=run_client,
                args=(
                    args.client,
                    url,
                    i * per_client,
                    count,
                    args.events,
                    args.concurrency // args.clients,
                    theirs,
                ),
            )
            process.start()
            clients.append((process, mine))
        for process, pipe in clients:
            receive(pipe, process)
        started = time.perf_counter()
        for _, pipe in clients:
            pipe.send("go")
        latencies: list[float] = []
        for process, pipe in clients:
            latencies.extend(receive(pipe, process))
            process.join()
        acked = time.perf_counter() - started
        text = httpx.get(url + "/metrics", timeout=10).text
        at_ack = metric_total(text, DELIVERED)
        while not args.intake_only and not settled(text, supervised):
            time.sleep(0.02)
            text = httpx.get(url + "/metrics", timeout=10).text
        finished = time.perf_counter() - started
    finally:
        server.send_signal(signal.SIGINT if args.profile else signal.SIGTERM)
        server.wait(60)
        log.close()
        contract_pipe.send("stop")
    vendor_seen, items = receive(contract_pipe, contract)
    contract.join(10)
    report(args, latencies, acked, finished, at_ack, text, (vendor_seen, items))
    if args.keep:
        print(f"server folder (config, SQLite file, log): {folder}")
    else:
        shutil.rmtree(folder, ignore_errors=True)


DELIVERED = "mapwire_delivered_actions_total"


def settled(metrics: str, supervised: bool) -> bool:
    """Everything mapped has been delivered or dead-lettered (several processes: the
    shared queue is empty)."""
    if supervised:
        return metric_total(metrics, "mapwire_queue_depth") == 0
    done = metric_total(metrics, DELIVERED) + metric_total(
        metrics, "mapwire_dead_lettered_actions_total"
    )
    return done >= metric_total(metrics, "mapwire_mapped_actions_total")


def report(
    args: argparse.Namespace,
    latencies: list[float],
    acked: float,
    finished: float,
    at_ack: float,
    metrics: str,
    vendor: tuple[int, int],
) -> None:
    events = args.requests * args.events
    latencies.sort()
    mapped = metric_total(metrics, "mapwire_mapped_actions_total")
    delivered = metric_total(metrics, DELIVERED)
    supervised = args.workers > 1 or args.deliverers > 0
    if supervised:  # one worker's counters: take the vendor's count
        mapped = delivered = at_ack = float(vendor[1])
    print(
        f"{args.requests} requests x {args.events} events = {events:,} events; "
        f"concurrency {args.concurrency}, {args.clients} {args.client} client process(es); "
        f"serve --workers {args.workers} --deliverers {args.deliverers}"
    )
    print(
        f"acknowledged in {acked:.2f}s: {args.requests / acked:,.0f} requests/s, "
        f"{events / acked:,.0f} events/s"
    )
    print(
        f"ack latency: p50 {statistics.median(latencies) * 1000:.1f} ms, "
        f"p99 {latencies[int(len(latencies) * 0.99) - 1] * 1000:.1f} ms"
    )
    if args.intake_only:
        print(f"intake only: {int(mapped):,} actions queued, delivery pointed at a closed port")
    else:
        print(
            f"delivered end to end in {finished:.2f}s: {events / finished:,.0f} events/s "
            f"({int(mapped):,} actions mapped, {int(delivered):,} delivered)"
        )
        if finished > acked and not supervised:
            print(
                f"  {int(at_ack):,} action(s) delivered while acknowledging; the rest alone at "
                f"{(delivered - at_ack) / (finished - acked):,.0f} actions/s"
            )
        requests = metric_total(metrics, "mapwire_destination_requests_total")
        if supervised:
            requests = vendor[0]
        print(
            f"vendor requests: {int(requests)} ({requests * 1000 / events:.1f} per 1,000 "
            f"events); the contract server recorded {vendor[0]} request(s), {vendor[1]:,} item(s)"
        )
    fast = all(importlib.util.find_spec(m) for m in ("httptools", "uvloop"))
    print(f"HTTP server: uvicorn with {'httptools + uvloop' if fast else 'h11 + asyncio'}")


if __name__ == "__main__":
    main()
