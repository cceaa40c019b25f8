"""The code generator's emitters for JMESPath's expression nodes, function calls aside.

Each ``_n_<type>`` emits one node kind as a fast path for the exact JSON types (``type(x)
is dict``) with a call to a ``jmespath_support`` helper otherwise, so odd values get
jmespath's own answer: fields, indexes, slices and chains; projections (list
comprehensions when their body is one expression, loops otherwise) and flattening;
multi-selects; ``||``, ``&&`` and ``!`` (``if`` blocks, so nothing runs that the
interpreter would not run); comparisons.
"""

from __future__ import annotations

from . import jmespath_support as rt
from .codegen_blocks import Block
from .codegen_dispatch import Emitter
from .codegen_facts import Node

_ORDERING = {"lt": "<", "gt": ">", "lte": "<=", "gte": ">="}


class ExpressionEmitters(Emitter):
    """Emitters for every node kind but function calls and expression references."""

    # -- leaves and chains ---------------------------------------------------------------
    def _n_literal(self, node: Node, src: str, cx: Block) -> str:
        return self._literal(node["value"], cx)

    def _n_current(self, node: Node, src: str, cx: Block) -> str:
        return src

    _n_identity = _n_current

    def _n_field(self, node: Node, src: str, cx: Block) -> str:
        name = node["value"]
        if src == cx.root and name in cx.bindings:
            return cx.bindings[name]
        t = self._tmp()
        other = f"None if {src} is None else _fld({src}, {name!r})"
        cx.emit(f"{t} = {src}.get({name!r}) if {self._is_dict(src, cx)} else {other}")
        if name in self._plain_fields.get(src, ()):
            self._plain_truth.add(t)
        return t

    def _is_dict(self, src: str, cx: Block) -> str:
        """A test that ``src`` is a dict: the first lookup keeps the answer in a local
        (``(_d3 := type(x) is dict)``), the lookups after it that it reaches reuse it
        (``src`` never changes); inside a comprehension the test stays inline."""
        key = (src, "is dict")
        flag = cx.memo.get(key)
        if flag is not None:
            return flag
        if cx.loops:
            return f"type({src}) is dict"
        flag = cx.memo[key] = self._tmp("_d")
        return f"({flag} := type({src}) is dict)"

    def _n_index(self, node: Node, src: str, cx: Block) -> str:
        i: int = node["value"]
        t = self._tmp()
        ok = f"len({src}) > {i}" if i >= 0 else f"len({src}) >= {-i}"
        cx.emit(
            f"{t} = ({src}[{i}] if {ok} else None) if type({src}) is list else _idx({src}, {i})"
        )
        return t

    def _n_slice(self, node: Node, src: str, cx: Block) -> str:
        a, b, c = (repr(x) for x in node["children"])
        t = self._tmp()
        cx.emit(f"{t} = {src}[{a}:{b}:{c}] if type({src}) is list else _slc({src}, {a}, {b}, {c})")
        return t

    def _n_subexpression(self, node: Node, src: str, cx: Block) -> str:
        # Step by step: each step is memoised on the local it starts from (``_g``), so
        # ``event.data.ts`` reuses the ``event.data`` an earlier expression computed.
        cur = src
        for step in self._facts.steps(node):
            cur = self._g(step, cur, cx)
        return cur

    _n_index_expression = _n_subexpression
    _n_pipe = _n_subexpression

    def _project(self, node: Node, src: str, cx: Block, cond: Node | None) -> str:
        base = self._g(node["children"][0], src, cx)
        if base == "None":
            return "None"
        t = self._tmp()
        cx.emit(f"if isinstance({base}, list):")
        self._collect(base, node["children"][1], cond, cx.child(), t)
        cx.emit("else:")
        cx.emit(f"    {t} = None")
        self._plain_truth.add(t)  # a list built here, or null
        return t

    def _n_projection(self, node: Node, src: str, cx: Block) -> str:
        return self._project(node, src, cx, None)

    def _n_filter_projection(self, node: Node, src: str, cx: Block) -> str:
        return self._project(node, src, cx, node["children"][2])

    def _n_value_projection(self, node: Node, src: str, cx: Block) -> str:
        base = self._atom(self._g(node["children"][0], src, cx), cx)
        if base == "None":
            return "None"
        v, t = self._tmp("_v"), self._tmp()
        cx.emit(f"{v} = {base}.values() if type({base}) is dict else _vals({base})")
        cx.emit(f"if {v} is _NOVALS:")
        cx.emit(f"    {t} = None")
        cx.emit("else:")
        self._collect(v, node["children"][1], None, cx.child(), t)
        self._plain_truth.add(t)
        return t

    def _n_flatten(self, node: Node, src: str, cx: Block) -> str:
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
        self._plain_truth.add(t)
        return t

    # -- multi-selects -------------------------------------------------------------------
    def _multi(self, node: Node, src: str, cx: Block, as_dict: bool) -> str:
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
        self._plain_truth.add(t)
        return t

    def _n_multi_select_list(self, node: Node, src: str, cx: Block) -> str:
        return self._multi(node, src, cx, as_dict=False)

    def _n_multi_select_dict(self, node: Node, src: str, cx: Block) -> str:
        return self._multi(node, src, cx, as_dict=True)

    # -- boolean logic and comparisons ---------------------------------------------------
    def _logic(self, node: Node, src: str, cx: Block, is_or: bool) -> str:
        left_node, right_node = node["children"]
        ok, value = self._facts.constant(left_node)
        if ok:  # decided now: the left side has no effects
            if rt.is_false(value) == is_or:
                return self._g(right_node, src, cx)
            return self._literal(value, cx)
        left = self._atom(self._g(left_node, src, cx), cx)
        t = self._tmp()
        cx.emit(f"if {self._falsy(left) if is_or else self._truth(left)}:")
        blk = cx.child()
        right = self._g(right_node, src, blk)
        blk.emit(f"{t} = {right}")
        cx.emit("else:")
        cx.emit(f"    {t} = {left}")
        # `a || b` is a (when true: anything) or b; `a && b` is b or a false a, and what
        # JMESPath finds false (null, false, "", [], {}) Python finds false too.
        if right in self._plain_truth and (not is_or or left in self._plain_truth):
            self._plain_truth.add(t)
        return t

    def _n_or_expression(self, node: Node, src: str, cx: Block) -> str:
        return self._logic(node, src, cx, is_or=True)

    def _n_and_expression(self, node: Node, src: str, cx: Block) -> str:
        return self._logic(node, src, cx, is_or=False)

    def _n_not_expression(self, node: Node, src: str, cx: Block) -> str:
        v = self._g(node["children"][0], src, cx)
        t = self._tmp()
        if v in self._plain_truth:
            cx.emit(f"{t} = not {v}")
        else:
            cx.emit(f"{t} = (not {v}) if type({v}) in _NOTFAST else _not({v})")
        self._plain_truth.add(t)
        return t

    def _n_comparator(self, node: Node, src: str, cx: Block) -> str:
        op = node["value"]
        a_node, b_node = node["children"]
        a, b = self._g(a_node, src, cx), self._g(b_node, src, cx)
        ka, va = self._facts.constant(a_node)
        kb, vb = self._facts.constant(b_node)
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
            self._plain_truth.add(t)
            return t
        # Two numbers or two strings order; any other pair is null (``rt.ordered``).
        kinds = {
            "number" if rt.is_actual_number(value) else "string" if isinstance(value, str) else ""
            for known, value in ((ka, va), (kb, vb))
            if known
        }
        if "" in kinds or len(kinds) > 1:
            return "None"
        if ka and kb:
            test = ""
        elif kinds:  # one side is a constant: the other must be of its kind
            other = b if ka else a
            fast = f"type({other}) in _NUM" if kinds == {"number"} else f"type({other}) is str"
            test = f" if {fast} or _ordered({a}, {b}) else None"
        else:
            numbers = f"type({a}) in _NUM and type({b}) in _NUM"
            fast = f"{numbers} or type({a}) is str and type({b}) is str"
            test = f" if {fast} or _ordered({a}, {b}) else None"
        cx.emit(f"{t} = ({a} {_ORDERING[op]} {b}){test}")
        self._plain_truth.add(t)
        return t
