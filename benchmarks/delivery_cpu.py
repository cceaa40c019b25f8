"""Delivery CPU: what delivering one queued action costs this process.

    python benchmarks/delivery_cpu.py [--actions 20000] [--persons 2000] [--only cio|mp]
                                      [--loop auto|uvloop|asyncio] [--profile]

For each destination it fills a real SQLite queue with ``--actions`` mapped actions (the
shipped flows' output: ``mparticle-events-to-customerio`` for Customer.io,
``customerio-activity-to-mparticle`` for mParticle, ``--persons`` people), then runs the
connection's deliverer until the queue is empty against that vendor's contract server
(``tests/contract``, validation off, in its own process so its CPU is not counted). It
prints the process CPU time per action delivered (µs), actions/s, and HTTP requests per
1,000 actions. Mapping and queueing are not part of that figure; their CPU time per
action is printed apart (``intake_cpu_us_per_action``: mapping, the destination's intake
checks and what it prepares ahead, queueing). Between the two the interpreter is settled,
as a deliverer process does once started (``mapwire.runtime.interpreter``). ``--profile``
adds a cProfile top list of
the delivery run. The rate limit is raised so it never waits. The deliverer runs on the
event loop a deliverer process of ``serve`` runs on: uvloop where it is installed
(``--loop auto``, as ``server.loop``), else asyncio.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import io
import json
import multiprocessing
import os
import pstats
import sys
import tempfile
import time
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from serve_speed import CONTRACT, make_bodies, receive

from mapwire.runtime.config import load_config
from mapwire.runtime.interpreter import settle_interpreter
from mapwire.runtime.process import Runtime

CIO_KEY = "BENCH_CIO_API_KEY"
MP_SECRET = "BENCH_MP_API_SECRET"


def run_contract_server(kind: str, pipe: Connection) -> None:
    sys.path.insert(0, str(CONTRACT))
    from contract_servers import CustomerIOServer, MParticleServer

    server: Any = CustomerIOServer() if kind == "cio" else MParticleServer()
    with server:
        server.set_validate(False)
        if kind == "cio":
            pipe.send({"base_url": server.origin, "site_id": server.site_id, "key": server.api_key})
        else:
            pipe.send(
                {"base_url": server.base_url, "key": server.api_key, "secret": server.api_secret}
            )
        pipe.recv()  # told to stop
        pipe.send(server.request_count)


def connection(kind: str, vendor: dict[str, str]) -> dict[str, Any]:
    delivery = {"rate_limit": 100_000}
    if kind == "cio":
        os.environ[CIO_KEY] = vendor["key"]
        return {
            "name": "bench",
            "flow": "mparticle-events-to-customerio",
            "destination": {
                "site_id": vendor["site_id"],
                "api_key": {"env": CIO_KEY},
                "base_url": vendor["base_url"],
            },
            "delivery": delivery,
        }
    os.environ[MP_SECRET] = vendor["secret"]
    return {
        "name": "bench",
        "flow": "customerio-activity-to-mparticle",
        "destination": {
            "api_key": vendor["key"],
            "api_secret": {"env": MP_SECRET},
            "base_url": vendor["base_url"],
        },
        "delivery": delivery,
    }


def cio_documents(actions: int, persons: int) -> tuple[str, list[Any]]:
    """Events API batches: one per person, about ``actions`` custom events in all (each
    batch also yields an identify)."""
    events = max(1, actions // persons - 1)
    bodies = make_bodies(0, persons, events)
    return "mparticle.events_api_batch", [json.loads(b) for b in bodies]


METRICS = ("sent", "delivered", "opened", "clicked", "converted", "bounced")


def mp_documents(actions: int, persons: int) -> tuple[str, list[Any]]:
    """Customer.io reporting webhooks: email events of ``persons`` people."""
    docs = []
    for i in range(actions):
        person = i % persons
        docs.append(
            {
                "event_id": f"evt-{i:09d}",
                "object_type": "email",
                "metric": METRICS[i % len(METRICS)],
                "timestamp": 1_713_484_800 + i,
                "data": {
                    "action_id": 42,
                    "campaign_id": 7,
                    "delivery_id": f"delivery-{i}",
                    "identifiers": {"id": f"cust-{person}", "email": f"p{person}@example.com"},
                    "recipient": f"p{person}@example.com",
                    "subject": "Your cart misses you",
                },
            }
        )
    return "customerio.reporting_webhook", docs


async def deliver_all(
    runtime: Runtime, name: str, profiler: cProfile.Profile | None
) -> tuple[int, int, float, float]:
    """Run the deliverer until the queue is empty: (actions delivered, requests, CPU
    seconds, wall seconds). Its first claim warms up (imports, compiled schemas, the TLS
    context of the client) and is not counted."""
    [conn] = [c for c in runtime.config.connections if c.name == name]
    deliverer = runtime.deliverer(conn)
    await deliverer.step()
    delivered = requests = 0
    wall, cpu = time.perf_counter(), time.process_time()
    if profiler is not None:
        profiler.enable()
    while True:
        done = await deliverer.step()
        delivered += done.delivered
        requests += done.requests
        if done.retried or done.dead_lettered:
            raise SystemExit(f"unexpected: {done}")
        if not done.requests and runtime.queue.depth(name) == 0:
            break
    if profiler is not None:
        profiler.disable()
    cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
    await runtime.aclose()
    return delivered, requests, cpu, wall


def run_on(loop: str, run: Any) -> Any:
    """``run`` to its end on ``loop`` (``auto``: uvloop where importable)."""
    if loop != "asyncio":
        try:
            import uvloop
        except ImportError:
            if loop == "uvloop":
                raise
        else:
            return uvloop.run(run)
    return asyncio.run(run)


def measure(
    kind: str, actions: int, persons: int, profile: bool, loop: str = "auto"
) -> dict[str, Any]:
    parent, child = multiprocessing.Pipe()
    server = multiprocessing.Process(target=run_contract_server, args=(kind, child))
    server.start()
    vendor = receive(parent, server)
    with tempfile.TemporaryDirectory() as folder:
        config = {
            "mapwire": 1,
            "store": "sqlite:///state.db",
            "connections": [connection(kind, vendor)],
        }
        path = Path(folder) / "mapwire.yaml"
        path.write_text(json.dumps(config))
        runtime = Runtime(load_config(path))
        source, docs = (cio_documents if kind == "cio" else mp_documents)(actions, persons)
        intake = time.process_time()
        for start in range(0, len(docs), 500):
            runtime.pipeline.submit(source, docs[start : start + 500])
        intake = time.process_time() - intake
        settle_interpreter()  # as a deliverer process does once started
        profiler = cProfile.Profile() if profile else None
        run = deliver_all(runtime, "bench", profiler)
        delivered, requests, cpu, wall = run_on(loop, run)
        runtime.close()
    parent.send("stop")
    received = receive(parent, server)
    server.join()
    if received < requests:
        raise SystemExit(f"{kind}: sent {requests} requests, the server saw {received}")
    out: dict[str, Any] = {
        "destination": "customerio" if kind == "cio" else "mparticle",
        "actions": delivered,
        "cpu_us_per_action": round(cpu / delivered * 1e6, 2),
        "actions_per_second": round(delivered / wall),
        "requests_per_1000": round(requests / delivered * 1000, 2),
        "intake_cpu_us_per_action": round(intake / delivered * 1e6, 2),
    }
    if profiler is not None:
        text = io.StringIO()
        pstats.Stats(profiler, stream=text).sort_stats("tottime").print_stats(25)
        out["profile"] = text.getvalue()
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--actions", type=int, default=20_000)
    parser.add_argument("--persons", type=int, default=2_000)
    parser.add_argument("--only", choices=("cio", "mp"))
    parser.add_argument("--loop", choices=("auto", "uvloop", "asyncio"), default="auto")
    parser.add_argument("--profile", action="store_true")
    args = parser.parse_args()
    for kind in [args.only] if args.only else ["cio", "mp"]:
        result = measure(kind, args.actions, args.persons, args.profile, args.loop)
        profile = result.pop("profile", None)
        print(json.dumps(result))
        if profile:
            print(profile)


if __name__ == "__main__":
    main()
