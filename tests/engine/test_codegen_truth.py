"""Generated code tests the truth of a value as Python does only where the value can never
be a number (JMESPath finds 0 true, Python false): comparisons, strings built here,
`a && b` whose `b` is such a value, settings declared neither integer nor number. Each
case is held to the interpreter, and to JMESPath's answer written out."""

from __future__ import annotations

import json
from typing import Any

import pytest

from mapwire.contracts.store import MemoryStore
from mapwire.language.compiler import compile_plan
from mapwire.language.interpreter import Evaluator
from mapwire.language.mapping_settings import resolve_settings

from .conftest import compile_body

FALSY_AND_ZEROES: list[Any] = [0, 0.0, "", None, [], {}, False, 5, "x", [0], {"a": 0}]

CHAINS = """
rules:
  - name: chain
    action: note
    fields:
      text: "doc.n && to_string(doc.n) || 'none'"
      kept: "(doc.n && type(doc.n)) || doc.n"
      negated: "!(doc.n && to_string(doc.n))"
"""


@pytest.mark.parametrize("n", FALSY_AND_ZEROES)
def test_and_or_chains_keep_jmespath_truth_for_every_value(n: Any) -> None:
    plan = compile_body(CHAINS)
    doc = {"n": n}
    compiled = compile_plan(plan).run(doc, {}, MemoryStore())
    interpreted = Evaluator(plan).run(doc, {}, MemoryStore())
    assert [a.payload for a in compiled.actions] == [a.payload for a in interpreted.actions]
    # null, false, "", [] and {} are false; 0 and 0.0 are true
    truthy = not (n is None or n is False or (type(n) in (str, list, dict) and not n))
    payload = compiled.actions[0].payload
    as_text = n if isinstance(n, str) else json.dumps(n, separators=(",", ":"))
    assert payload["text"] == (as_text if truthy else "none")
    assert payload["negated"] is (not truthy)


SETTINGS = """
settings:
  count: {type: number, default: 0}
  label: {type: string, default: ""}
  flag: {type: boolean, default: false}
  kinds: {type: array, default: [], items: {type: string}}
rules:
  - name: count
    when: settings.count
    action: count
    fields: {text: "'count is true'"}
  - name: label
    when: settings.label
    action: label
    fields: {text: settings.label}
  - name: flag
    when: "settings.flag || settings.kinds"
    action: flag
    fields: {text: "'flag or kinds'"}
"""


@pytest.mark.parametrize(
    "given",
    [{}, {"count": 1.5, "label": "x"}, {"flag": True}, {"kinds": ["a"]}, {"count": -0.0}],
)
def test_settings_keep_jmespath_truth_whatever_their_declared_type(given: Any) -> None:
    plan = compile_body(SETTINGS)
    settings = resolve_settings(plan, given)
    compiled = compile_plan(plan).run({}, settings, MemoryStore())
    interpreted = Evaluator(plan).run({}, settings, MemoryStore())
    got = [a.action for a in compiled.actions]
    assert got == [a.action for a in interpreted.actions]
    # A number is always true to JMESPath, 0 included; "", false and [] are not.
    expected = ["count"] + (["label"] if settings["label"] else [])
    expected += ["flag"] if settings["flag"] or settings["kinds"] else []
    assert got == expected
