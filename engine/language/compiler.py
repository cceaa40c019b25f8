"""Plan -> one specialised Python function, with exactly the interpreter's results.

``compile_plan(plan)`` turns a whole mapping into the source of one function
``_run(doc, settings, store, namespace)`` and ``exec``s it once. Every JMESPath
expression is emitted inline by ``PyGen`` (``jmespath_codegen``): the names an expression
starts from (``doc``, ``settings``, loop names, variables, state names) are Python locals,
so ``event.data.event_name`` is two dict lookups. What one rule's fields share is computed
once (``cse``), a call that sibling rules make once between them, and what a loop's
items read from outside it once before it (``codegen_sharing``). Rules, loops, ``when``
tests and fields become straight-line code; only the rare post-processing (``map``,
``cast``, ``rename``, ``omit``, ``omit_empty``, ``default``) calls the interpreter's
helper (``value_rules``). The interpreter (``interpreter.Evaluator``) stays the
reference: ``explain`` traces with it, and the tests hold the two against each other on
every shipped mapping case. ``mapwire explain --compiled`` prints the generated source.
"""

from __future__ import annotations

from typing import Any

from ..contracts.actions import Action, MapResult
from ..contracts.errors import ItemError, SkipItem
from .codegen_blocks import Scope, cast_alone_test
from .codegen_sharing import hoist_invariants, share_calls
from .codegen_when import dispatch, nested_tests
from .compiled_support import CompiledPlan, dedup_key, loop_error, membership
from .expressions import analyse
from .interpreter import record_failure
from .jmespath_codegen import PyGen
from .plan import Expr, FieldPlan, Plan, RulePlan
from .state_rules import forgets
from .value_rules import cast_value, is_empty, post_process, render_template_value

__all__ = ["CompiledPlan", "compile_plan"]

_CAUGHT = "(_ItemError, _SkipItem, ValueError)"


class _PlanGen:
    def __init__(self, plan: Plan) -> None:
        self.plan = plan
        self.py = PyGen(plan.functions)
        self.py.plain_settings(plan.settings)
        self.ns = self.py.namespace
        self.ns.update(
            {
                "_Action": Action,
                "_MapResult": MapResult,
                "_ItemError": ItemError,
                "_SkipItem": SkipItem,
                "_fail": record_failure,
                "_post": post_process,
                "_cast": cast_value,
                "_empty": is_empty,
                "_render": render_template_value,
                "_loop_error": loop_error,
                "_membership": membership,
                "_dkey": dedup_key,
                "_forgets": forgets,
                "_ROOT": {},
            }
        )
        self.lines: list[str] = []
        self.n = 0
        #: Locals that never hold null (a dict built here, a constant): stored unguarded.
        self._never_null: set[str] = set()

    # -- helpers ------------------------------------------------------------------------------
    def tmp(self, prefix: str) -> str:
        self.n += 1
        return f"{prefix}{self.n}"

    def const(self, value: Any, prefix: str = "_k") -> str:
        name = self.tmp(prefix)
        self.ns[name] = value
        return name

    def emit(self, indent: str, line: str) -> None:
        self.lines.append(indent + line)

    def expr(self, e: Expr, scope: Scope, indent: str, cse: dict[Any, Any]) -> str:
        src = "_scope"
        if analyse(e.ast).reads_whole_root:
            items = ", ".join(f"{n!r}: {v}" for n, v in scope.bindings.items())
            src = self.tmp("_scope")
            self.emit(indent, f"{src} = {{{items}}}")
        return self.py.gen(e.ast, src, self.lines, indent, root_bindings=scope.bindings, cse=cse)

    # -- fields -------------------------------------------------------------------------------
    def raw(
        self, fp: FieldPlan, scope: Scope, indent: str, cse: dict[Any, Any], rule: str, path: str
    ) -> str:
        """Emit code computing the field's source value; return a local holding it."""
        if fp.source == "expr":
            assert fp.expr is not None
            self.py.where = path  # an error of a call in it names the field
            result = self.expr(fp.expr, scope, indent, cse)
            self.py.where = None
            if fp.is_plain and result.isidentifier():
                return result  # no copy: the expression's own temporary is the value
            out = self.tmp("_f")
            self.emit(indent, f"{out} = {result}")
            if not fp.is_plain:
                self.post(fp, out, indent)
            return out
        out = self.tmp("_f")
        if fp.source == "value":
            self.emit(indent, f"{out} = {fp.value!r}")
        elif fp.source == "first":
            self.emit(indent, f"{out} = None")
            inner = indent
            for i, sub in enumerate(fp.first):
                v = self.value(sub, scope, inner, dict(cse), rule, f"{path}[{i}]")
                self.emit(inner, f"if {v} is not None:")
                self.emit(inner, f"    {out} = {v}")
                self.emit(inner, "else:")
                inner += "    "
            self.emit(inner, "pass")
        elif fp.source == "template":
            self.emit(indent, f"{out} = None")
            inner, parts = indent, []
            for part in fp.template:
                if isinstance(part, str):
                    parts.append(repr(part))
                    continue
                v = self.expr(part, scope, inner, dict(cse))
                self.emit(inner, f"if {v} is not None:")
                inner += "    "
                parts.append(f"_render({v})")
            self.emit(inner, f"{out} = {' + '.join(parts) or repr('')}")
        elif fp.source == "object":
            self.fields_into(out, fp.object, scope, indent, cse, rule, f"{path}.")
        else:  # merge
            self.emit(indent, f"{out} = {{}}")
            for i, sub in enumerate(fp.merge):
                v = self.value(sub, scope, indent, cse, rule, f"{path}[{i}]")
                self.emit(indent, f"if type({v}) is dict:")
                self.emit(indent, f"    {out}.update({v})")
        if not fp.is_plain:
            self.post(fp, out, indent)
        elif fp.source in ("object", "merge") or (fp.source == "value" and fp.value is not None):
            self._never_null.add(out)
        return out

    def post(self, fp: FieldPlan, out: str, indent: str) -> None:
        """The field's post-processing of ``out`` (``value_rules.post_process``); a field
        whose only rule is a ``cast`` converts only a value not already of the type."""
        needs_cast = cast_alone_test(fp, out)
        if needs_cast is not None:
            self.emit(indent, f"if {needs_cast}:")
            self.emit(indent, f"    {out} = _cast({out}, {fp.cast!r})")
            return
        self.emit(indent, f"{out} = _post({self.const(fp, '_fp')}, {out})")

    def value(
        self, fp: FieldPlan, scope: Scope, indent: str, cse: dict[Any, Any], rule: str, path: str
    ) -> str:
        """A local holding the field's value, None when it is null (omitted or kept)."""
        v = self.raw(fp, scope, indent, cse, rule, path)
        if v in self._never_null:  # a plain object, a constant: no null to handle
            return v
        if fp.if_null == "error":
            msg = f"required field {path!r} is null"
            self.emit(indent, f"if {v} is None:")
            args = f"{msg!r}, rule={rule!r}, field={path!r}, code='required_null'"
            self.emit(indent, f"    raise _ItemError({args})")
        elif fp.if_null == "skip":
            self.emit(indent, f"if {v} is None:")
            self.emit(indent, f"    raise _SkipItem({fp.skip_reason!r})")
        return v

    def fields_into(
        self,
        target: str,
        fields: tuple[FieldPlan, ...],
        scope: Scope,
        indent: str,
        cse: dict[Any, Any],
        rule: str,
        prefix: str,
    ) -> None:
        """Emit ``target = {...}`` holding ``fields``, computed in order. The leading fields
        that are always stored (never null: an object, a constant; kept null; or null
        raised on) go in the dict display itself; each later one is stored after it."""
        pending: list[str] | None = []
        for fp in fields:
            v = self.value(fp, scope, indent, cse, rule, prefix + fp.name)
            always = fp.if_null in ("keep", "error", "skip") or v in self._never_null
            if pending is not None and always:
                pending.append(f"{fp.name!r}: {v}")
                continue
            if pending is not None:
                self.emit(indent, f"{target} = {{{', '.join(pending)}}}")
                pending = None
            if always:
                self.emit(indent, f"{target}[{fp.name!r}] = {v}")
            else:
                self.emit(indent, f"if {v} is not None:")
                self.emit(indent, f"    {target}[{fp.name!r}] = {v}")
        if pending is not None:
            self.emit(indent, f"{target} = {{{', '.join(pending)}}}")

    def _as_local(self, value: str, name: str, indent: str) -> str:
        """A local to bind a variable to: the value's own temporary when it is one."""
        if value.isidentifier() and value not in ("None", "True", "False"):
            return value
        local = self.tmp(f"v_{name}_")
        self.emit(indent, f"{local} = {value}")
        return local

    # -- rules --------------------------------------------------------------------------------
    def rule(
        self,
        rule: RulePlan,
        scope: Scope,
        indent: str,
        label: str,
        cse: dict[Any, Any],
        *,
        head_known: bool = False,
    ) -> None:
        """Emit ``rule``: its loops, each item in its own try, errors recorded per item.
        ``cse``: what the enclosing code computed on the way here (the rule may reuse it);
        ``head_known``: the first test of its ``when`` is known true (``dispatch``)."""
        self.emit(indent, f"# rule {rule.name!r} ({rule.at})")
        self._level(rule, scope, indent, label, 0, cse, head_known)

    def _level(
        self,
        rule: RulePlan,
        scope: Scope,
        indent: str,
        label: str,
        level: int,
        cse: dict[Any, Any],
        head_known: bool = False,
    ) -> None:
        if level == len(rule.loops):
            self.emit(indent, "try:")
            self._apply(rule, scope, indent + "    ", label, dict(cse), head_known)
            self.emit(indent, f"except {_CAUGHT} as _e:")
            self.emit(indent, f"    _fail(result, _e, {rule.name!r}, {label})")
            return
        name, e = rule.loops[level]
        seq, idx, var = self.tmp("_seq"), self.tmp("_i"), self.tmp(f"v_{name}_")
        self.emit(indent, "try:")
        self.emit(indent, f"    {seq} = {self.expr(e, scope, indent + '    ', dict(cse))}")
        if level == 0:  # what every item reads from outside the loop, looked up once
            cse = hoist_invariants(self.py, rule, scope.bindings, self.lines, indent, dict(cse))
        self.emit(indent, f"    if {seq} is None:")
        self.emit(indent, f"        {seq} = ()")
        self.emit(indent, f"    elif type({seq}) is not list:")
        self.emit(indent, f"        raise _loop_error({name!r}, {seq}, {rule.name!r})")
        self.emit(indent, f"except {_CAUGHT} as _e:")
        self.emit(indent, f"    _fail(result, _e, {rule.name!r}, {label})")
        self.emit(indent, f"    {seq} = ()")
        self.emit(indent, f"for {idx}, {var} in enumerate({seq}):")
        item_label = _label_concat(label, name, idx)
        self._level(rule, scope.bind(name, var), indent + "    ", item_label, level + 1, cse)

    def _apply(
        self,
        rule: RulePlan,
        scope: Scope,
        indent: str,
        label: str,
        cse: dict[Any, Any],
        head_known: bool,
    ) -> None:
        if rule.when is not None:
            nested = None
            if not analyse(rule.when.ast).reads_whole_root:
                nested = nested_tests(
                    self.py,
                    rule.when.ast,
                    scope.bindings,
                    self.lines,
                    indent,
                    cse,
                    head_known=head_known,
                )
            if nested is None:
                w = self.expr(rule.when, scope, indent, cse)
                # A comparison or a negation is already true/false/null: test it directly.
                direct = rule.when.ast["type"] in ("comparator", "not_expression")
                self.emit(indent, f"if {w}:" if direct else f"if {self.py.truth(w)}:")
                indent, cse = indent + "    ", dict(cse)
            else:
                indent, cse = nested
        for var in rule.variables:
            v = self.value(var, scope, indent, cse, rule.name, var.name)
            scope = scope.bind(var.name, self._as_local(v, var.name, indent))
        for m in rule.state:
            local = self.tmp(f"v_{m.name}_")
            outcomes = self.tmp(f"v_{m.changes or 'changes'}_")
            key = self.expr(m.key, scope, indent, cse)
            self.emit(indent, f"if {key} is None:")
            self.emit(indent, f"    {local}, {outcomes} = None, None")
            self.emit(indent, "else:")
            inner, inner_cse = indent + "    ", dict(cse)
            parts = [
                self.expr(x, scope, inner, inner_cse) if x is not None else "None"
                for x in (m.version, m.add, m.remove, m.aliases)
            ]
            args = ", ".join([self.const(m, "_m"), repr(rule.name), key, *parts])
            self.emit(inner, f"{local}, {outcomes} = _membership(store, namespace, {args})")
            scope = scope.bind(m.name, local)
            if m.changes is not None:
                scope = scope.bind(m.changes, outcomes)
        if rule.skip is not None:
            reason = self.tmp("_reason")
            fp = FieldPlan("skip", "template", template=rule.skip)
            value = self.raw(fp, scope, indent, cse, rule.name, "skip")
            self.emit(indent, f"{reason} = {value} or 'skipped'")
            self.emit(indent, f"result.skip({reason})")
            return
        if rule.children:
            share_calls(self.py, rule.children, scope.bindings, self.lines, indent, cse)
            for item in dispatch(rule.children, scope.bindings):
                if isinstance(item, RulePlan):
                    self.rule(item, scope, indent, label, cse)
                    continue
                local, by_text = item
                for n, (text, rules) in enumerate(by_text.items()):
                    self.emit(indent, f"{'elif' if n else 'if'} {local} == {text!r}:")
                    for child in rules:
                        self.rule(child, scope, indent + "    ", label, cse, head_known=True)
            return
        payload = self.tmp("_payload")
        self.fields_into(payload, rule.fields, scope, indent, cse, rule.name, "")
        keys = [self.expr(e, scope, indent, cse) for e in rule.dedup]
        key_list = self.tmp("_keys")
        if keys:
            listed = ", ".join(keys)
            self.emit(indent, f"{key_list} = tuple(_dkey(k) for k in ({listed},) if k is not None)")
        else:
            self.emit(indent, f"{key_list} = ()")
        forget = ""
        if rule.forget:
            values = [self.expr(f.keys, scope, indent, cse) for f in rule.forget]
            plans = self.const(rule.forget, "_fg")
            forget = f", forget=_forgets({plans}, ({', '.join(values)},))"
        self.emit(
            indent,
            f"actions.append(_Action({self.plan.destination!r}, {rule.action!r}, {payload}, "
            f"{key_list}, {rule.name!r}{forget}))",
        )

    # -- whole plan ---------------------------------------------------------------------------
    def compile(self) -> str:
        self.lines = [
            "def _run(doc, settings, store, namespace):",
            "    result = _MapResult()",
            "    actions = result.actions",
            # The evaluation context is never null; expressions that read it whole
            # (`@` at the root) get a real dict of the names in scope instead.
            "    _scope = _ROOT",
        ]
        scope = Scope({"doc": "doc", "settings": "settings"})
        indent = "    "
        self.emit(indent, "try:")
        cse: dict[Any, Any] = {}  # every variable is computed before the first rule runs
        for var in self.plan.variables:
            v = self.value(var, scope, indent + "    ", cse, "variables", var.name)
            scope = scope.bind(var.name, self._as_local(v, var.name, indent + "    "))
        self.emit(indent, "    pass")
        self.emit(indent, f"except {_CAUGHT} as _e:")
        self.emit(indent, "    _fail(result, _e, 'variables', '')")
        self.emit(indent, "    return result")
        share_calls(self.py, self.plan.rules, scope.bindings, self.lines, indent, cse)
        for rule in self.plan.rules:
            self.rule(rule, scope, indent, "''", cse)
        self.emit(indent, "return result")
        return "\n".join(self.lines) + "\n"


def _label_concat(outer: str, name: str, idx: str) -> str:
    """A Python expression for the item label: outer label + ``name[idx]``."""
    item = f"f'{name}[{{{idx}}}]'"
    return item if outer == "''" else f"{outer} + {item}"


def compile_plan(plan: Plan) -> CompiledPlan:
    """Generate, compile and load the Python for ``plan``."""
    gen = _PlanGen(plan)
    source = gen.compile()
    code = compile(source, f"<mapping {plan.name}>", "exec")
    exec(code, gen.ns)
    helpers = "\n\n".join(gen.py.helper_source)
    return CompiledPlan(plan, gen.ns["_run"], (helpers + "\n\n" if helpers else "") + source)
