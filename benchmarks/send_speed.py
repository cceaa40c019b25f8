"""Backfill throughput: `mapwire send` from an NDJSON file to a loopback Customer.io
contract server with the durable SQLite queue on.

    python benchmarks/send_speed.py [--users 4000] [--events-per-user 24]

Reports events/second end to end (file read -> mapping -> SQLite queue -> batched HTTP
delivery -> acknowledged), HTTP requests per 1,000 events, and the process's peak memory.
Then it measures memory while the destination is down: the same run against a server that
refuses connections, sampling the process's resident memory as the backlog grows on disk.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "tests" / "contract"))
sys.path.insert(0, str(HERE.parent / "tests" / "delivery"))

from contract_servers import CustomerIOServer  # noqa: E402
from delivery_helpers import batches, cio_connection, write_config, write_ndjson  # noqa: E402


def rss_mb(pid: int) -> float:
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--users", type=int, default=4000)
    ap.add_argument("--events-per-user", type=int, default=24)
    args = ap.parse_args()
    exe = str(Path(sys.executable).parent / "mapwire")
    with tempfile.TemporaryDirectory() as tmp, CustomerIOServer() as server:
        work = Path(tmp)
        server.set_validate(False)
        docs = batches(args.users, args.events_per_user)
        events = args.users * args.events_per_user
        actions = events + args.users
        path = write_ndjson(work / "in.ndjson", docs)
        config = write_config(work, [cio_connection(server)], delivery={"rate_limit": 1000})
        env = {**os.environ, "TEST_CIO_API_KEY": server.api_key}
        cmd = [exe, "send", "--config", str(config), "--connection", "cio", str(path)]
        started = time.perf_counter()
        proc = subprocess.Popen(
            cmd, env=env, cwd=work, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True
        )
        peak = 0.0
        while proc.poll() is None:
            peak = max(peak, rss_mb(proc.pid))
            time.sleep(0.05)
        elapsed = time.perf_counter() - started
        err = proc.stderr.read() if proc.stderr else ""
        if proc.returncode != 0:
            print(err)
            raise SystemExit("send failed")
        requests = sum(1 for r in server.requests if r.path == "/api/v2/batch")
        print(
            f"{events} events ({actions} actions incl. one identify per user), {len(docs)} batches"
        )
        print(
            f"send -> SQLite queue -> Customer.io contract server: {elapsed:.2f} s wall, "
            f"{events / elapsed:,.0f} events/s (process start included)"
        )
        print(
            f"HTTP requests to Customer.io: {requests}"
            f" = {1000 * requests / events:.2f} per 1,000 events"
        )
        print(f"peak resident memory of send: {peak:.0f} MB")

        # Memory while the destination is down: the backlog grows on disk, not in memory.
        server.down()
        work2 = work / "down"
        work2.mkdir()
        config2 = write_config(work2, [cio_connection(server)], delivery={"max_backoff_seconds": 1})
        cmd2 = [exe, "send", "--config", str(config2), "--connection", "cio", str(path)]
        proc2 = subprocess.Popen(
            cmd2, env=env, cwd=work2, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        samples = []
        t0 = time.perf_counter()
        while time.perf_counter() - t0 < 12:
            samples.append((time.perf_counter() - t0, rss_mb(proc2.pid)))
            time.sleep(1.0)
        proc2.kill()
        proc2.wait()
        shown = ", ".join(f"{t:.0f}s {m:.0f}MB" for t, m in samples[1::2])
        print(
            f"destination down, {actions} actions backlogged on disk;"
            f" send's memory over time: {shown}"
        )


if __name__ == "__main__":
    main()
