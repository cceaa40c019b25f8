"""Generated code for rules: ``when`` tests as nested ifs, sibling rules dispatched on a
name compared to strings, results shared with child rules and memoised scalar plugin
calls. Each shape is held to the interpreter on values of every JSON type."""

from __future__ import annotations

import itertools
from typing import Any

import pytest

from mapwire.contracts.functions import FunctionDef
from mapwire.contracts.store import MemoryStore
from mapwire.language.compiler import compile_plan
from mapwire.language.interpreter import Evaluator
from mapwire.language.mapping_settings import resolve_settings

from .conftest import compile_body

#: One of each JSON type, with the values JMESPath and Python disagree on (0 is true).
VALUES: list[Any] = [None, True, False, 0, 1, 0.0, 2.5, "", "a", "b", [], [0], {}, {"k": 1}]


def _outcome(result: Any) -> tuple[Any, ...]:
    actions = [(a.action, a.payload, a.rule) for a in result.actions]
    return actions, [str(e) for e in result.errors], result.skipped


def _same(body: str, docs: list[Any], **kw: Any) -> str:
    """Both evaluators give the same results on every doc; the generated source."""
    plan = compile_body(body, **kw)
    compiled, interpreted = compile_plan(plan), Evaluator(plan)
    settings = resolve_settings(plan, None)
    for doc in docs:
        a = interpreted.run(doc, settings, MemoryStore())
        b = compiled.run(doc, settings, MemoryStore())
        assert _outcome(a) == _outcome(b), doc
    return compiled.source


AND_CHAIN = """
rules:
  - name: chain
    when: "doc.a && doc.b && doc.c"
    action: note
    fields: {text: "to_string(doc.b)"}
  - name: chain or
    when: "doc.a && (doc.b || doc.c) && !(doc.d)"
    action: note
    fields: {text: "'or'"}
  - name: parent
    when: "doc.a && doc.a.k"
    rules:
      - name: child reuses the parent's lookups
        when: "doc.a.k == `1` && doc.b"
        action: note
        fields: {text: "to_string(doc.a.k)", n: "doc.a.k"}
"""


def test_and_chains_test_each_operand_with_jmespath_truth() -> None:
    docs = [
        {"a": a, "b": b, "c": c, "d": d}
        for a, b, c, d in itertools.product(VALUES[::2], VALUES[1::3], VALUES[::3], VALUES[::4])
    ]
    docs += [{"a": {"k": k}, "b": b} for k in VALUES for b in (0, "", "x")]
    source = _same(AND_CHAIN, [*docs, None, [], "text", 7])
    # `doc.a && doc.b && doc.c`: one `if` per operand, the last one holding the action.
    assert source.count("if ") >= 3


DISPATCH = """
rules:
  - for_each: {e: doc.events}
    variables:
      type: e.type
    rules:
      - name: a first
        when: "type == 'a' && e.ok"
        action: note
        fields: {text: "'a1'"}
      - name: b
        when: "'b' == type"
        action: note
        fields: {text: "'b'"}
      - name: a second
        when: "type == 'a'"
        action: note
        fields: {text: "'a2'"}
      - name: not a row member
        when: "e.ok"
        action: note
        fields: {text: "'ok'"}
      - name: c
        when: "type == 'c' && !(e.ok)"
        skip: "c skipped"
      - name: looped, so never dispatched
        for_each: {x: e.items}
        when: "type == 'c'"
        action: note
        fields: {text: "to_string(x)"}
      - name: c again
        when: "type == 'c'"
        action: note
        fields: {text: "'c'"}
"""


def test_rows_of_rules_on_one_name_dispatch_in_order() -> None:
    events = [
        {"type": t, "ok": ok, "items": items}
        for t, ok, items in itertools.product(
            ["a", "b", "c", "d", None, 1, ["a"]], [True, 0, None, ""], [None, [1, 2], "no"]
        )
    ]
    source = _same(DISPATCH, [{"events": events}, {"events": events[::-1]}, {"events": 3}])
    assert "elif " in source  # 'a first', 'b' and 'a second' are one row
    plan = compile_body(DISPATCH)
    result = compile_plan(plan).run({"events": [{"type": "a", "ok": True}]}, {}, MemoryStore())
    assert [a.payload["text"] for a in result.actions] == ["a1", "a2", "ok"]


PLUGIN_CALL = """
rules:
  - name: twice
    when: "doc.kind == 'x' && tag(doc.name)"
    action: note
    fields: {text: "tag(doc.name)", n: "length(tag(doc.name))"}
"""


@pytest.mark.parametrize("returns", ["string", ("string", "null"), "any", "object"])
def test_plugin_calls_give_the_interpreter_results_whatever_they_declare(returns: Any) -> None:
    calls: list[Any] = []

    def tag(value: Any) -> Any:
        calls.append(value)
        return f"<{value}>" if isinstance(value, str) and value else None

    functions = {"tag": FunctionDef("tag", tag, ([["string", "null"]]), "t", returns)}
    docs = [{"kind": k, "name": n} for k in ("x", "y", None) for n in ("", "n", None)]
    _same(PLUGIN_CALL, docs, functions=functions)
    calls.clear()
    plan = compile_body(PLUGIN_CALL, functions=functions)
    compile_plan(plan).run({"kind": "x", "name": "n"}, {}, MemoryStore())
    # A function declared to return scalars runs once for the three uses on the path.
    scalar = returns in ("string", ("string", "null"))
    assert len(calls) == (1 if scalar else 3)


def test_a_when_too_long_to_nest_is_tested_whole() -> None:
    chain = " && ".join(f"doc.k{i}" for i in range(80))
    body = f"""
rules:
  - name: long
    when: "{chain}"
    action: note
    fields: {{text: "'all'"}}
"""
    every = {f"k{i}": i for i in range(80)}  # 0 is true
    source = _same(body, [every, {**every, "k79": ""}, {**every, "k0": []}, {}])
    assert max(len(line) - len(line.lstrip()) for line in source.splitlines()) < 100


OBJECTS = """
variables:
  ids:
    object: {id: doc.id, email: doc.email}
rules:
  - name: built
    action: note
    fields:
      ids: ids
      kept: {expr: doc.a, if_null: keep}
      const: {value: c}
      none: {value: null}
      required: {expr: doc.r, if_null: error}
      maybe: doc.b
      after: {expr: doc.a, if_null: keep}
      nested:
        object:
          first: {value: 1}
          z: doc.b
          empty: {object: {x: doc.x}}
          tidy: {object: {x: doc.x}, omit_empty: true}
      merged: {merge: [doc.m, {object: {k: doc.a}}]}
  - name: skipping
    for_each: {e: doc.items}
    action: note
    fields:
      id: {expr: e.id, if_null: skip, skip_reason: no id}
      text: {expr: e.t, if_null: keep}
"""


def test_objects_hold_their_fields_in_order_whichever_are_null() -> None:
    docs = [
        {"id": i, "email": e, "a": a, "r": r, "b": b, "x": x, "m": m, "items": items}
        for i, e, a, r, b, x, m, items in itertools.product(
            [None, "p"],
            [None, "e@x"],
            [None, 0, ""],
            [None, "r"],
            [None, []],
            [None, 2],
            [None, {"k": 9, "j": 1}],
            [None, [{"id": 1, "t": None}, {"t": "x"}, 3]],
        )
    ]
    _same(OBJECTS, docs)
    plan = compile_body(OBJECTS)
    doc = {"id": "p", "r": "r", "b": "b", "a": 1, "m": {"j": 1}}
    payload = compile_plan(plan).run(doc, {}, MemoryStore()).actions[0].payload
    assert list(payload) == [
        "ids",
        "kept",
        "const",
        "required",
        "maybe",
        "after",
        "nested",
        "merged",
    ]
    assert list(payload["nested"]) == ["first", "z", "empty"]
    assert list(payload["merged"]) == ["j", "k"]


CASTS = """
rules:
  - name: casts
    action: note
    fields:
      s: {expr: doc.v, cast: string}
      i: {expr: doc.v, cast: integer}
      n: {expr: doc.v, cast: number}
      b: {expr: doc.v, cast: boolean}
      s_default: {expr: doc.v, cast: string, default: none}
      i_kept: {expr: doc.v, cast: integer, if_null: keep}
"""

#: Beyond VALUES: text casts read, large and non-finite numbers, nested values.
CAST_VALUES: list[Any] = [
    *VALUES,
    "12",
    "1.5",
    "1e3",
    " yes ",
    "no",
    -7,
    10**30,
    1e16,
    float("nan"),
    float("inf"),
    {"a": [1, "é"]},
]


def test_a_field_cast_alone_is_inlined_and_agrees_with_the_interpreter() -> None:
    source = _same(CASTS, [{"v": v} for v in CAST_VALUES] + [{}])
    assert source.count("_cast(") == 5  # s, i, n, b, i_kept: tested inline, converted by call
    assert source.count("_post(") == 1  # the one with a default goes through post-processing


def test_an_integer_cast_to_string_is_written_as_json_writes_it() -> None:
    from mapwire.language.value_rules import cast_value

    for value in (0, -7, 10**30, 2**63):
        assert cast_value(value, "string") == str(value)
    assert cast_value(True, "string") == "true"
    assert cast_value(2.0, "string") == "2.0"
