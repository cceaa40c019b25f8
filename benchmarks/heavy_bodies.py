"""Small requests' acknowledgement latency while heavy bodies arrive.

    python benchmarks/heavy_bodies.py [--heavy-senders 3] [--small 300] [--heavy-mb 4.9]

Runs ``mapwire serve`` (its own process, delivering into a local sink folder) and measures
the latency of signed Customer.io reporting webhooks (small, one at a time, ``--small`` of
them, paced every ``--interval-ms``), first alone, then while ``--heavy-senders`` clients
keep posting Events API batches of about ``--heavy-mb`` MB whose padding nests 63 deep
(every one of them passes the depth limit of 64 and is parsed). It prints the small
requests' p50/p99/max acknowledgement latency in both phases and how many heavy bodies
were answered. Nothing is asserted: the tests check the behaviour, this measures it.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "tests" / "server"))

from serve_speed import free_port, wait_ready  # noqa: E402
from server_helpers import signed as signed_with  # noqa: E402

SIGNING_KEY = "benchmark-signing-key"
TOKEN = "benchmark-inbound-token"


def heavy_body(megabytes: float) -> bytes:
    """An Events API batch padded with many arrays nested 62 deep (63 with the batch)."""
    deep = "[" * 61 + "0" + "]" * 61
    copies = int(megabytes * 1_000_000) // (len(deep) + 1)
    padding = ",".join([deep] * copies)
    head = '{"environment":"production","user_identities":{"customer_id":"heavy"},"events":[]'
    return f'{head},"padding":[{padding}]}}'.encode()


def small_body(n: int) -> bytes:
    event = {
        "event_id": f"bench-{n}",
        "object_type": "email",
        "metric": "opened",
        "timestamp": 1_713_484_800,
        "data": {"delivery_id": f"d-{n}", "identifiers": {"id": f"p{n}"}, "recipient": "a@b.c"},
    }
    return json.dumps(event).encode()


def write_config(folder: Path) -> Path:
    cio = {"site_id": "s", "api_key": "k"}
    config = {
        "mapwire": 1,
        "store": "sqlite:///state.db",
        "server": {"auth": {"bearer_token": TOKEN}},
        "connections": [
            {
                "name": "events",
                "flow": "mparticle-events-to-customerio",
                "destination": cio,
                "transport": "sink:out",
            },
            {
                "name": "activity",
                "flow": "customerio-activity-to-mparticle",
                "destination": {"api_key": "k", "api_secret": "s"},
                "source": {"webhook_signing_key": SIGNING_KEY},
                "transport": "sink:out",
            },
        ],
    }
    path = folder / "mapwire.yaml"
    path.write_text(json.dumps(config, indent=2))
    return path


async def small_stream(url: str, count: int, interval: float, first: int) -> list[float]:
    """Latencies of the small requests answered 202 (others are reported and not counted)."""
    latencies = []
    failures: dict[str, int] = {}
    async with httpx.AsyncClient(base_url=url, timeout=60) as client:
        for n in range(first, first + count):
            body = small_body(n)
            started = time.perf_counter()
            try:
                answer = await client.post(
                    "/customerio/webhook", content=body, headers=signed_with(body, SIGNING_KEY)
                )
            except httpx.TransportError as exc:
                failures[type(exc).__name__] = failures.get(type(exc).__name__, 0) + 1
            else:
                if answer.status_code == 202:
                    latencies.append(time.perf_counter() - started)
                else:
                    failures[str(answer.status_code)] = failures.get(str(answer.status_code), 0) + 1
            await asyncio.sleep(interval)
    if failures:
        print(f"small requests not acknowledged: {failures}")
    return latencies


async def heavy_sender(url: str, body: bytes, stop: asyncio.Event, answered: list[int]) -> None:
    headers = {"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/json"}
    async with httpx.AsyncClient(base_url=url, timeout=120) as client:
        while not stop.is_set():
            answer = await client.post("/mparticle/events", content=body, headers=headers)
            answered.append(answer.status_code)


async def with_heavy(url: str, args: argparse.Namespace) -> tuple[list[float], list[int]]:
    body = heavy_body(args.heavy_mb)
    stop = asyncio.Event()
    answered: list[int] = []
    senders = [
        asyncio.create_task(heavy_sender(url, body, stop, answered))
        for _ in range(args.heavy_senders)
    ]
    await asyncio.sleep(0.5)  # the heavy bodies are on their way
    latencies = await small_stream(url, args.small, args.interval_ms / 1000, args.small)
    stop.set()
    await asyncio.gather(*senders)
    return latencies, answered


def describe(name: str, latencies: list[float]) -> str:
    ms = sorted(x * 1000 for x in latencies)
    p99 = ms[min(len(ms) - 1, int(len(ms) * 0.99))]
    return (
        f"{name}: n={len(ms)} p50={statistics.median(ms):.1f} ms "
        f"p99={p99:.1f} ms max={ms[-1]:.1f} ms"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--heavy-senders", type=int, default=3)
    parser.add_argument("--heavy-mb", type=float, default=4.9)
    parser.add_argument("--small", type=int, default=300, help="small requests per phase")
    parser.add_argument("--interval-ms", type=float, default=10.0)
    args = parser.parse_args()
    mapwire = Path(sys.executable).parent / "mapwire"
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        config = write_config(folder)
        port = free_port()
        url = f"http://127.0.0.1:{port}"
        server = subprocess.Popen(
            [str(mapwire), "serve", "--config", str(config), "--port", str(port)],
            cwd=folder,
            env=dict(os.environ),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            wait_ready(url)
            alone = asyncio.run(small_stream(url, args.small, args.interval_ms / 1000, 0))
            loaded, answered = asyncio.run(with_heavy(url, args))
        finally:
            server.send_signal(signal.SIGTERM)
            server.wait(60)
    print(f"heavy body: {len(heavy_body(args.heavy_mb)):,} bytes, nested 63 deep")
    print(describe("small acks alone", alone))
    print(describe(f"small acks with {args.heavy_senders} heavy senders", loaded))
    statuses = {s: answered.count(s) for s in sorted(set(answered))}
    print(f"heavy bodies answered meanwhile: {len(answered)} {statuses}")


if __name__ == "__main__":
    main()
