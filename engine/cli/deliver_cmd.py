"""``mapwire deliver``: drain the queue (deliver what is queued, no input) and exit."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import click

from ..runtime.process import Runtime
from .common import EXIT_PROBLEMS
from .config_discovery import load_config_or_exit
from .send_cmd import delivery_notices

POLL_SECONDS = 0.1


@click.command()
@click.option(
    "--config",
    "config_path",
    type=click.Path(path_type=Path),
    help="Config file (default: $MAPWIRE_CONFIG, else ./mapwire.yaml).",
)
@click.option(
    "--connection",
    "connections",
    multiple=True,
    help="Only this connection (repeatable; default: every delivering connection).",
)
@click.option(
    "--timeout",
    type=click.FloatRange(min=0),
    default=300.0,
    show_default=True,
    help="Stop waiting after this many seconds; what is left stays queued.",
)
def deliver(config_path: Path | None, connections: tuple[str, ...], timeout: float) -> None:
    """Deliver everything queued, waiting out retries up to --timeout, then exit.

    Needs no input: use it after `mapwire dlq retry` or `mapwire dlq replay`, or to
    finish what an interrupted `send --no-wait` left queued. Prints a summary per
    connection; exits 1 if anything was dead-lettered or is still queued.

    \b
    Examples:
      mapwire deliver --config mapwire.yaml
      mapwire deliver --config mapwire.yaml --connection cio-events --timeout 60
    """
    config = load_config_or_exit(config_path, delivers=True)
    names = [c.name for c in config.connections if c.delivers]
    for name in connections:
        if name not in names:
            known = ", ".join(names) or "none"
            raise click.BadParameter(
                f"no delivering connection {name!r} (delivering: {known})",
                param_hint="--connection",
            )
    chosen = list(connections) or names
    runtime = Runtime(config)
    try:
        with delivery_notices():
            left = asyncio.run(_drain(runtime, chosen, timeout))
        failed = False
        click.echo("summary:", err=True)
        for name in chosen:
            snap = runtime.metrics.snapshot(name)
            click.echo(
                f"  {name}: delivered {snap['delivered']} in {snap['requests']} request(s), "
                f"retried {snap['retried']}, dead-lettered {snap['dead_lettered']}, "
                f"still queued {left[name]}",
                err=True,
            )
            failed |= bool(snap["dead_lettered"] or left[name])
        if any(left.values()):
            click.echo(
                f"gave up waiting after {timeout:g}s: what is left stays queued "
                "(rerun, or let `mapwire serve` deliver it)",
                err=True,
            )
    finally:
        runtime.close()
    if failed:
        raise SystemExit(EXIT_PROBLEMS)


async def _drain(runtime: Runtime, names: list[str], timeout: float) -> dict[str, int]:
    """Run the deliverers until the connections' queues are empty or ``timeout`` passes;
    the entries left per connection."""
    stop = asyncio.Event()
    delivery = asyncio.create_task(runtime.deliver(stop, only=names))
    deadline = time.monotonic() + timeout
    try:
        while any(runtime.queue.depth(n) for n in names) and time.monotonic() < deadline:
            if delivery.done():
                delivery.result()  # delivery stopped: surface its error
            await asyncio.sleep(POLL_SECONDS)
    finally:
        stop.set()
        await delivery
        await runtime.aclose()
    return {n: runtime.queue.depth(n) for n in names}
