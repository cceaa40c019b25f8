"""Generated code gives exactly the interpreter's results, on the shipped mappings too."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import jmespath
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mapwire.contracts.store import MemoryStore
from mapwire.language.cases import load_cases
from mapwire.language.compiler import compile_plan
from mapwire.language.interpreter import Evaluator
from mapwire.language.jmespath_codegen import compile_expression
from mapwire.language.jmespath_support import make_functions_class
from mapwire.language.mapping_settings import resolve_settings
from mapwire.language.plan import Expr, FieldPlan, Plan, RulePlan
from mapwire.runtime.mapping_files import compile_with_plugins

MAPPINGS = Path(__file__).resolve().parents[2] / "mappings"
CASE_FILES = sorted(MAPPINGS.glob("*.test.yaml"))

json_scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(10**12), 10**15),
    st.floats(allow_nan=False, allow_infinity=False, width=32),
    st.sampled_from(["", "add", "delete", "custom_event", "ios", "email", "raw", "$FirstName"]),
    st.text(max_size=8),
)
json_values = st.recursive(
    json_scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4),
        st.dictionaries(
            st.sampled_from(
                ["data", "event_type", "type", "action", "value", "key", "name", "events", "id"]
            )
            | st.text(max_size=5),
            inner,
            max_size=4,
        ),
    ),
    max_leaves=20,
)


def _outcome(result: Any) -> tuple[Any, ...]:
    return (
        [
            (a.destination, a.action, a.payload, a.dedup_keys, a.rule, a.forget)
            for a in result.actions
        ],
        [str(e) for e in result.errors],
        result.skipped,
    )


def _plans() -> list[tuple[Plan, list[Any], list[dict[str, Any]]]]:
    out = []
    for path in CASE_FILES:
        cases = load_cases(path)
        plan = compile_with_plugins(cases.mapping)
        seeds = [doc for case in cases.cases for doc in case.inputs]
        overrides = [case.settings for case in cases.cases]
        out.append((plan, seeds, overrides))
    return out


PLANS = _plans()
RUNNERS = {plan.name: (Evaluator(plan), compile_plan(plan)) for plan, _, _ in PLANS}


def test_shipped_mappings_exist() -> None:
    assert len(PLANS) >= 4


@pytest.mark.parametrize("entry", PLANS, ids=lambda e: e[0].name)
def test_compiled_equals_interpreted_on_every_shipped_case(entry: Any) -> None:
    plan, seeds, overrides = entry
    compiled, interpreted = compile_plan(plan), Evaluator(plan)
    for override in overrides:
        settings_ = resolve_settings(plan, override)
        a_store, b_store = MemoryStore(), MemoryStore()
        for doc in seeds:
            a = interpreted.run(doc, settings_, a_store, namespace="n:")
            b = compiled.run(doc, settings_, b_store, namespace="n:")
            assert _outcome(a) == _outcome(b)
        assert vars(a_store) == vars(b_store), "the same state (and aliases) stored"


def _mutate(doc: Any, path: list[int], replacement: Any) -> Any:
    """Replace the node reached by following ``path`` (indexes into keys/items)."""
    doc = copy.deepcopy(doc)
    node, parent, key = doc, None, None
    for step in path:
        if isinstance(node, dict) and node:
            k = sorted(node)[step % len(node)]
            parent, key, node = node, k, node[k]
        elif isinstance(node, list) and node:
            i = step % len(node)
            parent, key, node = node, i, node[i]
        else:
            break
    if parent is None:
        return replacement
    parent[key] = replacement
    return doc


@pytest.mark.parametrize("entry", PLANS, ids=lambda e: e[0].name)
@settings(
    max_examples=150,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow],
)
@given(data=st.data())
def test_compiled_equals_interpreted_on_mutated_inputs(entry: Any, data: st.DataObject) -> None:
    plan, seeds, overrides = entry
    seed, path, replacement, override = data.draw(
        st.tuples(
            st.sampled_from(seeds),
            st.lists(st.integers(0, 50), max_size=6),
            json_values,
            st.sampled_from(overrides),
        )
    )
    doc = _mutate(seed, path, replacement)
    settings_ = resolve_settings(plan, override)
    interpreted, compiled = RUNNERS[plan.name]
    a = interpreted.run(doc, settings_, MemoryStore())
    b = compiled.run(doc, settings_, MemoryStore())
    assert _outcome(a) == _outcome(b)


def _expressions(plan: Plan) -> list[Expr]:
    found: list[Expr] = []

    def field(fp: FieldPlan) -> None:
        if fp.expr is not None:
            found.append(fp.expr)
        found.extend(p for p in fp.template if isinstance(p, Expr))
        for sub in (*fp.first, *fp.object, *fp.merge):
            field(sub)

    def rule(r: RulePlan) -> None:
        found.extend(e for _, e in r.loops)
        if r.when is not None:
            found.append(r.when)
        found.extend(r.dedup)
        found.extend(p for p in r.skip or () if isinstance(p, Expr))
        for m in r.state:
            found.extend(x for x in (m.key, m.add, m.remove, m.version) if x is not None)
        for f in (*r.variables, *r.fields):
            field(f)
        for c in r.children:
            rule(c)

    for v in plan.variables:
        field(v)
    for r in plan.rules:
        rule(r)
    return found


EXPRESSIONS = sorted({e.text for plan, _, _ in PLANS for e in _expressions(plan)})
_COMPILED: dict[str, Any] = {}
NAMES = ["doc", "settings", "event", "data", "profile", "type", "name", "platform", "key"]


def test_every_shipped_expression_is_collected() -> None:
    assert len(EXPRESSIONS) > 80


@settings(max_examples=300, deadline=None, derandomize=True, database=None)
@given(scope=st.fixed_dictionaries({n: json_values for n in NAMES}), pick=st.data())
def test_every_shipped_expression_compiles_to_the_same_result(
    scope: dict[str, Any], pick: st.DataObject
) -> None:
    functions = PLANS[0][0].functions
    options = jmespath.Options(custom_functions=make_functions_class(functions)())
    text = pick.draw(st.sampled_from(EXPRESSIONS))
    compiled = _COMPILED.get(text) or _COMPILED.setdefault(
        text, compile_expression(text, functions)
    )
    try:
        expected: Any = ("ok", jmespath.search(text, scope, options=options))
    except Exception as exc:  # the class of error must match too
        expected = ("error", type(exc))
    try:
        got: Any = ("ok", compiled(scope))
    except Exception as exc:
        got = ("error", type(exc))
    assert got == expected, text


def test_generated_source_is_inspectable() -> None:
    plan = PLANS[0][0]
    source = compile_plan(plan).source
    assert source.startswith("def _run(") or "def _run(" in source
    assert "# rule " in source and "actions.append(_Action(" in source
    compile(source, "<check>", "exec")
