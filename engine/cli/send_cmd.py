"""``mapwire send``: backfill JSON / NDJSON files through a connection, resumably."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any
from urllib.parse import urlsplit

import click

from ..contracts.errors import BacklogFull
from ..runtime.backfill import (
    DONE,
    Limits,
    describe_resume,
    fingerprint,
    progress_key,
    read_chunks,
    resume_fits,
    resume_point,
    resumed_bytes,
)
from ..runtime.config import Config, Connection
from ..runtime.process import Runtime
from ..runtime.registry import get_registry
from .common import EXIT_PROBLEMS
from .config_discovery import load_config_or_exit
from .send_report import DeliveryNotices, Progress, Tally, print_summary

#: The conventional exit status of a process stopped by SIGINT (128 + 2).
EXIT_INTERRUPTED = 130


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


@click.command()
@click.option(
    "--config",
    "config_path",
    type=click.Path(path_type=Path),
    help="Config file (default: $MAPWIRE_CONFIG, else ./mapwire.yaml).",
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
@click.option(
    "--restart",
    is_flag=True,
    help="Forget where these files were stopped and read them from the start (dedup keys, "
    "audience state and the queue are kept).",
)
@click.argument("inputs", nargs=-1, required=True)
def send(
    config_path: Path | None,
    connection_name: str | None,
    flow: str | None,
    source: str | None,
    wait: bool,
    chunk_size: int,
    restart: bool,
    inputs: tuple[str, ...],
) -> None:
    """Backfill: map JSON or NDJSON files (or - for stdin) through a connection and deliver.

    Every chunk is committed to the durable queue together with the file position, so
    rerunning the same command after Ctrl-C or a crash resumes where it stopped:
    nothing is skipped and nothing is queued twice (but a chunk that erases a person,
    queued again if the crash came before its erasure was made); it says where it resumes. --restart
    reads the files from the start again (dedup keys still apply). Malformed lines are
    reported and the rest is delivered. Exits 1 if any line, item or delivery failed,
    130 after Ctrl-C (with a partial summary; rerun to resume).

    \b
    Examples:
      mapwire send --connection cio-events batch.json         (./mapwire.yaml)
      mapwire send --config mapwire.yaml --connection cio-events batches.ndjson
      mapwire send --config mapwire.yaml --flow customerio-activity-to-mparticle - < hooks.ndjson
      mapwire send --config mapwire.yaml --connection cio-events --restart batches.ndjson
    """
    config = load_config_or_exit(config_path, "send", delivers=True)
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
    job = Job(runtime, conn, shape, split, chunk_size, restart)
    try:
        failed = asyncio.run(_run(job, inputs, wait))
    except KeyboardInterrupt:  # a second Ctrl-C: stop now
        click.echo("\ninterrupted: what was committed is queued; rerun to resume", err=True)
        raise SystemExit(EXIT_INTERRUPTED) from None
    finally:
        runtime.close()
    if job.interrupted:
        raise SystemExit(EXIT_INTERRUPTED)
    if failed:
        raise SystemExit(EXIT_PROBLEMS)


@dataclass
class Job:
    """One ``send`` run: what it sends through, and how far it got."""

    runtime: Runtime
    conn: Connection
    shape: str
    split: Any
    chunk_size: int
    restart: bool
    tally: Tally = field(default_factory=Tally)
    interrupted: bool = False

    def interrupt(self) -> None:
        """The first Ctrl-C: finish the chunk being committed, then stop and summarise."""
        if not self.interrupted:
            click.echo(
                "\ninterrupted: stopping after the current chunk (Ctrl-C again to quit now)",
                err=True,
            )
        self.interrupted = True


def state_location(url: str) -> str:
    """Where the queue and file positions are kept, without any credentials."""
    prefix = "sqlite:///"
    if url.startswith(prefix):
        return url[len(prefix) :]
    parts = urlsplit(url)
    port = f":{parts.port}" if parts.port else ""
    return f"{parts.scheme}://{parts.hostname or ''}{port}{parts.path}"


async def _run(job: Job, inputs: tuple[str, ...], wait: bool) -> bool:
    runtime, conn = job.runtime, job.conn
    loop = asyncio.get_running_loop()
    with _sigint_handler(loop, job), delivery_notices():
        stop = asyncio.Event()
        job.tally.carried_over = runtime.queue.depth(conn.name)
        delivery = asyncio.create_task(runtime.deliver(stop, only=[conn.name]))
        paths = [Path(p) for p in inputs if p != "-"]
        progress = Progress(sum(p.stat().st_size for p in paths if p.exists()))
        try:
            for name in inputs:
                if job.interrupted:
                    break
                await _send_one(job, name, progress)
                if delivery.done():
                    delivery.result()  # delivery stopped: surface its error
            while wait and not job.interrupted and runtime.queue.depth(conn.name) > 0:
                if delivery.done():
                    delivery.result()
                progress.update(runtime.metrics.snapshot(conn.name), runtime.queue.depth(conn.name))
                await asyncio.sleep(0.1)
        finally:
            stop.set()
            await delivery
            await runtime.aclose()
    snap = runtime.metrics.snapshot(conn.name)
    waiting = runtime.queue.depth(conn.name)
    progress.update(snap, waiting, final=True)
    print_summary(snap, job.tally, waiting, interrupted=job.interrupted)
    if job.interrupted:
        click.echo("rerun the same command to resume where this run stopped", err=True)
    tally = job.tally
    return bool(tally.bad_lines or tally.errors or snap["dead_lettered"])


@contextlib.contextmanager
def delivery_notices() -> Iterator[None]:
    """While a run is going, delivery's pause/resume notices are stderr lines."""
    delivery_logger = logging.getLogger("mapwire.delivery")
    handler = DeliveryNotices()
    delivery_logger.addHandler(handler)
    try:
        yield
    finally:
        delivery_logger.removeHandler(handler)


@contextlib.contextmanager
def _sigint_handler(loop: asyncio.AbstractEventLoop, job: Job) -> Iterator[None]:
    """While a run is going, the first Ctrl-C asks it to stop cleanly; the handler is
    then removed, so a second Ctrl-C interrupts at once."""

    def first() -> None:
        job.interrupt()
        loop.remove_signal_handler(signal.SIGINT)

    with contextlib.suppress(NotImplementedError, RuntimeError):  # no signals here
        loop.add_signal_handler(signal.SIGINT, first)
    try:
        yield
    finally:
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.remove_signal_handler(signal.SIGINT)


async def _send_one(job: Job, name: str, progress: Progress) -> None:
    runtime, conn, tally = job.runtime, job.conn, job.tally
    if name == "-":
        stream: IO[bytes] = sys.stdin.buffer
        key, fp, resume = None, "", None
        progress.start_file(0)
    else:
        path = Path(name)
        try:
            stream = path.open("rb")
        except OSError as exc:
            click.echo(f"{name}: cannot read: {exc.strerror}", err=True)
            tally.bad_lines += 1
            return
        key, fp = progress_key(conn.name, path), fingerprint(path)
        if job.restart:
            await asyncio.to_thread(runtime.queue.enqueue, conn.name, [], progress=(key, ""))
            click.echo(f"{name}: --restart: reading from the start", err=True)
        resume = resume_point(runtime.queue.progress(key), fp)
        if not resume_fits(stream, resume):
            stream.close()
            click.echo(
                f"{name}: the file changed since it was partly sent (its recorded position "
                "no longer starts a line); rerun with --restart to send it from the start",
                err=True,
            )
            tally.bad_lines += 1
            return
        progress.start_file(path.stat().st_size, resumed_bytes(resume))
        if resume == DONE:
            click.echo(
                f"{name}: already sent (its position is recorded in "
                f"{state_location(runtime.config.queue)}); to send it again from the start, "
                "rerun with --restart",
                err=True,
            )
        elif resume:
            click.echo(describe_resume(resume, name), err=True)
    with stream:
        limits = Limits(runtime.config.server.max_body_bytes, runtime.config.server.max_json_depth)
        chunks = read_chunks(
            stream, resume=resume, size=job.chunk_size, split=job.split, limits=limits
        )
        for chunk in chunks:
            for line, message in chunk.bad_lines:
                click.echo(f"{name}:{line}: {message}", err=True)
            tally.bad_lines += len(chunk.bad_lines)
            mark = (key, f"{chunk.position}@{fp}") if key else None
            report = await _submit(job, chunk.documents, mark)
            if report is None:
                return
            part = report.connections.get(conn.name)
            if part is not None:
                for err in part.errors[:20]:
                    click.echo(f"{name}: {err}", err=True)
                tally.errors += len(part.errors)
                for reason, n in part.skipped.items():
                    tally.skip(reason, n)
                for index in part.refused:
                    where = chunk.where[index]
                    click.echo(f"{name}:{where}: its mapped actions cannot be stored", err=True)
                tally.bad_lines += len(part.refused)
            tally.documents += len(chunk.documents)
            progress.documents += len(chunk.documents)
            progress.bytes += chunk.bytes_read
            progress.update(runtime.metrics.snapshot(conn.name), runtime.queue.depth(conn.name))
            if job.interrupted:
                return
    progress.end_file()


async def _submit(job: Job, documents: list[Any], mark: tuple[str, str] | None) -> Any:
    """Map and queue one chunk, waiting while the backlog is full; None if Ctrl-C came
    while waiting (the chunk is not committed, so the next run reads it again)."""
    while True:
        try:
            return await asyncio.to_thread(
                job.runtime.pipeline.submit,
                job.shape,
                documents,
                only=job.conn.name,
                progress=mark,
            )
        except BacklogFull:
            if job.interrupted:
                return None
            await asyncio.sleep(0.5)
