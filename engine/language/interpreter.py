"""Run a Plan by walking it: the reference semantics, and the tracer behind ``explain``.

``Evaluator(plan).run(doc, settings, store)`` -> ``MapResult``. Pure apart from the state
store it is handed (an in-memory one for dry runs). The generated-code evaluator in
``mapwire.language.compiler`` must give exactly the same results; the tests hold the two
against each other. The value rules both follow (``cast``, post-processing, template text)
are in ``value_rules``.

Null, missing, false and empty (the rules every evaluator follows):

* JMESPath cannot tell a missing key from an explicit null: both are null.
* A null field result is handled by ``if_null``: ``omit`` (the default) leaves the field
  out, ``keep`` writes JSON null, ``skip`` drops the whole action (counted under
  ``skip_reason``), ``error`` (or ``required: true``) makes the item fail with an error.
* ``false`` and ``0`` are values: they are kept, and ``default`` does not replace them.
* ``""``, ``[]`` and ``{}`` are values too, unless the field says ``omit_empty: true``,
  which turns them into null first (then ``default`` and ``if_null`` apply).
* ``when`` uses JMESPath truthiness: null, false, "", [] and {} are false; 0 is true.
* A nested ``object`` leaves out its omitted sub-fields; it is itself never null.
* ``first`` takes the first fallback whose (post-processed) value is not null.
* A ``template`` is null if any placeholder is null; other values are written as JSON
  (strings as they are).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, cast

import jmespath

from ..contracts.actions import Action, MapResult
from ..contracts.errors import ItemError, SkipItem
from ..contracts.store import MemoryStore, StateStore, membership_update
from ..contracts.value_types import describe_expression_error, json_type
from .jmespath_support import Interpreter, make_functions_class
from .null_origin import why_null
from .plan import Expr, FieldPlan, Plan, RulePlan
from .state_rules import forgets, record_aliases
from .value_rules import (
    membership_version,
    outcome_values,
    post_process,
    render_template_value,
    truthy,
)

OMIT: Any = object()


@dataclass
class TraceEntry:
    """How one output field got its value (or why it has none), for ``explain``."""

    rule: str
    item: str
    field: str
    expression: str
    value: Any
    note: str


def loop_items(name: str, value: Any, where: str) -> list[Any]:
    """The elements ``for_each`` iterates: null gives none, a non-array a per-item error."""
    if value is None:
        return []
    if not isinstance(value, list):
        raise ItemError(
            f"for_each {name!r} expected an array, got {json_type(value)}",
            rule=where,
            code="wrong_type",
        )
    return value


class Evaluator:
    """Interprets a Plan; ``trace`` collects per-field explanations when given."""

    def __init__(self, plan: Plan) -> None:
        self.plan = plan
        functions = make_functions_class(plan.functions)()
        self._interpreter = Interpreter(jmespath.Options(custom_functions=functions))

    def search(self, expr: Expr, ctx: Mapping[str, Any]) -> Any:
        return self._interpreter.visit(cast(Any, expr.ast), ctx)

    # -- public -----------------------------------------------------------------------------
    def run(
        self,
        doc: Any,
        settings: Mapping[str, Any],
        store: StateStore | None = None,
        *,
        namespace: str = "",
        trace: list[TraceEntry] | None = None,
    ) -> MapResult:
        result = MapResult()
        ctx: dict[str, Any] = {"doc": doc, "settings": settings}
        run = _Run(self, result, store or MemoryStore(), namespace, trace)
        try:
            for var in self.plan.variables:
                ctx[var.name] = run.variable(var, ctx, "variables", "")
        except (ItemError, SkipItem, ValueError) as exc:
            run.fail(exc, "variables", "")
            return result
        for rule in self.plan.rules:
            run.rule(rule, ctx, "")
        return result


def record_failure(result: MapResult, exc: BaseException, rule: str, item: str) -> ItemError | None:
    """Count a skip, or record a per-item error naming the rule and item; the error."""
    if isinstance(exc, SkipItem):
        result.skip(exc.reason)
        return None
    if isinstance(exc, ItemError):
        err = ItemError(exc.detail, rule=rule, field=exc.field, index=item, code=exc.code)
    else:
        code, message = describe_expression_error(exc)
        err = ItemError(message, rule=rule, index=item, code=code)
    result.errors.append(err)
    return err


class _Run:
    def __init__(
        self,
        ev: Evaluator,
        result: MapResult,
        store: StateStore,
        namespace: str,
        trace: list[TraceEntry] | None,
    ) -> None:
        self.ev = ev
        self.result = result
        self.store = store
        self.namespace = namespace
        self.trace = trace
        self.destination = ev.plan.destination

    def fail(self, exc: BaseException, rule: str, item: str) -> None:
        err = record_failure(self.result, exc, rule, item)
        if self.trace is None:
            return
        if err is None:
            assert isinstance(exc, SkipItem)
            self.trace.append(TraceEntry(rule, item, "", "", None, f"skipped: {exc.reason}"))
        else:
            self.trace.append(TraceEntry(rule, item, err.field, "", None, f"error: {err}"))

    # -- rules ------------------------------------------------------------------------------
    def rule(self, rule: RulePlan, ctx: dict[str, Any], item: str, level: int = 0) -> None:
        """Apply ``rule`` to every item its loops expand to; errors stay per item."""
        if level == len(rule.loops):
            try:
                self._apply(rule, ctx, item)
            except (ItemError, SkipItem, ValueError) as exc:
                self.fail(exc, rule.name, item)
            return
        name, expr = rule.loops[level]
        try:
            elements = loop_items(name, self.ev.search(expr, ctx), rule.name)
        except (ItemError, ValueError) as exc:
            self.fail(exc, rule.name, item)
            return
        for i, element in enumerate(elements):
            inner = dict(ctx)
            inner[name] = element
            self.rule(rule, inner, f"{item}{name}[{i}]", level + 1)

    def _apply(self, rule: RulePlan, ctx: dict[str, Any], item: str) -> None:
        if rule.when is not None and not truthy(self.ev.search(rule.when, ctx)):
            if self.trace is not None:
                self.trace.append(
                    TraceEntry(rule.name, item, "", rule.when.text, None, "when is false")
                )
            return
        if rule.variables or rule.state:
            ctx = dict(ctx)
        for var in rule.variables:
            ctx[var.name] = self.variable(var, ctx, rule.name, item)
        for m in rule.state:
            key = self.ev.search(m.key, ctx)
            if key is None:
                ctx[m.name] = None
                if m.changes is not None:
                    ctx[m.changes] = None
                continue
            version = membership_version(
                self.ev.search(m.version, ctx) if m.version else None, rule.name
            )
            changes = [
                (str(x), present, version)
                for expr, present in ((m.add, True), (m.remove, False))
                if expr is not None
                for x in (self.ev.search(expr, ctx) or [])
                if x is not None
            ]
            aliases = self.ev.search(m.aliases, ctx) if m.aliases is not None else None
            ns, text = f"{self.namespace}{m.set}", render_template_value(key)
            update = membership_update(self.store, ns, text, changes)
            if m.aliases is not None:
                record_aliases(self.store, ns, text, aliases)
            ctx[m.name] = update.members
            if m.changes is not None:
                ctx[m.changes] = outcome_values(update)
        if rule.skip is not None:
            reason = self.render(rule.skip, ctx) or "skipped"
            self.result.skip(reason)
            if self.trace is not None:
                self.trace.append(TraceEntry(rule.name, item, "", "", None, f"skip: {reason}"))
            return
        if rule.children:
            for child in rule.children:
                self.rule(child, ctx, item)
            return
        payload: dict[str, Any] = {}
        for fp in rule.fields:
            v = self.value(fp, ctx, rule.name, item)
            if v is not OMIT:
                payload[fp.name] = v
        keys = []
        for expr in rule.dedup:
            k = self.ev.search(expr, ctx)
            if k is not None:
                keys.append(render_template_value(k))
        assert rule.action is not None
        forget = forgets(rule.forget, [self.ev.search(f.keys, ctx) for f in rule.forget])
        self.result.actions.append(
            Action(self.destination, rule.action, payload, tuple(keys), rule.name, forget=forget)
        )

    def render(self, parts: tuple[str | Expr, ...], ctx: Mapping[str, Any]) -> str | None:
        """A template's text, or None if a placeholder is null."""
        out = []
        for part in parts:
            if isinstance(part, str):
                out.append(part)
                continue
            v = self.ev.search(part, ctx)
            if v is None:
                return None
            out.append(render_template_value(v))
        return "".join(out)

    # -- fields -----------------------------------------------------------------------------
    def raw(self, fp: FieldPlan, ctx: Mapping[str, Any], rule: str, item: str, path: str) -> Any:
        src = fp.source
        if src == "expr":
            assert fp.expr is not None
            try:
                return self.ev.search(fp.expr, ctx)
            except jmespath.exceptions.JMESPathTypeError as exc:  # the field's, as compiled
                code, message = describe_expression_error(exc)
                raise ItemError(message, field=path, code=code) from None
        if src == "value":
            return _copy(fp.value)
        if src == "first":
            for i, sub in enumerate(fp.first):
                # Each fallback is a full field: its own post-processing applies, and a
                # `required`/`if_null` on it acts when the chain reaches it null.
                v = self.value(sub, ctx, rule, item, f"{path}[{i}]")
                if v is not OMIT and v is not None:
                    if self.trace is not None:
                        self.trace.append(
                            TraceEntry(rule, item, path, _text(sub), v, f"fallback {i} used")
                        )
                    return v
            return None
        if src == "template":
            return self.render(fp.template, ctx)
        if src == "merge":
            merged: dict[str, Any] = {}
            for i, sub in enumerate(fp.merge):
                part = self.value(sub, ctx, rule, item, f"{path}[{i}]")
                if isinstance(part, dict):
                    merged.update(part)
            return merged
        obj: dict[str, Any] = {}
        for sub in fp.object:
            v = self.value(sub, ctx, rule, item, f"{path}.{sub.name}")
            if v is not OMIT:
                obj[sub.name] = v
        return obj

    def variable(self, fp: FieldPlan, ctx: Mapping[str, Any], rule: str, item: str) -> Any:
        """A variable's value: like a field's, but an omitted null is bound as null."""
        v = self.value(fp, ctx, rule, item)
        return None if v is OMIT else v

    def value(
        self, fp: FieldPlan, ctx: Mapping[str, Any], rule: str, item: str, path: str = ""
    ) -> Any:
        path = path or fp.name
        v = post_process(fp, self.raw(fp, ctx, rule, item, path))
        if v is None:
            why = self._why_null(fp, ctx)
            if fp.if_null == "keep":
                note = "null kept (if_null: keep)" + why
            elif fp.if_null == "skip":
                note = f"null: action skipped ({fp.skip_reason})" + why
                self._trace(rule, item, path, fp, None, note)
                raise SkipItem(fp.skip_reason)
            elif fp.if_null == "error":
                raise ItemError(
                    f"required field {path!r} is null{why}",
                    rule=rule,
                    field=path,
                    code="required_null",
                )
            else:
                self._trace(rule, item, path, fp, None, "null: field omitted" + why)
                return OMIT
            self._trace(rule, item, path, fp, v, note)
            return v
        self._trace(rule, item, path, fp, v, "")
        return v

    def _why_null(self, fp: FieldPlan, ctx: Mapping[str, Any]) -> str:
        """For ``explain`` only: "; no such key in the input (...)" or "; null in the input"."""
        if self.trace is None or fp.source != "expr" or fp.expr is None:
            return ""
        why = why_null(fp.expr, ctx)
        return f"; {why}" if why else ""

    def _trace(self, rule: str, item: str, path: str, fp: FieldPlan, value: Any, note: str) -> None:
        if self.trace is not None and fp.source != "object":
            self.trace.append(TraceEntry(rule, item, path, _text(fp), value, note))


def _text(fp: FieldPlan) -> str:
    if fp.source == "expr" and fp.expr is not None:
        return fp.expr.text
    if fp.source == "value":
        return f"value {json.dumps(fp.value)}"
    if fp.source == "template":
        return "template " + "".join(
            p if isinstance(p, str) else "{" + p.text + "}" for p in fp.template
        )
    if fp.source == "first":
        return "first of " + " | ".join(_text(s) for s in fp.first)
    if fp.source == "merge":
        return "merge of " + " + ".join(_text(s) for s in fp.merge)
    return "object"


def _copy(value: Any) -> Any:
    if isinstance(value, dict | list):
        return json.loads(json.dumps(value))
    return value
