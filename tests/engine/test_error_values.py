"""Per-item errors describe types, never the input's values (which may be personal data)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from mapwire.contracts.actions import MapResult
from mapwire.contracts.errors import ItemError

Run = Callable[..., MapResult]
SECRET = "ann@example.com"
DOC: dict[str, Any] = {"data": {"secret": SECRET}, "list": [1, {"secret": SECRET}], "n": SECRET}

BODY = """
rules:
  - name: lowered
    action: a
    fields: {f: "starts_with(doc.data, 'a')"}
  - name: joined
    action: a
    fields: {f: "join(',', doc.list)"}
  - name: absolute
    action: a
    fields: {f: "abs(doc.n)"}
  - name: looped
    for_each: {x: doc.data}
    action: a
    fields: {f: x}
  - name: needed
    action: a
    fields: {f: {expr: doc.missing, required: true}}
"""


def _errors(run: Run) -> dict[str, ItemError]:
    result = run(BODY, DOC)
    errors = [e for e in result.errors if isinstance(e, ItemError)]
    assert len(errors) == len(result.errors) == 5
    return {e.rule: e for e in errors}


def test_type_errors_name_the_types_not_the_value(run: Run) -> None:
    errors = _errors(run)
    assert errors["lowered"].detail == "function starts_with(): expected string, got object"
    assert errors["joined"].detail == "function join(): expected array of strings, got number"
    assert errors["absolute"].detail == "function abs(): expected number, got string"
    assert errors["looped"].detail == "for_each 'x' expected an array, got object"
    for name in ("lowered", "joined", "absolute", "looped"):
        assert errors[name].code == "wrong_type"
    assert errors["needed"].code == "required_null"
    for name in ("lowered", "joined", "absolute", "needed"):  # the field it failed in
        assert errors[name].field == "f", name
    assert str(errors["absolute"]) == "absolute:f: function abs(): expected number, got string"
    assert all(SECRET not in str(e) and "secret" not in str(e) for e in errors.values())


def test_an_error_inside_an_expression_reference_names_its_own_field(run: Run) -> None:
    """The same ``&expr`` in two fields: a type error in the second names the second."""
    body = """
rules:
  - name: r
    action: a
    fields: {f: "max_by(doc.ok, &abs(k))", g: "max_by(doc.o, &abs(k))"}
"""
    result = run(body, {"ok": [{"k": 1}], "o": [{"k": "x"}, {"k": "y"}]})
    assert [(e.field, str(e)) for e in result.errors] == [
        ("g", "r:g: function abs(): expected number, got string")
    ]
