"""``mapwire explain --mapping FLOW`` without an input: what the flow is made of, its
settings (name, type, default, description) and its rules (when, for_each, action or
skip), so a user can read a shipped flow without opening its YAML."""

from __future__ import annotations

import json
from typing import Any

from ..language.plan import Expr, Plan, RulePlan, SettingDecl

INDENT = "  "


def outline(plan: Plan) -> list[str]:
    """The flow's settings and rules, as lines of text."""
    lines = [f"flow {plan.name}: {_text(plan.description)}".rstrip(": ")]
    lines.append(f"{INDENT}reads {', '.join(plan.sources)} -> destination {plan.destination}")
    lines.append(f"{INDENT}file {plan.file}")
    lines.append(f"settings ({len(plan.settings)}):" if plan.settings else "settings: none")
    for decl in plan.settings.values():
        lines.extend(_setting(decl))
    lines.append(f"rules ({sum(1 for _ in plan.all_rules())}):")
    for rule in plan.rules:
        lines.extend(_rule(rule, 1))
    return lines


def _setting(decl: SettingDecl) -> list[str]:
    facts = [decl.type, f"default {_json(decl.default)}"]
    if decl.enum:
        facts.append("one of " + ", ".join(_json(v) for v in decl.enum))
    head = f"{INDENT}{decl.name} ({'; '.join(facts)})"
    return [head + (f": {_text(decl.description)}" if decl.description else "")]


def _rule(rule: RulePlan, depth: int) -> list[str]:
    pad = INDENT * depth
    lines = [f"{pad}- {rule.name}"]
    pad += INDENT
    for name, expr in rule.loops:
        lines.append(f"{pad}for_each {name}: {expr.text}")
    if rule.when is not None:
        lines.append(f"{pad}when: {rule.when.text}")
    if rule.action is not None:
        names = ", ".join(f.name for f in rule.fields)
        lines.append(
            f"{pad}action: {rule.action} ({names})" if names else f"{pad}action: {rule.action}"
        )
    if rule.skip is not None:
        lines.append(f"{pad}skip: {_template(rule.skip)}")
    if rule.dedup:
        lines.append(f"{pad}dedup_key: " + ", ".join(e.text for e in rule.dedup))
    for child in rule.children:
        lines.extend(_rule(child, depth + 2))
    return lines


def _template(parts: tuple[str | Expr, ...]) -> str:
    return json.dumps("".join(p if isinstance(p, str) else "{" + p.text + "}" for p in parts))


def _json(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False)


def _text(prose: str) -> str:
    """A description on one line (YAML block text keeps its line breaks)."""
    return " ".join(prose.split())
