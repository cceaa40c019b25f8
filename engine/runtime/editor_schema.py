"""JSON Schemas for editors, generated from the registry: the shipped schemas plus what
the installed plugins provide, so an editor completes and checks destination names,
each destination's actions and each action's fields, source names and flow names.

``mapping_schema_for(registry)``: the mapping schema whose ``destination`` and
``source`` list the registered names and where, per destination, an ``if``/``then``
limits ``action`` to its actions and ``fields`` keys to the action's fields.
``config_schema_for(registry, flows)``: the config schema whose ``flow`` suggests the
known flows and whose ``settings`` and ``destination`` keys are limited per flow.
``cases_schema_for()``: the test-case schema.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Mapping
from typing import Any

from ..contracts.destination import Destination
from ..language.cases_check import cases_schema
from ..language.plan import Plan
from ..language.planner import mapping_schema
from .config import config_schema
from .registry import Registry


def _def_name(prefix: str, name: str) -> str:
    return prefix + re.sub(r"[^A-Za-z0-9_]", "_", name)


def _description(schema: Mapping[str, Any]) -> str:
    return " ".join(str(schema.get("description", "")).split())


def _fields_schema(payload: Mapping[str, Any]) -> dict[str, Any]:
    """``fields`` of one action: its keys (closed when the payload is) with their docs."""
    props = payload.get("properties", {})
    out: dict[str, Any] = {
        "properties": {
            name: {"description": _description(sub)} if isinstance(sub, Mapping) else {}
            for name, sub in props.items()
        }
    }
    if payload.get("additionalProperties", True) is False:
        out["propertyNames"] = {"enum": sorted(props)}
    if payload.get("required"):
        out["required"] = list(payload["required"])
    return out


def _rule_def(dest: Destination, ref: str) -> dict[str, Any]:
    """A rule of a mapping to ``dest``: a rule whose action is one of ``dest``'s, whose
    fields are that action's, and whose child rules obey the same."""
    return {
        "allOf": [
            {"$ref": "#/$defs/rule"},
            *(
                {
                    "if": {"properties": {"action": {"const": name}}, "required": ["action"]},
                    "then": {"properties": {"fields": _fields_schema(spec.payload_schema)}},
                }
                for name, spec in sorted(dest.actions.items())
            ),
        ],
        "properties": {
            "action": {
                "enum": sorted(dest.actions),
                "description": f"An action of destination {dest.name!r}: "
                + "; ".join(
                    f"{name}: {spec.description}".rstrip(": ")
                    for name, spec in sorted(dest.actions.items())
                ),
            },
            "rules": {"items": {"$ref": ref}},
        },
    }


def mapping_schema_for(registry: Registry) -> dict[str, Any]:
    schema = copy.deepcopy(mapping_schema())
    destinations = registry.destinations()
    sources = sorted(registry.sources())
    props = schema["properties"]
    props["destination"]["enum"] = sorted(destinations)
    props["source"]["oneOf"] = [
        {"type": "string", "enum": sources},
        {"type": "array", "minItems": 1, "uniqueItems": True, "items": {"enum": sources}},
    ]
    functions = sorted(registry.functions())
    expression = schema["$defs"]["expression"]
    expression["description"] = (
        f"{expression.get('description', '')} Functions beyond JMESPath's builtins: "
        + ", ".join(f"{name}()" for name in functions)
        + " (`mapwire describe functions` shows their signatures)."
    ).strip()
    conditions = []
    for name, dest in sorted(destinations.items()):
        key = _def_name("rule_for_", name)
        ref = f"#/$defs/{key}"
        schema["$defs"][key] = _rule_def(dest, ref)
        conditions.append(
            {
                "if": {"properties": {"destination": {"const": name}}, "required": ["destination"]},
                "then": {"properties": {"rules": {"items": {"$ref": ref}}}},
            }
        )
    if conditions:
        schema["allOf"] = conditions
    return schema


def config_schema_for(registry: Registry, flows: Mapping[str, Plan]) -> dict[str, Any]:
    schema = copy.deepcopy(config_schema())
    connection = schema["$defs"]["connection"]
    flow = connection["properties"]["flow"]
    flow["anyOf"] = [
        {"enum": sorted(flows)},
        {"type": "string", "pattern": r"\.(ya?ml|json)$"},
    ]
    destinations = registry.destinations()
    conditions = []
    for name, plan in sorted(flows.items()):
        then: dict[str, Any] = {
            "settings": {
                "propertyNames": {"enum": sorted(plan.settings)},
                "properties": {
                    s: {"description": " ".join(d.description.split())}
                    for s, d in plan.settings.items()
                },
            }
        }
        dest = destinations.get(plan.destination)
        if dest is not None:
            dprops = dest.settings_schema.get("properties", {})
            then["destination"] = {
                "propertyNames": {"enum": sorted(dprops)},
                "properties": {k: {"description": _description(v)} for k, v in dprops.items()},
            }
        conditions.append(
            {
                "if": {"properties": {"flow": {"const": name}}, "required": ["flow"]},
                "then": {"properties": then},
            }
        )
    if conditions:
        connection["allOf"] = [*connection.get("allOf", []), *conditions]
    return schema


def cases_schema_for() -> dict[str, Any]:
    return copy.deepcopy(cases_schema())
