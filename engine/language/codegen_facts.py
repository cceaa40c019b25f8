"""What the JMESPath code generator knows about a sub-tree before emitting it.

For each AST node, ``SubtreeFacts.about`` gives its canonical text (the memo key), whether
it calls builtin functions only (``pure``), whether it depends on the input (``const``:
then ``fold`` evaluates it once, at generation time) and whether its result is never a
container it created (``borrowed``: such results may be shared, so they are memoised).
The node-kind tables here decide the last; a plugin function is borrowed when it declares
that it returns scalars only (``returns``: string, number, integer, boolean, null), since
functions are pure (the same arguments give the same answer).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from typing import Any, NamedTuple

Node = dict[str, Any]

_CHAIN = frozenset({"subexpression", "index_expression", "pipe"})
_PROJECTING = frozenset({"projection", "value_projection", "filter_projection", "flatten"})
_ALWAYS_BORROWED = frozenset({"field", "current", "identity", "index", "comparator"})
#: Builtins that never return a container they created.
_SCALAR_FUNCS = frozenset(
    {"abs", "avg", "ceil", "contains", "ends_with", "floor", "join", "length", "max", "min"}
    | {"starts_with", "sum", "to_number", "to_string", "type"}
)
#: Builtins that return one of their arguments (or an element of one).
_PASSTHROUGH_FUNCS = frozenset({"not_null", "max_by", "min_by"})


class Facts(NamedTuple):
    key: str  # canonical text of the sub-tree (memo key)
    pure: bool  # uses builtin functions only
    const: bool  # does not depend on the input value
    borrowed: bool  # result is never a container this sub-tree created


class SubtreeFacts:
    """Facts about sub-trees, given the function table, the plugin functions' names and
    the interpreter's ``visit`` (for folding); each node is looked at once."""

    def __init__(
        self,
        table: Mapping[str, Any],
        custom: frozenset[str],
        visit: Callable[[Node, Any], Any],
        scalar_custom: frozenset[str] = frozenset(),
    ) -> None:
        self._table = table
        self._custom = custom
        self._scalar_custom = scalar_custom
        self._visit = visit
        self._info: dict[int, tuple[Node, Facts]] = {}
        self._folded: dict[int, tuple[Node, bool, Any]] = {}

    def steps(self, node: Node) -> list[Node]:
        """A chain's steps, nested chains flattened (``a.b | c[0]`` -> a, b, c, 0)."""
        steps: list[Node] = []
        for child in node["children"]:
            steps.extend(self.steps(child) if child["type"] in _CHAIN else [child])
        return steps

    def about(self, node: Node) -> Facts:
        """The facts of ``node``'s sub-tree, computed once per node."""
        hit = self._info.get(id(node))
        if hit is not None and hit[0] is node:
            return hit[1]
        t = node["type"]
        kids = self.steps(node) if t in _CHAIN else node.get("children", [])
        infos = [self.about(c) for c in kids if isinstance(c, dict)]
        pure = all(i.pure for i in infos)
        if t == "function_expression":
            pure = pure and self.builtin(node["value"])
        if t in _CHAIN:
            key = "C(" + ",".join(i.key for i in infos) + ")"
        else:
            value = node["children"] if t == "slice" else node.get("value")
            key = f"{t}|{json.dumps(value, sort_keys=True)}|(" + ",".join(i.key for i in infos)
            key += ")"
        if t == "literal":
            const, borrowed = True, not isinstance(node["value"], list | dict)
        elif t == "expref":
            const, borrowed = pure, False
        elif t in ("function_expression", "comparator", "and_expression", "or_expression"):
            const = pure and all(i.const for i in infos)
            borrowed = t == "comparator" or all(i.borrowed for i in infos)
            if t == "function_expression":
                name = node["value"]
                args = [i for c, i in zip(kids, infos, strict=True) if c["type"] != "expref"]
                borrowed = name in self._scalar_custom or (
                    self.builtin(name)
                    and (
                        name in _SCALAR_FUNCS
                        or (name in _PASSTHROUGH_FUNCS and all(i.borrowed for i in args))
                    )
                )
        elif t == "not_expression":
            const, borrowed = infos[0].const, True
        elif t in _CHAIN or t in _PROJECTING:
            const, borrowed = (
                pure and infos[0].const,
                t in _CHAIN and all(i.borrowed for i in infos),
            )
        else:
            const, borrowed = False, t in _ALWAYS_BORROWED
        info = Facts(key, pure, const, borrowed)
        self._info[id(node)] = (node, info)
        return info

    def builtin(self, name: str) -> bool:
        """``name`` is a JMESPath builtin that no plugin function replaces."""
        return name in self._table and name not in self._custom

    def fold(self, node: Node) -> tuple[bool, Any]:
        """Evaluate an input-independent sub-tree now; (False, None) if it raises."""
        hit = self._folded.get(id(node))
        if hit is not None and hit[0] is node:
            return hit[1], hit[2]
        try:
            ok, value = True, self._visit(node, None)
        except Exception:
            ok, value = False, None
        self._folded[id(node)] = (node, ok, value)
        return ok, value

    def constant(self, node: Node) -> tuple[bool, Any]:
        """(True, value) if ``node`` does not depend on the input and evaluates now."""
        if node["type"] != "expref" and self.about(node).const:
            return self.fold(node)
        return False, None
