"""The ``explain`` trace of a run, each entry linked to its line in the mapping text.

The interpreter names a field by its rule and its path inside the rule (``attributes``,
``identifiers.id``, ``name[1]`` for the second fallback or merge part); the plan keeps each
rule's and field's place in the YAML, and the loader's positions turn that into a line.
"""

from __future__ import annotations

import json
from typing import Any

from ..language.interpreter import TraceEntry
from ..language.plan import FieldPlan, Plan, RulePlan
from ..language.yaml_loader import Positions

YamlPath = tuple[str | int, ...]
MAX_SHOWN = 400
"""Longest value text shown for one trace entry (characters); the rest is cut with ``...``."""


def _fields(index: dict[tuple[str, str], YamlPath], rule: str, fp: FieldPlan, path: str) -> None:
    index[(rule, path)] = fp.path
    for sub in fp.object:
        _fields(index, rule, sub, f"{path}.{sub.name}")
    for i, sub in enumerate((*fp.first, *fp.merge)):
        _fields(index, rule, sub, f"{path}[{i}]")


def _rules(index: dict[tuple[str, str], YamlPath], rule: RulePlan) -> None:
    index.setdefault((rule.name, ""), rule.path)
    for fp in (*rule.variables, *rule.fields):
        _fields(index, rule.name, fp, fp.name)
    for child in rule.children:
        _rules(index, child)


def where_index(plan: Plan) -> dict[tuple[str, str], YamlPath]:
    """(rule name, field path) -> the field's (or rule's, with field ``""``) YAML path."""
    index: dict[tuple[str, str], YamlPath] = {}
    for fp in plan.variables:
        _fields(index, "variables", fp, fp.name)
    index[("variables", "")] = ("variables",)
    for rule in plan.rules:
        _rules(index, rule)
    return index


def shown(value: Any) -> str:
    text = json.dumps(value, ensure_ascii=False)
    return text if len(text) <= MAX_SHOWN else text[: MAX_SHOWN - 3] + "..."


def trace_rows(trace: list[TraceEntry], plan: Plan, positions: Positions) -> list[dict[str, Any]]:
    """One row per trace entry: ``{rule, item, field, expression, value, note, line, text}``;
    ``line`` is the field's line in the mapping (its rule's when the field has none)."""
    index = where_index(plan)
    rows = []
    for entry in trace:
        path = index.get((entry.rule, entry.field)) or index.get((entry.rule, ""))
        line = positions.of(path, key=True)[0] if path else 0
        item = f" [{entry.item}]" if entry.item else ""
        if entry.field:
            note = f"  # {entry.note}" if entry.note else ""
            text = f"{entry.field} <- {entry.expression} = {shown(entry.value)}{note}"
        else:
            text = entry.note + (f"  ({entry.expression})" if entry.expression else "")
        rows.append(
            {
                "rule": entry.rule + item,
                "field": entry.field,
                "expression": entry.expression,
                "value": shown(entry.value),
                "note": entry.note,
                "line": line,
                "text": text,
            }
        )
    return rows
