"""The code generator's emitters for function calls and expression references.

A function whose arguments pass inline type checks is called straight from jmespath's
function table (plugin functions without expression references directly, without
jmespath's method wrapper); when a check fails, ``Functions.call_function`` runs and
raises jmespath's own error. Unknown names and wrong arity raise when the generated code
runs, as jmespath does. Common builtins (``length``, ``to_string``, ``contains`` ...) have
inline forms, and ``map`` with an expression reference becomes a list-building loop.
"""

from __future__ import annotations

from typing import Any, cast

from . import jmespath_support as rt
from .codegen_blocks import Block
from .codegen_dispatch import Emitter
from .codegen_facts import Node

_PY_TYPES: dict[str, tuple[type, ...]] = {
    "string": (str,),
    "number": (int, float),
    "boolean": (bool,),
    "array": (list,),
    "object": (dict,),
    "null": (type(None),),
}


#: Builtins whose result is never a number (null, a boolean, a string, an array or an
#: object: its JMESPath truth is Python's), whatever they are given; the call raises
#: otherwise. ``not_null``, ``max_by`` and ``min_by`` give one of their arguments.
PLAIN_RESULTS = frozenset(
    {"contains", "starts_with", "ends_with", "join", "keys", "values", "merge", "reverse"}
    | {"sort", "sort_by", "to_array", "to_string", "type", "map"}
)


class CallEmitters(Emitter):
    """Emitters for ``function_expression`` and ``expref`` nodes."""

    #: The output field the expression being generated computes, if any: a call's error
    #: then names it (``_CALLF``, ``compiled_support.field_call``).
    where: str | None = None

    def _n_expref(self, node: Node, src: str, cx: Block) -> str:
        return self._expref(node["children"][0])

    def _expref(self, body: Node) -> str:
        """A namespace ``_Expression`` whose evaluation runs a generated function."""
        # one helper per field it is used in: a type error inside it names that field
        key = f"expref:{self.where}:" + self._facts.about(body).key
        if key in self._names:
            return self._names[key]
        fname, arg = self._tmp("_expref"), self._tmp("_v")
        lines = [f"def {fname}({arg}):"]
        r = self._g(body, arg, Block(lines, "    ", {}, arg, {}, ()))
        lines.append(f"    return {r}")
        code = "\n".join(lines)
        exec(compile(code, f"<jmespath {fname}>", "exec"), self.namespace)
        self.helper_source.append(code)
        visit = rt.CompiledVisitor(body, self.namespace[fname], self._interp)
        return self._const(rt.Expression(cast(Any, body), visit), key, "_ref")

    def _n_function_expression(self, node: Node, src: str, cx: Block) -> str:
        name: str = node["value"]
        kids: list[Node] = node["children"]
        spec: Any = self._table.get(name)
        ok = spec is not None and rt.arity_ok(spec["signature"], len(kids))
        builtin = ok and self._facts.builtin(name)
        if builtin and name == "map" and kids[0]["type"] == "expref":
            return self._map(kids, src, cx)
        vals = [self._g(k, src, cx) for k in kids]
        t = self._tmp()
        args = f"{name!r}, [{', '.join(vals)}]"
        call = f"_CALL({args})" if self.where is None else f"_CALLF({self.where!r}, {args})"
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
        if name in (PLAIN_RESULTS if builtin else self._plain_truth_custom):
            self._plain_truth.add(t)
        return t

    def _special(self, name: str, vals: list[str], call: str, direct: str, cx: Block) -> str | None:
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
            known, value = self._facts.constant(kid)
            if known and any(type(value) in _PY_TYPES.get(x, ()) for x in types):
                continue  # a constant of an accepted type: nothing to test at run time
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

    def _map(self, kids: list[Node], src: str, cx: Block) -> str:
        body = kids[0]["children"][0]
        ref = self._expref(body)
        arr = self._g(kids[1], src, cx)
        t = self._tmp()
        cx.emit(f"if type({arr}) is list:")
        self._collect(arr, body, None, cx.child(), t, keep_none=True)
        cx.emit("else:")
        cx.emit(f"    {t} = _CALL('map', [{ref}, {arr}])")
        return t
