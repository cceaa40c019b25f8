"""The JMESPath code generator's machinery, shared by every node's emitter.

``Emitter`` holds the generator's state (the function table, the namespace generated code
runs in, the interpreter for fallbacks) and does the bookkeeping: fresh temporaries,
namespace constants, atoms. ``_g`` emits one node: a memoised result when there is one,
a folded constant when the sub-tree does not depend on the input, the node kind's
``_n_<type>`` method when there is one (``codegen_expressions``, ``codegen_calls``), and
jmespath's interpreter otherwise or when the nesting would exceed Python's block limits.
``_collect`` emits the list-building loop that projections and ``map`` share.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from jmespath import visitor

from . import jmespath_support as rt
from .codegen_blocks import (
    Block,
    SharedLocal,
    falsy_test,
    python_literal,
    single_assignment,
    truth_test,
)
from .codegen_facts import Node, SubtreeFacts
from .compiled_support import field_call
from .jmespath_support import make_functions_class

if TYPE_CHECKING:
    from ..contracts.functions import FunctionDef

#: Constants that are identifiers; as a node's input they are first put in a variable
#: (``None[0]`` would draw a compiler warning).
_CONSTANT_NAMES = frozenset({"None", "True", "False"})
# Python allows 20 nested blocks and 100 indentation levels; leave room for callers.
_MAX_LOOPS = 12
_MAX_DEPTH = 40


class Emitter:
    """State, bookkeeping and dispatch of the generator; node emitters are its subclasses'."""

    def __init__(self, functions: Mapping[str, FunctionDef] | None = None) -> None:
        custom = dict(functions or {})
        cls = make_functions_class(custom)
        self._fns = cls()
        self._custom = frozenset(custom)
        #: Custom functions that take no expression reference are called directly,
        #: without jmespath's method wrapper.
        self._plain_custom: dict[str, Callable[..., Any]] = {
            name: fdef.function
            for name, fdef in custom.items()
            if not any(
                "expref" in str(arg) for arg in fdef.signature if not isinstance(arg, Mapping)
            )
        }
        self._table: Mapping[str, Any] = cls.FUNCTION_TABLE
        self._interp = rt.Interpreter(visitor.Options(custom_functions=self._fns))
        self._visit: Callable[[Node, Any], Any] = self._interp.visit  # type: ignore[assignment]
        self.namespace: dict[str, Any] = dict(rt.BASE_NAMESPACE)
        self.namespace["_F"] = self._fns
        self.namespace["_CALL"] = self._fns.call_function
        self.namespace["_CALLF"] = field_call(self._fns.call_function)
        #: Source of the helper functions (expression references) exec-ed into namespace.
        self.helper_source: list[str] = []
        #: How many sub-trees were handed to the interpreter.
        self.fallback_nodes = 0
        #: Node types to hand to the interpreter even though they are specialised.
        self._force_fallback: frozenset[str] = frozenset()
        self._n = 0
        self._names: dict[str, str] = {}
        #: Locals (and constants) whose JMESPath truth is Python's: they hold null, a
        #: boolean, a string, an array or an object, never a number or another kind of
        #: object (a comparison, a negation, ``to_string``, a list built here, a plugin
        #: function declared to return none of the numbers ...): tested as ``v``, not
        #: with the inline checks (``truth_test``).
        self._plain_truth: set[str] = {"None", "True", "False"}
        #: Plugin functions declared to return none of the numbers: their results are
        #: tested for truth as Python tests them.
        self._plain_truth_custom = _declared_within(custom, _PLAIN_TRUTH)
        #: By local: its members known to hold no number (``PyGen.plain_settings``).
        self._plain_fields: dict[str, frozenset[str]] = {}
        self._facts = SubtreeFacts(
            self._table, self._custom, self._visit, _declared_within(custom, _SCALARS)
        )

    # -- bookkeeping ---------------------------------------------------------------------
    def _tmp(self, prefix: str = "_t") -> str:
        self._n += 1
        return f"{prefix}{self._n}"

    def _const(self, value: Any, key: str | None = None, prefix: str = "_c") -> str:
        """A namespace global holding ``value`` (shared by equal ``key``s)."""
        if key is not None and key in self._names:
            return self._names[key]
        name = self._tmp(prefix)
        self.namespace[name] = value
        if key is not None:
            self._names[key] = name
        return name

    def _truth(self, v: str, first: str | None = None) -> str:
        """Test that atom ``v`` is true by JMESPath's rules (see ``truth_test``)."""
        if v in self._plain_truth:
            return v if first is None else first
        return truth_test(v, first)

    def _falsy(self, v: str) -> str:
        return f"not {v}" if v in self._plain_truth else falsy_test(v)

    def _atom(self, expr: str, cx: Block) -> str:
        """A name (or None/True/False) for ``expr``, safe for ``is`` tests."""
        if expr.isidentifier():
            return expr
        t = self._tmp()
        cx.emit(f"{t} = {expr}")
        if expr in self._plain_truth:
            self._plain_truth.add(t)
        return t

    # -- dispatch ------------------------------------------------------------------------
    def _g(self, node: Node, src: str, cx: Block) -> str:
        """Emit ``node`` applied to local ``src`` into ``cx``; return its result expression."""
        t = node["type"]
        if not src.isidentifier() or src in _CONSTANT_NAMES:
            src, value = self._tmp(), src
            cx.emit(f"{src} = {value}")
        if t in self._force_fallback or cx.loops >= _MAX_LOOPS or cx.depth >= _MAX_DEPTH:
            return self._fallback(node, src, cx)
        info = self._facts.about(node)
        # A local's value never changes once computed; only names at the root depend on
        # the bindings in scope.
        key = (src, cx.bkey if src == cx.root else (), info.key) if info.borrowed else None
        if key is not None and key in cx.memo:
            hit = cx.memo[key]
            return self._shared(node, src, cx, key, hit) if type(hit) is SharedLocal else hit
        if t != "literal":
            ok, value = self._facts.constant(node)
            if ok:
                return self._literal(value, cx)
        handler: Callable[[Node, str, Block], str] | None = getattr(self, f"_n_{t}", None)
        result = self._fallback(node, src, cx) if handler is None else handler(node, src, cx)
        if key is not None:
            cx.memo[key] = result
        return result

    def _shared(self, node: Node, src: str, cx: Block, key: Any, local: str) -> str:
        """A call sibling rules share: computed into ``local`` unless a sibling did."""
        inner = cx.child()
        del inner.memo[key]
        cx.emit(f"if {local} is _UNSET:")
        result = self._g(node, src, inner)
        inner.emit(f"{local} = {result}")
        plain = str(local)
        if result in self._plain_truth:
            self._plain_truth.add(plain)
        cx.memo[key] = plain
        return plain

    def _fallback(self, node: Node, src: str, cx: Block) -> str:
        """Hand ``node`` to jmespath's interpreter (same ``Functions``) at run time."""
        self.fallback_nodes += 1
        name = self._const(functools.partial(self._visit, node), None, "_interp")
        t = self._tmp()
        cx.emit(f"{t} = {name}({src})")
        return t

    def _literal(self, value: Any, cx: Block) -> str:
        if value is None or isinstance(value, bool):
            return repr(value)
        code = python_literal(value)
        if code is None:
            out = self._const(value)
        elif isinstance(value, list | dict):  # a fresh copy per evaluation
            out = self._tmp()
            cx.emit(f"{out} = {code}")
        else:
            out = code
        if type(value) in (str, list, dict):
            self._plain_truth.add(out)
        return out

    # -- list building -------------------------------------------------------------------
    def _collect(
        self,
        it: str,
        right: Node,
        cond: Node | None,
        cx: Block,
        t: str,
        *,
        keep_none: bool = False,
    ) -> None:
        """Emit ``t = [right(e) for e in it if cond(e)]``, dropping None unless keep_none."""
        e = self._tmp("_e")
        body = cx.child([], loop=True)
        c = self._atom(self._g(cond, e, body), body) if cond is not None else ""
        inner = body.child([]) if cond is not None else body
        r = self._g(right, e, inner)
        if not keep_none:
            r = self._atom(r, inner)
        c_expr = single_assignment(body.out, c, body.indent) if cond is not None else ""
        r_expr = single_assignment(inner.out, r, inner.indent)
        if c_expr is not None and r_expr is not None:  # one expression each: a comprehension
            tests = [self._truth(c, f"({c} := {c_expr})" if c_expr else None)] if cond else []
            elem = f"({r_expr})" if keep_none and r_expr else r
            if not keep_none:
                tests.append(f"({r} := {r_expr}) is not None" if r_expr else f"{r} is not None")
            cond_s = f" if {' and '.join(tests)}" if tests else ""
            cx.emit(f"{t} = [{elem} for {e} in {it}{cond_s}]")
            return
        cx.emit(f"{t} = []")
        cx.emit(f"for {e} in {it}:")
        cx.out.extend(body.out)
        if cond is not None:
            cx.out.append(f"{body.indent}if {self._truth(c)}:")
            cx.out.extend(inner.out)
        if keep_none:
            cx.out.append(f"{inner.indent}{t}.append({r})")
        else:
            cx.out.append(f"{inner.indent}if {r} is not None:")
            cx.out.append(f"{inner.indent}    {t}.append({r})")


_SCALARS = frozenset({"string", "number", "integer", "boolean", "null"})


_PLAIN_TRUTH = frozenset({"string", "boolean", "null", "array", "object"})


def _declared_within(functions: Mapping[str, FunctionDef], kinds: frozenset[str]) -> frozenset[str]:
    """Names of the plugin functions declared to return only types of ``kinds``."""
    out = set()
    for name, fdef in functions.items():
        returns = (fdef.returns,) if isinstance(fdef.returns, str) else tuple(fdef.returns)
        if returns and kinds.issuperset(returns):
            out.add(name)
    return frozenset(out)
