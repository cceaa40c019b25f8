"""JSON Schema checks whose messages name the field and the rule, never the value.

jsonschema's own messages quote the offending instance (``'s3cr3t' is not of type
'integer'``); a payload value or a credential must not reach an error message, so each
error is rewritten here from its path, its keyword and the schema's own numbers.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

from mapwire import SchemaValidator

if TYPE_CHECKING:  # imported by what makes its errors, when they are made
    from jsonschema.exceptions import ValidationError

#: Longest name quoted in a message (an attribute name comes from the data).
_NAME_CHARS = 64

_JSON_TYPES = (
    (bool, "boolean"),
    (int, "integer"),
    (float, "number"),
    (str, "string"),
    (list, "array"),
    (dict, "object"),
    (type(None), "null"),
)


def compile_schema(schema: Mapping[str, Any]) -> SchemaValidator:
    """A validator for ``schema``, after checking that the schema itself is valid."""
    from jsonschema import Draft202012Validator

    Draft202012Validator.check_schema(schema)
    return SchemaValidator(schema)


def problems(validator: SchemaValidator, instance: Any, *, limit: int = 5) -> list[str]:
    """Up to ``limit`` safe messages, one per schema error, in document order."""
    if validator.is_valid(instance):
        return []
    errors = sorted(validator.iter_errors(instance), key=lambda e: field_path(e.absolute_path))
    return [describe(error) for error in errors[:limit]]


def describe(error: ValidationError) -> str:
    """One error as ``where: what; expected X`` with no instance value in it."""
    where = field_path(error.absolute_path)
    keyword = error.validator
    rule: Any = error.validator_value
    value: Any = error.instance
    if keyword in {"anyOf", "oneOf"} and error.context:
        branch = _matching_branch_error(error)
        if branch is not None:
            return describe(branch)
        return f"{where}: matches none of the allowed forms, got {json_type(value)}"
    if keyword == "required":
        missing = [name for name in rule if isinstance(value, dict) and name not in value]
        noun = "field" if len(missing) == 1 else "fields"
        return f"{where}: missing required {noun} {', '.join(missing)}"
    if keyword == "additionalProperties" and isinstance(value, dict):
        schema = error.schema
        known = set(schema.get("properties", {})) if isinstance(schema, Mapping) else set()
        extra = sorted(quote(name) for name in value if name not in known)
        noun = "field" if len(extra) == 1 else "fields"
        return f"{where}: unexpected {noun} {', '.join(extra)}"
    if keyword == "type":
        expected = " or ".join(rule) if isinstance(rule, list) else str(rule)
        return f"{where}: expected {expected}, got {json_type(value)}"
    if keyword == "enum":
        return f"{where}: not one of {', '.join(str(v) for v in rule)}"
    if keyword in {"minLength", "maxLength"} and "propertyNames" in error.schema_path:
        bound = "at least" if keyword == "minLength" else "at most"
        return f"{where}: name {quote(value)} has {len(value)} characters; {bound} {rule}"
    if keyword in {"minLength", "maxLength"}:
        bound = "at least" if keyword == "minLength" else "at most"
        return f"{where}: {len(value)} characters; {bound} {rule}"
    if keyword in {"minProperties", "maxProperties", "minItems", "maxItems"}:
        bound = "at least" if keyword.startswith("min") else "at most"
        return f"{where}: {len(value)} entries; {bound} {rule}"
    if keyword in {"minimum", "exclusiveMinimum"}:
        return f"{where}: below the minimum {rule}"
    if keyword in {"maximum", "exclusiveMaximum"}:
        return f"{where}: above the maximum {rule}"
    if keyword == "pattern":
        return f"{where}: does not match the pattern {rule}"
    return f"{where}: fails {keyword}"


def _matching_branch_error(error: ValidationError) -> ValidationError | None:
    """The deepest error of an ``anyOf`` branch the value's type matched, if any."""
    depth = len(error.absolute_path)
    matched = [
        e for e in error.context or () if e.validator != "type" or len(e.absolute_path) > depth
    ]
    return max(matched, key=lambda e: len(e.absolute_path), default=None)


def field_path(path: Iterable[str | int]) -> str:
    """``custom_attributes.plan`` / ``events[2].data``; ``payload`` for the top level."""
    out = ""
    for part in path:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{_shorten(part)}" if out else _shorten(part)
    return out or "payload"


def quote(name: str) -> str:
    """A name from the data, quoted and shortened for a message."""
    return repr(_shorten(name))


def _shorten(name: str) -> str:
    return name if len(name) <= _NAME_CHARS else name[: _NAME_CHARS - 1] + "…"


def json_type(value: Any) -> str:
    """The JSON type name of a parsed value."""
    for python_type, name in _JSON_TYPES:
        if isinstance(value, python_type):
            return name
    return type(value).__name__
