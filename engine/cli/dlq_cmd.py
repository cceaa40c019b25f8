"""``mapwire dlq``: inspect, replay and purge dead letters."""

from __future__ import annotations

import json
import re
import time
from pathlib import Path
from typing import Any

import click

from mapwire.engine.cli.config_discovery import load_config_or_exit
from mapwire.engine.queue import DeadLetter, Queue
from mapwire.engine.registry import get_registry

config_option = click.option(
    "--config",
    "config_path",
    type=click.Path(path_type=Path),
    help="Config file (default: $MAPWIRE_CONFIG, else ./mapwire.yaml).",
)
connection_option = click.option("--connection", help="Only this connection's dead letters.")


def _open(config_path: Path | None) -> Queue:
    command = click.get_current_context().command_path.partition(" ")[2]
    config = load_config_or_exit(config_path, command)
    return get_registry().make_queue(config.queue)


def _as_dict(d: DeadLetter, *, full: bool) -> dict[str, Any]:
    out: dict[str, Any] = {
        "id": d.id,
        "connection": d.connection,
        "action": d.action.action,
        "reason": d.reason,
        "attempts": d.attempts,
        "failed_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(d.failed_at)),
    }
    if full:
        out["payload"] = d.action.payload
        out["request"] = d.request
        out["response"] = d.response
    return out


def parse_age(text: str) -> float:
    """``30m``, ``12h``, ``7d`` -> seconds."""
    m = re.fullmatch(r"(\d+(?:\.\d+)?)([smhd])", text.strip())
    if not m:
        raise click.BadParameter(
            "use a number and s, m, h or d, e.g. 7d", param_hint="--older-than"
        )
    return float(m.group(1)) * {"s": 1, "m": 60, "h": 3600, "d": 86400}[m.group(2)]


@click.group()
def dlq() -> None:
    """Dead letters: items a destination refused for good, with the request, the
    response and the reason.

    \b
    Examples:
      mapwire dlq list --config mapwire.yaml
      mapwire dlq show --config mapwire.yaml 17
      mapwire dlq retry --config mapwire.yaml --all --connection cio-events
      mapwire dlq purge --config mapwire.yaml --all --older-than 30d
    """


@dlq.command("list")
@config_option
@connection_option
@click.option("--limit", default=50, show_default=True)
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text")
def list_command(config_path: Path | None, connection: str | None, limit: int, fmt: str) -> None:
    """List dead letters, newest first."""
    queue = _open(config_path)
    try:
        rows = queue.dead_letters(connection, limit=limit)
    finally:
        queue.close()
    if fmt == "json":
        click.echo(json.dumps([_as_dict(d, full=False) for d in rows], indent=2))
        return
    for d in rows:
        row = _as_dict(d, full=False)
        click.echo(
            f"{row['id']}\t{row['failed_at']}\t{row['connection']}\t{row['action']}\t"
            f"attempts={row['attempts']}\t{row['reason']}"
        )
    if not rows:
        click.echo("no dead letters", err=True)


@dlq.command()
@config_option
@click.argument("ident")
def show(config_path: Path | None, ident: str) -> None:
    """Show one dead letter in full: payload, request, response, reason."""
    queue = _open(config_path)
    try:
        found = queue.get_dead_letter(int(ident) if ident.isdigit() else ident)
    finally:
        queue.close()
    if found is None:
        click.echo(f"no dead letter {ident}", err=True)
        raise SystemExit(1)
    click.echo(json.dumps(_as_dict(found, full=True), indent=2, ensure_ascii=False))


def _ids(idents: tuple[str, ...], all_: bool) -> list[Any] | None:
    if all_ == bool(idents):
        raise click.UsageError("give dead-letter ids, or --all")
    return None if all_ else [int(i) if i.isdigit() else i for i in idents]


@dlq.command()
@config_option
@connection_option
@click.option("--all", "all_", is_flag=True, help="Every dead letter (of --connection).")
@click.argument("idents", nargs=-1)
def retry(
    config_path: Path | None, connection: str | None, all_: bool, idents: tuple[str, ...]
) -> None:
    """Put dead letters back in the queue (delivered by the next send or serve)."""
    queue = _open(config_path)
    try:
        n = queue.requeue_dead_letters(_ids(idents, all_), connection)
    finally:
        queue.close()
    click.echo(f"requeued {n} dead letter(s)")


@dlq.command()
@config_option
@connection_option
@click.option("--all", "all_", is_flag=True, help="Every dead letter (of --connection).")
@click.option("--older-than", help="Only those that failed longer ago than this (e.g. 7d).")
@click.argument("idents", nargs=-1)
def purge(
    config_path: Path | None,
    connection: str | None,
    all_: bool,
    older_than: str | None,
    idents: tuple[str, ...],
) -> None:
    """Delete dead letters for good."""
    cutoff = time.time() - parse_age(older_than) if older_than else None
    queue = _open(config_path)
    try:
        n = queue.purge_dead_letters(_ids(idents, all_), connection, cutoff)
    finally:
        queue.close()
    click.echo(f"purged {n} dead letter(s)")
