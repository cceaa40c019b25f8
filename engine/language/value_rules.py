"""The value rules both evaluators share: how results become output values.

JMESPath truth and emptiness, ``cast``, a field's post-processing (``map``, ``cast``,
``rename``/``omit``, ``omit_empty``, ``default``), template and dedup-key text, and the
values a rule's ``state`` binds.

The interpreter (``interpreter``) calls these directly; the generated code (``compiler``)
inlines the common cases and calls these for the rest, so each rule has one definition.
"""

from __future__ import annotations

import json
from typing import Any

from ..contracts.errors import ItemError
from ..contracts.store import MembershipUpdate
from ..contracts.value_types import json_type
from .plan import FieldPlan


def is_empty(value: Any) -> bool:
    """ "", [] and {} (not false, not 0)."""
    return isinstance(value, str | list | dict) and len(value) == 0


def truthy(value: Any) -> bool:
    """JMESPath truthiness: false for null, false, "", [], {}; true for 0."""
    if value is None or value is False:
        return False
    return not (isinstance(value, str | list | dict) and len(value) == 0)


def cast_value(value: Any, kind: str) -> Any:
    """Convert to string/integer/number/boolean; what cannot convert becomes null."""
    if value is None:
        return None
    try:
        if kind == "string":
            if isinstance(value, str):
                return value
            if type(value) is int:  # what json.dumps writes for it, without its machinery
                return str(value)
            if isinstance(value, bool):
                return "true" if value else "false"
            if isinstance(value, int | float):
                return json.dumps(value)
            return json.dumps(value, separators=(",", ":"), ensure_ascii=False)
        if kind == "integer":
            if isinstance(value, bool):
                return None
            if isinstance(value, int):
                return value
            if isinstance(value, float):
                return int(value) if value.is_integer() else None
            if isinstance(value, str):
                f = float(value)
                return int(f) if f.is_integer() else None
            return None
        if kind == "number":
            if isinstance(value, bool):
                return None
            if isinstance(value, int | float):
                return value
            if isinstance(value, str):
                f = float(value)
                return int(f) if f.is_integer() and "." not in value else f
            return None
        if kind == "boolean":
            if isinstance(value, bool):
                return value
            if isinstance(value, str):
                low = value.strip().lower()
                if low in ("true", "1", "yes"):
                    return True
                if low in ("false", "0", "no"):
                    return False
                return None
            if isinstance(value, int | float):
                return value != 0
            return None
    except (ValueError, OverflowError):
        return None
    raise AssertionError(kind)


def post_process(fp: FieldPlan, value: Any) -> Any:
    """Apply map, cast, rename/omit, omit_empty and default, in that order."""
    if fp.map is not None and value is not None:
        key = value if isinstance(value, str) else cast_value(value, "string")
        if key in fp.map:
            value = fp.map[key]
        elif fp.has_map_default:
            value = fp.map_default
    if fp.cast is not None:
        value = cast_value(value, fp.cast)
    if isinstance(value, dict) and (fp.rename is not None or fp.omit):
        renames = fp.rename or {}
        value = {renames.get(k, k): v for k, v in value.items() if k not in fp.omit}
    if fp.omit_empty and is_empty(value):
        value = None
    if value is None and fp.has_default:
        value = fp.default
    return value


def outcome_values(update: MembershipUpdate) -> list[dict[str, Any]]:
    """A state's ``changes`` binding: one object per change, in order."""
    return [
        {
            "member": o.member,
            "present": o.present,
            "applied": o.applied,
            "was_present": o.was_present,
        }
        for o in update.outcomes
    ]


def membership_version(value: Any, rule: str) -> int:
    """A state change's version: an integer (null counts as 0), else a per-item error."""
    if value is None:
        return 0
    version = cast_value(value, "integer")
    if version is None:
        raise ItemError(
            f"state version must be an integer, got {json_type(value)}",
            rule=rule,
            code="wrong_type",
        )
    return int(version)


def render_template_value(value: Any) -> str:
    """A value as template and dedup-key text: a string as it is, else compact JSON."""
    if isinstance(value, str):
        return value
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)
