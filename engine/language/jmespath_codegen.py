"""Compile JMESPath expressions to specialised Python source.

jmespath's ``TreeInterpreter`` walks the AST on every search: one method dispatch per
node, generic ``isinstance``/``try`` checks everywhere. Here the AST (from jmespath's own
parser, so syntax and syntax errors are identical) is walked once, by ``PyGen``, which
emits straight-line Python statements; the result is ``exec``-ed into a plain function.

* Every node's result goes to a fresh temporary (``_t17``), so a sub-result can be used
  twice without being recomputed and generated code stays readable.
* Each node is emitted as a fast path for the exact JSON types (``type(x) is dict``) with
  a call to a helper in ``jmespath_runtime`` otherwise; the helpers are the interpreter's
  own rules, so subclasses and odd objects get jmespath's answer, not an approximation.
* ``||``, ``&&``, filters and multi-selects emit ``if`` blocks, so nothing is evaluated
  that the interpreter would not evaluate (a function there may raise). Projections
  become list comprehensions when their body is a single expression, loops otherwise.
* Functions are called straight from jmespath's function table once inline type checks
  pass; when they fail, ``Functions.call_function`` runs and raises jmespath's error.
  Unknown names and wrong arity raise when the generated code runs, as jmespath does.
* Sub-trees that do not depend on the input (``length(`[1, 2]`)``) are evaluated once
  at generation time by the interpreter; if that raises, they are left to run time.
* ``cse``: results of sub-expressions that cannot be fresh containers (lookups,
  comparisons, scalar functions) are memoised per ``(src, AST)`` for the block being
  emitted; nested blocks get a copy of the memo, so nothing leaks out of a branch.
* Anything without a specialisation, and sub-trees nested too deeply for Python's block
  limits, are handed to jmespath's interpreter with the same ``Functions`` instance.
"""

from __future__ import annotations

import functools
import json
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, NamedTuple, cast

from jmespath import functions as jfunctions
from jmespath import parser as jparser
from jmespath import visitor

from . import jmespath_support as rt
from .jmespath_support import make_functions_class

if TYPE_CHECKING:
    from ..contracts.functions import FunctionDef

__all__ = ["CompiledExpression", "PyGen", "compile_expression", "make_functions_class"]

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
_PY_TYPES: dict[str, tuple[type, ...]] = {
    "string": (str,),
    "number": (int, float),
    "boolean": (bool,),
    "array": (list,),
    "object": (dict,),
    "null": (type(None),),
}
#: Constants that are identifiers; as a node's input they are first put in a variable
#: (``None[0]`` would draw a compiler warning).
_CONSTANT_NAMES = frozenset({"None", "True", "False"})
_ORDERING = {"lt": "<", "gt": ">", "lte": "<=", "gte": ">="}
# Python allows 20 nested blocks and 100 indentation levels; leave room for callers.
_MAX_LOOPS = 12
_MAX_DEPTH = 40


class _Info(NamedTuple):
    key: str  # canonical text of the sub-tree (memo key)
    pure: bool  # uses builtin functions only
    const: bool  # does not depend on the input value
    borrowed: bool  # result is never a container this sub-tree created


@dataclass
class _Ctx:
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

    def child(self, out: list[str] | None = None, *, loop: bool = False) -> _Ctx:
        """A nested block: own copy of the memo, so its results stay inside."""
        return _Ctx(
            self.out if out is None else out,
            self.indent + "    ",
            dict(self.memo),
            self.root,
            self.bindings,
            self.bkey,
            self.depth + 1,
            self.loops + loop,
        )


def _truthy(v: str, first: str | None = None) -> str:
    """Python test for JMESPath truth of atom ``v`` (``first``: its first occurrence)."""
    head = v if first is None else first
    return (
        f"({head} is True or ({v} is not None and {v} is not False"
        f" and not ({v} == '' or {v} == [] or {v} == {{}})))"
    )


def truth_test(v: str) -> str:
    """Python test that an atom ``v`` is true by JMESPath's rules (inline, no call)."""
    return _truthy(v)


def _falsy(v: str) -> str:
    empty = f"{v} == '' or {v} == [] or {v} == {{}}"
    return f"({v} is not True and ({v} is None or {v} is False or {empty}))"


def _pylit(value: Any) -> str | None:
    """Python source that rebuilds ``value`` (JSON types only), else None."""
    t = type(value)
    if value is None or t is bool or t is int or t is str:
        return repr(value)
    if t is float:
        return repr(value) if math.isfinite(value) else None
    if t is list:
        items = [_pylit(v) for v in value]
        return None if None in items else "[" + ", ".join(items) + "]"  # type: ignore[arg-type]
    if t is dict:
        pairs = [(_pylit(k) if type(k) is str else None, _pylit(v)) for k, v in value.items()]
        if any(k is None or v is None for k, v in pairs):
            return None
        return "{" + ", ".join(f"{k}: {v}" for k, v in pairs) + "}"
    return None


def _arity_ok(signature: Any, n: int) -> bool:
    if signature and signature[-1].get("variadic"):
        return n >= len(signature)
    return n == len(signature)


def _inline(lines: list[str], name: str, indent: str) -> str | None:
    """If ``lines`` is just ``name = EXPR``, return EXPR; if empty, return ""."""
    if not lines:
        return ""
    prefix = f"{indent}{name} = "
    if len(lines) == 1 and name.startswith("_t") and lines[0].startswith(prefix):
        return lines[0][len(prefix) :]
    return None


class PyGen:
    """Generates Python statements that evaluate JMESPath ASTs with jmespath's exact semantics."""

    def __init__(self, functions: Mapping[str, FunctionDef] | None = None) -> None:
        custom = dict(functions or {})
        cls = make_functions_class(custom) if custom else jfunctions.Functions
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
        self._interp = visitor.TreeInterpreter(visitor.Options(custom_functions=self._fns))
        self._visit: Callable[[Node, Any], Any] = self._interp.visit  # type: ignore[assignment]
        self.namespace: dict[str, Any] = dict(rt.BASE_NAMESPACE)
        self.namespace["_F"] = self._fns
        self.namespace["_CALL"] = self._fns.call_function
        #: Source of the helper functions (expression references) exec-ed into namespace.
        self.helper_source: list[str] = []
        #: How many sub-trees were handed to the interpreter.
        self.fallback_nodes = 0
        #: Node types to hand to the interpreter even though they are specialised.
        self._force_fallback: frozenset[str] = frozenset()
        self._n = 0
        self._info: dict[int, tuple[Node, _Info]] = {}
        self._folded: dict[int, tuple[Node, bool, Any]] = {}
        self._names: dict[str, str] = {}

    # -- public --------------------------------------------------------------------------
    def gen(
        self,
        node: dict[str, Any],
        src: str,
        out: list[str],
        indent: str,
        *,
        root_bindings: Mapping[str, str] | None = None,
        cse: dict[Any, Any] | None = None,
    ) -> str:
        """Append statements evaluating ``node`` on local ``src``; return the result expression."""
        bindings = dict(root_bindings or {})
        memo: dict[Any, str] = cse if cse is not None else {}
        cx = _Ctx(out, indent, memo, src, bindings, tuple(sorted(bindings.items())))
        return self._g(node, src, cx)

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

    def _atom(self, expr: str, cx: _Ctx) -> str:
        """A name (or None/True/False) for ``expr``, safe for ``is`` tests."""
        if expr.isidentifier():
            return expr
        t = self._tmp()
        cx.emit(f"{t} = {expr}")
        return t

    def _steps(self, node: Node) -> list[Node]:
        steps: list[Node] = []
        for child in node["children"]:
            steps.extend(self._steps(child) if child["type"] in _CHAIN else [child])
        return steps

    def _about(self, node: Node) -> _Info:
        hit = self._info.get(id(node))
        if hit is not None and hit[0] is node:
            return hit[1]
        t = node["type"]
        kids = self._steps(node) if t in _CHAIN else node.get("children", [])
        infos = [self._about(c) for c in kids if isinstance(c, dict)]
        pure = all(i.pure for i in infos)
        if t == "function_expression":
            pure = pure and self._builtin(node["value"])
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
                borrowed = self._builtin(name) and (
                    name in _SCALAR_FUNCS
                    or (name in _PASSTHROUGH_FUNCS and all(i.borrowed for i in args))
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
        info = _Info(key, pure, const, borrowed)
        self._info[id(node)] = (node, info)
        return info

    def _builtin(self, name: str) -> bool:
        return name in self._table and name not in self._custom

    def _fold(self, node: Node) -> tuple[bool, Any]:
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

    def _constant(self, node: Node) -> tuple[bool, Any]:
        if node["type"] != "expref" and self._about(node).const:
            return self._fold(node)
        return False, None

    # -- dispatch ------------------------------------------------------------------------
    def _g(self, node: Node, src: str, cx: _Ctx) -> str:
        t = node["type"]
        if not src.isidentifier() or src in _CONSTANT_NAMES:
            src, value = self._tmp(), src
            cx.emit(f"{src} = {value}")
        if t in self._force_fallback or cx.loops >= _MAX_LOOPS or cx.depth >= _MAX_DEPTH:
            return self._fallback(node, src, cx)
        info = self._about(node)
        key = (src, cx.bkey, info.key) if info.borrowed else None
        if key is not None and key in cx.memo:
            return cx.memo[key]
        if t != "literal":
            ok, value = self._constant(node)
            if ok:
                return self._literal(value, cx)
        handler: Callable[[Node, str, _Ctx], str] | None = getattr(self, f"_n_{t}", None)
        result = self._fallback(node, src, cx) if handler is None else handler(node, src, cx)
        if key is not None:
            cx.memo[key] = result
        return result

    def _fallback(self, node: Node, src: str, cx: _Ctx) -> str:
        self.fallback_nodes += 1
        name = self._const(functools.partial(self._visit, node), None, "_interp")
        t = self._tmp()
        cx.emit(f"{t} = {name}({src})")
        return t

    def _literal(self, value: Any, cx: _Ctx) -> str:
        if value is None or isinstance(value, bool):
            return repr(value)
        code = _pylit(value)
        if code is None:
            return self._const(value)
        if isinstance(value, list | dict):  # a fresh copy per evaluation
            t = self._tmp()
            cx.emit(f"{t} = {code}")
            return t
        return code

    # -- leaves and chains ---------------------------------------------------------------
    def _n_literal(self, node: Node, src: str, cx: _Ctx) -> str:
        return self._literal(node["value"], cx)

    def _n_current(self, node: Node, src: str, cx: _Ctx) -> str:
        return src

    _n_identity = _n_current

    def _n_field(self, node: Node, src: str, cx: _Ctx) -> str:
        name = node["value"]
        if src == cx.root and name in cx.bindings:
            return cx.bindings[name]
        t = self._tmp()
        other = f"None if {src} is None else _fld({src}, {name!r})"
        cx.emit(f"{t} = {src}.get({name!r}) if type({src}) is dict else {other}")
        return t

    def _n_index(self, node: Node, src: str, cx: _Ctx) -> str:
        i: int = node["value"]
        t = self._tmp()
        ok = f"len({src}) > {i}" if i >= 0 else f"len({src}) >= {-i}"
        cx.emit(
            f"{t} = ({src}[{i}] if {ok} else None) if type({src}) is list else _idx({src}, {i})"
        )
        return t

    def _n_slice(self, node: Node, src: str, cx: _Ctx) -> str:
        a, b, c = (repr(x) for x in node["children"])
        t = self._tmp()
        cx.emit(f"{t} = {src}[{a}:{b}:{c}] if type({src}) is list else _slc({src}, {a}, {b}, {c})")
        return t

    def _n_subexpression(self, node: Node, src: str, cx: _Ctx) -> str:
        steps = self._steps(node)
        keys = [self._about(s).key for s in steps]
        cur, borrowed = src, True
        for i, step in enumerate(steps):
            borrowed = borrowed and self._about(step).borrowed
            key = (src, cx.bkey, keys[0] if i == 0 else "C(" + ",".join(keys[: i + 1]) + ")")
            if borrowed and key in cx.memo:
                cur = cx.memo[key]
                continue
            cur = self._g(step, cur, cx)
            if borrowed:
                cx.memo[key] = cur
        return cur

    _n_index_expression = _n_subexpression
    _n_pipe = _n_subexpression

    # -- projections ---------------------------------------------------------------------
    def _collect(
        self,
        it: str,
        right: Node,
        cond: Node | None,
        cx: _Ctx,
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
        c_expr = _inline(body.out, c, body.indent) if cond is not None else ""
        r_expr = _inline(inner.out, r, inner.indent)
        if c_expr is not None and r_expr is not None:  # one expression each: a comprehension
            tests = [_truthy(c, f"({c} := {c_expr})" if c_expr else None)] if cond else []
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
            cx.out.append(f"{body.indent}if {_truthy(c)}:")
            cx.out.extend(inner.out)
        if keep_none:
            cx.out.append(f"{inner.indent}{t}.append({r})")
        else:
            cx.out.append(f"{inner.indent}if {r} is not None:")
            cx.out.append(f"{inner.indent}    {t}.append({r})")

    def _project(self, node: Node, src: str, cx: _Ctx, cond: Node | None) -> str:
        base = self._g(node["children"][0], src, cx)
        if base == "None":
            return "None"
        t = self._tmp()
        cx.emit(f"if isinstance({base}, list):")
        self._collect(base, node["children"][1], cond, cx.child(), t)
        cx.emit("else:")
        cx.emit(f"    {t} = None")
        return t

    def _n_projection(self, node: Node, src: str, cx: _Ctx) -> str:
        return self._project(node, src, cx, None)

    def _n_filter_projection(self, node: Node, src: str, cx: _Ctx) -> str:
        return self._project(node, src, cx, node["children"][2])

    def _n_value_projection(self, node: Node, src: str, cx: _Ctx) -> str:
        base = self._atom(self._g(node["children"][0], src, cx), cx)
        if base == "None":
            return "None"
        v, t = self._tmp("_v"), self._tmp()
        cx.emit(f"{v} = {base}.values() if type({base}) is dict else _vals({base})")
        cx.emit(f"if {v} is _NOVALS:")
        cx.emit(f"    {t} = None")
        cx.emit("else:")
        self._collect(v, node["children"][1], None, cx.child(), t)
        return t

    def _n_flatten(self, node: Node, src: str, cx: _Ctx) -> str:
        base = self._g(node["children"][0], src, cx)
        if base == "None":
            return "None"
        t, e = self._tmp(), self._tmp("_e")
        cx.emit(f"if isinstance({base}, list):")
        cx.emit(f"    {t} = []")
        cx.emit(f"    for {e} in {base}:")
        cx.emit(f"        if isinstance({e}, list):")
        cx.emit(f"            {t}.extend({e})")
        cx.emit("        else:")
        cx.emit(f"            {t}.append({e})")
        cx.emit("else:")
        cx.emit(f"    {t} = None")
        return t

    # -- multi-selects -------------------------------------------------------------------
    def _multi(self, node: Node, src: str, cx: _Ctx, as_dict: bool) -> str:
        t = self._tmp()
        cx.emit(f"if {src} is None:")
        cx.emit(f"    {t} = None")
        cx.emit("else:")
        blk = cx.child()
        parts = []
        for child in node["children"]:
            if as_dict:
                value = self._g(child["children"][0], src, blk)
                parts.append(f"{child['value']!r}: {value}")
            else:
                parts.append(self._g(child, src, blk))
        joined = ", ".join(parts)
        blk.emit(f"{t} = {{{joined}}}" if as_dict else f"{t} = [{joined}]")
        return t

    def _n_multi_select_list(self, node: Node, src: str, cx: _Ctx) -> str:
        return self._multi(node, src, cx, as_dict=False)

    def _n_multi_select_dict(self, node: Node, src: str, cx: _Ctx) -> str:
        return self._multi(node, src, cx, as_dict=True)

    # -- boolean logic and comparisons ---------------------------------------------------
    def _logic(self, node: Node, src: str, cx: _Ctx, is_or: bool) -> str:
        left_node, right_node = node["children"]
        ok, value = self._constant(left_node)
        if ok:  # decided now: the left side has no effects
            if rt.is_false(value) == is_or:
                return self._g(right_node, src, cx)
            return self._literal(value, cx)
        left = self._atom(self._g(left_node, src, cx), cx)
        t = self._tmp()
        cx.emit(f"if {_falsy(left) if is_or else _truthy(left)}:")
        blk = cx.child()
        blk.emit(f"{t} = {self._g(right_node, src, blk)}")
        cx.emit("else:")
        cx.emit(f"    {t} = {left}")
        return t

    def _n_or_expression(self, node: Node, src: str, cx: _Ctx) -> str:
        return self._logic(node, src, cx, is_or=True)

    def _n_and_expression(self, node: Node, src: str, cx: _Ctx) -> str:
        return self._logic(node, src, cx, is_or=False)

    def _n_not_expression(self, node: Node, src: str, cx: _Ctx) -> str:
        v = self._g(node["children"][0], src, cx)
        t = self._tmp()
        cx.emit(f"{t} = (not {v}) if type({v}) in _NOTFAST else _not({v})")
        return t

    def _n_comparator(self, node: Node, src: str, cx: _Ctx) -> str:
        op = node["value"]
        a_node, b_node = node["children"]
        a, b = self._g(a_node, src, cx), self._g(b_node, src, cx)
        ka, va = self._constant(a_node)
        kb, vb = self._constant(b_node)
        t = self._tmp()
        if op in ("eq", "ne"):
            known, c = (kb, vb) if kb else (ka, va)
            if not known:
                expr = f"({a} == {b}) if type({a}) is type({b}) else _eq({a}, {b})"
            elif c is None or type(c) is str or (type(c) in (int, float) and c not in (0, 1)):
                expr = f"{a} == {b}"  # the 0/1 versus false/true rule cannot apply
            else:
                expr = f"_eq({a}, {b})"
            cx.emit(f"{t} = {expr}" if op == "eq" else f"{t} = not ({expr})")
            return t
        checks = []
        for v, known, value in ((a, ka, va), (b, kb, vb)):
            if not known:
                checks.append(f"(type({v}) in _NUMSTR or _cmpable({v}))")
            elif not rt.comparable(value):
                checks.append("False")
        if "False" in checks:
            return "None"
        test = f" if {' and '.join(checks)} else None" if checks else ""
        cx.emit(f"{t} = ({a} {_ORDERING[op]} {b}){test}")
        return t

    # -- functions -----------------------------------------------------------------------
    def _n_expref(self, node: Node, src: str, cx: _Ctx) -> str:
        return self._expref(node["children"][0])

    def _expref(self, body: Node) -> str:
        """A namespace ``_Expression`` whose evaluation runs a generated function."""
        key = "expref:" + self._about(body).key
        if key in self._names:
            return self._names[key]
        fname, arg = self._tmp("_expref"), self._tmp("_v")
        lines = [f"def {fname}({arg}):"]
        r = self._g(body, arg, _Ctx(lines, "    ", {}, arg, {}, ()))
        lines.append(f"    return {r}")
        code = "\n".join(lines)
        exec(compile(code, f"<jmespath {fname}>", "exec"), self.namespace)
        self.helper_source.append(code)
        visit = rt.CompiledVisitor(body, self.namespace[fname], self._interp)
        return self._const(rt.Expression(cast(Any, body), visit), key, "_ref")

    def _n_function_expression(self, node: Node, src: str, cx: _Ctx) -> str:
        name: str = node["value"]
        kids: list[Node] = node["children"]
        spec: Any = self._table.get(name)
        ok = spec is not None and _arity_ok(spec["signature"], len(kids))
        builtin = ok and self._builtin(name)
        if builtin and name == "map" and kids[0]["type"] == "expref":
            return self._map(kids, src, cx)
        vals = [self._g(k, src, cx) for k in kids]
        t = self._tmp()
        call = f"_CALL({name!r}, [{', '.join(vals)}])"
        if not ok:  # unknown function or wrong arity: jmespath raises after the arguments
            cx.emit(f"{t} = {call}")
            return t
        hint = f"_{name}_" if name.isidentifier() else "_fn"
        if name in self._plain_custom:
            fn = self._const(self._plain_custom[name], "raw:" + name, hint)
            direct = f"{fn}({', '.join(vals)})"
        else:
            fn = self._const(spec["function"], "fn:" + name, hint)
            direct = f"{fn}(_F, {', '.join(vals)})"
        expr = self._special(name, vals, call, direct, cx) if builtin else None
        if expr is None:
            checks = self._checks(spec["signature"], kids, vals)
            if checks is None:
                expr = call
            elif checks:
                expr = f"{direct} if {checks} else {call}"
            else:
                expr = direct
        cx.emit(f"{t} = {expr}")
        return t

    def _special(self, name: str, vals: list[str], call: str, direct: str, cx: _Ctx) -> str | None:
        """Inline forms of common builtins (exact-type fast path, else the real call)."""
        v = vals[0]
        if name == "length":
            return f"len({v}) if type({v}) in _SIZED else {call}"
        if name == "to_string":
            return f"{v} if type({v}) is str else str({v}) if type({v}) is int else {direct}"
        if name == "type":
            return f"_TYPENAME.get(type({v})) or {direct}"
        if name == "contains":  # an array subject: Python's `in`, as jmespath does
            needle = vals[1]
            return f"({needle} in {v}) if type({v}) is list else {call}"
        if name == "to_array":
            return f"{v} if isinstance({v}, list) else [{v}]"
        if name == "not_null":
            atoms = [self._atom(x, cx) for x in vals]
            return " else ".join(f"{x} if {x} is not None" for x in atoms) + " else None"
        return None

    def _checks(self, signature: Any, kids: list[Node], vals: list[str]) -> str | None:
        """Inline test implying jmespath's type check passes ("" = none needed), or None."""
        parts = []
        for spec, kid, v in zip(signature, kids, vals, strict=False):
            types: list[str] = spec["types"]
            if not types or (kid["type"] == "expref" and "expref" in types):
                continue
            subs = [x.split("-", 1)[1] for x in types if "-" in x]
            if subs:
                if len(subs) != len(types) or not set(subs) <= {"string", "number"}:
                    return None
                alls = [
                    f"all(type(_i) is str for _i in {v})"
                    if s == "string"
                    else f"all(type(_i) in _NUM for _i in {v})"
                    for s in subs
                ]
                parts.append(f"(type({v}) is list and ({' or '.join(alls)}))")
                continue
            if any(x not in _PY_TYPES for x in types):
                return None
            pytypes = frozenset(p for x in types for p in _PY_TYPES[x])
            if len(pytypes) == 1:
                (only,) = pytypes
                parts.append(
                    f"{v} is None" if only is type(None) else f"type({v}) is {only.__name__}"
                )
            else:
                names = ",".join(sorted(p.__name__ for p in pytypes))
                parts.append(f"type({v}) in {self._const(pytypes, 'types:' + names, '_types')}")
        return " and ".join(parts)

    def _map(self, kids: list[Node], src: str, cx: _Ctx) -> str:
        body = kids[0]["children"][0]
        ref = self._expref(body)
        arr = self._g(kids[1], src, cx)
        t = self._tmp()
        cx.emit(f"if type({arr}) is list:")
        self._collect(arr, body, None, cx.child(), t, keep_none=True)
        cx.emit("else:")
        cx.emit(f"    {t} = _CALL('map', [{ref}, {arr}])")
        return t


class CompiledExpression(functools.partial[Any]):
    """A JMESPath expression compiled to a Python function; call it with the document.

    A ``functools.partial`` of the generated function, so that calling it costs no extra
    Python frame; ``.function`` is the generated function itself.
    """

    expression: str
    source: str
    fallback_nodes: int

    def __new__(
        cls, expression: str, function: Callable[[Any], Any], source: str, fallback_nodes: int
    ) -> CompiledExpression:
        self = super().__new__(cls, function)
        self.expression = expression
        self.source = source
        self.fallback_nodes = fallback_nodes
        return self

    @property
    def function(self) -> Callable[[Any], Any]:
        return self.func

    def __repr__(self) -> str:
        return f"CompiledExpression({self.expression!r})"


def compile_expression(
    expression: str, functions: Mapping[str, FunctionDef] | None = None
) -> CompiledExpression:
    """Parse ``expression`` (jmespath's parser and errors) and compile it to Python."""
    return _compile(expression, PyGen(functions))


def _compile(expression: str, gen: PyGen) -> CompiledExpression:
    parsed = jparser.Parser().parse(expression)
    lines = ["def _f(data):"]
    result = gen.gen(parsed.parsed, "data", lines, "    ")  # type: ignore[arg-type]
    lines.append(f"    return {result}")
    code = "\n".join(lines)
    exec(compile(code, f"<jmespath {expression!r}>", "exec"), gen.namespace)
    source = "\n\n".join([*gen.helper_source, code]) + "\n"
    return CompiledExpression(expression, gen.namespace["_f"], source, gen.fallback_nodes)
