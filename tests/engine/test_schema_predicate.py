"""The compiled "certainly valid" predicate: never more lenient than JSON Schema, and unsure
(``False``) wherever it leaves the answer to the full validator."""

from __future__ import annotations

import collections
import datetime
import enum
import math
from typing import Any

import jsonschema
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mapwire.contracts.schema_predicate import ASCII_PATTERN, compile_predicate
from mapwire.contracts.schema_validator import SchemaValidator

DRAFT = jsonschema.Draft202012Validator
CHECKER = DRAFT.FORMAT_CHECKER

SCHEMAS: list[dict[str, Any]] = [
    {"type": "integer", "minimum": 0, "maximum": 10},
    {"type": ["string", "null"], "minLength": 2, "maxLength": 4},
    {"enum": ["a", "b", 1, True]},
    {"const": 2},
    {"type": "number", "exclusiveMinimum": 0, "exclusiveMaximum": 1.5},
    {"type": "array", "items": {"type": "string", "pattern": "^[a-z]+$"}, "maxItems": 3},
    {
        "type": "object",
        "required": ["id"],
        "additionalProperties": False,
        "minProperties": 1,
        "maxProperties": 2,
        "properties": {
            "id": {"type": "string", "minLength": 1},
            "n": {"$ref": "#/$defs/count"},
        },
        "$defs": {"count": {"type": "integer", "minimum": 1}},
    },
    {"type": "object", "additionalProperties": {"type": "boolean"}, "properties": {"x": {}}},
    {"type": "object", "propertyNames": {"minLength": 2, "maxLength": 5}, "maxProperties": 3},
    {"minLength": 1, "minimum": 3, "minItems": 1, "required": ["k"]},  # no type: per kind
    {"oneOf": [{"type": "string"}, {"type": "integer"}]},
    {"oneOf": [{"type": "integer"}, {"type": "number"}]},  # 1 is both: invalid
    {"anyOf": [{"type": "string", "maxLength": 1}, {"type": "array", "uniqueItems": True}]},
    {"not": {"anyOf": [{"required": ["id"]}, {"type": "integer"}]}},
    {  # the shape of the mapping file's rules: exactly one form, the others' keys absent
        "type": "object",
        "oneOf": [
            {"required": ["id"], "not": {"anyOf": [{"required": ["n"]}, {"required": ["x"]}]}},
            {"required": ["n"], "not": {"anyOf": [{"required": ["id"]}, {"required": ["x"]}]}},
        ],
    },
    {"not": {"enum": ["a", 1]}},  # 1.0 equals 1: unsure, not "not 1"
    {  # recursive through $defs, and through a combinator
        "$ref": "#/$defs/node",
        "$defs": {
            "node": {
                "type": "object",
                "properties": {
                    "k": {"type": "array", "items": {"$ref": "#/$defs/node"}},
                    "x": {"anyOf": [{"type": "string"}, {"$ref": "#/$defs/node"}]},
                },
            }
        },
    },
    {"type": "string", "format": "email"},
    {"type": ["string", "integer"], "pattern": ASCII_PATTERN, "maxLength": 2},
    {  # a schema narrowed by allOf, its $ref read from the root beside it
        "type": "object",
        "properties": {"id": {"$ref": "#/$defs/id"}, "n": {"type": "number"}},
        "$defs": {"id": {"type": "string", "minLength": 1}},
        "allOf": [
            {"properties": {"id": {"maxLength": 2, "pattern": ASCII_PATTERN}}},
            {"properties": {"n": {"type": "integer", "minimum": 0}}, "required": ["n"]},
        ],
    },
]

JSON_VALUES = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-5, 20)
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.sampled_from(["", "a", "ab", "abc", "A1", "x@y.z", "id", "no-at", "a\n", "é", "a\né"]),
    lambda inner: (
        st.lists(inner, max_size=4)
        | st.dictionaries(
            st.sampled_from(
                ["id", "n", "x", "k", "email", "name", "identifiers", "timestamp", "data", "y"]
            ),
            inner,
            max_size=4,
        )
    ),
    max_leaves=12,
)


@pytest.mark.parametrize("schema", SCHEMAS, ids=range(len(SCHEMAS)))
@settings(max_examples=300, deadline=None)
@given(instance=JSON_VALUES)
def test_never_more_lenient_than_json_schema(schema: dict[str, Any], instance: Any) -> None:
    quick = compile_predicate(schema, CHECKER.conforms)
    if quick(instance):
        assert DRAFT(schema, format_checker=CHECKER).is_valid(instance), instance


@pytest.mark.parametrize(
    ("schema", "instance"),
    [
        ({"type": "integer"}, True),  # a bool is not an integer
        ({"type": "integer"}, 1.0),  # valid, but left to the full validator
        ({"type": "number"}, math.nan),
        ({"type": "number", "minimum": 0}, math.inf),
        ({"enum": [1]}, True),
        ({"enum": [True]}, 1),
        ({"const": "a"}, ["a"]),
        ({"type": "string", "pattern": "^[a-z]+$"}, "A"),
        ({"type": "string", "format": "email"}, "no-at"),
        ({"not": {"type": "integer"}}, 1.0),  # 1.0 is an integer there
        ({"oneOf": [{"type": "integer"}, {"type": "number"}]}, 1.5),  # is 1.5 an integer?
        ({"not": {"type": "array", "uniqueItems": True}}, [1]),
        ({"anyOf": [{"patternProperties": {"^a": {}}}]}, {}),
        ({"$ref": "https://example.com/other.json"}, 1),
        ({"type": "array", "items": [{"type": "string"}]}, ["a"]),
        ({"type": "object", "patternProperties": {"^a": {}}}, {}),
        ({"type": "integer", "exclusiveMinimum": True}, 1),  # draft 4's boolean form
        ({"type": "string", "minLength": "1"}, "a"),  # not a count
        ({"allOf": [{"type": "string"}, {"not": {"pattern": "^("}}]}, "b"),  # no regex
        ({"allOf": []}, 1),  # not a schema
    ],
)
def test_unsure_means_false(schema: dict[str, Any], instance: Any) -> None:
    assert compile_predicate(schema, CHECKER.conforms)(instance) is False


def test_formats_are_annotations_without_a_checker() -> None:
    assert compile_predicate({"type": "string", "format": "email"})("no-at")
    assert not compile_predicate({"type": "string", "format": "email"}, CHECKER.conforms)("no-at")
    assert compile_predicate({"type": "string", "format": "email"}, CHECKER.conforms)("a@b.c")


def test_a_recursive_schema_is_bounded() -> None:
    tree = {"type": "object", "properties": {"child": {"$ref": "#"}}}
    quick = compile_predicate(tree)
    assert quick({"child": {"child": {}}})
    assert not quick({"child": {"child": 1}})


def test_nested_loops_stay_within_what_python_compiles() -> None:
    nested = {"type": "array", "items": {"$ref": "#"}}
    quick = compile_predicate(nested)
    assert quick([[[]]])
    assert not quick([1])


@settings(max_examples=500, deadline=None)
@given(text=st.text(max_size=6) | st.sampled_from(["a\n", "\né", "é\n"]))
def test_the_ascii_pattern_is_exactly_isascii(text: str) -> None:
    """Tested as ``str.isascii`` (not searched), with the full validator's very answer."""
    schema = {"type": "string", "pattern": ASCII_PATTERN}
    assert compile_predicate(schema)(text) is DRAFT(schema).is_valid(text) is text.isascii()


def test_all_of_holds_every_schema() -> None:
    narrowed = {"type": "integer", "allOf": [{"minimum": 0}, {"maximum": 9}]}
    quick = compile_predicate(narrowed)
    assert [quick(n) for n in (-1, 0, 9, 10)] == [False, True, True, False]


@pytest.mark.parametrize(
    ("schema", "instance", "valid"),
    [
        ({"not": {"type": "string"}}, 1, True),
        ({"not": {"type": "string"}}, "a", False),
        ({"oneOf": [{"type": "string"}, {"type": "integer"}]}, "a", True),
        ({"oneOf": [{"type": "string"}, {"type": "integer"}]}, None, False),
        ({"oneOf": [{"required": ["a"]}, {"required": ["b"]}]}, {"a": 1}, True),
        ({"oneOf": [{"required": ["a"]}, {"required": ["b"]}]}, {"a": 1, "b": 2}, False),
        ({"anyOf": [{"type": "string"}, {"minimum": 3}]}, 4, True),
        ({"allOf": [{"type": "string"}, {"not": {"const": "a"}}]}, "b", True),
    ],
)
def test_any_of_one_of_and_not_are_decided(
    schema: dict[str, Any], instance: Any, valid: bool
) -> None:
    """Where each schema's checks are exact the combination is answered, not left unsure."""
    assert DRAFT(schema).is_valid(instance) is valid
    assert compile_predicate(schema)(instance) is valid


EXACT = {  # checks of exact answers only: the predicate must agree with JSON Schema
    "oneOf": [
        {"required": ["id"], "not": {"anyOf": [{"required": ["n"]}, {"required": ["x"]}]}},
        {"required": ["n"], "not": {"anyOf": [{"required": ["id"]}, {"required": ["x"]}]}},
        {"type": "string", "minLength": 2},
    ]
}


@settings(max_examples=300, deadline=None)
@given(instance=JSON_VALUES)
def test_exact_combinations_agree_with_json_schema(instance: Any) -> None:
    if type(instance) is float:
        return  # left unsure where JSON Schema would call it an integer
    assert compile_predicate(EXACT)(instance) is DRAFT(EXACT).is_valid(instance), instance


def test_recursion_as_deep_as_python_goes_is_unsure_not_an_error() -> None:
    tree = {"$ref": "#/$defs/t", "$defs": {"t": {"type": "array", "items": {"$ref": "#/$defs/t"}}}}
    deep: list[Any] = []
    for _ in range(5000):
        deep = [deep]
    quick = compile_predicate(tree)
    assert quick([[[]]]) and not quick([[1]])
    assert quick(deep) is False


class _Text(str):
    pass


class _Number(enum.IntEnum):
    ONE = 1


@pytest.mark.parametrize(
    ("schema", "instance"),
    [
        ({"not": {"minimum": 0}}, math.nan),  # JSON Schema passes NaN through every bound
        ({"oneOf": [{"maximum": 0}, {}]}, math.nan),
        ({"not": {"exclusiveMaximum": 0}}, math.nan),
        ({"not": {"enum": ["a", "b"]}}, _Text("a")),  # equal to "a" for JSON Schema
        ({"not": {"enum": [1, "x"]}}, _Number.ONE),
        ({"maxLength": 1}, _Text("abc")),  # a keyword of one type, no type given
        ({"required": ["a"]}, collections.OrderedDict()),
        ({"maximum": 0}, _Number.ONE),
        (  # an anchor is not a path from the root
            {
                "$defs": {"s": {"$anchor": "a", "type": "string"}},
                "properties": {"a": {"$ref": "#a"}},
            },
            {"a": {}},
        ),
        (  # an $id below the root: its references start from it
            {
                "$defs": {"x": {"type": "string"}},
                "properties": {
                    "a": {
                        "$id": "https://example.com/sub",
                        "$ref": "#/$defs/x",
                        "$defs": {"x": {"type": "integer"}},
                    }
                },
            },
            {"a": "s"},
        ),
        ({"$schema": "http://json-schema.org/draft-04/schema#", "not": {"const": "a"}}, "b"),
        (  # a reference through a schema of its own base
            {
                "$ref": "#/$defs/a/$defs/b",
                "$defs": {
                    "a": {
                        "$id": "https://example.com/other",
                        "$defs": {"b": {"$ref": "#/$defs/x"}, "x": {"type": "integer"}},
                    },
                    "x": {"type": "string"},
                },
            },
            "s",
        ),
        (  # a draft of its own below the root: draft 4's exclusiveMinimum is a flag
            {
                "type": "object",
                "properties": {
                    "n": {
                        "$schema": "http://json-schema.org/draft-04/schema#",
                        "minimum": 0,
                        "exclusiveMinimum": -10,
                    }
                },
            },
            {"n": 0},
        ),
        (  # percent-encoded: "a b" to the validator
            {"$ref": "#/$defs/a%20b", "$defs": {"a b": {"type": "integer"}, "a%20b": {}}},
            "s",
        ),
        ({"properties": []}, {}),  # malformed keywords are not "no constraint"
        ({"required": None}, {}),
        ({"items": None}, []),
        ({"properties": {datetime.date(2020, 1, 1): {"type": "string"}}}, {}),  # not a JSON name
    ],
)
def test_what_json_schema_compares_its_own_way_is_left_unsure(
    schema: dict[str, Any], instance: Any
) -> None:
    """Each of these was once answered "valid" (or raised) where JSON Schema says invalid,
    or valid for a reason the predicate cannot see."""
    assert compile_predicate(schema, CHECKER.conforms)(instance) is False


def test_a_schema_of_another_draft_is_validated_by_that_draft() -> None:
    """Draft 4 has no ``const``: ``not {const}`` is ``not {}``, which nothing meets."""
    schema = {"$schema": "http://json-schema.org/draft-04/schema#", "not": {"const": "a"}}
    assert not jsonschema.Draft4Validator(schema).is_valid("b")
    assert SchemaValidator(schema).is_valid("b") is False


def test_combinators_nested_deeper_than_the_compiler_goes_are_unsure_not_an_error() -> None:
    schema: dict[str, Any] = {}
    for _ in range(400):
        schema = {"anyOf": [schema, {"type": "null"}]}
    assert compile_predicate(schema)(1) is False
    assert compile_predicate(schema)(None) is True  # the outermost choice is decided
