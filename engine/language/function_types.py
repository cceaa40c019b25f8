"""The types of JMESPath functions, for the type checks: their results and the
arguments they take.

Builtins have known results (``BUILTIN_RETURNS``, some depending on their arguments'
types); a plugin function declares the JSON type(s) it returns (``returns_type``); any
other function gives ``any``. ``refused_arguments`` holds the inferred type of each
argument to the types the function's signature takes (jmespath's, or the plugin's).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
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


#: The kinds of value each of jmespath's signature types takes (``expref`` is no value).
_TAKES = {
    "number": frozenset({"integer", "number"}),
    "string": frozenset({"string"}),
    "boolean": frozenset({"boolean"}),
    "array": frozenset({"array"}),
    "array-number": frozenset({"array"}),
    "array-string": frozenset({"array"}),
    "object": frozenset({"object"}),
    "null": frozenset({"null"}),
}


def refused_arguments(
    name: str,
    signature: Sequence[Mapping[str, Any]] | None,
    nodes: Sequence[Mapping[str, Any]],
    args: Sequence[Ty],
) -> Iterator[tuple[int, str]]:
    """``(place, message)`` for each argument none of whose values ``name`` takes: a call
    that fails whenever the argument has a value. An argument only some of whose types are
    taken passes (a source schema's union, say, that the rule's ``when`` narrows: the
    checks do not follow it), and so does null (many functions take it; a missing value is
    the mapping's null handling, not a type mistake). A wrong count of arguments is the
    planner's to report."""
    if not signature:
        return
    variadic = bool(signature[-1].get("variadic"))
    if len(args) < len(signature) or (len(args) > len(signature) and not variadic):
        return
    # jmespath checks the first ``len(signature)`` arguments only: a variadic function's
    # further ones are the function's to take or leave (``merge_deep`` skips non-objects).
    for place, (node, ty) in enumerate(zip(nodes, args[: len(signature)], strict=False)):
        spec = signature[place]
        wanted = [t for t in spec.get("types") or () if t != "expref"]
        if not wanted or node["type"] == "expref" or any(t not in _TAKES for t in wanted):
            continue  # anything goes, or an expression reference, or a type unknown here
        taken = frozenset().union(*(_TAKES[t] for t in wanted))
        given = ty.kinds - {"null"}
        if not ty.checked or not given or given & taken:
            continue
        yield (
            place,
            (
                f"argument {place + 1} of {name}() is {ty.describe()}; {name}() takes "
                f"{' or '.join(wanted)}, so the call fails for every {' or '.join(sorted(given))}"
                " value"
            ),
        )
