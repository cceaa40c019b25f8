"""Generated code that does less and gives the interpreter's results: a plugin call that
sibling rules make runs once between them, and a loop's lookups outside its items run
once before it (``codegen_sharing``)."""

from __future__ import annotations

import itertools
from typing import Any

from mapwire.contracts.functions import FunctionDef
from mapwire.contracts.store import MemoryStore
from mapwire.language.compiler import compile_plan
from mapwire.language.interpreter import Evaluator
from mapwire.language.mapping_settings import resolve_settings

from .conftest import compile_body

SIBLINGS = """
rules:
  - for_each: {e: doc.events}
    variables:
      kind: e.kind
    rules:
      - name: empty
        when: "kind == 'a' && !tag(e.name)"
        skip: "empty name"
      - name: named
        when: "kind == 'a' && tag(e.name)"
        action: note
        fields: {text: "tag(e.name)"}
      - name: other kind
        when: "kind != 'a' && tag(e.name)"
        action: other
        fields: {text: "tag(e.name)", kind: kind}
"""


def _tag_function(calls: list[Any]) -> dict[str, FunctionDef]:
    def tag(value: Any) -> Any:
        calls.append(value)
        if value == "boom":
            raise ValueError("tag cannot take that name")
        return f"<{value}>" if isinstance(value, str) and value else None

    return {"tag": FunctionDef("tag", tag, ([["string", "null"]]), "t", ("string", "null"))}


def _outcome(result: Any) -> tuple[Any, ...]:
    actions = [(a.action, a.payload, a.rule) for a in result.actions]
    return actions, [str(e) for e in result.errors], result.skipped


def test_a_call_sibling_rules_make_runs_once_and_errors_stay_in_each_rule() -> None:
    calls: list[Any] = []
    plan = compile_body(SIBLINGS, functions=_tag_function(calls))
    compiled, interpreted = compile_plan(plan), Evaluator(plan)
    names = [None, "", "n", "boom", 3, ["x"]]
    events = [{"kind": k, "name": n} for k, n in itertools.product(["a", "b", None], names)]
    for doc in ({"events": events}, {"events": events[::-1]}, {"events": []}, {}):
        a = interpreted.run(doc, {}, MemoryStore())
        b = compiled.run(doc, {}, MemoryStore())
        assert _outcome(a) == _outcome(b), doc
    # A failing call fails each rule that makes it, as it does alone.
    errors = [
        str(e)
        for e in compiled.run({"events": [{"kind": "a", "name": "boom"}]}, {}, MemoryStore()).errors
    ]
    assert errors == [
        "empty:e[0]: expression failed (ValueError)",
        "named:e[0]: expression failed (ValueError)",
    ]
    # The two rules of kind 'a' (or the one of another kind) call `tag` once per event.
    calls.clear()
    doc = {
        "events": [
            {"kind": "a", "name": "n"},
            {"kind": "a", "name": ""},
            {"kind": "b", "name": "m"},
        ]
    }
    result = compiled.run(doc, {}, MemoryStore())
    assert calls == ["n", "", "m"]
    assert [(a.action, a.payload["text"]) for a in result.actions] == [
        ("note", "<n>"),
        ("other", "<m>"),
    ]
    assert result.skipped == {"empty name": 1}


HOISTED = """
settings:
  kinds: {type: array, default: [a, b], items: {type: string}}
  label: {type: string, default: seen}
rules:
  - for_each: {e: doc.events}
    variables:
      picked: "contains(settings.kinds, e.kind)"
    rules:
      - name: picked
        when: "picked && settings.label"
        action: note
        fields: {text: "settings.label", kind: e.kind}
"""


class _CountingSettings(dict[str, Any]):
    """Settings that count how often generated code reads each one."""

    def __init__(self, values: dict[str, Any]) -> None:
        super().__init__(values)
        self.reads: dict[str, int] = {}

    def get(self, key: str, default: Any = None) -> Any:
        self.reads[key] = self.reads.get(key, 0) + 1
        return super().get(key, default)


def test_a_loop_reads_what_is_outside_its_items_once() -> None:
    plan = compile_body(HOISTED)
    compiled, interpreted = compile_plan(plan), Evaluator(plan)
    for kinds, label in itertools.product([["a"], [], None, "a", {"a": 1}], ["x", "", None]):
        settings = {"kinds": kinds, "label": label}  # past the settings' own checks
        for events in ([{"kind": "a"}, {"kind": "b"}, {"kind": None}], [], None, "no"):
            a = interpreted.run({"events": events}, settings, MemoryStore())
            b = compiled.run({"events": events}, settings, MemoryStore())
            assert _outcome(a) == _outcome(b), (kinds, label, events)
    counting = _CountingSettings(resolve_settings(plan, None))
    events = [{"kind": k} for k in "abcab"]
    result = compiled.run({"events": events}, counting, MemoryStore())
    assert [a.payload for a in result.actions] == [{"text": "seen", "kind": k} for k in "abab"]
    assert counting.reads == {"kinds": 1, "label": 1}
