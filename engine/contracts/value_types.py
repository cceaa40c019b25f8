"""Describe a value by its JSON type, never by its content: for errors about input data.

Input documents carry personal data; an error message, a log line or a dead-letter reason
must say ``expected string, got object``, not repeat the object.
"""

from __future__ import annotations

from typing import Any

from jmespath import exceptions as jmespath_errors

#: JMESPath's and Python's names for a type -> its JSON name.
_TYPE_NAMES = {
    "dict": "object",
    "list": "array",
    "str": "string",
    "int": "number",
    "float": "number",
    "bool": "boolean",
    "NoneType": "null",
    "None": "null",
    "null": "null",
    "expref": "expression",
}


def json_kind(value: Any) -> str:
    """``object``, ``array``, ``string``, ``integer``, ``number``, ``boolean`` or ``null``
    (JSON Schema's names: an integer is told from other numbers)."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list | tuple):
        return "array"
    if isinstance(value, dict):
        return "object"
    return _TYPE_NAMES.get(type(value).__name__, "a non-JSON value")


def json_type(value: Any) -> str:
    """``object``, ``array``, ``string``, ``number``, ``boolean`` or ``null``."""
    kind = json_kind(value)
    return "number" if kind == "integer" else kind


def a_json_type(value: Any) -> str:
    """The JSON type with its article, for prose: ``a string``, ``an object``, ``null``."""
    kind = json_type(value)
    if kind == "null" or " " in kind:
        return kind
    return f"an {kind}" if kind[0] in "aeiou" else f"a {kind}"


def _type_name(name: str) -> str:
    """A JMESPath signature type in words: ``array-string`` -> ``array of strings``."""
    base, _, sub = name.partition("-")
    if base == "array" and sub:
        return f"array of {_TYPE_NAMES.get(sub, sub)}s"
    return _TYPE_NAMES.get(name, name)


def describe_expression_error(exc: BaseException) -> tuple[str, str]:
    """(code, message) for an exception raised while evaluating an expression on input.

    A JMESPath type error names the function and the types; every other error is named
    by its class only, since its text may quote the input (``could not convert string to
    float: '...'``). Arity and unknown-function errors quote the expression, not the input.
    """
    if isinstance(exc, jmespath_errors.JMESPathTypeError):
        expected = " or ".join(_type_name(t) for t in exc.expected_types)
        got = json_type(exc.current_value)
        return "wrong_type", f"function {exc.function_name}(): expected {expected}, got {got}"
    if isinstance(exc, jmespath_errors.ArityError | jmespath_errors.UnknownFunctionError):
        return "expression_error", f"expression failed: {exc}"
    return "expression_error", f"expression failed ({type(exc).__name__})"
