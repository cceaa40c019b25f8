"""A mapping's declared settings, resolved for one run: defaults plus overrides."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from ..contracts.errors import ConfigError, Problem
from .plan import Plan
from .planner import setting_type_error
from .schema_errors import did_you_mean


def parse_setting_text(text: str) -> Any:
    """``--set`` values: JSON when they parse as JSON (true, 3, ["a"]), else the string."""
    try:
        return json.loads(text)
    except ValueError:
        return text


def resolve_settings(
    plan: Plan, overrides: Mapping[str, Any] | None = None, *, where: str = "settings"
) -> dict[str, Any]:
    """Defaults overlaid with ``overrides``; every unknown name or bad value is reported."""
    resolved = {name: decl.default for name, decl in plan.settings.items()}
    problems = []
    for name, value in (overrides or {}).items():
        decl = plan.settings.get(name)
        if decl is None:
            hint = did_you_mean(name, plan.settings)
            known = ", ".join(sorted(plan.settings)) or "none"
            problems.append(
                Problem(where, 1, 1, "E204", f"unknown setting {name!r}{hint}; settings: {known}")
            )
            continue
        if decl.type == "string" and not isinstance(value, str):
            value = json.dumps(value) if not isinstance(value, str) else value
        err = setting_type_error(decl, value)
        if err:
            problems.append(Problem(where, 1, 1, "E208", err))
            continue
        resolved[name] = value
    if problems:
        raise ConfigError(problems)
    return resolved
