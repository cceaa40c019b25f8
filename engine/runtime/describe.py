"""What the registry and the mappings offer, as plain data: destinations (actions,
fields, limits, settings), sources (the document's fields), flows (settings and rules)
and functions (signatures, return types, providing plugin). ``mapwire describe`` prints
it as text or JSON."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from ..contracts.destination import Destination
from ..contracts.errors import UnknownName
from ..language.expressions import BUILTIN_FUNCTIONS
from ..language.plan import Plan, RulePlan
from ..language.schema_errors import did_you_mean
from ..language.schema_tree import field_rows, type_of
from .registry import Registry


def unknown_name(kind: str, name: str, known: list[str]) -> UnknownName:
    """The error for a name the registry does not have, listing the known ones."""
    hint = did_you_mean(name, known)
    return UnknownName(f"unknown {kind} {name!r}{hint}; known: {', '.join(sorted(known))}")


def _destination(registry: Registry, name: str) -> Destination:
    destinations = registry.destinations()
    if name not in destinations:
        raise unknown_name("destination", name, list(destinations))
    return destinations[name]


def describe_destination(
    registry: Registry, name: str, action: str | None = None
) -> dict[str, Any]:
    """The destination's limits, settings and actions (one action when ``action`` is given),
    each action with its payload fields."""
    dest = _destination(registry, name)
    if action is not None and action not in dest.actions:
        raise unknown_name(f"{name!r} action", action, list(dest.actions))
    settings = dest.settings_schema
    required = set(settings.get("required", []))
    return {
        "name": dest.name,
        "description": dest.description,
        "plugin": registry.destination_owner(name),
        "limits": asdict(dest.capabilities),
        "settings": [
            {
                **row.as_dict(),
                "required": row.path in required,
                "secret": row.path in dest.secret_settings,
            }
            for row in field_rows(settings)
            if "." not in row.path
        ],
        "actions": [
            {
                "name": spec.name,
                "description": spec.description or str(spec.payload_schema.get("description", "")),
                "fields": [row.as_dict() for row in field_rows(spec.payload_schema)],
            }
            for spec in dest.actions.values()
            if action is None or spec.name == action
        ],
    }


def describe_source(registry: Registry, name: str) -> dict[str, Any]:
    """The source's document: every field with its type, requiredness, enum and limits."""
    sources = registry.sources()
    if name not in sources:
        raise unknown_name("source", name, list(sources))
    source = sources[name]
    return {
        "name": source.name,
        "description": source.description,
        "plugin": registry.source_owners()[name],
        "type": type_of(source.schema, source.schema),
        "fields": [row.as_dict() for row in field_rows(source.schema)],
    }


def _rule(rule: RulePlan) -> dict[str, Any]:
    out: dict[str, Any] = {"name": rule.name}
    if rule.loops:
        out["for_each"] = {name: expr.text for name, expr in rule.loops}
    if rule.when is not None:
        out["when"] = rule.when.text
    if rule.action:
        out["action"] = rule.action
        out["fields"] = [f.name for f in rule.fields]
    if rule.skip is not None:
        out["skip"] = "".join(p if isinstance(p, str) else "{" + p.text + "}" for p in rule.skip)
    if rule.children:
        out["rules"] = [_rule(child) for child in rule.children]
    return out


def describe_flow(plan: Plan) -> dict[str, Any]:
    """A mapping's sources, destination, settings (type, default, allowed values) and
    rules (what each emits or skips, and when)."""
    return {
        "name": plan.name,
        "description": " ".join(plan.description.split()),
        "file": plan.file,
        "sources": list(plan.sources),
        "destination": plan.destination,
        "settings": [
            {
                "name": decl.name,
                "type": decl.type,
                "default": decl.default,
                "enum": list(decl.enum) if decl.enum is not None else None,
                "items": decl.items,
                "description": " ".join(decl.description.split()),
            }
            for decl in plan.settings.values()
        ],
        "rules": [_rule(rule) for rule in plan.rules],
    }


def _signature(signature: tuple[Any, ...]) -> list[str]:
    """``[["number", "null"], {"variadic": True}]`` -> ``["number|null..."]``; JMESPath's
    builtin ``{"types": [...], "variadic": True}`` reads the same way."""
    out: list[str] = []
    for arg in signature:
        if isinstance(arg, dict):
            types = arg.get("types")
            if types is not None:
                out.append("|".join(types) or "any")
            if arg.get("variadic") and out:
                out[-1] += "..."
        elif isinstance(arg, list | tuple):
            out.append("|".join(str(t) for t in arg) or "any")
        else:
            out.append(str(arg))
    return out


def _returns(fdef: object) -> str:
    """The declared return type (a type name or a list of them), else ``any``."""
    declared = getattr(fdef, "returns", None) or getattr(fdef, "return_type", None)
    if isinstance(declared, list | tuple):
        return "|".join(str(t) for t in declared) or "any"
    return str(declared) if declared else "any"


def _builtin_returns(name: str) -> str:
    """What the type checks know a JMESPath builtin returns (``any`` when it depends on
    the arguments)."""
    from ..language.function_types import BUILTIN_RETURNS

    known = BUILTIN_RETURNS.get(name)
    if known is None or name in _ARGUMENT_DEPENDENT:
        return "any"
    kinds = set(known([]).kinds)
    if {"integer", "number"} <= kinds:
        kinds.discard("integer")
    return "|".join(sorted(kinds, key=lambda k: (k == "null", k))) or "any"


#: Builtins whose result type is their argument's (or its elements').
_ARGUMENT_DEPENDENT = frozenset(
    {"max", "min", "max_by", "min_by", "not_null", "reverse", "sort", "sort_by"}
)


def describe_functions(registry: Registry) -> list[dict[str, Any]]:
    """Every function an expression may call: plugins' and JMESPath's builtins."""
    import jmespath.functions

    rows = [
        {
            "name": fdef.name,
            "arguments": _signature(fdef.signature),
            "returns": _returns(fdef),
            "plugin": fdef.plugin,
        }
        for fdef in registry.functions().values()
    ]
    table = jmespath.functions.Functions().FUNCTION_TABLE
    rows += [
        {
            "name": name,
            "arguments": _signature(tuple(table[name]["signature"])),
            "returns": _builtin_returns(name),
            "plugin": "jmespath (builtin)",
        }
        for name in BUILTIN_FUNCTIONS
        if name in table
    ]
    return sorted(rows, key=lambda r: (r["plugin"] == "jmespath (builtin)", r["name"]))
