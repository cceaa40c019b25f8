"""What a mapping's source and destination schemas say about a path or a field, read
from the mapping's text (it may not compile yet): the JSON Schema nodes an input path
(``doc.events[*].data``) reaches, the keys below them, and an action's payload fields."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ..contracts.errors import ExpressionSyntaxError
from ..language.expressions import parse
from ..language.schema_tree import resolve, type_of
from ..language.yaml_loader import load
from ..runtime.registry import Registry

Node = Mapping[str, Any]
_MAX_BRANCHES = 8
ARRAY_STEP = "[]"


@dataclass(frozen=True)
class SchemaAt:
    """One schema node a path reaches, with the schema it belongs to (for ``$ref``)."""

    node: Node
    root: Node

    @property
    def type(self) -> str:
        return type_of(self.node, self.root)

    @property
    def description(self) -> str:
        return str(resolve(self.node, self.root).get("description", ""))


def header(text: str) -> dict[str, Any]:
    """The mapping's top-level values (``source``, ``destination``, ``settings``...) as far
    as the text parses; {} when it does not."""
    value, _, _ = load(text, "")
    if isinstance(value, dict):
        return value
    found: dict[str, Any] = {}
    for line in text.splitlines():  # half-typed YAML: the plain top-level lines
        m = re.match(r"(source|destination):\s*(.+?)\s*$", line)
        if m:
            loaded, _, bad = load(m.group(2), "")
            found[m.group(1)] = m.group(2) if bad else loaded
    return found


def source_roots(text: str, registry: Registry) -> list[SchemaAt]:
    """The JSON Schema of each source the mapping names (that the registry knows)."""
    named = header(text).get("source")
    names = [named] if isinstance(named, str) else named if isinstance(named, list) else []
    sources = registry.sources()
    return [
        SchemaAt(sources[n].schema, sources[n].schema)
        for n in names
        if isinstance(n, str) and n in sources
    ]


def destination_of(text: str, registry: Registry) -> Any:
    """The destination the mapping names, or None."""
    name = header(text).get("destination")
    return registry.destinations().get(name) if isinstance(name, str) else None


def _branches(at: SchemaAt, depth: int = 0) -> list[SchemaAt]:
    """``at`` resolved, and the branches of its ``allOf``/``anyOf``/``oneOf``."""
    node = resolve(at.node, at.root)
    out = [SchemaAt(node, at.root)]
    if depth >= _MAX_BRANCHES:
        return out
    for word in ("allOf", "anyOf", "oneOf"):
        for branch in node.get(word, []) or []:
            if isinstance(branch, Mapping):
                out += _branches(SchemaAt(branch, at.root), depth + 1)
    return out


def step(nodes: list[SchemaAt], key: str) -> list[SchemaAt]:
    """The nodes one step (a key, or ``[]`` into array items) below ``nodes``."""
    out: list[SchemaAt] = []
    for at in nodes:
        for b in _branches(at):
            items = b.node.get("items")
            if key == ARRAY_STEP:
                if isinstance(items, Mapping):
                    out.append(SchemaAt(items, b.root))
                continue
            props = b.node.get("properties") or {}
            if key in props:
                out.append(SchemaAt(props[key], b.root))
                continue
            patterns = b.node.get("patternProperties") or {}
            out += [SchemaAt(s, b.root) for p, s in patterns.items() if re.search(p, key)]
            extra = b.node.get("additionalProperties")
            if isinstance(extra, Mapping) and not props:
                out.append(SchemaAt(extra, b.root))
    return out


def keys_below(nodes: list[SchemaAt]) -> dict[str, SchemaAt]:
    """The declared keys of the objects ``nodes`` may be, each with its schema."""
    out: dict[str, SchemaAt] = {}
    for at in nodes:
        for b in _branches(at):
            for key, sub in (b.node.get("properties") or {}).items():
                if isinstance(sub, Mapping):
                    out.setdefault(key, SchemaAt(sub, b.root))
    return out


def path_steps(chain: str) -> list[str] | None:
    """``doc.events[*].data`` -> ``["doc", "events", "[]", "data"]``; None when the text
    is not a path (a function call, a comparison) or does not parse."""
    try:
        ast = parse(chain)
    except ExpressionSyntaxError:
        return None
    return _steps(ast)


def _steps(node: dict[str, Any]) -> list[str] | None:
    kind = node.get("type")
    children = node.get("children", [])
    if kind == "field":
        return [str(node["value"])]
    if kind in ("identity", "current"):
        return []
    if kind == "subexpression":
        parts = [_steps(c) for c in children]
        return None if any(p is None for p in parts) else [s for p in parts if p for s in p]
    if kind in ("index_expression", "projection", "filter_projection"):
        left = _steps(children[0])
        right = _steps(children[1]) if kind != "index_expression" else []
        if left is None or right is None:
            return None
        return [*left, ARRAY_STEP, *right]
    if kind == "flatten":
        inner = _steps(children[0])
        return None if inner is None else [*inner, ARRAY_STEP]
    return None


def input_nodes(text: str, steps: list[str], registry: Registry) -> list[SchemaAt]:
    """The source schema nodes the input path ``doc.<steps>`` reaches."""
    nodes = source_roots(text, registry)
    for key in steps:
        nodes = step(nodes, key)
    return nodes


@dataclass(frozen=True)
class PayloadField:
    """One field of an action's payload (or of an object field inside it)."""

    at: SchemaAt
    required: bool


def payload_fields(
    text: str, action: str | None, names: list[str], registry: Registry
) -> dict[str, PayloadField]:
    """The fields of the destination ``action``'s payload, or, with ``names``
    (``["identifiers"]``), of the object field they lead to."""
    dest = destination_of(text, registry)
    if dest is None or action is None or action not in dest.actions:
        return {}
    schema = dest.actions[action].payload_schema
    nodes = [SchemaAt(schema, schema)]
    for name in names:
        nodes = step(nodes, name)
    required = {r for at in nodes for b in _branches(at) for r in b.node.get("required") or []}
    return {k: PayloadField(at, k in required) for k, at in keys_below(nodes).items()}
