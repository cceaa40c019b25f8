"""Receiver speed, paired: ``mapwire serve`` against a bare stack written by hand.

    python benchmarks/serve_pair.py [--events 5|25] [--requests 4000] [--concurrency 64]
                                    [--rounds 3] [--small] [--workers N] [--deliverers M]

Each run is three processes, as in ``benchmarks/serve_speed.py`` (whose load generator,
contract-server process and helpers this reuses): the Customer.io contract server
(``tests/contract``, validation off), the receiver under test, and a load-generating
client posting the same Events API batches (one user, ``--events`` custom events each)
over ``--concurrency`` keep-alive connections. The receivers:

* bare: ``benchmarks/bare_stack.py`` - uvicorn + Starlette, orjson, one custom event ->
  one Track v2 entity, a group-committed SQLite queue, one httpx deliverer posting 100
  entities per request;
* mapwire: ``mapwire serve`` (``--workers``/``--deliverers``: its process model) with the
  shipped events mapping, a durable SQLite queue,
  retries and rate limiting on (1,000 requests/s, Customer.io's ceiling). It also sends
  one identify per batch, so it delivers ``events + 1`` actions per request.

Each round runs both, bare first in odd rounds and mapwire first in even ones, so that a
host growing busier or quieter over a run does not favour whichever always ran second
(with an even number of rounds each goes first equally often). For each run: acknowledged
events/s, end-to-end delivered events/s, ack p50/p99, vendor HTTP requests per 1,000
events, server CPU seconds from the first request to the last delivery (and CPU
microseconds per delivered action), peak RSS; then the ratio mapwire/bare for
acknowledgement and end to end, per round and as the median. Under each mapwire run with
several processes, the server's CPU is split by role (the intake ``worker``s, the
``deliverer``s and the ``supervisor``, as ``serve`` logs each process it starts), to show
which side a change moved. ``--small`` is a smoke test (100 requests, one round).
"""

from __future__ import annotations

import argparse
import contextlib
import multiprocessing
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import orjson
from serve_speed import (
    DELIVERED,
    free_port,
    metric_total,
    receive,
    run_client,
    run_contract_server,
    settled,
    wait_ready,
    write_config,
)

HERE = Path(__file__).resolve().parent
TICKS = os.sysconf("SC_CLK_TCK")


@dataclass
class Run:
    kind: str
    ack_rate: float
    e2e_rate: float
    p50_ms: float
    p99_ms: float
    vendor_per_1000: float
    cpu_s: float
    cpu_us_per_action: float
    peak_rss_mb: float
    cpu_by_role: dict[str, float] = field(default_factory=dict)


def process_tree(pid: int) -> list[int]:
    pids, todo = [], [pid]
    while todo:
        p = todo.pop()
        pids.append(p)
        for task in Path(f"/proc/{p}/task").glob("*/children"):
            todo.extend(int(c) for c in task.read_text().split())
    return pids


def cpu_by_pid(pid: int) -> dict[int, float]:
    """CPU seconds (user and system) of ``pid`` and each of its descendants."""
    found = {}
    for p in process_tree(pid):
        fields = Path(f"/proc/{p}/stat").read_text().rsplit(")", 1)[1].split()
        found[p] = (int(fields[11]) + int(fields[12])) / TICKS  # utime, stime
    return found


def roles_from_log(path: Path) -> dict[int, str]:
    """The role of each process ``serve`` started, from its ``child_started`` log lines."""
    roles = {}
    for line in path.read_text().splitlines():
        with contextlib.suppress(ValueError):
            record = orjson.loads(line)
            if isinstance(record, dict) and record.get("event") == "child_started":
                roles[int(record["pid"])] = str(record["role"])
    return roles


def cpu_split(
    before: dict[int, float], after: dict[int, float], roles: dict[int, str], top: int
) -> dict[str, float]:
    """CPU seconds spent between ``before`` and ``after``, added up per role (``top``, the
    process started first, is the ``supervisor``)."""
    split: dict[str, float] = {}
    for pid, seconds in after.items():
        role = "supervisor" if pid == top else roles.get(pid, "other")
        split[role] = split.get(role, 0.0) + seconds - before.get(pid, 0.0)
    return split


def peak_rss_mb(pid: int) -> float:
    total = 0
    for p in process_tree(pid):
        for line in Path(f"/proc/{p}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                total += int(line.split()[1])
    return total / 1024


def delivered(kind: str, url: str, expected: int, supervised: bool) -> tuple[float, bool]:
    """(actions delivered, everything queued has been delivered). Supervised, ``/metrics``
    is one worker's: the shared queue's depth says when all ``expected`` went out."""
    if kind == "bare":
        stats = orjson.loads(httpx.get(url + "/stats", timeout=10).content)
        return stats["delivered"], stats["delivered"] >= stats["queued"]
    text = httpx.get(url + "/metrics", timeout=10).text
    if supervised:
        done = settled(text, supervised=True)
        return (expected if done else 0), done
    return metric_total(text, DELIVERED), settled(text, supervised=False)


def one_run(kind: str, args: argparse.Namespace, ctx: Any) -> Run:
    contract_pipe, child_pipe = ctx.Pipe()
    contract = ctx.Process(target=run_contract_server, args=(child_pipe,), daemon=True)
    contract.start()
    origin, site_id, api_key = receive(contract_pipe, contract)
    folder = Path(tempfile.mkdtemp(prefix=f"mapwire-pair-{kind}-"))
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    if kind == "bare":
        command = [sys.executable, str(HERE / "bare_stack.py"), "--port", str(port)]
        command += ["--db", str(folder / "queue.db"), "--vendor", origin]
        command += ["--site-id", site_id, "--api-key", api_key]
    else:
        config = write_config(folder, origin, site_id)
        exe = Path(sys.executable).parent / "mapwire"
        command = [str(exe), "serve", "--config", str(config), "--port", str(port)]
        command += ["--workers", str(args.workers), "--deliverers", str(args.deliverers)]
    log = (folder / "server.log").open("w")
    env = {**os.environ, "BENCH_CIO_API_KEY": api_key}
    server = subprocess.Popen(command, cwd=folder, env=env, stderr=log)
    expected = args.requests * args.events + (args.requests if kind == "mapwire" else 0)
    supervised = kind == "mapwire" and (args.workers > 1 or args.deliverers > 0)
    try:
        wait_ready(url)
        mine, theirs = ctx.Pipe()
        client = ctx.Process(
            target=run_client,
            args=("raw", url, 0, args.requests, args.events, args.concurrency, theirs),
        )
        client.start()
        receive(mine, client)
        cpu_before = cpu_by_pid(server.pid)
        started = time.perf_counter()
        mine.send("go")
        latencies: list[float] = sorted(receive(mine, client))
        client.join()
        acked = time.perf_counter() - started
        count, done = delivered(kind, url, expected, supervised)
        while not done or count < expected:
            time.sleep(0.02)
            count, done = delivered(kind, url, expected, supervised)
        finished = time.perf_counter() - started
        cpu_after = cpu_by_pid(server.pid)
        cpu = sum(cpu_after.values()) - sum(cpu_before.values())
        rss = peak_rss_mb(server.pid)
    finally:
        server.terminate()
        server.wait(60)
        log.close()
        contract_pipe.send("stop")
    split = {}
    if supervised:
        roles = roles_from_log(folder / "server.log")
        split = cpu_split(cpu_before, cpu_after, roles, server.pid)
    vendor_requests, _ = receive(contract_pipe, contract)
    contract.join(10)
    shutil.rmtree(folder, ignore_errors=True)
    events = args.requests * args.events
    return Run(
        kind,
        events / acked,
        events / finished,
        statistics.median(latencies) * 1000,
        latencies[max(0, int(len(latencies) * 0.99) - 1)] * 1000,
        vendor_requests * 1000 / events,
        cpu,
        cpu * 1e6 / max(count, 1),
        rss,
        split,
    )


def show(run: Run) -> None:
    print(
        f"  {run.kind:8} ack {run.ack_rate:9,.0f} ev/s  e2e {run.e2e_rate:9,.0f} ev/s  "
        f"p50 {run.p50_ms:6.1f} ms  p99 {run.p99_ms:6.1f} ms  "
        f"vendor {run.vendor_per_1000:5.1f}/1k ev  CPU {run.cpu_s:5.2f} s "
        f"({run.cpu_us_per_action:5.0f} us/action)  RSS {run.peak_rss_mb:5.0f} MB"
    )
    if run.cpu_by_role:
        per_second = run.cpu_us_per_action / run.cpu_s if run.cpu_s else 0.0  # of CPU
        parts = [
            f"{role} {seconds:.2f} s ({seconds * per_second:.0f} us/action)"
            for role, seconds in sorted(run.cpu_by_role.items())
        ]
        print("           CPU by role: " + ", ".join(parts))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--events", type=int, choices=[5, 25], default=5)
    ap.add_argument("--requests", type=int, default=4000)
    ap.add_argument("--concurrency", type=int, default=64)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--small", action="store_true", help="a smoke test: 100 requests, 1 round")
    ap.add_argument("--workers", type=int, default=1, help="mapwire serve --workers")
    ap.add_argument("--deliverers", type=int, default=0, help="mapwire serve --deliverers")
    args = ap.parse_args()
    if args.small:
        args.requests, args.rounds = 100, 1
    ctx = multiprocessing.get_context("spawn")
    print(
        f"{args.requests} requests x {args.events} events, concurrency {args.concurrency}, "
        f"{args.rounds} round(s), bare then mapwire in odd rounds, mapwire first in even "
        f"(--workers {args.workers} --deliverers {args.deliverers})"
    )
    ack_ratios, e2e_ratios = [], []
    for r in range(args.rounds):
        print(f"round {r + 1}:")
        runs: dict[str, Run] = {}
        for kind in ("bare", "mapwire") if r % 2 == 0 else ("mapwire", "bare"):
            runs[kind] = one_run(kind, args, ctx)
            show(runs[kind])
        bare, ours = runs["bare"], runs["mapwire"]
        ack_ratios.append(ours.ack_rate / bare.ack_rate)
        e2e_ratios.append(ours.e2e_rate / bare.e2e_rate)
        print(f"  mapwire/bare: ack {ack_ratios[-1]:.2f}x, end to end {e2e_ratios[-1]:.2f}x")
    print(
        f"median mapwire/bare over {args.rounds} round(s): ack "
        f"{statistics.median(ack_ratios):.2f}x, end to end {statistics.median(e2e_ratios):.2f}x"
    )


if __name__ == "__main__":
    main()
