"""``mapwire send``: backfill JSON / NDJSON files through a connection, resumably."""

from __future__ import annotations

import asyncio
import sys
import time
from pathlib import Path
from typing import IO, Any

import click

from mapwire.engine.backfill import fingerprint, progress_key, read_chunks, resume_point
from mapwire.engine.cli.common import EXIT_PROBLEMS, EXIT_SPEC, report_spec_error
from mapwire.engine.config import DEMO_CONFIG, Config, Connection, load_config
from mapwire.engine.errors import ConfigError
from mapwire.engine.pipeline import BacklogFull
from mapwire.engine.registry import get_registry
from mapwire.engine.runtime import Runtime


def load_config_or_exit(path: Path | None) -> Config:
    """The given config, or the bundled demo (every flow into ./mapwire-data/delivered)."""
    try:
        if path is None:
            click.echo(
                "using the bundled demo config: state in ./mapwire-data, deliveries recorded "
                "in ./mapwire-data/delivered (pass --config for your own)",
                err=True,
            )
            return load_config(DEMO_CONFIG, base=Path.cwd())
        return load_config(path)
    except ConfigError as exc:
        report_spec_error(exc)
        raise SystemExit(EXIT_SPEC) from exc


def pick_connection(config: Config, name: str | None, flow: str | None) -> Connection:
    if name:
        try:
            return config.connection(name)
        except KeyError as exc:
            raise click.BadParameter(str(exc.args[0]), param_hint="--connection") from exc
    candidates = [c for c in config.connections if flow in (None, c.flow, c.plan.name)]
    if len(candidates) == 1:
        return candidates[0]
    names = ", ".join(c.name for c in candidates) or "none"
    raise click.BadParameter(
        f"choose one connection with --connection (matching: {names})", param_hint="--flow"
    )


class Progress:
    """A live status line on a terminal; a plain line every few seconds otherwise."""

    def __init__(self, total_bytes: int, stream: IO[str] = sys.stderr) -> None:
        self.total = total_bytes
        self.stream = stream
        self.tty = stream.isatty()
        self.started = time.monotonic()
        self.last = 0.0
        self.bytes = 0
        self.documents = 0

    def update(self, snapshot: dict[str, Any], queued_now: int, *, final: bool = False) -> None:
        now = time.monotonic()
        if not final and now - self.last < (0.2 if self.tty else 5.0):
            return
        self.last = now
        elapsed = max(now - self.started, 1e-6)
        rate = self.documents / elapsed
        pct = f"{100 * self.bytes / self.total:5.1f}%" if self.total else "  -  "
        eta = ""
        if self.total and self.bytes and self.bytes < self.total:
            eta = f" ETA {(self.total - self.bytes) / (self.bytes / elapsed):.0f}s"
        line = (
            f"{pct} {self.documents} docs {rate:,.0f}/s{eta} | queued {snapshot['mapped']} "
            f"delivered {snapshot['delivered']} waiting {queued_now} "
            f"dead-lettered {snapshot['dead_lettered']}"
        )
        if self.tty:
            self.stream.write("\r" + line.ljust(100) + ("\n" if final else ""))
        else:
            self.stream.write(line + "\n")
        self.stream.flush()


@click.command()
@click.option(
    "--config",
    "config_path",
    type=click.Path(path_type=Path),
    help="Config file (default: the bundled demo, which needs no account).",
)
@click.option("--connection", "connection_name", help="The connection to send through.")
@click.option("--flow", "flow", help="Pick the one connection that runs this flow.")
@click.option("--source", help="Input shape of the files (default: the flow's first).")
@click.option(
    "--wait/--no-wait",
    default=True,
    show_default=True,
    help="Wait until everything queued is delivered or dead-lettered.",
)
@click.option("--chunk-size", default=500, show_default=True, help="Documents per commit.")
@click.argument("inputs", nargs=-1, required=True)
def send(
    config_path: Path | None,
    connection_name: str | None,
    flow: str | None,
    source: str | None,
    wait: bool,
    chunk_size: int,
    inputs: tuple[str, ...],
) -> None:
    """Backfill: map JSON or NDJSON files (or - for stdin) through a connection and deliver.

    Every chunk is committed to the durable queue together with the file position, so
    rerunning the same command after Ctrl-C or a crash resumes where it stopped:
    nothing is skipped and nothing is queued twice. Malformed lines are reported and
    the rest is delivered. Exits 1 if any line, item or delivery failed.

    \b
    Examples:
      mapwire send --connection mparticle-events batch.json    (bundled demo config)
      mapwire send --config mapwire.yaml --connection cio-events batches.ndjson
      mapwire send --config mapwire.yaml --flow customerio-activity-to-mparticle - < hooks.ndjson
    """
    config = load_config_or_exit(config_path)
    conn = pick_connection(config, connection_name, flow)
    if not conn.enabled:
        raise click.BadParameter(f"connection {conn.name!r} is disabled", param_hint="--connection")
    shape = source or conn.plan.sources[0]
    if shape not in conn.plan.sources:
        raise click.BadParameter(
            f"flow {conn.plan.name!r} reads {', '.join(conn.plan.sources)}", param_hint="--source"
        )
    split = get_registry().sources()[shape].split
    runtime = Runtime(config)
    failed = False
    try:
        failed = asyncio.run(_run(runtime, conn, shape, split, inputs, chunk_size, wait))
    except KeyboardInterrupt:
        click.echo("\ninterrupted: what was committed is queued; rerun to resume", err=True)
        failed = True
    finally:
        runtime.close()
    if failed:
        raise SystemExit(EXIT_PROBLEMS)


async def _run(
    runtime: Runtime,
    conn: Connection,
    shape: str,
    split: Any,
    inputs: tuple[str, ...],
    chunk_size: int,
    wait: bool,
) -> bool:
    stop = asyncio.Event()
    delivery = asyncio.create_task(runtime.deliver(stop, only=[conn.name]))
    paths = [Path(p) for p in inputs if p != "-"]
    progress = Progress(sum(p.stat().st_size for p in paths if p.exists()))
    bad = errors = 0
    summary: dict[str, int] = {}
    try:
        for name in inputs:
            b, e = await _send_one(runtime, conn, shape, split, name, chunk_size, progress, summary)
            bad, errors = bad + b, errors + e
            if delivery.done():
                delivery.result()  # delivery stopped: surface its error
        while wait and runtime.queue.depth(conn.name) > 0:
            if delivery.done():
                delivery.result()
            progress.update(runtime.metrics.snapshot(conn.name), runtime.queue.depth(conn.name))
            await asyncio.sleep(0.1)
    finally:
        stop.set()
        await delivery
        await runtime.aclose()
    snap = runtime.metrics.snapshot(conn.name)
    progress.update(snap, runtime.queue.depth(conn.name), final=True)
    _print_summary(snap, summary, bad, errors, runtime.queue.depth(conn.name))
    return bool(bad or errors or snap["dead_lettered"])


async def _send_one(
    runtime: Runtime,
    conn: Connection,
    shape: str,
    split: Any,
    name: str,
    chunk_size: int,
    progress: Progress,
    summary: dict[str, int],
) -> tuple[int, int]:
    bad = errors = 0
    if name == "-":
        stream: IO[bytes] = sys.stdin.buffer
        key, fp, resume = None, "", None
    else:
        path = Path(name)
        try:
            stream = path.open("rb")
        except OSError as exc:
            click.echo(f"{name}: cannot read: {exc.strerror}", err=True)
            return 1, 0
        key, fp = progress_key(conn.name, path), fingerprint(path)
        resume = resume_point(runtime.queue.progress(key), fp)
        if resume == "done":
            click.echo(f"{name}: already sent (delete the state file to send it again)", err=True)
    with stream:
        for chunk in read_chunks(stream, resume=resume, size=chunk_size, split=split):
            for line, message in chunk.bad_lines:
                click.echo(f"{name}:{line}: {message}", err=True)
            bad += len(chunk.bad_lines)
            mark = (key, f"{chunk.position}@{fp}") if key else None
            while True:
                try:
                    report = await asyncio.to_thread(
                        runtime.pipeline.submit,
                        shape,
                        chunk.documents,
                        only=conn.name,
                        progress=mark,
                    )
                    break
                except BacklogFull:
                    await asyncio.sleep(0.5)
            part = report.connections.get(conn.name)
            if part is not None:
                for err in part.errors[:20]:
                    click.echo(f"{name}: {err}", err=True)
                errors += len(part.errors)
                for reason, n in part.skipped.items():
                    summary[reason] = summary.get(reason, 0) + n
            progress.documents += len(chunk.documents)
            progress.bytes += chunk.bytes_read
            progress.update(runtime.metrics.snapshot(conn.name), runtime.queue.depth(conn.name))
    return bad, errors


def _print_summary(
    snap: dict[str, Any], skipped: dict[str, int], bad: int, errors: int, waiting: int
) -> None:
    click.echo("summary:", err=True)
    click.echo(f"  actions mapped and queued: {snap['mapped']}", err=True)
    for reason, n in sorted(skipped.items()):
        click.echo(f"  skipped ({reason}): {n}", err=True)
    click.echo(f"  malformed input lines: {bad}", err=True)
    click.echo(f"  items that failed to map: {errors}", err=True)
    click.echo(f"  delivered: {snap['delivered']} in {snap['requests']} request(s)", err=True)
    for reason, n in sorted(snap.get("repaired", {}).items()):
        click.echo(f"  repaired fields ({reason}): {n}", err=True)
    click.echo(f"  retried: {snap['retried']}", err=True)
    click.echo(f"  dead-lettered: {snap['dead_lettered']}", err=True)
    click.echo(f"  still queued: {waiting}", err=True)
