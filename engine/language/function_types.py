"""The result types of JMESPath functions, for the type checks.

Builtins have known results (``BUILTIN_RETURNS``, some depending on their arguments'
types); a plugin function declares the JSON type(s) it returns (``returns_type``); any
other function gives ``any``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from .typing_schema import (
    ANY,
    BOOLEAN,
    INTEGER,
    NUMBER,
    STRING,
    Ty,
    array_of,
    element,
    from_kinds,
    union,
)


def _same(arg: int) -> Callable[[list[Ty]], Ty]:
    return lambda args: args[arg] if len(args) > arg else ANY


def _elements(args: list[Ty]) -> Ty:
    return element(args[0]).with_null() if args else ANY


BUILTIN_RETURNS: Mapping[str, Callable[[list[Ty]], Ty]] = {
    "abs": lambda _: NUMBER,
    "avg": lambda _: NUMBER.with_null(),
    "ceil": lambda _: INTEGER,
    "floor": lambda _: INTEGER,
    "contains": lambda _: BOOLEAN,
    "ends_with": lambda _: BOOLEAN,
    "starts_with": lambda _: BOOLEAN,
    "join": lambda _: STRING,
    "keys": lambda _: array_of(STRING),
    "length": lambda _: INTEGER,
    "map": lambda _: array_of(None),
    "max": _elements,
    "min": _elements,
    "max_by": _elements,
    "min_by": _elements,
    "merge": lambda _: Ty(frozenset({"object"})),
    "not_null": lambda args: union(*(a.without_null() for a in args)).with_null(),
    "reverse": _same(0),
    "sort": _same(0),
    "sort_by": _same(0),
    "sum": lambda _: NUMBER,
    "to_array": lambda args: args[0] if args and args[0].kinds == {"array"} else array_of(None),
    "to_string": lambda _: STRING,
    "to_number": lambda _: NUMBER.with_null(),
    "type": lambda _: STRING,
    "values": lambda _: array_of(None),
}


def returns_type(spec: Any) -> Ty:
    """A plugin function's declared result: a JSON type name or a list of them."""
    if isinstance(spec, str):
        return from_kinds([spec])
    if isinstance(spec, list | tuple) and all(isinstance(s, str) for s in spec):
        return from_kinds(spec)
    return ANY
