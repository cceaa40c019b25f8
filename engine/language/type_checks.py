"""Static type checks of a compiled mapping against its sources and its destination.

``type_problems(plan, positions, ...)`` walks the plan's rules with the names in scope
typed (``doc`` by a source's JSON Schema, ``settings`` by their declarations, loop names,
variables and state names by what their expressions produce), infers the type of every
expression (``type_infer``) and checks every action's fields against the destination
action's payload schema (``type_contract``). It returns ``Problem``s positioned inside
the expressions:

- E501 a path step no source schema declares (did-you-mean among the declared keys)
- E502 a path step that can only give null (e.g. ``.key`` on an array)
- E503 a comparison with a literal that can never be true (did-you-mean among the enum)
- E504 a function argument of a type the function never takes, by the builtin's or the
  plugin function's signature
- E510/E511 a field whose type can never / may not match the destination's (error / warning)
- E512/E513 a required field never set / set from something that may be null (error / warning)

A mapping with several sources is checked against each one; a problem is reported only if
every source has it (a path is wrong only if no source declares it), and as a warning if
it is only a warning for some source.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from ..contracts.errors import Problem
from .function_types import returns_type
from .jmespath_support import signature_of
from .plan import Expr, FieldPlan, Plan, RulePlan
from .type_contract import Contract
from .type_infer import (
    ARGUMENT_NEVER,
    NEVER_EQUAL,
    ONLY_NULL,
    UNKNOWN_KEY,
    Inferer,
    is_falsy,
)
from .typing_schema import (
    ANY,
    STRING,
    Ty,
    array_of,
    element,
    from_kinds,
    from_schema,
    object_of,
    of_value,
    union,
)
from .yaml_loader import Positions

_SUGGEST = {
    UNKNOWN_KEY: "check the spelling; if the key exists, declare it in the source's schema",
    ONLY_NULL: "an array needs a projection (`list[*].key`) or an index (`list[0].key`)",
    NEVER_EQUAL: "compare with one of the values the source's schema allows",
    ARGUMENT_NEVER: "pass a value of a type it takes (`describe functions` lists them), "
    "or convert it first (`to_string`, `to_number`)",
}


class _Walk:
    """One pass over the plan for one source type of ``doc``."""

    def __init__(
        self,
        plan: Plan,
        positions: Positions,
        doc: Ty,
        destination: Any,
        returns: Mapping[str, Ty],
        signatures: Callable[[str], Sequence[Mapping[str, Any]] | None],
    ) -> None:
        self.plan = plan
        self.positions = positions
        self.returns = returns
        self.signatures = signatures
        self.problems: list[Problem] = []
        self.origin: dict[Problem, tuple[str | int, ...]] = {}  # the spec path it is about
        self.unsure: set[tuple[int, int]] = set()  # positions this source could not check
        self.dead: list[tuple[str | int, ...]] = []  # rules whose `when` never holds here
        self.contract = Contract(self, destination)
        self.env: dict[str, Ty] = {"doc": doc, "settings": _settings_type(plan)}

    # -- expressions --------------------------------------------------------------------
    def expr(self, expr: Expr, env: Mapping[str, Ty]) -> Ty:
        inferer = Inferer(env, self.returns, self.signatures)
        ty = inferer.infer(expr.text, expr.ast)
        for offset in inferer.unsure:
            self.unsure.add(self.positions.inside(expr.path, expr.base + offset))
        for finding in inferer.findings:
            line, col = self.positions.inside(expr.path, expr.base + finding.offset)
            self.add(
                Problem(
                    self.positions.file,
                    line,
                    col,
                    finding.code,
                    finding.message,
                    suggestion=_SUGGEST.get(finding.code, ""),
                ),
                expr.path,
            )
        return ty

    def add(self, problem: Problem, origin: tuple[str | int, ...]) -> None:
        self.problems.append(problem)
        self.origin[problem] = origin

    def covers(self, problem: Problem, origin: tuple[str | int, ...]) -> bool:
        """Whether this source checked what ``problem`` is about (so its silence counts)."""
        if (problem.line, problem.col) in self.unsure:
            return False
        for dead in self.dead:
            inside = origin[: len(dead)] == dead
            if inside and origin[len(dead) : len(dead) + 1] not in (("when",), ("for_each",)):
                return False
        return True

    def report(
        self, path: tuple[str | int, ...], code: str, message: str, severity: str, fix: str
    ) -> None:
        line, col = self.positions.of(path)
        self.add(Problem(self.positions.file, line, col, code, message, severity, fix), path)

    def _where(self, fp: FieldPlan) -> tuple[int, int]:
        if fp.source == "expr" and fp.expr is not None and fp.expr.path:
            return self.positions.inside(fp.expr.path, fp.expr.base)
        return self.positions.of(fp.path)

    def unsure_about(self, fp: FieldPlan) -> None:
        self.unsure.add(self._where(fp))

    def report_expr(self, fp: FieldPlan, code: str, message: str, severity: str, fix: str) -> None:
        """A problem about a field's value: at its expression when it has one."""
        line, col = self._where(fp)
        self.add(Problem(self.positions.file, line, col, code, message, severity, fix), fp.path)

    # -- field values -------------------------------------------------------------------
    def value(self, fp: FieldPlan, env: Mapping[str, Ty]) -> Ty:
        """What the field produces after post-processing (null: omitted or kept null)."""
        ty = self.raw(fp, env)
        if fp.map is not None:
            mapped = union(*(of_value(v) for v in fp.map.values()))
            rest = of_value(fp.map_default) if fp.has_map_default else ty
            ty = union(mapped, rest)
        if fp.cast is not None:
            cast = from_kinds([fp.cast])
            ty = cast.with_null() if fp.cast != "string" or ty.may_be_null else cast
        if fp.omit_empty:
            ty = ty.with_null()
        if fp.has_default and ty.may_be_null:
            ty = union(ty.without_null(), of_value(fp.default))
        if fp.if_null in ("error", "skip"):  # a null never gets through
            ty = ty.without_null()
        return ty

    def raw(self, fp: FieldPlan, env: Mapping[str, Ty]) -> Ty:
        if fp.source == "expr" and fp.expr is not None:
            return self.expr(fp.expr, env)
        if fp.source == "value":
            return of_value(fp.value)
        if fp.source == "first":
            parts = [self.value(sub, env) for sub in fp.first]
            ty = union(*(p.without_null() for p in parts))
            return ty.with_null() if all(p.may_be_null for p in parts) else ty
        if fp.source == "template":
            return self.template(fp.template, env)
        if fp.source == "merge":
            for sub in fp.merge:
                self.value(sub, env)
            return Ty(frozenset({"object"}))
        return object_of({sub.name: self.value(sub, env) for sub in fp.object}, exact=True)

    def template(self, parts: tuple[str | Expr, ...], env: Mapping[str, Ty]) -> Ty:
        types = [self.expr(p, env) for p in parts if isinstance(p, Expr)]
        return STRING.with_null() if any(t.may_be_null for t in types) else STRING

    # -- rules --------------------------------------------------------------------------
    def run(self) -> list[Problem]:
        env = dict(self.env)
        for var in self.plan.variables:
            env[var.name] = self.value(var, env)
        for rule in self.plan.rules:
            self.rule(rule, env)
        return self.problems

    def rule(self, rule: RulePlan, outer: Mapping[str, Ty]) -> None:
        env = dict(outer)
        for name, expr in rule.loops:
            env[name] = element(self.expr(expr, env)).without_null()
        if rule.when is not None and is_falsy(self.expr(rule.when, env)):
            self.dead.append(rule.path)  # never runs for this source: nothing to check
            return
        for var in rule.variables:
            env[var.name] = self.value(var, env)
        for state in rule.state:
            for part in (state.key, state.add, state.remove, state.version, state.aliases):
                if part is not None:
                    self.expr(part, env)
            env[state.name] = array_of(STRING)
        for dedup in rule.dedup:
            self.expr(dedup, env)
        for forget in rule.forget:
            self.expr(forget.keys, env)
        if rule.skip is not None:
            self.template(rule.skip, env)
        if rule.action is not None:
            self.contract.check_action(rule, {f.name: (f, self.value(f, env)) for f in rule.fields})
        for child in rule.children:
            self.rule(child, env)


def _settings_type(plan: Plan) -> Ty:
    props: dict[str, Ty] = {}
    for name, decl in plan.settings.items():
        ty = from_kinds([decl.type])
        if decl.enum is not None:
            ty = union(*(of_value(v) for v in decl.enum))
        if decl.type == "array":
            ty = array_of(from_schema(decl.items) if decl.items is not None else None)
        props[name] = ty
    return object_of(props, exact=True)


def _family(code: str) -> str:
    return "path" if code in (UNKNOWN_KEY, ONLY_NULL) else code


def _combine(runs: list[_Walk]) -> list[Problem]:
    """What every source that could check it found (by position and kind), at the
    mildest severity any of them gave."""
    if len(runs) == 1:
        return list(dict.fromkeys(runs[0].problems))
    found: dict[tuple[int, int, str], list[tuple[Problem, tuple[str | int, ...]]]] = {}
    for run in runs:
        for p in run.problems:
            found.setdefault((p.line, p.col, _family(p.code)), []).append((p, run.origin[p]))
    out: list[Problem] = []
    for key, hits in found.items():
        problem, origin = hits[0]
        having = {
            id(run)
            for run in runs
            if any(key == (p.line, p.col, _family(p.code)) for p in run.problems)
        }
        silent = [run for run in runs if id(run) not in having]
        if any(run.covers(problem, origin) for run in silent):
            continue
        problems = [p for p, _ in hits]
        warnings = [p for p in problems if p.severity == "warning"]
        unknown = [p for p in problems if p.code == UNKNOWN_KEY]
        out.append(warnings[0] if warnings else unknown[0] if unknown else problem)
    return out


def type_problems(
    plan: Plan,
    positions: Positions,
    *,
    sources: Mapping[str, Any] | None,
    destination: Any,
    functions: Mapping[str, Any],
) -> list[Problem]:
    """Every type problem in the plan (errors and warnings), sorted by position."""
    returns = {name: returns_type(getattr(f, "returns", None)) for name, f in functions.items()}
    schemas = [
        sources[name].schema for name in plan.sources if sources is not None and name in sources
    ]
    docs = [from_schema(schema) for schema in schemas] or [ANY]
    signatures = functools.cache(lambda name: signature_of(name, functions))
    runs = [_Walk(plan, positions, doc, destination, returns, signatures) for doc in docs]
    for run in runs:
        run.run()
    found = _combine(runs)
    return sorted(found, key=lambda p: (p.line, p.col, p.code))
