"""Completion: what may be written at the cursor.

- in an expression: after ``doc.`` (and deeper), the keys the sources' schemas declare
  there; after ``settings.``, the mapping's settings; at the start of a name, the names in
  scope (``doc``, ``settings``, variables, loop names) and every function (JMESPath's
  builtins and the plugins');
- as a key: the mapping schema's top-level keys, a rule's keys, a field spec's keys, or,
  under ``fields:``, the payload fields of the rule's action;
- as the value of ``action:``, ``destination:`` or ``source:``: the destination's actions,
  the destinations, the sources.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ..language.planner import mapping_schema
from ..runtime.describe import describe_functions
from ..runtime.registry import Registry, get_registry
from .bindings import bindings, input_steps
from .context import Cursor, chain_before, field_names, locate, sibling_value
from .schema_paths import (
    destination_of,
    header,
    input_nodes,
    keys_below,
    path_steps,
    payload_fields,
)

_ROOT_NAMES = ("doc", "settings")


@dataclass(frozen=True)
class Completion:
    """One proposal: ``kind`` is field, function, variable, key, action or value."""

    label: str
    kind: str
    detail: str = ""
    documentation: str = ""


def complete(text: str, line: int, char: int, registry: Registry | None = None) -> list[Completion]:
    """Every proposal for the cursor at 0-based ``line``/``char``."""
    reg = registry or get_registry()
    cursor = locate(text, line, char)
    if cursor.in_expression():
        return _expression(text, cursor, reg)
    keys = [p.key for p in cursor.parents]
    if cursor.on_key:
        return _keys(text, cursor, keys, reg)
    if cursor.key == "action":
        dest = destination_of(text, reg)
        actions = dest.actions.values() if dest is not None else []
        return [Completion(a.name, "action", "action", a.description) for a in actions]
    if cursor.key == "destination" and not keys:
        return [
            Completion(d.name, "value", "destination", d.description)
            for d in reg.destinations().values()
        ]
    if cursor.key == "source" and not keys:
        return [
            Completion(s.name, "value", "source", s.description) for s in reg.sources().values()
        ]
    return []


def _expression(text: str, cursor: Cursor, reg: Registry) -> list[Completion]:
    chain = chain_before(cursor.line_text, cursor.char)
    if "." not in chain:
        return _names(text, reg)
    prefix = chain.rsplit(".", 1)[0]
    steps = path_steps(prefix)
    if not steps:
        return []
    if steps == ["settings"]:
        settings = header(text).get("settings")
        return [
            Completion(name, "field", str(decl.get("type", "")), str(decl.get("description", "")))
            for name, decl in (settings.items() if isinstance(settings, dict) else [])
            if isinstance(decl, dict)
        ]
    doc_steps = input_steps(steps, bindings(text))
    if doc_steps is None:
        return []
    below = keys_below(input_nodes(text, doc_steps[1:], reg))
    return [Completion(k, "field", at.type, at.description) for k, at in below.items()]


def _names(text: str, reg: Registry) -> list[Completion]:
    """Names an expression may start from, and the functions it may call."""
    out = [Completion(n, "variable", "input document" if n == "doc" else "") for n in _ROOT_NAMES]
    out += [
        Completion(name, "variable", "loop name" if loop else "variable", f"`{expr}`")
        for name, (expr, loop) in bindings(text).items()
        if name not in _ROOT_NAMES
    ]
    for f in describe_functions(reg):
        signature = f"{f['name']}({', '.join(f['arguments'])}) -> {f['returns']}"
        out.append(Completion(f["name"], "function", signature, f"from {f['plugin']}"))
    return out


def _keys(text: str, cursor: Cursor, keys: list[str], reg: Registry) -> list[Completion]:
    schema = mapping_schema()
    defs: Mapping[str, Any] = schema["$defs"]
    if not keys:
        return _schema_keys(schema)
    names = field_names(tuple(keys))
    if names is not None:
        items = [p for p in cursor.parents if p.key == "-"]
        action = sibling_value(text, items[-1], "action") if items else None
        return [
            Completion(
                k, "field", f.at.type + (" (required)" if f.required else ""), f.at.description
            )
            for k, f in payload_fields(text, action, names, reg).items()
        ]
    if keys[-1] == "-" and len(keys) >= 2 and keys[-2] == "rules":
        return _schema_keys(defs["rule"])
    if keys[-1] == "-" and len(keys) >= 2 and keys[-2] == "state":
        return _schema_keys(defs["membership"])
    if len(keys) >= 2 and keys[-2] == "settings" and len(keys) == 2:
        return _schema_keys(defs["setting"])
    if len(keys) >= 2 and keys[-2] in ("fields", "object"):
        return _schema_keys(defs["fieldSpec"])
    return []


def _schema_keys(node: Mapping[str, Any]) -> list[Completion]:
    props: Mapping[str, Any] = node.get("properties") or {}
    return [
        Completion(k, "key", "mapping key", str(v.get("description", "")))
        for k, v in props.items()
        if not k.startswith("$") and isinstance(v, Mapping)
    ]
