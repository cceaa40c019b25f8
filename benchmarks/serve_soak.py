"""Memory over time: ``mapwire serve`` under a steady load, with the vendor up, then down.

    python benchmarks/serve_soak.py [--seconds 300] [--down-seconds 60] [--rate 5000]
                                    [--every 10] [--concurrency 32] [--small]
                                    [--workers N] [--deliverers M]

Three processes, as in ``benchmarks/serve_speed.py`` (whose contract-server process,
request bodies and helpers this reuses): the Customer.io contract server (``tests/contract``,
validation off), ``mapwire serve`` with the shipped events mapping and a SQLite queue in a
temporary folder, and a client posting Events API batches (``--events`` custom events, a
new user in every request, so dedup never skips one) at a steady offered rate of ``--rate``
events/s, paced, over ``--concurrency`` keep-alive connections; every answer must be 202.

* vendor up, ``--seconds``: the server maps, queues and delivers as it goes;
* vendor down, ``--down-seconds``: the contract server's process is terminated and its port
  stays closed; the same ``serve`` process keeps acknowledging while delivery fails and
  backs off, so the backlog grows in the SQLite file.

Every ``--every`` seconds it prints one line: the time, the phase, the RSS of the ``serve``
process tree (the sum of VmRSS over the tree, and the anonymous part of it: heap rather
than mapped files), events acknowledged, actions delivered (from ``/metrics``; with
``--workers``/``--deliverers`` the deliverers' counts are not served, shown as ``-``), the
queue depth and the size of the SQLite files. At the end: RSS at the end of warm-up, the
max and the last, and per phase the growth (least-squares slope over the samples, MB/min)
and whether that is flat. Nothing is asserted about memory: this measures, the tests check
behaviour. It exits 1 if an answer was not 202. ``--small`` is a smoke test (16 s or so).
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import multiprocessing
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from multiprocessing.sharedctypes import Synchronized
from multiprocessing.synchronize import Event
from pathlib import Path

import httpx
from serve_pair import process_tree
from serve_speed import (
    DELIVERED,
    free_port,
    make_bodies,
    metric_total,
    start_contract_server,
    wait_ready,
    write_config,
)

FLAT_MB_PER_MINUTE = 1.0
VENDOR_REQUESTS = "mapwire_destination_requests_total"
WARM_UP_SECONDS = 30.0
WARM_UP_SHARE = 0.10
CHUNK = 500  # request bodies made at a time by the client


# -- the paced client (its own process) -----------------------------------------------------
def run_paced_client(
    url: str,
    events: int,
    rate: float,
    concurrency: int,
    acked: Synchronized[int],
    refused: Synchronized[int],
    stop: Event,
) -> None:
    """Post ``rate`` events/s (request ``k`` is due ``k / requests_per_s`` after the start)
    until ``stop`` is set; count the 202 answers in ``acked`` and any other in ``refused``."""
    asyncio.run(paced(url, events, rate / events, concurrency, acked, refused, stop))


def bodies_forever(events: int) -> Iterator[bytes]:
    for first in itertools.count(0, CHUNK):
        yield from make_bodies(first, CHUNK, events)


async def paced(
    url: str,
    events: int,
    per_second: float,
    concurrency: int,
    acked: Synchronized[int],
    refused: Synchronized[int],
    stop: Event,
) -> None:
    host, port = url.split("://", 1)[1].split(":")
    head = (
        "POST /mparticle/events HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\n"
        "Authorization: Bearer bench-token\r\nContent-Length: {length}\r\n\r\n"
    )
    bodies = bodies_forever(events)
    due = itertools.count()
    start = time.monotonic()

    async def worker() -> None:
        reader, writer = await asyncio.open_connection(host, int(port))
        while not stop.is_set():
            wait = start + next(due) / per_second - time.monotonic()
            if wait > 0:
                await asyncio.sleep(wait)
            body = next(bodies)
            writer.write(head.format(host=host, length=len(body)).encode() + body)
            response = await reader.readuntil(b"\r\n\r\n")
            at = response.lower().find(b"content-length:") + len(b"content-length:")
            answer = await reader.readexactly(int(response[at : response.find(b"\r\n", at)]))
            if response[9:12] == b"202":
                acked.value += 1  # one writer per counter: no lock needed
            else:
                if not refused.value:
                    print(f"unexpected answer: {response[:12]!r} {answer[:200]!r}", flush=True)
                refused.value += 1
        writer.close()
        await writer.wait_closed()

    await asyncio.gather(*(worker() for _ in range(concurrency)))


# -- sampling -------------------------------------------------------------------------------
@dataclass
class Sample:
    t: float
    phase: str
    rss_mb: float
    anon_mb: float
    acked: int  # events
    delivered: float | None  # actions
    depth: float
    disk_mb: float
    vendor_requests: float | None  # requests sent to the vendor so far


def tree_rss_mb(pid: int) -> tuple[float, float]:
    """(VmRSS, RssAnon) summed over the process tree, in MB. Pages shared by forked
    children count once per process, as the kernel reports them."""
    rss = anon = 0
    for p in process_tree(pid):
        try:
            status = Path(f"/proc/{p}/status").read_text()
        except (FileNotFoundError, ProcessLookupError):
            continue  # a child that just ended
        for line in status.splitlines():
            if line.startswith("VmRSS:"):
                rss += int(line.split()[1])
            elif line.startswith("RssAnon:"):
                anon += int(line.split()[1])
    return rss / 1024, anon / 1024


def take_sample(
    t: float, phase: str, pid: int, url: str, acked: int, folder: Path, supervised: bool
) -> Sample:
    rss, anon = tree_rss_mb(pid)
    text = httpx.get(url + "/metrics", timeout=30).text
    delivered = None if supervised else metric_total(text, DELIVERED)
    requests = None if supervised else metric_total(text, VENDOR_REQUESTS)
    disk = sum(p.stat().st_size for p in folder.glob("state.db*"))
    depth = metric_total(text, "mapwire_queue_depth")
    return Sample(t, phase, rss, anon, acked, delivered, depth, disk / 1e6, requests)


def show(s: Sample) -> None:
    delivered = "-" if s.delivered is None else f"{int(s.delivered):,}"
    print(
        f"{s.t:7.1f} {s.phase:6} {s.rss_mb:8.1f} {s.anon_mb:8.1f} {s.acked:>11,} "
        f"{delivered:>11} {int(s.depth):>10,} {s.disk_mb:8.1f}",
        flush=True,
    )


def slope_mb_per_minute(samples: list[Sample]) -> float | None:
    if len(samples) < 3:
        return None
    fit = statistics.linear_regression([s.t for s in samples], [s.rss_mb for s in samples])
    return fit.slope * 60


def summary(samples: list[Sample], args: argparse.Namespace, refused: int) -> None:
    warm_at = min(WARM_UP_SECONDS, WARM_UP_SHARE * args.seconds)
    warm = next(s for s in samples if s.t >= warm_at)
    top = max(samples, key=lambda s: s.rss_mb)
    last = samples[-1]
    which = "30 s" if warm_at == WARM_UP_SECONDS else "10% of the vendor-up phase (< 30 s)"
    print(
        f"RSS (MB, serve process tree): {samples[0].rss_mb:.1f} at the start, {warm.rss_mb:.1f} "
        f"at the end of warm-up ({warm.t:.0f} s, the first sample at or after {which}), "
        f"max {top.rss_mb:.1f} ({top.t:.0f} s), "
        f"last {last.rss_mb:.1f} ({last.t:.0f} s)"
    )
    up = [s for s in samples if s.phase == "up" and s.t >= warm.t]
    down = [s for s in samples if s.phase == "down"]
    before = [s for s in samples if s.phase == "up"][-1]
    for name, phase, first in (("vendor up", up, warm), ("vendor down", down, before)):
        seconds = phase[-1].t - first.t if phase else 0.0
        rate = (phase[-1].acked - first.acked) / seconds if seconds > 0 else 0.0
        slope = slope_mb_per_minute(phase)
        if slope is None:
            print(f"{name}: too few samples for a slope (lower --every)")
            continue
        per_event = slope * 1e6 / 60 / rate if rate else float("nan")
        verdict = "flat" if abs(slope) < FLAT_MB_PER_MINUTE else "NOT flat"
        if seconds < 60:
            verdict = f"{verdict}? (under a minute of samples: too short to judge)"
        print(
            f"{name} ({phase[0].t:.0f}-{phase[-1].t:.0f} s, {len(phase)} samples): "
            f"{rate:,.0f} events/s acknowledged, RSS {slope:+.2f} MB/min "
            f"({per_event:+.1f} bytes per event acknowledged): {verdict}"
        )
    sent, since = up[-1].vendor_requests if up else None, warm.vendor_requests
    if sent is not None and since is not None and up[-1].acked > warm.acked:
        per_1000 = (sent - since) * 1000 / (up[-1].acked - warm.acked)
        print(f"vendor up: {per_1000:.1f} vendor requests per 1,000 events acknowledged")
    print(
        f"flat means |slope| < {FLAT_MB_PER_MINUTE:g} MB/min: under 5 MB over a 5-minute run, "
        "within the swing of the allocator's arenas and SQLite's page cache, while keeping "
        "even a few bytes per event would exceed it at thousands of events/s"
    )
    if refused:
        print(f"{refused:,} answer(s) were not 202")


def sample_times(every: float, switch: float, end: float) -> list[float]:
    """Every ``every`` seconds until ``end``, and at the switch to vendor-down."""
    ticks = {round(k * every, 6) for k in range(1, int(end / every) + 1)}
    return sorted(ticks | {switch, end})


# -- the run ---------------------------------------------------------------------------------
def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--seconds", type=float, default=300, help="vendor-up phase")
    ap.add_argument("--down-seconds", type=float, default=60, help="vendor-down phase")
    ap.add_argument("--rate", type=float, default=5000, help="offered events/s")
    ap.add_argument("--events", type=int, default=5, help="events per request")
    ap.add_argument("--concurrency", type=int, default=32)
    ap.add_argument("--every", type=float, default=10, help="seconds between samples")
    ap.add_argument("--small", action="store_true", help="smoke: 6 s + 4 s, every 1 s, 500/s")
    ap.add_argument("--keep", action="store_true", help="keep the server's folder and log")
    ap.add_argument("--workers", type=int, default=1, help="serve --workers")
    ap.add_argument("--deliverers", type=int, default=0, help="serve --deliverers")
    args = ap.parse_args()
    if args.small:
        args.seconds, args.down_seconds, args.every, args.rate = 6, 4, 1, 500

    ctx = multiprocessing.get_context("spawn")
    # the pipe is kept open while the vendor runs: its end closing would stop the server
    contract, vendor_pipe, (origin, site_id, api_key) = start_contract_server(ctx)

    folder = Path(tempfile.mkdtemp(prefix="mapwire-soak-"))
    config = write_config(folder, origin, site_id)
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    exe = Path(sys.executable).parent / "mapwire"
    command = [str(exe), "serve", "--config", str(config), "--port", str(port)]
    command += ["--workers", str(args.workers), "--deliverers", str(args.deliverers)]
    supervised = args.workers > 1 or args.deliverers > 0
    log = (folder / "serve.log").open("w")
    env = {**os.environ, "BENCH_CIO_API_KEY": api_key}
    server = subprocess.Popen(command, cwd=folder, env=env, stderr=log)
    acked, refused, stop = ctx.Value("q", 0), ctx.Value("q", 0), ctx.Event()
    client = ctx.Process(
        target=run_paced_client,
        args=(url, args.events, args.rate, args.concurrency, acked, refused, stop),
        name="client",
    )
    print(
        f"offered {args.rate:,.0f} events/s ({args.events}-event requests, "
        f"{args.concurrency} connections); vendor up {args.seconds:g} s, then down "
        f"{args.down_seconds:g} s; a sample every {args.every:g} s; "
        f"serve --workers {args.workers} --deliverers {args.deliverers}"
    )
    print(
        "    t s phase    RSS MB  anon MB  acked ev    delivered      depth  disk MB",
        flush=True,
    )
    samples: list[Sample] = []
    try:
        wait_ready(url)
        samples.append(take_sample(0.0, "start", server.pid, url, 0, folder, supervised))
        show(samples[-1])
        client.start()
        started = time.monotonic()
        phase, end = "up", args.seconds + args.down_seconds
        for at in sample_times(args.every, args.seconds, end):
            time.sleep(max(0.0, started + at - time.monotonic()))
            if not client.is_alive() or server.poll() is not None:
                raise SystemExit("the client or the server stopped during the run")
            t = time.monotonic() - started
            count = acked.value * args.events
            samples.append(take_sample(t, phase, server.pid, url, count, folder, supervised))
            show(samples[-1])
            if phase == "up" and at >= args.seconds:
                contract.terminate()  # its port closes and stays closed
                contract.join(10)
                phase = "down"
                print(f"{'':8}vendor down: the contract server's process was terminated")
        stop.set()
        client.join(30)
    finally:
        stop.set()
        server.send_signal(signal.SIGTERM)
        server.wait(60)
        log.close()
        if contract.is_alive():
            contract.terminate()
        vendor_pipe.close()
        if client.is_alive():
            client.terminate()
    summary(samples, args, refused.value)
    if args.keep:
        print(f"server folder (config, SQLite file, log): {folder}")
    else:
        shutil.rmtree(folder, ignore_errors=True)
    if refused.value:
        raise SystemExit(1)


if __name__ == "__main__":
    main()
