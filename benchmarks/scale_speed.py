"""Scale-out throughput: events/second with 1 and 2 delivery worker processes, with the
SQLite queue and with the Redis queue, against a loopback Customer.io contract server
(payload validation off).

    python benchmarks/scale_speed.py [--users 1500] [--events-per-user 20]
        [--redis redis://127.0.0.1:6390/0]

Intake maps Events API batches through ``Pipeline.submit`` into the queue (timed on its
own); then each worker process builds a ``Runtime`` from the same config and delivers
until the queue is empty. Prints a table of intake and delivery rates.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing
import os
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "tests" / "contract"))
sys.path.insert(0, str(HERE.parent / "tests" / "delivery"))

from contract_servers import CustomerIOServer  # noqa: E402
from delivery_helpers import batches, cio_connection, write_config  # noqa: E402

from mapwire.runtime.config import load_config  # noqa: E402
from mapwire.runtime.process import Runtime  # noqa: E402
from mapwire.runtime.registry import build_registry  # noqa: E402


def runtime_for(config: Path) -> Runtime:
    registry = build_registry()  # the Redis store is a built-in plugin (an entry point)
    return Runtime(load_config(config), registry)


def deliver_worker(config: str, api_key: str, start: Any, done: Any) -> None:
    """Deliver until the queue is empty, then report."""
    os.environ["TEST_CIO_API_KEY"] = api_key
    runtime = runtime_for(Path(config))

    async def run() -> None:
        stop = asyncio.Event()
        task = asyncio.create_task(runtime.deliver(stop))
        while runtime.queue.depth("cio") > 0:
            await asyncio.sleep(0.02)
        stop.set()
        await task
        await runtime.aclose()

    start.wait()
    asyncio.run(run())
    runtime.close()
    done.put(time.perf_counter())


def measure(
    store: str, workers: int, docs: list[Any], server: CustomerIOServer
) -> tuple[float, float]:
    """(intake events/s, delivery events/s) for one configuration."""
    events = sum(len(d["events"]) for d in docs)
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        config = write_config(work, [cio_connection(server)], delivery={"rate_limit": 1000})
        raw = json.loads(config.read_text())
        raw["store"] = store if store.startswith("redis") else "sqlite:///state.db"
        config.write_text(json.dumps(raw))
        os.environ["TEST_CIO_API_KEY"] = server.api_key
        runtime = runtime_for(config)
        started = time.perf_counter()
        for i in range(0, len(docs), 50):
            runtime.pipeline.submit("mparticle.events_api_batch", docs[i : i + 50])
        intake = events / (time.perf_counter() - started)
        runtime.close()
        ctx = multiprocessing.get_context("spawn")
        start, done = ctx.Event(), ctx.Queue()
        procs = [
            ctx.Process(target=deliver_worker, args=(str(config), server.api_key, start, done))
            for _ in range(workers)
        ]
        for proc in procs:
            proc.start()
        time.sleep(1.5)  # let every worker import and connect before the clock starts
        began = time.perf_counter()
        start.set()
        finished = max(done.get(timeout=600) for _ in procs)
        for proc in procs:
            proc.join()
        return intake, events / (finished - began)


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--users", type=int, default=1500)
    ap.add_argument("--events-per-user", type=int, default=20)
    ap.add_argument("--redis", default="redis://127.0.0.1:6390/0")
    args = ap.parse_args()
    rows = []
    with CustomerIOServer() as server:
        server.set_validate(False)
        for backend in ("sqlite", "redis"):
            for workers in (1, 2):
                tag = uuid.uuid4().hex[:8]
                docs = batches(args.users, args.events_per_user, prefix=f"b{tag}")
                store = f"{args.redis}?prefix=mwbench-{tag}" if backend == "redis" else "sqlite"
                intake, delivery = measure(store, workers, docs, server)
                rows.append((backend, workers, intake, delivery))
                print(
                    f"  {backend:6} x{workers}: intake {intake:,.0f}/s, delivery {delivery:,.0f}/s"
                )
    events = args.users * args.events_per_user
    print(f"\n{events} events ({args.users} users), {os.cpu_count()} CPUs")
    print(f"{'queue':8}{'workers':>8}{'intake ev/s':>14}{'delivery ev/s':>16}")
    for backend, workers, intake, delivery in rows:
        print(f"{backend:8}{workers:>8}{intake:>14,.0f}{delivery:>16,.0f}")


if __name__ == "__main__":
    main()
