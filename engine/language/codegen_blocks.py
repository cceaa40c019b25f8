"""Generated Python's pieces: blocks of statements, JMESPath truth tests, JSON literals.

A ``Block`` is where code goes: a list of lines at one indentation, with the memo of
sub-expression results computed so far in it (a nested block gets a copy, so nothing
leaks out of a branch), the names bound at the expression's root, and the nesting depth
that keeps generated code inside Python's block limits.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from .plan import FieldPlan


@dataclass
class Scope:
    """Names an expression may start from, and the Python local bound to each."""

    bindings: dict[str, str] = field(default_factory=dict)

    def bind(self, name: str, local: str) -> Scope:
        return Scope({**self.bindings, name: local})


@dataclass
class Block:
    """Where code goes: one block of ``out`` at one indentation, and its memo."""

    out: list[str]
    indent: str
    memo: dict[Any, str]
    root: str
    bindings: Mapping[str, str]
    bkey: tuple[tuple[str, str], ...]
    depth: int = 0
    loops: int = 0

    def emit(self, line: str) -> None:
        self.out.append(self.indent + line)

    def child(self, out: list[str] | None = None, *, loop: bool = False) -> Block:
        """A nested block: own copy of the memo, so its results stay inside."""
        return Block(
            self.out if out is None else out,
            self.indent + "    ",
            dict(self.memo),
            self.root,
            self.bindings,
            self.bkey,
            self.depth + 1,
            self.loops + loop,
        )


class SharedLocal(str):
    """A memo entry for a call that sibling rules share (``codegen_sharing``): the local
    that holds the result once a sibling has computed it, ``_UNSET`` until then."""


def truth_test(v: str, first: str | None = None) -> str:
    """Python test that atom ``v`` is true by JMESPath's rules, inline (``first``: the
    text of its first occurrence, e.g. an assignment expression).

    For null, booleans, strings, arrays and objects of the exact JSON types JMESPath's
    truth is Python's, so the test is one type check and ``v`` itself; a number is true
    (0 too); anything else asks ``is_false`` (``_isf``)."""
    head = v if first is None else first
    return f"({v} if type({head}) in _NOTFAST else type({v}) in _NUM or not _isf({v}))"


def falsy_test(v: str) -> str:
    """Python test that atom ``v`` is false by JMESPath's rules (see ``truth_test``)."""
    return f"(not {v} if type({v}) in _NOTFAST else type({v}) not in _NUM and _isf({v}))"


def python_literal(value: Any) -> str | None:
    """Python source that rebuilds ``value`` (JSON types only), else None."""
    t = type(value)
    if value is None or t is bool or t is int or t is str:
        return repr(value)
    if t is float:
        return repr(value) if math.isfinite(value) else None
    if t is list:
        items = [python_literal(v) for v in value]
        return None if None in items else "[" + ", ".join(items) + "]"  # type: ignore[arg-type]
    if t is dict:
        pairs = [
            (python_literal(k) if type(k) is str else None, python_literal(v))
            for k, v in value.items()
        ]
        if any(k is None or v is None for k, v in pairs):
            return None
        return "{" + ", ".join(f"{k}: {v}" for k, v in pairs) + "}"
    return None


def single_assignment(lines: list[str], name: str, indent: str) -> str | None:
    """If ``lines`` is just ``name = EXPR``, return EXPR; if empty, return ""."""
    if not lines:
        return ""
    prefix = f"{indent}{name} = "
    if len(lines) == 1 and name.startswith("_t") and lines[0].startswith(prefix):
        return lines[0][len(prefix) :]
    return None


#: By cast: the test that a value still needs ``cast_value`` (it is not null and not
#: already of that type; ``bool`` is not an integer or a number here).
_CAST_NEEDED = {
    "string": "{0} is not None and type({0}) is not str",
    "integer": "{0} is not None and type({0}) is not int",
    "number": "{0} is not None and type({0}) is not int and type({0}) is not float",
    "boolean": "{0} is not None and type({0}) is not bool",
}


def cast_alone_test(fp: FieldPlan, local: str) -> str | None:
    """For a field whose only post-processing is a ``cast``: the test that ``local`` still
    needs converting (the generated code then skips ``post_process``); None otherwise."""
    if fp.cast not in _CAST_NEEDED or not replace(fp, cast=None).is_plain:
        return None
    return _CAST_NEEDED[fp.cast].format(local)
