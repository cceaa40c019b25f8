"""A mapping's declared settings: values checked against them, and resolved for a run.

``setting_type_error`` says why a value does not fit a declaration (type, enum, items);
``resolve_settings`` gives one run's values: the defaults overlaid with overrides.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from functools import lru_cache
from typing import Any

from ..contracts.errors import ConfigError, Problem
from ..contracts.schema_validator import SchemaValidator
from ..contracts.value_types import json_type
from .plan import Plan, SettingDecl
from .schema_errors import did_you_mean

_JSON_TYPES: dict[str, tuple[type, ...]] = {
    "boolean": (bool,),
    "string": (str,),
    "integer": (int,),
    "number": (int, float),
    "array": (list,),
    "object": (dict,),
}


def setting_type_error(decl: SettingDecl, value: Any) -> str | None:
    """Why ``value`` is not valid for the setting, or None."""
    ok = isinstance(value, _JSON_TYPES[decl.type]) and not (
        decl.type in ("integer", "number") and isinstance(value, bool)
    )
    if not ok:
        return f"setting {decl.name!r} expects {decl.type}, got {json_type(value)}"
    if decl.enum is not None and value not in decl.enum:
        hint = did_you_mean(str(value), [str(v) for v in decl.enum])
        return f"setting {decl.name!r}: {value!r} is not one of {list(decl.enum)!r}{hint}"
    if decl.items is not None and isinstance(value, list):
        validator = _items_validator(json.dumps(decl.items, sort_keys=True))
        for item in value:
            if validator.certainly_valid(item):
                continue
            for error in validator.iter_errors(item):
                allowed = decl.items.get("enum")
                hint = did_you_mean(str(item), [str(v) for v in allowed]) if allowed else ""
                return f"setting {decl.name!r}: item {item!r}: {error.message}{hint}"
    return None


@lru_cache(maxsize=64)
def _items_validator(items: str) -> SchemaValidator:
    """The validator of a setting's ``items`` schema (given as its JSON)."""
    return SchemaValidator(json.loads(items))


def parse_setting_text(text: str) -> Any:
    """``--set`` values: JSON when they parse as JSON (true, 3, ["a"]), else the string."""
    try:
        return json.loads(text)
    except ValueError:
        return text


def resolve_settings(
    plan: Plan, overrides: Mapping[str, Any] | None = None, *, where: str = "settings"
) -> dict[str, Any]:
    """Defaults overlaid with ``overrides``; every unknown name or bad value is reported,
    named by ``where`` (``--set``, a test case): no position in a file (line 0)."""
    resolved = {name: decl.default for name, decl in plan.settings.items()}
    problems = []
    for name, value in (overrides or {}).items():
        decl = plan.settings.get(name)
        if decl is None:
            hint = did_you_mean(name, plan.settings)
            known = ", ".join(sorted(plan.settings)) or "none"
            problems.append(
                Problem(where, 0, 0, "E204", f"unknown setting {name!r}{hint}; settings: {known}")
            )
            continue
        if decl.type == "string" and not isinstance(value, str):
            value = json.dumps(value) if not isinstance(value, str) else value
        err = setting_type_error(decl, value)
        if err:
            problems.append(Problem(where, 0, 0, "E208", err))
            continue
        resolved[name] = value
    if problems:
        raise ConfigError(problems)
    return resolved
