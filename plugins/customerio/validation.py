"""Payload validation against the action schemas, with messages that never quote a value.

Validators are compiled once per action, on first use. jsonschema's own messages repeat the
offending value (which may be personal data), so each error is reworded from the schema's
side: where it is, which rule failed, what was expected.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping
from typing import Any

from mapwire import PermanentDeliveryError, SchemaValidator

from . import limits
from .action_schemas import ACTIONS

_JSON_TYPES: dict[type, str] = {
    dict: "object",
    list: "array",
    str: "string",
    bool: "boolean",
    int: "integer",
    float: "number",
    type(None): "null",
}


@functools.cache
def _validator(name: str) -> SchemaValidator:
    return SchemaValidator(ACTIONS[name].payload_schema, check_formats=True)


def _short(name: object) -> str:
    text = str(name)
    return text if len(text) <= 40 else text[:39] + "…"


def _describe(error: Any) -> str:
    """What is wrong, from the schema's side: never the offending value itself."""
    keyword, expected, schema, instance = (
        error.validator,
        error.validator_value,
        error.schema,
        error.instance,
    )
    if keyword == "required":
        missing = [n for n in expected if isinstance(instance, dict) and n not in instance]
        return f"missing required field(s) {', '.join(missing)}"
    if keyword == "additionalProperties":
        extra = sorted(_short(k) for k in instance if k not in schema.get("properties", {}))
        return f"unexpected field(s) {', '.join(extra)}"
    if keyword in ("minProperties", "maxProperties") and schema.get("maxProperties") == 1:
        return f"expected exactly one of {', '.join(schema.get('properties', {}))}"
    if keyword == "type":
        wanted = expected if isinstance(expected, str) else " or ".join(expected)
        return f"expected {wanted}, got {_JSON_TYPES.get(type(instance), 'a non-JSON value')}"
    if keyword == "enum":
        return f"expected one of {', '.join(map(str, expected))}"
    if keyword == "minLength" and expected == 1:
        return "must not be empty"
    if keyword in ("minimum", "maximum"):
        return f"expected {'at least' if keyword == 'minimum' else 'at most'} {expected}"
    if keyword == "pattern":
        return f"does not match the pattern {expected}"
    if keyword == "format":
        return f"expected format {expected}"
    return f"failed the {keyword!r} check"


_PLAIN: dict[str, Callable[[Any], bool]] = {}
"""Each action's compiled check, built once (intake asks it of every action it takes)."""


def certainly_plain(name: str, payload: Mapping[str, Any]) -> bool:
    """``True`` only when ``payload`` is valid for ``name`` and plainly within the limits
    (``limits.plainly_within``); ``False``: invalid, or unsure, or not plain (``validate``
    and the limits say which). One compiled check (a fraction of a microsecond) of the
    action's schema narrowed by ``limits.plain_schema``; intake asks it of every action."""
    check = _PLAIN.get(name)
    if check is None:
        if name not in ACTIONS:
            return False
        schema = limits.plain_schema(ACTIONS[name].payload_schema)
        check = _PLAIN[name] = SchemaValidator(schema, check_formats=True).certainly_valid
    return check(payload)


def validate(name: str, payload: Mapping[str, Any]) -> None:
    """Raise ``PermanentDeliveryError`` listing what is wrong with ``payload`` for ``name``."""
    if name not in ACTIONS:
        raise PermanentDeliveryError(
            f"unknown Customer.io action {name!r}; expected one of {', '.join(ACTIONS)}"
        )
    validator = _validator(name)
    if validator.is_valid(payload):
        return
    problems: list[str] = []
    for error in validator.iter_errors(payload):
        where = "payload" + "".join(
            f"[{p}]" if isinstance(p, int) else f".{_short(p)}" for p in error.absolute_path
        )
        problem = f"{where}: {_describe(error)}"
        if problem not in problems:
            problems.append(problem)
    if problems:
        problems.sort()
        more = f" (and {len(problems) - 5} more)" if len(problems) > 5 else ""
        raise PermanentDeliveryError(f"invalid {name} payload: {'; '.join(problems[:5])}{more}")
