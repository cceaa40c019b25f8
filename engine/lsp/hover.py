"""Hover: what the thing under the cursor is.

- an input path in an expression (``doc.user_attributes.email``): its inferred type (as
  the type checks infer it from the sources' schemas) and the schema's description;
- ``settings.<name>``: the setting's declared type and description;
- a destination field (a key under ``fields:``) or an ``action:``: its payload schema's
  type, whether it is required, and its description.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..contracts.errors import ExpressionSyntaxError
from ..language.expressions import parse
from ..language.function_types import returns_type
from ..language.type_infer import Inferer
from ..language.typing_schema import from_schema, union
from ..runtime.registry import Registry, get_registry
from .bindings import bindings, input_steps, scope_types
from .context import (
    Cursor,
    Parent,
    chain_before,
    field_names,
    locate,
    sibling_value,
    word_end,
)
from .positions import Span
from .schema_paths import (
    destination_of,
    header,
    input_nodes,
    path_steps,
    payload_fields,
    source_roots,
)


@dataclass(frozen=True)
class HoverInfo:
    """Markdown to show, and the range it is about."""

    markdown: str
    span: Span


def hover(text: str, line: int, char: int, registry: Registry | None = None) -> HoverInfo | None:
    """What to show for the cursor at 0-based ``line``/``char``, or None."""
    reg = registry or get_registry()
    cursor = locate(text, line, char)
    if cursor.in_expression():
        return _expression(text, cursor, line, reg)
    parents = list(cursor.parents)
    names = field_names(tuple(p.key for p in parents))
    if cursor.on_key and cursor.key and names is not None:
        return _field(text, cursor, line, names, _rule_item(parents), reg)
    if not cursor.on_key and cursor.key == "action":
        return _action(text, cursor, line, reg)
    return None


def _rule_item(parents: list[Parent]) -> Parent | None:
    items = [p for p in parents if p.key == "-"]
    return items[-1] if items else None


def _expression(text: str, cursor: Cursor, line: int, reg: Registry) -> HoverInfo | None:
    end = word_end(cursor.line_text, cursor.char)
    chain = chain_before(cursor.line_text, end)
    steps = path_steps(chain) if chain else None
    if not steps:
        return None
    span = Span(line, end - len(chain), line, end)
    if steps[0] == "settings" and len(steps) == 2:
        decl = (header(text).get("settings") or {}).get(steps[1])
        if not isinstance(decl, dict):
            return None
        about = f"`{chain}`: setting of type {decl.get('type', 'any')}"
        return HoverInfo(_with(about, str(decl.get("description", ""))), span)
    bound = bindings(text)
    roots = source_roots(text, reg)
    if not roots or (steps[0] != "doc" and steps[0] not in bound):
        return None
    try:
        ast = parse(chain)
    except ExpressionSyntaxError:
        return None
    returns = {n: returns_type(f.returns) for n, f in reg.functions().items()}
    env = scope_types(union(*(from_schema(r.node) for r in roots)), bound, returns)
    inferred = Inferer(env, returns).infer(chain, ast).describe()
    doc_steps = input_steps(steps, bound)
    nodes = input_nodes(text, doc_steps[1:], reg) if doc_steps else []
    description = next((n.description for n in nodes if n.description), "")
    return HoverInfo(_with(f"`{chain}`: {inferred}", description), span)


def _field(
    text: str, cursor: Cursor, line: int, names: list[str], item: Parent | None, reg: Registry
) -> HoverInfo | None:
    action = sibling_value(text, item, "action") if item else None
    field = payload_fields(text, action, names, reg).get(cursor.key or "")
    if field is None or cursor.key is None:
        return None
    required = " (required)" if field.required else ""
    dotted = ".".join([*names, cursor.key])
    start = cursor.line_text.find(cursor.key)
    about = f"`{dotted}`: {field.at.type}{required} — field of action `{action}`"
    return HoverInfo(
        _with(about, field.at.description), Span(line, start, line, start + len(cursor.key))
    )


def _action(text: str, cursor: Cursor, line: int, reg: Registry) -> HoverInfo | None:
    dest = destination_of(text, reg)
    name = cursor.line_text.split(":", 1)[1].split(" #")[0].strip().strip("'\"")
    if dest is None or name not in dest.actions:
        return None
    spec = dest.actions[name]
    described = spec.description or str(spec.payload_schema.get("description", ""))
    fields = ", ".join(f"`{f}`" for f in (spec.payload_schema.get("properties") or {}))
    start = cursor.line_text.find(name, cursor.line_text.find(":"))
    about = f"`{name}`: action of {dest.name}"
    body = "\n\n".join(part for part in (described, f"Fields: {fields}" if fields else "") if part)
    return HoverInfo(_with(about, body), Span(line, start, line, start + len(name)))


def _with(about: str, description: str) -> str:
    return f"{about}\n\n{description}" if description else about
