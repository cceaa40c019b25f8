"""JMESPath expressions as mapwire uses them: parsed once, checked statically.

jmespath only notices an unknown function when a search reaches it, and it has no notion
of the names mapwire binds (``doc``, ``settings``, loop names, variables). ``analyse`` walks
the AST once at load time and reports, for the expression's *root* (the evaluation
context), which names it reads and which functions it calls, so the planner can reject
typos before a single event flows.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, cast

import jmespath
from jmespath import exceptions as jexc
from jmespath.parser import Parser

from ..contracts.errors import ExpressionSyntaxError

BUILTIN_FUNCTIONS: frozenset[str] = frozenset(
    name[len("_func_") :] for name in dir(jmespath.functions.Functions) if name.startswith("_func_")
)

_parser = Parser()


def parse(text: str) -> dict[str, Any]:
    """Parse one expression into jmespath's AST, or raise ``ExpressionSyntaxError``."""
    try:
        ast = cast(dict[str, Any], _parser.parse(text).parsed)
    except jexc.LexerError as exc:
        raise ExpressionSyntaxError(f"JMESPath syntax: {exc.msg}", exc.lex_position or 0) from exc
    except jexc.IncompleteExpressionError as exc:
        raise ExpressionSyntaxError("JMESPath syntax: incomplete expression", len(text)) from exc
    except jexc.ParseError as exc:
        token = exc.token_value
        what = "end of expression" if token == "" else repr(token)
        message = f"JMESPath syntax: unexpected {what}"
        raise ExpressionSyntaxError(message, exc.lex_position or 0) from exc
    return ast


def offset_of(text: str, name: str, *, call: bool = False) -> int:
    """Where identifier ``name`` (or the call ``name(``) first appears in ``text``; 0 if not."""
    pattern = rf"(?<![\w.$]){re.escape(name)}" + (r"\s*\(" if call else r"(?![\w])")
    m = re.search(pattern, text)
    return m.start() if m else 0


@dataclass
class Usage:
    """What an expression reads from its root and which functions it calls."""

    root_names: list[str] = field(default_factory=list)
    functions: list[str] = field(default_factory=list)
    #: each call: the function's name and how many arguments it is given
    calls: list[tuple[str, int]] = field(default_factory=list)
    settings: list[str] = field(default_factory=list)
    reads_whole_root: bool = False
    negated_paths: list[str] = field(default_factory=list)


def analyse(ast: dict[str, Any]) -> Usage:
    usage = Usage()
    _walk(ast, True, usage)
    return usage


def _walk(node: dict[str, Any], at_root: bool, usage: Usage) -> None:
    kind = node["type"]
    children = node.get("children", [])
    if kind == "field":
        if at_root:
            usage.root_names.append(node["value"])
        return
    if kind in ("current", "identity"):
        if at_root:
            usage.reads_whole_root = True
        return
    if kind == "function_expression":
        usage.functions.append(node["value"])
        usage.calls.append((node["value"], len(children)))
        for child in children:
            _walk(child, at_root, usage)
        return
    if kind == "subexpression" or kind == "index_expression":
        # jmespath flattens ``a.b.c`` into one subexpression with n children.
        left, rest = children[0], children[1:]
        if left["type"] == "not_expression" and left["children"][0]["type"] == "field":
            # `!a.b` parses as `(!a).b`, which is always null: a classic mapping bug.
            usage.negated_paths.append(left["children"][0]["value"])
        _walk(left, at_root, usage)
        _note_settings(left, rest[0], at_root, usage)
        for child in rest:
            _walk(child, False, usage)
        return
    if kind in ("projection", "value_projection", "pipe"):
        left, right = children
        _walk(left, at_root, usage)
        _walk(right, False, usage)
        return
    if kind == "filter_projection":
        left, right, condition = children
        _walk(left, at_root, usage)
        _walk(right, False, usage)
        _walk(condition, False, usage)
        return
    if kind == "expref":
        _walk(children[0], False, usage)
        return
    for child in children:
        if isinstance(child, dict):
            _walk(child, at_root, usage)


def _note_settings(
    left: dict[str, Any], right: dict[str, Any], at_root: bool, usage: Usage
) -> None:
    if (
        at_root
        and left["type"] == "field"
        and left["value"] == "settings"
        and right["type"] == "field"
    ):
        usage.settings.append(right["value"])
