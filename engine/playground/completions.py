"""What the mapping editor completes: the input paths of the mapping's sources and the
destination's actions and payload fields, from the plugins' schemas, each with its type."""

from __future__ import annotations

from typing import Any

from ..language.schema_tree import field_rows
from ..language.yaml_loader import load
from ..runtime.registry import Registry


def _names(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, list):
        return [v for v in value if isinstance(v, str)]
    return []


def completions(text: str, registry: Registry) -> list[dict[str, str]]:
    """``[{label, type, detail, info}]`` for the ``source:`` and ``destination:`` the text
    names (read even when the rest of the mapping does not compile)."""
    value, _, _ = load(text, "mapping")
    spec = value if isinstance(value, dict) else {}
    out: list[dict[str, str]] = []
    sources = registry.sources()
    for name in _names(spec.get("source")):
        source = sources.get(name)
        if source is None:
            continue
        for row in field_rows(source.schema):
            out.append(
                {
                    "label": f"doc.{row.path}",
                    "type": "variable",
                    "detail": f"{row.type} · input ({name})",
                    "info": row.description,
                }
            )
    destination = registry.destinations().get(str(spec.get("destination", "")))
    if destination is not None:
        for spec_ in destination.actions.values():
            out.append(
                {
                    "label": spec_.name,
                    "type": "function",
                    "detail": f"action · {destination.name}",
                    "info": spec_.description,
                }
            )
            for row in field_rows(spec_.payload_schema):
                out.append(
                    {
                        "label": row.path,
                        "type": "property",
                        "detail": f"{row.type} · {spec_.name} field"
                        + (" (required)" if row.required else ""),
                        "info": row.description,
                    }
                )
    for name in sorted(registry.functions()):
        out.append({"label": name, "type": "function", "detail": "function", "info": ""})
    unique = {(c["label"], c["detail"]): c for c in out}
    return list(unique.values())
