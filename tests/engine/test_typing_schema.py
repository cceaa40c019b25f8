"""The schema-type algebra and the AST walk, on small schemas."""

from __future__ import annotations

from typing import Any

import pytest

from mapwire.contracts.errors import PluginError
from mapwire.language.expressions import parse
from mapwire.language.function_types import returns_type
from mapwire.language.type_infer import Inferer
from mapwire.language.typing_schema import Ty, from_schema, lookup, of_value
from mapwire.runtime.registry import _function_def

SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["kind", "id"],
    "properties": {
        "kind": {"const": "order"},
        "id": {"type": ["string", "integer"]},
        "status": {"$ref": "#/$defs/status"},
        "note": {"type": "string", "nullable": True},
        "lines": {"type": "array", "items": {"$ref": "#/$defs/line"}},
        "attrs": {"type": "object", "additionalProperties": {"type": "string"}},
        "extra": {"type": "object"},
        "codes": {"type": "object", "patternProperties": {"^x_": {"type": "integer"}}},
        "either": {"oneOf": [{"type": "string"}, {"type": "object", "properties": {"a": {}}}]},
        "both": {"allOf": [{"properties": {"p": {"type": "integer"}}}, {"required": ["p"]}]},
    },
    "$defs": {
        "status": {"type": "string", "enum": ["open", "paid"]},
        "line": {"type": "object", "properties": {"sku": {"type": "string"}}},
    },
}


def _infer(text: str, schema: dict[str, Any] = SCHEMA) -> tuple[Ty, list[str]]:
    inferer = Inferer({"doc": from_schema(schema)}, {"shout": returns_type(["string", "null"])})
    ty = inferer.infer(text, parse(text))
    return ty, [f"{f.offset} {f.code}" for f in inferer.findings]


def test_const_enum_ref_and_required() -> None:
    doc = from_schema(SCHEMA)
    kind, declared = lookup(doc, "kind")
    assert declared and kind.kinds == {"string"} and kind.values == {"order"}
    status, _ = lookup(doc, "status")
    assert status.kinds == {"string", "null"} and status.values == {"open", "paid", None}
    ident, _ = lookup(doc, "id")
    assert ident.kinds == {"string", "integer"}  # required: never null
    note, _ = lookup(doc, "note")
    assert note.kinds == {"string", "null"}


def test_closed_objects_free_form_maps_and_patterns() -> None:
    doc = from_schema(SCHEMA)
    assert lookup(doc, "stauts")[1] is False  # declared properties: a typo
    attrs, _ = lookup(doc, "attrs")
    value, declared = lookup(attrs, "anything")
    assert declared and value.kinds == {"string", "null"}
    extra, _ = lookup(doc, "extra")
    assert lookup(extra, "whatever")[1] is None  # free-form: anything goes
    codes, _ = lookup(doc, "codes")
    assert lookup(codes, "x_1")[0].kinds == {"integer", "null"}


def test_any_of_one_of_and_all_of() -> None:
    doc = from_schema(SCHEMA)
    either, _ = lookup(doc, "either")
    assert {"string", "object"} <= either.kinds
    both, _ = lookup(doc, "both")
    p, declared = lookup(both, "p")
    assert declared and p.kinds == {"integer", "null"}  # `both` itself may be absent


@pytest.mark.parametrize(
    ("text", "kinds", "findings"),
    [
        ("doc.lines[*].sku", {"array", "null"}, []),
        ("doc.lines[0].sku", {"string", "null"}, []),
        ("doc.lines.sku", None, ["10 E502"]),
        ("doc.lines[*].skuu", {"array", "null"}, ["13 E501"]),
        ("doc.status == 'paied'", {"boolean"}, ["14 E503"]),
        ("doc.kind == 'order'", {"boolean"}, []),
        ("doc.kind != 'order' && doc.id", {"boolean"}, []),
        ("doc.note || 'none'", {"string"}, []),
        ("{a: doc.id, b: `1`}.b", {"integer"}, []),
        ("shout(doc.note)", {"string", "null"}, []),
        ("length(doc.lines)", {"integer"}, []),
        ("doc.lines[?sku == 'x'].sku | [0]", {"string", "null"}, []),
    ],
)
def test_inference(text: str, kinds: set[str] | None, findings: list[str]) -> None:
    ty, found = _infer(text)
    if kinds is None:
        assert not ty.checked  # reported: nothing more is said downstream
    else:
        assert set(ty.kinds) == kinds, ty
    assert found == findings


def test_literal_types() -> None:
    assert of_value([1, "a"]).items is not None
    assert of_value({"a": 1}).shapes


def test_plugin_functions_declare_their_result_type() -> None:
    _, old = _function_def("p", "f", len, [["string"]])
    assert old.returns == "any"  # a registration from before `returns=` still works
    _, new = _function_def("p", "g", len, [["string"]], returns=["integer", "null"])
    assert new.returns == ("integer", "null")
    with pytest.raises(PluginError, match="returns 'text'"):
        _function_def("p", "h", len, [], returns="text")


def test_an_impossible_inequality_is_always_true() -> None:
    inferer = Inferer({"doc": from_schema(SCHEMA)}, {})
    inferer.infer("doc.status != 'paied'", parse("doc.status != 'paied'"))
    (finding,) = inferer.findings
    assert finding.code == "E503"
    assert finding.message.startswith("always true: 'paied' is compared with one of 'open', 'paid'")
