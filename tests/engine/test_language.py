"""The mapping language's semantics, one behaviour per test."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import pytest

from mapwire.contracts.actions import MapResult

Run = Callable[..., MapResult]


def payloads(result: MapResult) -> list[dict[str, Any]]:
    return [a.payload for a in result.actions]


def one_field(spec: str) -> str:
    return f"""
rules:
  - action: a
    fields:
      f: {spec}
"""


# -- null, missing, false, empty --------------------------------------------------------------
@pytest.mark.parametrize(
    ("spec", "doc", "expected"),
    [
        ("doc.x", {"x": 1}, {"f": 1}),
        ("doc.x", {}, {}),  # missing -> null -> omitted
        ("doc.x", {"x": None}, {}),  # explicit null behaves exactly like missing
        ("doc.x", {"x": False}, {"f": False}),  # false is a value
        ("doc.x", {"x": 0}, {"f": 0}),  # 0 is a value
        ("doc.x", {"x": ""}, {"f": ""}),  # empty string is a value
        ("doc.x", {"x": []}, {"f": []}),
        ("doc.x", {"x": {}}, {"f": {}}),
        ("{expr: doc.x, if_null: keep}", {}, {"f": None}),
        ("{expr: doc.x, default: 7}", {}, {"f": 7}),
        ("{expr: doc.x, default: 7}", {"x": False}, {"f": False}),  # default ignores false
        ("{expr: doc.x, default: 7}", {"x": ""}, {"f": ""}),
        ("{expr: doc.x, omit_empty: true}", {"x": ""}, {}),
        ("{expr: doc.x, omit_empty: true}", {"x": []}, {}),
        ("{expr: doc.x, omit_empty: true, default: d}", {"x": {}}, {"f": "d"}),
        ("{expr: doc.x, omit_empty: true}", {"x": False}, {"f": False}),
        ("{expr: doc.x, omit_empty: true}", {"x": 0}, {"f": 0}),
        ("true", {}, {"f": True}),  # a YAML scalar is a literal
        ("3", {}, {"f": 3}),
        ("null", {}, {}),
        ("{value: [1, {a: b}]}", {}, {"f": [1, {"a": "b"}]}),
        ("\"'lit'\"", {}, {"f": "lit"}),  # a JMESPath raw string literal
    ],
)
def test_null_missing_false_empty(run: Run, spec: str, doc: Any, expected: dict[str, Any]) -> None:
    assert payloads(run(one_field(spec), doc)) == [expected]


def test_required_null_is_a_per_item_error_not_a_crash(run: Run) -> None:
    body = """
rules:
  - name: ev
    for_each: {e: doc.items}
    action: a
    fields:
      f: {expr: e.v, required: true}
"""
    result = run(body, {"items": [{"v": 1}, {}, {"v": 3}]})
    assert payloads(result) == [{"f": 1}, {"f": 3}]
    assert [str(e) for e in result.errors] == ["ev:e[1]:f: required field 'f' is null"]


def test_if_null_skip_counts_the_reason(run: Run) -> None:
    body = """
rules:
  - for_each: {e: doc.items}
    action: a
    fields:
      id: {expr: e.id, if_null: skip, skip_reason: no usable id}
"""
    result = run(body, {"items": [{"id": "x"}, {}, {"id": None}]})
    assert payloads(result) == [{"id": "x"}]
    assert result.skipped == {"no usable id": 2}
    assert result.errors == []


def test_first_takes_first_non_null_fallback(run: Run) -> None:
    spec = "{first: [doc.a, doc.b, {value: fallback}]}"
    assert payloads(run(one_field(spec), {"b": False})) == [{"f": False}]
    assert payloads(run(one_field(spec), {"a": None, "b": None})) == [{"f": "fallback"}]
    assert payloads(run(one_field(spec), {"a": "x", "b": "y"})) == [{"f": "x"}]


def test_first_applies_each_fallbacks_own_post_processing(run: Run) -> None:
    spec = "{first: [{expr: doc.a, omit_empty: true}, doc.b]}"
    assert payloads(run(one_field(spec), {"a": "", "b": "B"})) == [{"f": "B"}]


def test_nested_object_drops_null_subfields_and_is_never_null(run: Run) -> None:
    body = """
rules:
  - action: a
    fields:
      ids:
        object:
          id: doc.id
          email: doc.email
          inner: {object: {x: doc.x}}
"""
    assert payloads(run(body, {"email": "e@x"})) == [{"ids": {"email": "e@x", "inner": {}}}]


def test_template(run: Run) -> None:
    spec = "{template: 'In {doc.name} ({doc.n}) {{x}}'}"
    assert payloads(run(one_field(spec), {"name": "New Users", "n": 3})) == [
        {"f": "In New Users (3) {x}"}
    ]
    assert payloads(run(one_field(spec), {"n": 3})) == [{}]  # a null placeholder -> null


def test_value_map_and_map_default(run: Run) -> None:
    spec = "{expr: doc.m, map: {sent: email_sent, '1': one}}"
    assert payloads(run(one_field(spec), {"m": "sent"})) == [{"f": "email_sent"}]
    assert payloads(run(one_field(spec), {"m": 1})) == [{"f": "one"}]
    assert payloads(run(one_field(spec), {"m": "other"})) == [{"f": "other"}]
    strict = "{expr: doc.m, map: {sent: email_sent}, map_default: null}"
    assert payloads(run(one_field(strict), {"m": "other"})) == [{}]


def test_rename_and_omit_keys(run: Run) -> None:
    spec = "{expr: doc.attrs, rename: {$FirstName: first_name}, omit: [secret]}"
    doc = {"attrs": {"$FirstName": "Ann", "secret": 1, "plan": "pro"}}
    assert payloads(run(one_field(spec), doc)) == [{"f": {"first_name": "Ann", "plan": "pro"}}]


@pytest.mark.parametrize(
    ("cast", "value", "expected"),
    [
        ("string", 12, "12"),
        ("string", True, "true"),
        ("string", {"a": 1}, '{"a":1}'),
        ("integer", "42", 42),
        ("integer", 4.0, 4),
        ("integer", 4.5, None),
        ("integer", "x", None),
        ("integer", True, None),
        ("number", "4.5", 4.5),
        ("boolean", "true", True),
        ("boolean", "False", False),
        ("boolean", "maybe", None),
        ("boolean", 0, False),
    ],
)
def test_cast(run: Run, cast: str, value: Any, expected: Any) -> None:
    result = run(one_field(f"{{expr: doc.v, cast: {cast}, if_null: keep}}"), {"v": value})
    assert payloads(result) == [{"f": expected}]


# -- fan-out, parents, routing -----------------------------------------------------------------
def test_fan_out_nested_with_parent_and_root_access(run: Run) -> None:
    body = """
rules:
  - for_each:
      profile: doc.user_profiles
      audience: profile.audiences
    action: a
    fields:
      request: doc.id
      mpid: profile.mpid
      audience: audience.audience_id
"""
    doc = {
        "id": "r1",
        "user_profiles": [
            {"mpid": "1", "audiences": [{"audience_id": 10}, {"audience_id": 11}]},
            {"mpid": "2", "audiences": [{"audience_id": 12}]},
            {"mpid": "3"},
        ],
    }
    assert payloads(run(body, doc)) == [
        {"request": "r1", "mpid": "1", "audience": 10},
        {"request": "r1", "mpid": "1", "audience": 11},
        {"request": "r1", "mpid": "2", "audience": 12},
    ]


def test_for_each_over_a_non_list_is_an_item_error(run: Run) -> None:
    body = """
rules:
  - for_each: {e: doc.items}
    action: a
    fields: {f: e}
"""
    result = run(body, {"items": {"not": "a list"}})
    assert result.actions == []
    assert "expected an array, got" in str(result.errors[0])


def test_when_routes_and_children_inherit_scope(run: Run) -> None:
    body = """
variables:
  who: doc.user
rules:
  - for_each: {e: doc.events}
    variables:
      kind: e.type
    rules:
      - when: "kind == 'click'"
        action: click
        fields: {who: who, n: e.n}
      - when: "kind == 'view'"
        action: view
        fields: {who: who}
      - when: "!contains(['click', 'view'], kind)"
        skip: ignored event type
"""
    doc = {
        "user": "u",
        "events": [{"type": "click", "n": 1}, {"type": "view"}, {"type": "other"}, {"type": "x"}],
    }
    result = run(body, doc)
    assert [(a.action, a.payload) for a in result.actions] == [
        ("click", {"who": "u", "n": 1}),
        ("view", {"who": "u"}),
    ]
    assert result.skipped == {"ignored event type": 2}


def test_one_input_many_actions_and_zero_actions(run: Run) -> None:
    body = """
rules:
  - action: one
    fields: {x: doc.x}
  - when: doc.x
    action: two
    fields: {x: doc.x}
"""
    assert [a.action for a in run(body, {"x": 1}).actions] == ["one", "two"]
    assert [a.action for a in run(body, {"x": 0}).actions] == ["one", "two"]  # 0 is truthy
    assert [a.action for a in run(body, {"x": ""}).actions] == ["one"]


def test_when_is_checked_before_variables(run: Run) -> None:
    # A variable that would fail on other items must not run for items `when` filters out.
    body = """
rules:
  - for_each: {e: doc.events}
    when: "e.type == 'num'"
    variables:
      doubled: "sum([e.n, e.n])"
    action: a
    fields: {d: doubled}
"""
    result = run(body, {"events": [{"type": "num", "n": 2}, {"type": "text", "n": "x"}]})
    assert payloads(result) == [{"d": 4}]
    assert result.errors == []


def test_runtime_type_error_is_a_per_item_error(run: Run) -> None:
    body = """
rules:
  - for_each: {e: doc.events}
    action: a
    fields: {n: "abs(e.n)"}
"""
    result = run(body, {"events": [{"n": -1}, {"n": "x"}, {"n": 2}]})
    assert payloads(result) == [{"n": 1}, {"n": 2}]
    assert len(result.errors) == 1 and "e[1]" in str(result.errors[0])


# -- settings, variables, dedup, state ---------------------------------------------------------
SETTINGS_BODY = """
settings:
  include: {type: boolean, default: true, description: include attributes}
  mode: {type: string, enum: [a, b], default: a}
rules:
  - action: a
    fields:
      attrs: {expr: "settings.include && doc.attrs || `null`", if_null: omit}
      mode: settings.mode
"""


def test_settings_defaults_and_overrides(run: Run) -> None:
    doc = {"attrs": {"k": 1}}
    assert payloads(run(SETTINGS_BODY, doc)) == [{"attrs": {"k": 1}, "mode": "a"}]
    assert payloads(run(SETTINGS_BODY, doc, {"include": False, "mode": "b"})) == [{"mode": "b"}]


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"includ": True}, "unknown setting 'includ' (did you mean 'include'?)"),
        ({"include": "yes"}, "expects boolean"),
        ({"mode": "c"}, "is not one of"),
    ],
)
def test_bad_settings_are_reported(run: Run, overrides: dict[str, Any], message: str) -> None:
    from mapwire.contracts.errors import ConfigError

    with pytest.raises(ConfigError, match=re.escape(message)):
        run(SETTINGS_BODY, {}, overrides)


def test_variables_are_evaluated_in_order(run: Run) -> None:
    body = """
variables:
  a: doc.x
  b: "[a, a]"
rules:
  - action: a
    fields: {b: b}
"""
    assert payloads(run(body, {"x": 1})) == [{"b": [1, 1]}]


def test_dedup_keys_are_attached(run: Run) -> None:
    body = """
rules:
  - for_each: {e: doc.events}
    dedup_key: ["e.id", "join(':', [e.kind, e.id])", "e.missing"]
    action: a
    fields: {id: e.id}
"""
    result = run(body, {"events": [{"id": "1", "kind": "k"}]})
    assert result.actions[0].dedup_keys == ("1", "k:1")


def test_membership_state_accumulates_and_ignores_stale_changes(
    make_plan: Callable[..., Any],
) -> None:
    from mapwire.contracts.store import MemoryStore
    from mapwire.language.interpreter import Evaluator

    plan = make_plan(
        """
rules:
  - for_each: {p: doc.profiles}
    state:
      member_of:
        key: p.id
        add: "p.audiences[?action == 'add'].to_string(audience_id)"
        remove: "p.audiences[?action == 'delete'].to_string(audience_id)"
        version: doc.ts
    action: a
    fields: {ids: member_of}
"""
    )
    store = MemoryStore()
    ev = Evaluator(plan)

    def send(ts: int, audiences: list[dict[str, Any]]) -> Any:
        doc = {"ts": ts, "profiles": [{"id": "p1", "audiences": audiences}]}
        return ev.run(doc, {}, store).actions[0].payload["ids"]

    assert send(10, [{"audience_id": 2, "action": "add"}, {"audience_id": 1, "action": "add"}]) == [
        "1",
        "2",
    ]
    assert send(20, [{"audience_id": 2, "action": "delete"}]) == ["1"]
    # An older add for audience 2 arriving late does not undo the newer delete.
    assert send(15, [{"audience_id": 2, "action": "add"}]) == ["1"]
    assert send(30, [{"audience_id": 1, "action": "delete"}]) == []


CHANGES_BODY = """
rules:
  - for_each: {p: doc.profiles}
    state:
      member_of:
        key: p.id
        add: "p.add"
        remove: "p.remove"
        version: doc.ts
        changes: changed
    action: a
    fields:
      ids: member_of
      changed: changed
"""


@pytest.mark.parametrize("kind", ["interpreted", "compiled"])
def test_state_changes_binding_says_what_each_change_did(
    make_plan: Callable[..., Any], kind: str
) -> None:
    from mapwire.contracts.store import MemoryStore
    from mapwire.language.compiler import compile_plan
    from mapwire.language.interpreter import Evaluator

    plan = make_plan(CHANGES_BODY)
    runner = Evaluator(plan) if kind == "interpreted" else compile_plan(plan)
    store = MemoryStore()

    def send(ts: int, add: list[str], remove: list[str]) -> Any:
        doc = {"ts": ts, "profiles": [{"id": "p1", "add": add, "remove": remove}]}
        return runner.run(doc, {}, store).actions[0].payload

    def change(member: str, present: bool, applied: bool, was: bool | None) -> dict[str, Any]:
        return {"member": member, "present": present, "applied": applied, "was_present": was}

    assert send(10, ["a"], ["b"]) == {
        "ids": ["a"],
        "changed": [change("a", True, True, None), change("b", False, True, None)],
    }
    # Older than what is stored for "a": stale, not applied; "c" is new.
    assert send(5, ["c"], ["a"]) == {
        "ids": ["a", "c"],
        "changed": [change("c", True, True, None), change("a", False, False, True)],
    }
    assert send(20, [], ["a"]) == {"ids": ["c"], "changed": [change("a", False, True, True)]}
    assert send(30, [], []) == {"ids": ["c"], "changed": []}


def test_state_changes_name_is_in_scope_and_checked(make_plan: Callable[..., Any]) -> None:
    from mapwire.contracts.errors import SpecError

    with pytest.raises(SpecError, match="is reserved"):
        make_plan(CHANGES_BODY.replace("changes: changed", "changes: doc"))
    with pytest.raises(SpecError, match="unknown name 'changd'"):
        make_plan(CHANGES_BODY.replace("changed: changed", "changed: changd"))


def test_input_is_not_mutated(run: Run) -> None:
    import copy

    body = """
rules:
  - for_each: {e: doc.events}
    action: a
    fields:
      data: {expr: e.attrs, rename: {a: b}}
      lit: {value: {k: [1]}}
"""
    doc = {"events": [{"attrs": {"a": 1}}, {"attrs": {"a": 2}}]}
    before = copy.deepcopy(doc)
    result = run(body, doc)
    result.actions[0].payload["lit"]["k"].append(2)
    assert doc == before
    assert result.actions[1].payload["lit"] == {"k": [1]}


def test_merge_objects_later_keys_win_nulls_ignored(run: Run) -> None:
    spec = "{merge: [doc.a, doc.missing, {object: {k: doc.k, gone: doc.nope}}, doc.b]}"
    doc = {"a": {"x": 1, "k": 0}, "b": {"y": 2}, "k": 5}
    assert payloads(run(one_field(spec), doc)) == [{"f": {"x": 1, "k": 5, "y": 2}}]


def test_skip_reason_template(run: Run) -> None:
    body = """
rules:
  - for_each: {e: doc.events}
    skip: "ignored event type {e.type}"
"""
    result = run(body, {"events": [{"type": "a"}, {"type": "b"}, {"type": "a"}, {}]})
    assert result.skipped == {"ignored event type a": 2, "ignored event type b": 1, "skipped": 1}


def test_source_may_list_several_shapes(make_plan: Callable[..., Any]) -> None:
    from mapwire.language.planner import compile_text

    text = "mapwire: 1\nname: t\nsource: [a.one, a.two]\ndestination: d\nrules:\n  - skip: x\n"
    assert compile_text(text, "t.yaml").sources == ("a.one", "a.two")


def test_null_variables_are_null_not_truthy(run: Run) -> None:
    body = """
variables:
  a: doc.missing
  b: {expr: doc.missing, default: d}
rules:
  - when: "!a"
    action: x
    fields: {a: {expr: a, if_null: keep}, b: b}
"""
    assert payloads(run(body, {})) == [{"a": None, "b": "d"}]
