"""A JSON Schema flattened into rows, one per field, for ``mapwire describe``.

Each row is a field (``events[].data.event_name``), its type, whether it is required, its
allowed values and limits. ``$ref`` inside the schema (``#/$defs/...``) is resolved;
alternatives (``oneOf``/``anyOf``/``allOf``) contribute the fields of every branch.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

from ..contracts.value_types import json_kind

LIMIT_KEYWORDS = (
    "minLength",
    "maxLength",
    "minimum",
    "maximum",
    "exclusiveMinimum",
    "exclusiveMaximum",
    "minItems",
    "maxItems",
    "minProperties",
    "maxProperties",
    "pattern",
    "format",
)
_MAX_DEPTH = 8


@dataclass
class FieldRow:
    """One field of a schema."""

    path: str
    type: str
    required: bool = False
    description: str = ""
    enum: list[Any] | None = None
    limits: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def resolve(schema: Mapping[str, Any], root: Mapping[str, Any]) -> Mapping[str, Any]:
    """``schema`` with a local ``$ref`` followed (repeatedly); other keys are kept."""
    seen: set[str] = set()
    while isinstance(schema.get("$ref"), str) and schema["$ref"].startswith("#"):
        ref = schema["$ref"]
        if ref in seen:
            break
        seen.add(ref)
        target: Any = root
        for part in ref[1:].split("/")[1:]:
            target = target.get(part.replace("~1", "/").replace("~0", "~"), {})
        schema = {**{k: v for k, v in schema.items() if k != "$ref"}, **target}
    return schema


def type_of(schema: Mapping[str, Any], root: Mapping[str, Any]) -> str:
    """A short type name: ``string``, ``integer|null``, ``array of object``, ``any``."""
    schema = resolve(schema, root)
    kind = schema.get("type")
    if isinstance(kind, list):
        names = [str(k) for k in kind]
    elif isinstance(kind, str):
        names = [kind]
    elif "const" in schema:
        return type(schema["const"]).__name__.replace("str", "string")
    elif "enum" in schema:
        names = sorted({json_kind(v) for v in schema["enum"]})
    else:
        branches = [*schema.get("oneOf", []), *schema.get("anyOf", [])]
        names = list(dict.fromkeys(type_of(b, root) for b in branches)) if branches else []
        if not names and "properties" in schema:
            names = ["object"]
    if names == ["array"] and isinstance(schema.get("items"), Mapping):
        return f"array of {type_of(schema['items'], root)}"
    return "|".join(names) or "any"


def _enum(schema: Mapping[str, Any]) -> list[Any] | None:
    if "enum" in schema:
        return list(schema["enum"])
    if "const" in schema:
        return [schema["const"]]
    return None


def field_rows(schema: Mapping[str, Any], root: Mapping[str, Any] | None = None) -> list[FieldRow]:
    """Every field under ``schema``, depth first, parents before children."""
    rows: dict[str, FieldRow] = {}
    _walk(schema, root or schema, "", rows, 0, set())
    return list(rows.values())


def _walk(
    schema: Mapping[str, Any],
    root: Mapping[str, Any],
    prefix: str,
    rows: dict[str, FieldRow],
    depth: int,
    refs: set[str],
) -> None:
    ref = schema.get("$ref")
    if isinstance(ref, str):
        if ref in refs or depth > _MAX_DEPTH:
            return
        refs = refs | {ref}
    schema = resolve(schema, root)
    for key in ("allOf", "oneOf", "anyOf"):
        for branch in schema.get(key, []):
            if isinstance(branch, Mapping):
                _walk(branch, root, prefix, rows, depth + 1, refs)
    items = schema.get("items")
    if isinstance(items, Mapping) and prefix:
        _walk(items, root, prefix + "[]", rows, depth + 1, refs)
    required = set(schema.get("required", []))
    for name, sub in schema.get("properties", {}).items():
        if not isinstance(sub, Mapping):
            continue
        path = f"{prefix}.{name}" if prefix else name
        target = resolve(sub, root)
        row = rows.get(path)
        if row is None:
            rows[path] = FieldRow(
                path,
                type_of(sub, root),
                name in required,
                " ".join(str(target.get("description", "")).split()),
                _enum(target),
                {k: target[k] for k in LIMIT_KEYWORDS if k in target},
            )
        else:  # a second branch describing the same field
            row.required = row.required or name in required
            if row.type != (other := type_of(sub, root)) and other not in row.type.split("|"):
                row.type = f"{row.type}|{other}"
        if depth < _MAX_DEPTH:
            _walk(sub, root, path, rows, depth + 1, refs)
