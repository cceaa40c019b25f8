"""``mapwire connect test``: check each connection's credentials against the vendor
without creating or changing data (the integration guide's "Connect to test")."""

from __future__ import annotations

import asyncio
from pathlib import Path

import click
import httpx

from ..contracts.destination import Check
from ..runtime.config import Connection
from ..runtime.config_secrets import SINK_PREFIX
from ..runtime.process import client_for
from ..runtime.registry import get_registry
from ..runtime.transport_errors import describe_transport_error
from .config_discovery import load_config_or_exit


def is_local_sink(conn: Connection) -> bool:
    """Whether ``conn`` records its requests in a folder instead of sending them."""
    return (conn.transport or "").startswith(SINK_PREFIX)


async def check_connection(conn: Connection, timeout: float = 10.0) -> Check:
    """Send the destination's check request for ``conn`` and judge the answer."""
    destination = get_registry().destinations()[conn.plan.destination]
    try:
        request = destination.check_request(conn.destination)
    except Exception as exc:  # a plugin refusing the settings: report, never crash
        return Check("unexpected", f"settings refused: {exc}")
    if request is None:
        return Check("unexpected", f"destination {destination.name!r} offers no check")
    # The client and transport delivery uses: what passes here is the path the
    # connection's requests will take (a proxy from the environment included, as there).
    async with client_for(conn, get_registry(), timeout) as client:
        try:
            response = await client.send(request)
        except httpx.TransportError as exc:
            host = request.url.host
            return Check("unreachable", f"{host} unreachable: {describe_transport_error(exc)}")
    return destination.check_response(response, conn.destination)


@click.group()
def connect() -> None:
    """Connections: test their credentials against the vendors.

    \b
    Examples:
      mapwire connect test --config mapwire.yaml
      mapwire connect test --config mapwire.yaml cio-events
    """


@connect.command("test")
@click.option(
    "--config",
    "config_path",
    type=click.Path(path_type=Path),
    help="Config file (default: $MAPWIRE_CONFIG, else ./mapwire.yaml).",
)
@click.option("--timeout", default=10.0, show_default=True, help="Seconds per check.")
@click.argument("names", nargs=-1)
def test_command(config_path: Path | None, timeout: float, names: tuple[str, ...]) -> None:
    """Check each connection's credentials (or only NAMES) without changing any data.

    Each destination runs its own check: a cheap request that proves the credentials
    (and, where the vendor tells, the region) and stores nothing. Connections
    delivering into a local sink (transport: sink:DIR) are skipped: they call no
    vendor. Prints one line per
    connection; exits 0 only if all the checked ones pass.

    \b
    Examples:
      mapwire connect test --config mapwire.yaml
      mapwire connect test --config mapwire.yaml cio-events
    """
    config = load_config_or_exit(config_path, "connect test", delivers=True)
    chosen = [c for c in config.connections if not names or c.name in names]
    unknown = set(names) - {c.name for c in config.connections}
    if unknown:
        raise click.BadParameter(f"no connection named {', '.join(sorted(unknown))}")
    selected = [c for c in chosen if not is_local_sink(c)]
    for conn in chosen:
        if is_local_sink(conn):
            where = (conn.transport or "")[len(SINK_PREFIX) :]
            click.echo(
                f"{conn.name}: SKIPPED - transport is the local sink {where}: nothing is sent "
                "to the vendor, so there are no credentials to check"
            )

    async def run_all() -> list[Check]:
        return list(await asyncio.gather(*(check_connection(c, timeout) for c in selected)))

    results = asyncio.run(run_all())
    labels = {
        "ok": "OK",
        "bad_credentials": "BAD CREDENTIALS",
        "wrong_region": "WRONG REGION",
        "unreachable": "UNREACHABLE",
        "unexpected": "FAILED",
    }
    for conn, check in zip(selected, results, strict=True):
        click.echo(f"{conn.name}: {labels.get(check.status, 'FAILED')} - {check.message}")
    if not all(c.ok for c in results):
        raise SystemExit(1)
