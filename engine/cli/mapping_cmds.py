"""``mapwire map`` (dry run) and ``mapwire explain`` (where each value came from)."""

from __future__ import annotations

import atexit
import gc
import io
import json
import sys
from typing import IO, TYPE_CHECKING, Any

import click
import orjson

from ..contracts.dedup import apply_dedup
from ..contracts.errors import ConfigError, SpecError, unprocessable
from ..contracts.payload_check import describe, undeliverable
from ..contracts.store import MemoryStore
from ..language.compiler import compile_plan
from ..language.interpreter import Evaluator, TraceEntry
from ..language.mapping_settings import resolve_settings
from ..language.plan import Plan
from ..runtime.mapping_files import compile_with_plugins, resolve_mapping
from ..runtime.registry import get_registry
from ..runtime.source_shapes import refusal
from .common import (
    EXIT_PROBLEMS,
    EXIT_SPEC,
    each_document,
    open_input,
    parse_sets,
    report_spec_error,
)
from .flow_outline import outline

if TYPE_CHECKING:
    from ..contracts.actions import Action

mapping_option = click.option(
    "--mapping",
    "mapping_ref",
    required=True,
    metavar="SPEC",
    help="A mapping file, or the name of a shipped mapping.",
)
set_option = click.option(
    "--set",
    "sets",
    multiple=True,
    metavar="NAME=VALUE",
    help="Override a mapping setting (VALUE is JSON if it parses, else a string).",
)


def _load(mapping_ref: str, sets: tuple[str, ...]) -> tuple[Plan, dict[str, Any]]:
    try:
        plan = compile_with_plugins(resolve_mapping(mapping_ref))
        return plan, resolve_settings(plan, parse_sets(sets), where="--set")
    except FileNotFoundError as exc:
        raise click.BadParameter(str(exc), param_hint="--mapping") from exc
    except (SpecError, ConfigError) as exc:
        report_spec_error(exc)
        raise SystemExit(EXIT_SPEC) from exc


def _binary_stdout() -> IO[bytes]:
    """Standard output as bytes, with a 1 MiB buffer when it is a real file descriptor."""
    try:
        fd = sys.stdout.fileno()
    except (AttributeError, OSError, ValueError):  # not a real file (captured, say)
        return sys.stdout.buffer
    sys.stdout.flush()
    return io.BufferedWriter(io.FileIO(fd, "wb", closefd=False), buffer_size=1 << 20)


def _exit_without_collecting() -> None:
    """At exit, leave the objects made so far (modules, plugins, the plan: tens of
    thousands) out of the collector's final passes, which cost about 20 ms and free
    nothing the operating system would not. Registered once the output is flushed, so
    nothing is left for a finalizer to write; at exit only: a process that goes on (a
    test calling the command) keeps collecting as before."""
    atexit.unregister(gc.freeze)  # once, however often the command runs in a process
    atexit.register(gc.freeze)


@click.command("map")
@mapping_option
@set_option
@click.option(
    "--meta", is_flag=True, help="Also print each action's rule, dedup keys and forgotten state."
)
@click.argument("input_path", metavar="[INPUT]", default="-")
def map_command(mapping_ref: str, sets: tuple[str, ...], meta: bool, input_path: str) -> None:
    """Dry run: map a JSON document or an NDJSON stream and print the actions as NDJSON.

    Nothing is sent anywhere. Membership state and dedup keys live in memory for the
    run, so a stream behaves as it would in production. Per-item errors go to stderr;
    exits 1 if any item or input line failed, 2 if the mapping is invalid.

    \b
    Examples:
      mapwire map --mapping mappings/mparticle_events_to_customerio.yaml batch.json
      cat batches.ndjson | mapwire map --mapping mparticle-events-to-customerio \\
          --set include_user_attributes=false
    """
    plan, settings = _load(mapping_ref, sets)
    run = compile_plan(plan).function
    refused = refusal(plan)  # what serve and send refuse before mapping
    dedup = any(rule.dedup for rule in plan.all_rules())  # else no action has a dedup key
    store = MemoryStore()
    destinations = get_registry().destinations()
    failed = False
    skipped: dict[str, int] = {}
    unmatched: list[int] = []  # input lines no rule acted on, skipped or failed on
    # One binary stream with a large buffer, one write per input document (no flush per
    # line); flushed before each message to stderr, so the two stay in order on a terminal.
    out = _binary_stdout()
    dumps = orjson.dumps

    heads: dict[tuple[str, str], bytes] = {}

    def head(action: Action) -> bytes:
        """``{"destination":...,"action":...,"payload":``, as orjson writes it."""
        whole = dumps({"destination": action.destination, "action": action.action, "payload": 0})
        heads[action.destination, action.action] = whole[: -len(b"0}")]
        return heads[action.destination, action.action]

    def warn(message: str) -> None:
        out.flush()
        click.echo(message, err=True)

    with open_input(input_path) as stream:
        for line, doc in each_document(stream):
            if isinstance(doc, ValueError):
                warn(f"input line {line}: {doc}")
                failed = True
                continue
            why = refused(doc)
            if why is not None:
                warn(f"input line {line}: refused, as serve refuses it: {why}")
                failed = True
                continue
            try:
                result = run(doc, settings, store, "")
            except Exception as exc:  # a bug the input exposed: this document alone fails
                warn(f"input line {line}: {unprocessable(exc)}; please report it")
                failed = True
                continue
            if dedup:
                result = apply_dedup(result, store, plan.name)
            if meta:
                chunk = [
                    dumps(
                        {
                            **action.as_dict(),
                            "rule": action.rule,
                            "dedup_keys": list(action.dedup_keys),
                            **(
                                {"forget": [f.as_dict() for f in action.forget]}
                                if action.forget
                                else {}
                            ),
                        }
                    )
                    for action in result.actions
                ]
            else:  # Action.as_dict's bytes: the constant head once per destination and action
                chunk = [
                    (heads.get((a.destination, a.action)) or head(a)) + dumps(a.payload) + b"}"
                    for a in result.actions
                ]
            if chunk:
                chunk.append(b"")
                out.write(b"\n".join(chunk))
            for error in result.errors:
                warn(f"input line {line}: {error}")
                failed = True
            for index, action, problems in undeliverable(result.actions, destinations):
                warn(f"input line {line}: {describe(index, action, problems)}")
                failed = True
            for reason, n in result.skipped.items():
                skipped[reason] = skipped.get(reason, 0) + n
            if not (result.actions or result.errors or result.skipped):
                unmatched.append(line)
    out.flush()
    _exit_without_collecting()
    if skipped:
        summary = ", ".join(f"{reason}: {n}" for reason, n in sorted(skipped.items()))
        click.echo(f"skipped ({summary})", err=True)
    if unmatched:
        lines = ", ".join(map(str, unmatched[:10])) + (", ..." if len(unmatched) > 10 else "")
        click.echo(
            f"{len(unmatched)} document(s) produced nothing (input line {lines}): no rule "
            "matched, or a matching rule had no item to map (nothing skipped or failed)",
            err=True,
        )
    if failed:
        raise SystemExit(EXIT_PROBLEMS)


@click.command()
@mapping_option
@set_option
@click.option(
    "--compiled", is_flag=True, help="Print the Python the mapping compiles to, and exit."
)
@click.argument("input_path", metavar="[INPUT]", required=False)
def explain(
    mapping_ref: str, sets: tuple[str, ...], compiled: bool, input_path: str | None
) -> None:
    """For each output field: which rule, expression and fallback produced its value,
    or why it was dropped. Without INPUT: the flow's settings and rules (INPUT - reads
    standard input).

    \b
    Examples:
      mapwire explain --mapping mparticle-events-to-customerio batch.json
      mapwire explain --mapping mparticle-events-to-customerio
      mapwire explain --mapping mappings/my_flow.yaml --compiled
    """
    plan, settings = _load(mapping_ref, sets)
    if compiled:
        click.echo(compile_plan(plan).source)
        return
    if input_path is None:
        click.echo("\n".join(outline(plan)))
        click.echo("give an INPUT (a file, or - for standard input) to trace a document")
        return
    evaluator = Evaluator(plan)
    store = MemoryStore()
    destinations = get_registry().destinations()
    refused = refusal(plan)
    failed = False
    with open_input(input_path) as stream:
        for line, doc in each_document(stream):
            if isinstance(doc, ValueError):
                click.echo(f"input line {line}: {doc}", err=True)
                failed = True
                continue
            why = refused(doc)
            if why is not None:  # traced all the same: what the mapping would make of it
                click.echo(f"input line {line}: serve would refuse it: {why}", err=True)
                failed = True
            trace: list[TraceEntry] = []
            try:
                result = evaluator.run(doc, settings, store, trace=trace)
            except Exception as exc:  # a bug the input exposed: this document alone fails
                click.echo(f"input line {line}: {unprocessable(exc)}; please report it", err=True)
                failed = True
                continue
            click.echo(f"== input line {line}: {len(result.actions)} action(s)")
            _print_trace(trace)
            for index, action, problems in undeliverable(result.actions, destinations):
                click.echo(f"!! {describe(index, action, problems)}")
    if failed:  # as map: a line that could not be read or traced
        raise SystemExit(EXIT_PROBLEMS)


def _print_trace(trace: list[TraceEntry]) -> None:
    last = None
    for entry in trace:
        head = (entry.rule, entry.item)
        if head != last:
            click.echo(f"-- rule {entry.rule}" + (f" [{entry.item}]" if entry.item else ""))
            last = head
        if not entry.field:
            click.echo(f"   {entry.note}" + (f"  ({entry.expression})" if entry.expression else ""))
            continue
        shown = json.dumps(entry.value, ensure_ascii=False)
        if len(shown) > 80:
            shown = shown[:77] + "..."
        note = f"  # {entry.note}" if entry.note else ""
        click.echo(f"   {entry.field} <- {entry.expression} = {shown}{note}")
