"""``mapwire describe``: what a destination, source, flow or the function library offers,
as text for people or JSON for tools."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import click

from ..contracts.errors import SpecError, UnknownName
from ..runtime.describe import (
    describe_destination,
    describe_flow,
    describe_functions,
    describe_source,
)
from ..runtime.mapping_files import compile_with_plugins, resolve_mapping
from ..runtime.registry import get_registry
from .common import EXIT_SPEC, report_spec_error

format_option = click.option(
    "--format",
    "fmt",
    type=click.Choice(["text", "json"]),
    default="text",
    show_default=True,
    help="text for people, json for tools.",
)


@click.group()
def describe() -> None:
    """What you can write in a mapping: destinations and their actions and fields,
    sources and their documents, flows and their settings, and the functions.

    \b
    Examples:
      mapwire describe destination customerio
      mapwire describe destination customerio event --format json
      mapwire describe source mparticle.events_api_batch
      mapwire describe flow mparticle-events-to-customerio
      mapwire describe functions
    """


def _emit(fmt: str, data: Any, text: Callable[[Any], list[str]]) -> None:
    if fmt == "json":
        click.echo(json.dumps(data, indent=2, ensure_ascii=False, default=str))
    else:
        click.echo("\n".join(text(data)))


def _lookup(make: Callable[[], Any]) -> Any:
    try:
        return make()
    except UnknownName as exc:
        raise click.BadParameter(str(exc), param_hint="NAME") from exc


def _field_line(row: dict[str, Any], indent: str) -> str:
    parts = [row["type"]]
    if row.get("required"):
        parts.append("required")
    if row.get("secret"):
        parts.append("secret")
    if row.get("enum") is not None:
        parts.append("one of " + ", ".join(json.dumps(v) for v in row["enum"]))
    if row.get("limits"):
        parts.append(", ".join(f"{k} {v}" for k, v in row["limits"].items()))
    line = f"{indent}{row['path']}: {'; '.join(parts)}"
    return f"{line}  -- {row['description']}" if row.get("description") else line


def _destination_text(data: dict[str, Any]) -> list[str]:
    lim = data["limits"]
    out = [
        f"destination {data['name']} (plugin {data['plugin']}): {data['description']}",
        f"limits: {lim['max_items_per_request']} items per request, "
        f"{lim['max_request_bytes']} bytes per request, {lim['max_item_bytes']} bytes per "
        f"item, {lim['requests_per_second']} requests/s"
        + (f"; regions: {', '.join(lim['regions'])}" if lim["regions"] else ""),
        "settings:",
        *(_field_line(row, "  ") for row in data["settings"]),
        "actions:",
    ]
    for action in data["actions"]:
        out.append(f"  {action['name']}: {action['description']}".rstrip(": "))
        out.extend(_field_line(row, "    ") for row in action["fields"])
    return out


def _source_text(data: dict[str, Any]) -> list[str]:
    return [
        f"source {data['name']} (plugin {data['plugin']}): {data['description']}",
        f"document: {data['type']}; read it in expressions as doc.<field>",
        *(_field_line(row, "  ") for row in data["fields"]),
    ]


def _rule_lines(rule: dict[str, Any], indent: str) -> list[str]:
    what = (
        f"-> {rule['action']} ({', '.join(rule['fields'])})"
        if "action" in rule
        else f"skip: {rule['skip']}"
        if "skip" in rule
        else "group"
    )
    out = [f"{indent}{rule['name']}: {what}"]
    for name, expr in rule.get("for_each", {}).items():
        out.append(f"{indent}  for each {name} in {expr}")
    if "when" in rule:
        out.append(f"{indent}  when {rule['when']}")
    for child in rule.get("rules", []):
        out.extend(_rule_lines(child, indent + "  "))
    return out


def _flow_text(data: dict[str, Any]) -> list[str]:
    out = [
        f"flow {data['name']} ({data['file']}): {data['description']}",
        f"from {', '.join(data['sources'])} to {data['destination']}",
        "settings:",
    ]
    for s in data["settings"]:
        allowed = f"; one of {', '.join(json.dumps(v) for v in s['enum'])}" if s["enum"] else ""
        items = s["items"] or {}
        if "enum" in items:
            allowed = "; items from " + ", ".join(json.dumps(v) for v in items["enum"])
        line = f"  {s['name']}: {s['type']}, default {json.dumps(s['default'])}{allowed}"
        out.append(f"{line}  -- {s['description']}" if s["description"] else line)
    out.append("rules:")
    for rule in data["rules"]:
        out.extend(_rule_lines(rule, "  "))
    return out


def _functions_text(rows: list[dict[str, Any]]) -> list[str]:
    return [
        f"{r['name']}({', '.join(r['arguments'])}) -> {r['returns']}  [{r['plugin']}]" for r in rows
    ]


@describe.command("destination")
@click.argument("name")
@click.argument("action", required=False)
@format_option
def destination_cmd(name: str, action: str | None, fmt: str) -> None:
    """A destination's limits, settings, actions and each action's fields (type,
    required, allowed values, limits). With ACTION, only that action.

    \b
    Examples:
      mapwire describe destination customerio
      mapwire describe destination mparticle custom_event --format json
    """
    data = _lookup(lambda: describe_destination(get_registry(), name, action))
    _emit(fmt, data, _destination_text)


@describe.command("source")
@click.argument("name")
@format_option
def source_cmd(name: str, fmt: str) -> None:
    """The fields of a source's documents, from its JSON Schema: type, required,
    allowed values.

    \b
    Examples:
      mapwire describe source customerio.reporting_webhook
      mapwire describe source mparticle.firehose_event_processing --format json
    """
    _emit(fmt, _lookup(lambda: describe_source(get_registry(), name)), _source_text)


@describe.command("flow")
@click.argument("name")
@format_option
def flow_cmd(name: str, fmt: str) -> None:
    """A flow (a mapping, by name or file): its settings with defaults and allowed
    values, and its rules.

    \b
    Examples:
      mapwire describe flow mparticle-audiences-to-customerio
      mapwire describe flow my_flows/unsubscribes.yaml --format json
    """
    try:
        plan = compile_with_plugins(resolve_mapping(name))
    except FileNotFoundError as exc:
        raise click.BadParameter(str(exc), param_hint="NAME") from exc
    except SpecError as exc:
        report_spec_error(exc)
        raise SystemExit(EXIT_SPEC) from exc
    _emit(fmt, describe_flow(plan), _flow_text)


@describe.command("functions")
@format_option
def functions_cmd(fmt: str) -> None:
    """Every function an expression may call: arguments, return type (``any`` when the
    plugin declares none) and the plugin that provides it.

    \b
    Examples:
      mapwire describe functions
      mapwire describe functions --format json
    """
    _emit(fmt, describe_functions(get_registry()), _functions_text)
