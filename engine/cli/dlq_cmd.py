"""``mapwire dlq``: inspect, retry, replay and purge dead letters."""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import click

from ..contracts.queue import DELIVERY, MAPPING, DeadLetter, Queue
from ..runtime.durations import parse_duration
from ..runtime.process import Runtime
from ..runtime.registry import get_registry
from ..runtime.replay import replay as replay_letters
from ..runtime.replay import why_not_replayable
from .common import EXIT_PROBLEMS, EXIT_SPEC
from .config_discovery import load_config_or_exit

PAGE = 500

config_option = click.option(
    "--config",
    "config_path",
    type=click.Path(path_type=Path),
    help="Config file (default: $MAPWIRE_CONFIG, else ./mapwire.yaml).",
)
connection_option = click.option("--connection", help="Only this connection's dead letters.")
kind_option = click.option(
    "--kind",
    type=click.Choice([DELIVERY, MAPPING]),
    help="Only dead letters of this kind: refused by a destination, or failed to map.",
)


def _open(config_path: Path | None) -> Queue:
    command = click.get_current_context().command_path.partition(" ")[2]
    config = load_config_or_exit(config_path, command)
    return get_registry().make_queue(config.queue)


def _stamp(at: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(at))


def _what(d: DeadLetter) -> str:
    """The action (delivery), or where the mapping failed (mapping)."""
    if d.kind == DELIVERY:
        return d.action.action
    where = f"rule {d.rule}"
    if d.item:
        where += f" {d.item}"
    return f"{where} field {d.field}" if d.field else where


def _as_dict(d: DeadLetter, *, full: bool) -> dict[str, Any]:
    out: dict[str, Any] = {
        "id": d.id,
        "kind": d.kind,
        "connection": d.connection,
        "action": d.action.action if d.kind == DELIVERY else None,
        "mapping": d.mapping or None,
        "rule": d.rule,
        "item": d.item or None,
        "field": d.field or None,
        "code": d.code or None,
        "reason": d.reason,
        "attempts": d.attempts,
        "first_failed_at": _stamp(d.first_failed_at),
        "failed_at": _stamp(d.failed_at),
    }
    if full:
        out["history"] = [
            {"failed_at": _stamp(h.at), "attempts": h.attempts, "reason": h.reason}
            for h in d.history
        ]
        if d.kind == DELIVERY:
            out["payload"] = d.action.payload
            out["request"] = d.request
            out["response"] = d.response
        out["source"] = d.source
    return out


def parse_age(text: str) -> float:
    """``30m``, ``12h``, ``7d`` -> seconds (the config files' duration form)."""
    try:
        return parse_duration(text)
    except ValueError:
        raise click.BadParameter(
            "use a number and s, m, h or d, e.g. 7d", param_hint="--older-than"
        ) from None


@click.group()
def dlq() -> None:
    """Dead letters: items a destination refused for good (kind `delivery`, with the
    request, the response and the reason) and input items that failed to map (kind
    `mapping`, with the source document, the rule and the field).

    \b
    Examples:
      mapwire dlq list --config mapwire.yaml
      mapwire dlq show --config mapwire.yaml 17
      mapwire dlq retry --config mapwire.yaml --all --connection cio-events
      mapwire dlq replay --config mapwire.yaml --all --connection cio-events
      mapwire deliver --config mapwire.yaml
      mapwire dlq purge --config mapwire.yaml --all --older-than 30d --dry-run
    """


@dlq.command("list")
@config_option
@connection_option
@kind_option
@click.option("--limit", default=50, show_default=True)
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text")
def list_command(
    config_path: Path | None, connection: str | None, kind: str | None, limit: int, fmt: str
) -> None:
    """List dead letters, newest first: id, time, kind, connection, action (or rule and
    field), attempts, reason.

    \b
    Examples:
      mapwire dlq list --config mapwire.yaml
      mapwire dlq list --config mapwire.yaml --kind mapping --connection cio-events
      mapwire dlq list --config mapwire.yaml --format json --limit 500
    """
    queue = _open(config_path)
    try:
        rows = queue.dead_letters(connection, limit=limit, kind=kind)
    finally:
        queue.close()
    if fmt == "json":
        click.echo(json.dumps([_as_dict(d, full=False) for d in rows], indent=2))
        return
    for d in rows:
        click.echo(
            f"{d.id}\t{_stamp(d.failed_at)}\t{d.kind}\t{d.connection}\t{_what(d)}\t"
            f"attempts={d.attempts}\t{d.reason}"
        )
    if not rows:
        click.echo("no dead letters", err=True)


def _parse_id(ident: str) -> Any:
    return int(ident) if ident.isdigit() else ident


@dlq.command()
@config_option
@click.argument("ident")
def show(config_path: Path | None, ident: str) -> None:
    """Show one dead letter in full: its history, and the payload, request and response
    (delivery) or the source document (mapping).

    \b
    Examples:
      mapwire dlq show --config mapwire.yaml 17
    """
    config = load_config_or_exit(config_path)
    queue = get_registry().make_queue(config.queue)
    try:
        found = queue.get_dead_letter(_parse_id(ident))
    finally:
        queue.close()
    if found is None:
        click.echo(f"no dead letter {ident}", err=True)
        raise SystemExit(1)
    shown = _as_dict(found, full=True)
    why = why_not_replayable(found, config)
    shown["replay"] = "mapwire dlq replay maps its source document again" if why is None else why
    click.echo(json.dumps(shown, indent=2, ensure_ascii=False))


def _ids(idents: tuple[str, ...], all_: bool) -> list[Any] | None:
    if all_ == bool(idents):
        raise click.UsageError("give dead-letter ids, or --all")
    return None if all_ else [_parse_id(i) for i in idents]


def _selected(
    queue: Queue,
    ids: list[Any] | None,
    connection: str | None,
    kind: str | None,
    failed_before: float | None = None,
) -> Iterator[DeadLetter]:
    """The dead letters ``ids`` (or all) names, filtered like the queue filters them."""
    if ids is not None:
        letters = [d for d in (queue.get_dead_letter(i) for i in ids) if d is not None]
    else:
        letters = []
        while page := queue.dead_letters(connection, PAGE, len(letters), kind=kind):
            letters += page
    for d in letters:
        if connection is not None and d.connection != connection:
            continue
        if kind is not None and d.kind != kind:
            continue
        if failed_before is not None and not d.failed_at < failed_before:
            continue
        yield d


@dlq.command()
@config_option
@connection_option
@click.option("--all", "all_", is_flag=True, help="Every delivery dead letter (of --connection).")
@click.argument("idents", nargs=-1)
def retry(
    config_path: Path | None, connection: str | None, all_: bool, idents: tuple[str, ...]
) -> None:
    """Put delivery dead letters back in the queue, as they were, keeping their history;
    `mapwire deliver` (or the next send or serve) delivers them.

    Mapping failures have no payload to send: fix the mapping, then `mapwire dlq replay`.
    Exits 1 if a dead letter given by id was not found or is a mapping failure.

    \b
    Examples:
      mapwire dlq retry --config mapwire.yaml 17 18
      mapwire dlq retry --config mapwire.yaml --all --connection cio-events
    """
    ids = _ids(idents, all_)
    queue = _open(config_path)
    try:
        mapping = list(_selected(queue, ids, connection, MAPPING)) if ids else []
        n = queue.requeue_dead_letters(ids, connection)
    finally:
        queue.close()
    click.echo(f"requeued {n} dead letter(s)")
    for d in mapping:
        click.echo(
            f"dead letter {d.id} failed to map: it has no payload to send; fix the mapping "
            "and run `mapwire dlq replay`",
            err=True,
        )
    if n:
        click.echo("deliver them now with `mapwire deliver --config ...`", err=True)
    if ids is not None and n + len(mapping) < len(ids):
        click.echo("some of the given dead letters were not found", err=True)
    if mapping or (ids is not None and n < len(ids)):
        raise SystemExit(EXIT_PROBLEMS)  # something given could not be requeued


@dlq.command("replay")
@config_option
@connection_option
@click.option("--all", "all_", is_flag=True, help="Every mapping failure (of --connection).")
@click.argument("idents", nargs=-1)
def replay_command(
    config_path: Path | None, connection: str | None, all_: bool, idents: tuple[str, ...]
) -> None:
    """Map the source documents of mapping failures again, with the mapping as it is
    now, and queue the results; items that fail again stay dead letters, with their
    history. Exits 1 if any failed again or could not be replayed.

    \b
    Examples:
      mapwire dlq replay --config mapwire.yaml 21
      mapwire dlq replay --config mapwire.yaml --all --connection cio-events
    """
    ids = _ids(idents, all_)
    config = load_config_or_exit(config_path)
    runtime = Runtime(config)
    try:
        letters = list(_selected(runtime.queue, ids, connection, None if ids else MAPPING))
        if ids is not None and len(letters) < len(ids):
            found = {str(d.id) for d in letters}
            missing = [str(i) for i in ids if str(i) not in found]
            click.echo(f"no dead letter {', '.join(missing)}", err=True)
        report = replay_letters(runtime.pipeline, letters)
    finally:
        runtime.close()
    click.echo(
        f"replayed {report.replayed} mapping failure(s): queued {report.queued} action(s), "
        f"{report.duplicates} duplicate(s), {len(report.failed_again)} failed again"
    )
    for line in report.refused + report.failed_again:
        click.echo(line, err=True)
    if report.queued:
        click.echo("deliver them now with `mapwire deliver --config ...`", err=True)
    if report.refused or report.failed_again or (ids is not None and len(letters) < len(ids)):
        raise SystemExit(EXIT_PROBLEMS)


@dlq.command()
@config_option
@connection_option
@kind_option
@click.option("--all", "all_", is_flag=True, help="Every dead letter (of --connection, --kind).")
@click.option("--older-than", help="Only those that failed longer ago than this (e.g. 7d).")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@click.option("--dry-run", is_flag=True, help="Only print what would be purged.")
@click.argument("idents", nargs=-1)
def purge(
    config_path: Path | None,
    connection: str | None,
    kind: str | None,
    all_: bool,
    older_than: str | None,
    yes: bool,
    dry_run: bool,
    idents: tuple[str, ...],
) -> None:
    """Delete dead letters for good (both kinds unless --kind).

    Asks for confirmation on a terminal; pass --yes in scripts.

    \b
    Examples:
      mapwire dlq purge --config mapwire.yaml --all --older-than 30d --dry-run
      mapwire dlq purge --config mapwire.yaml --kind mapping --all --yes
    """
    ids = _ids(idents, all_)
    age = parse_age(older_than) if older_than else None
    queue = _open(config_path)
    try:
        cutoff = None if age is None else time.time() - age
        doomed = list(_selected(queue, ids, connection, kind, cutoff))
        if dry_run:
            for d in doomed:
                click.echo(f"{d.id}\t{_stamp(d.failed_at)}\t{d.kind}\t{d.connection}\t{_what(d)}")
            click.echo(f"would purge {len(doomed)} dead letter(s)")
            return
        if not doomed:
            click.echo("purged 0 dead letter(s)")
            return
        if not yes:
            if not sys.stdin.isatty():
                click.echo(
                    f"refusing to purge {len(doomed)} dead letter(s) without confirmation: "
                    "pass --yes (or --dry-run to see them)",
                    err=True,
                )
                raise SystemExit(EXIT_SPEC)
            click.confirm(f"purge {len(doomed)} dead letter(s) for good?", abort=True)
        # Exactly those listed and confirmed: not others that failed meanwhile.
        n = queue.purge_dead_letters([d.id for d in doomed], connection, None, kind=kind)
    finally:
        queue.close()
    click.echo(f"purged {n} dead letter(s)")
