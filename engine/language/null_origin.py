"""Why an expression gave null, for ``explain``: a key absent, or present and null.

JMESPath gives null for both, so ``why_null(expr, ctx)`` looks again at each plain path
the expression reads (``event.data.timestamp_unixtime_ms``) and names the first step that
is missing or null. Only key names from the mapping appear in the answer, never values.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from ..contracts.value_types import a_json_type
from .plan import Expr

NO_SUCH_KEY = "no such key in the input"
NULL_IN_INPUT = "null in the input"


def _paths(node: Any) -> Iterator[list[str]]:
    """Every plain path (``a.b.c`` read from a name in scope) in the AST, in order."""
    if not isinstance(node, dict):
        return
    kind = node.get("type")
    if kind == "field":
        yield [node["value"]]
        return
    if kind == "subexpression":
        names: list[str] = []
        for child in node["children"]:
            if child.get("type") != "field":
                break
            names.append(child["value"])
        else:
            yield names
            return
    if kind in ("projection", "filter_projection", "value_projection", "pipe", "expref"):
        yield from _paths(node["children"][0])  # the right side reads items, not names
        return
    for child in node.get("children", []):
        yield from _paths(child)


def _walk(names: list[str], ctx: Mapping[str, Any]) -> str | None:
    if names[0] not in ctx:
        return None
    value: Any = ctx[names[0]]
    for i, key in enumerate(names[1:], 1):
        where = ".".join(names[:i])
        if value is None:
            return f"{NULL_IN_INPUT} ({where} is null)"
        if not isinstance(value, dict):
            return f"{where} is {a_json_type(value)}, not an object"
        if key not in value:
            return f"{NO_SUCH_KEY} ({where} has no {key!r})"
        value = value[key]
    if value is None:
        return f"{NULL_IN_INPUT} ({'.'.join(names)})" if len(names) > 1 else f"{names[0]} is null"
    return None


def why_null(expr: Expr, ctx: Mapping[str, Any]) -> str:
    """The first path in ``expr`` that is absent or null in ``ctx``, said in words; "" if
    every path has a value (the null came from a function or an operator)."""
    for names in _paths(expr.ast):
        reason = _walk(names, ctx)
        if reason:
            return reason
    return ""
