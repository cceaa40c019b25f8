"""The names a mapping binds (variables, loop names) and the input paths they stand for,
so ``event.data.`` completes and hovers like ``doc.events[*].data.`` when ``event`` loops
over ``doc.events``. Read from the text as far as it parses; scopes are not told apart (a
name bound twice keeps its first binding)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from ..contracts.errors import ExpressionSyntaxError
from ..language.expressions import parse
from ..language.type_infer import Inferer
from ..language.typing_schema import ANY, Ty, element
from ..language.yaml_loader import load
from .schema_paths import ARRAY_STEP, path_steps

_MAX_DEPTH = 16


def bindings(text: str) -> dict[str, tuple[str, bool]]:
    """``name -> (expression, is a loop)`` for every variable and loop name, in order."""
    value, _, _ = load(text, "")
    found: dict[str, tuple[str, bool]] = {}
    if isinstance(value, dict):
        for name, expr, loop in _walk(value):
            found.setdefault(name, (expr, loop))
    return found


def _walk(spec: dict[str, Any]) -> Iterator[tuple[str, str, bool]]:
    loops = spec.get("for_each")
    if isinstance(loops, dict):
        for name, expr in loops.items():
            if isinstance(expr, str):
                yield str(name), expr, True
    variables = spec.get("variables")
    if isinstance(variables, dict):
        for name, vspec in variables.items():
            expr = vspec.get("expr") if isinstance(vspec, dict) else vspec
            if isinstance(expr, str):
                yield str(name), expr, False
    for rule in spec.get("rules") or []:
        if isinstance(rule, dict):
            yield from _walk(rule)


def input_steps(steps: list[str], bound: dict[str, tuple[str, bool]]) -> list[str] | None:
    """``steps`` rewritten to start from ``doc`` through the names' bindings
    (``event.data`` -> ``doc.events[].data``), or None when a name is not an input path."""
    for _ in range(_MAX_DEPTH):
        if not steps or steps[0] == "doc":
            return steps or None
        binding = bound.get(steps[0])
        if binding is None:
            return None
        inner = path_steps(binding[0])
        if inner is None:
            return None
        steps = [*inner, *([ARRAY_STEP] if binding[1] else []), *steps[1:]]
    return None


def scope_types(
    doc: Ty, bound: dict[str, tuple[str, bool]], returns: dict[str, Ty]
) -> dict[str, Ty]:
    """The type of ``doc`` and of each bound name, inferred in binding order."""
    env: dict[str, Ty] = {"doc": doc}
    for name, (expr, loop) in bound.items():
        try:
            ast = parse(expr)
        except ExpressionSyntaxError:
            env[name] = ANY
            continue
        ty = Inferer(env, returns).infer(expr, ast)
        env[name] = element(ty) if loop else ty
    return env
