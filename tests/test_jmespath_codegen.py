"""The JMESPath code generator against jmespath's own interpreter.

Property tests evaluate realistic expressions on random JSON documents both ways: the
results must be identical (values, types, key order), and where jmespath raises, the
compiled function must raise the same exception class.
"""

from __future__ import annotations

import ast
import copy
from collections import OrderedDict
from typing import Any

import jmespath
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from jmespath import exceptions as jexc

from mapwire.contracts.functions import FunctionDef
from mapwire.language.jmespath_codegen import PyGen, _compile, compile_expression
from mapwire.language.jmespath_support import (
    Builtins,
    Interpreter,
    jmespath_signature,
    make_functions_class,
)

SETTINGS = settings(
    max_examples=200,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow],
)

KEYS = ["a", "b", "c", "d", "x", "y", "z", "k", "v", "items", "data"]


def _one(strategy: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    """One branch of a ``|`` (``one_of`` flattens nested unions, losing their weight)."""
    return st.deferred(lambda: strategy)


SCALARS = _one(
    st.none()
    | st.booleans()
    | st.integers(min_value=-3, max_value=3)
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.sampled_from(["", "y", "x", "a,b", "0"])
    | st.text(max_size=4)
)


INNER_KEYS = st.sampled_from(["a", "b", "c", "d", "x", "y", "z", "k", "v"])


def _tree(depth: int) -> st.SearchStrategy[Any]:
    """JSON values up to ``depth`` deep, biased towards objects so that paths resolve."""
    if depth == 0:
        return SCALARS
    inner = _tree(depth - 1)
    objects = st.dictionaries(INNER_KEYS, inner, max_size=3)
    return _one(SCALARS | st.lists(inner, max_size=3) | objects | objects)


def _chain(keys: str) -> st.SearchStrategy[Any]:
    """``{"b": {"c": {"d": ...}}}`` for keys "bcd", with random side keys and leaf."""
    value: st.SearchStrategy[Any] = SMALL
    for key in reversed(keys):
        value = st.fixed_dictionaries({key: value}, optional={"x": SMALL, "y": SMALL})
    return value


SMALL = _tree(2)
VALUES = _tree(5)
# Lists of objects, so that filters and projections have something to select.
ROW = st.fixed_dictionaries(
    {}, optional=dict.fromkeys("xyzkvab", SCALARS | SMALL) | {"x": st.sampled_from(["y", 1])}
)
ROWS = st.lists(ROW, min_size=1, max_size=5)
SORTABLE = st.lists(st.fixed_dictionaries({"b": st.integers(-3, 3)}), max_size=4) | st.lists(
    st.fixed_dictionaries({"b": st.text(max_size=2)}, optional={"c": SCALARS}), max_size=4
)
NUMBERS = st.lists(st.integers(-5, 5) | st.floats(-10, 10), max_size=4)
STRINGS = st.lists(st.sampled_from(["", "x", "y", "b"]) | st.text(max_size=3), max_size=4)
SHAPED_A = st.one_of(
    _one(_chain("bcd")),
    _one(_chain("bc")),
    _one(ROWS),
    _one(st.dictionaries(INNER_KEYS, _chain("b"), max_size=3)),
    _one(SORTABLE),
    _one(NUMBERS),
    _one(STRINGS),
    _one(VALUES),
)
# Documents shaped for the expressions below, with random leaves.
SHAPED = st.fixed_dictionaries(
    {"a": SHAPED_A, "c": _chain("d") | SHAPED_A, "items": ROWS, "data": _chain("abcd")},
    optional={"b": SHAPED_A} | dict.fromkeys("xyzkv", SCALARS),
)
# Anything at all: each top-level key is present or not independently.
RANDOM = st.fixed_dictionaries({}, optional=dict.fromkeys(KEYS, VALUES | ROWS))
DOCS = _one(SHAPED) | _one(RANDOM)

EXPRESSIONS = [
    # field paths, indices, slices
    "a",
    "a.b",
    "a.b.c",
    "a.b.c.d",
    "data.a.b.c.d",
    "data.a.b",
    "c.d",
    "a[0].b",
    "a[-1]",
    "a[1]",
    "a[0][0]",
    "a[1:]",
    "a[:2]",
    "a[::-1]",
    "a[-2:0:-1].b",
    "items[::2][0]",
    # logic
    "a.b || c.d",
    "a || `0`",
    "a && b",
    "a && b || c",
    "!a",
    "!a.b",
    "!(a || b)",
    # comparisons, mixing types
    "a == b",
    "a != b",
    "a == `1`",
    "a == `true`",
    "a == `0`",
    "a == 'y'",
    "a == `null`",
    "a == `[]`",
    "a < b",
    "a >= `1`",
    "a.b > c",
    "data.a.b.c.d > c.d",
    "items[0].z <= items[1].z",
    "`2` <= a",
    # projections
    "items[?x == 'y'].z",
    "items[?x].y",
    "items[?x > `0`]",
    "items[?!(x == y)].k",
    "items[?a && b][]",
    "items[*].{k: k, v: v}",
    "items[*].[x, y]",
    "items[*].x",
    "items[*].x.y",
    "items[?x == 'y'].{z: z, k: k}",
    "items[?z]",
    "items[?x != 'y' || z == `1`].a",
    "items[*].x[*].y",
    "a.*",
    "a.*.b",
    "*.x",
    "a[]",
    "a[][]",
    "a[].b",
    "a[*][*]",
    "items[?x == 'y'] | [0]",
    "a[*].b | [0]",
    # functions
    "to_string(a)",
    "to_number(a)",
    "to_array(a)",
    "join(',', a[*].b)",
    "join(',', a)",
    "length(a)",
    "type(a)",
    "sort_by(a, &b)",
    "sort_by(items, &x)[*].x",
    "max_by(a, &b)",
    "min_by(items, &z)",
    "map(&b, a)",
    "map(&[x, y], items)",
    "merge(a, b)",
    "not_null(a, b, 'x')",
    "not_null(a.b, c)",
    "contains(a, 'y')",
    "starts_with(a, 'x')",
    "keys(a)",
    "values(a)",
    "sort(a)",
    "max(a)",
    "min(a)",
    "sum(a)",
    "avg(a)",
    "abs(a)",
    "ceil(a)",
    "reverse(a)",
    "length(`[1, 2]`)",
    # pipes, multi-selects, current node
    "a | b",
    "a | b | c",
    "[a, b]",
    "[a, b][1]",
    "{x: a, y: b.c}",
    "@",
    "@.a",
    "a.{first: b, second: c}",
    '`{"a": [1, 2]}`',
    "'raw'",
]


def _outcome(fn: Any, *args: Any) -> tuple[str, Any]:
    try:
        return "ok", fn(*args)
    except Exception as exc:
        return "error", type(exc)


#: The reference: jmespath's interpreter and builtins, as mapwire answers where they would
#: raise Python's TypeError (``Interpreter``: a string ordered against a number is null;
#: ``Builtins``: ``contains`` on a string and a search that is not one is false).
REFERENCE = Interpreter(jmespath.Options(custom_functions=Builtins()))


def search(expression: str, doc: Any) -> Any:
    return REFERENCE.visit(jmespath.compile(expression).parsed, doc)


def assert_same(compiled: Any, expression: str, doc: Any) -> None:
    expected = _outcome(search, expression, doc)
    actual = _outcome(compiled, doc)
    # repr tells 1 from 1.0 and True, and shows dict key order.
    assert repr(actual) == repr(expected), compiled.source


COMPILED = [compile_expression(e) for e in EXPRESSIONS]


def test_no_fallback_for_realistic_expressions() -> None:
    assert [c.expression for c in COMPILED if c.fallback_nodes] == []


@SETTINGS
@given(doc=DOCS)
def test_matches_interpreter(doc: dict[str, Any]) -> None:
    before = copy.deepcopy(doc)
    for compiled in COMPILED:
        assert_same(compiled, compiled.expression, doc)
    assert doc == before, "the input document was changed"


@SETTINGS
@given(doc=VALUES | ROWS)
def test_any_root_value(doc: Any) -> None:
    """Roots that are lists, scalars or null, not only objects."""
    for compiled in COMPILED:
        assert_same(compiled, compiled.expression, doc)


def _grammar(inner: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    field = st.sampled_from(["a", "b", "c", "x"])
    op = st.sampled_from(["==", "!=", "<", "<=", ">", ">="])
    index = st.integers(-2, 2)
    bound = st.sampled_from(["", "1", "-1", "2"])
    step = st.sampled_from(["", "1", "-1", "2"])
    unary = st.sampled_from(["length", "type", "to_string", "to_number", "to_array", "keys"])
    binary = st.sampled_from(["contains", "starts_with", "join", "merge", "not_null"])
    by = st.sampled_from(["sort_by", "max_by", "min_by", "map"])
    return st.one_of(
        st.builds("{}.{}".format, inner, field),
        st.builds("{}[{}]".format, inner, index),
        st.builds("{}[{}:{}:{}]".format, inner, bound, bound, step),
        st.builds("{}[*].{}".format, inner, field),
        st.builds("{}[?{}]".format, inner, inner),
        st.builds("{}.*".format, inner),
        st.builds("{}[]".format, inner),
        st.builds("({} || {})".format, inner, inner),
        st.builds("({} && {})".format, inner, inner),
        st.builds("!{}".format, inner),
        st.builds("({} {} {})".format, inner, op, inner),
        st.builds("{} | {}".format, inner, inner),
        st.builds("[{}, {}]".format, inner, inner),
        st.builds("{{k: {}, v: {}}}".format, inner, inner),
        st.builds("{}({})".format, unary, inner),
        st.builds("{}({}, {})".format, binary, inner, inner),
        st.builds("{}({}, &{})".format, by, inner, inner),
    )


ATOMS = st.sampled_from(
    [
        *["a", "b", "c", "x", "@"],
        *["`0`", "`1`", "`true`", "`null`", "'y'", "''", "`[]`", "`{}`", "`2.5`"],
        *["`[1, 2]`", '`{"a": 1}`'],
    ]
)
GRAMMAR = st.recursive(ATOMS, _grammar, max_leaves=8)


@SETTINGS
@given(expression=GRAMMAR, docs=st.lists(DOCS | VALUES, min_size=1, max_size=3))
def test_random_expressions(expression: str, docs: list[Any]) -> None:
    """Expressions built from the grammar at random, odd combinations included."""
    try:
        jmespath.compile(expression)
    except jexc.JMESPathError:
        return  # e.g. `&x` where sort_by wants its first argument
    compiled = compile_expression(expression)
    for doc in docs:
        assert_same(compiled, expression, doc)


@pytest.mark.parametrize(
    ("expression", "doc"),
    [
        ("a < b", {"a": "x", "b": 1}),  # null: Python's TypeError in jmespath
        ("a >= `1`", {"a": "x"}),
        ("'x' <= a", {"a": 2.5}),
        ("a > b", {"a": "b", "b": "a"}),
        ("a[1:2:0]", {"a": [1, 2]}),  # ValueError: slice step cannot be zero
        ("a[1:2:0]", {"a": "not a list"}),
        ("length(a)", {"a": 5}),
        ("length(a, b)", {}),
        ("nope(a)", {}),
        ("a || nope(a)", {"a": 1}),  # the right side of || is not evaluated
        ("a && length(a)", {"a": 0}),
        ("[length(@)]", None),  # multi-select on null is null; length never runs
        ("sort_by(a, &b)", {"a": [{"b": 1}, {"b": "x"}]}),
        ("sort_by(a, &b)", {"a": [{"b": [1]}]}),
        ("join(',', a)", {"a": ["x", 1]}),
        ("merge(a, `1`)", {"a": {}}),  # only the first variadic argument is checked
        ("max(a)", {"a": [1, "x"]}),
        ("map(&b, a)", {"a": "x"}),
        ("`1` < `2`", {}),
        ("length(`1`)", {}),
        ('`"a"` | length(@, @)', {}),
        ("a == `1`", {"a": True}),
        ("a == `false`", {"a": 0}),
        ("a == b", {"a": [1], "b": [True]}),
        ("a == b", {"a": 1, "b": True}),
        ("a != b", {"a": False, "b": 0}),
        ("a == b", {"a": 0.0, "b": False}),
        ("a == `1.0`", {"a": True}),
        ("a == b", {"a": 1.0, "b": 1}),
        ("!a", {"a": 0.0}),
        ("!a", {"a": []}),
        ("contains(a, b)", {"a": "xy", "b": None}),
        ("contains(a, b)", {"a": "x1", "b": 1}),
        ("contains(a, b)", {"a": ["x", None], "b": None}),
    ],
)
def test_edge_cases(expression: str, doc: Any) -> None:
    assert_same(compile_expression(expression), expression, doc)


def test_contains_on_a_string_with_another_type_is_false_not_a_crash() -> None:
    """Python's ``in`` raises TypeError for ``None in "xy"``; a mapping would crash on
    such a document. The Go implementation answers false, and so does mapwire."""
    for expression in ("contains(a, b)", "contains(a, `null`)", "contains('xy', b)"):
        compiled = compile_expression(expression)
        assert compiled({"a": "xy", "b": None}) is False
        assert compiled({"a": "xy", "b": "y"}) is (expression != "contains(a, `null`)")


@pytest.mark.parametrize("later", [1, "x", None, [1], True])
def test_merge_refuses_any_argument_that_is_not_an_object_with_jmespaths_error(
    later: Any,
) -> None:
    """jmespath checks only the first argument; the others would raise Python's TypeError
    out of the mapping. Every one is checked: the error a rule records (a ValueError)."""
    compiled = compile_expression("merge(a, b)")
    with pytest.raises(jexc.JMESPathTypeError):
        compiled({"a": {"k": 1}, "b": later})
    assert compiled({"a": {"k": 1}, "b": {"j": 2}}) == {"k": 1, "j": 2}


class MyDict(dict[str, Any]):
    def get(self, key: str, default: Any = None) -> Any:
        return "overridden" if key == "magic" else super().get(key, default)


class MyList(list[Any]):
    pass


@pytest.mark.parametrize(
    "expression",
    ["magic", "a.magic", "a[0]", "a[*].b", "a.*", "length(a)", "type(a)", "a[0:1]", "a[]"],
)
def test_subclasses_and_odd_objects(expression: str) -> None:
    docs: list[Any] = [
        MyDict(a=MyList([MyDict(b=1)])),
        OrderedDict(a=OrderedDict(b=2, magic=3)),
        {"a": (1, 2)},
        {"a": MyDict(b=[1])},
    ]
    compiled = compile_expression(expression)
    for doc in docs:
        assert_same(compiled, expression, doc)


def test_literal_results_are_fresh() -> None:
    compiled = compile_expression('`{"a": [1]}`')
    first = compiled({})
    first["a"].append(2)
    assert compiled({}) == {"a": [1]}


def _run(gen: PyGen, body: list[str], result: str, args: str, *values: Any) -> Any:
    code = "\n".join([f"def _g({args}):", *body, f"    return {result}"])
    ast.parse(code)
    namespace = dict(gen.namespace)
    exec(code, namespace)
    return namespace["_g"](*values)


def _node(expression: str) -> dict[str, Any]:
    parsed: dict[str, Any] = jmespath.compile(expression).parsed  # type: ignore[assignment]
    return parsed


def test_root_bindings() -> None:
    gen = PyGen()
    out: list[str] = []
    r = gen.gen(_node("event.data"), "doc", out, "    ", root_bindings={"event": "v_event"})
    assert "'event'" not in "\n".join(out)
    assert "v_event" in "\n".join(out)
    doc = {"event": {"data": 7}}
    assert _run(gen, out, r, "doc, v_event", doc, doc["event"]) == 7
    # Only a field applied directly to the root is bound.
    out = []
    r = gen.gen(_node("other.event"), "doc", out, "    ", root_bindings={"event": "v_event"})
    assert _run(gen, out, r, "doc, v_event", {"other": {"event": 3}}, "wrong") == 3


def test_cse_shares_temps_in_one_block() -> None:
    gen = PyGen()
    out: list[str] = []
    memo: dict[Any, Any] = {}
    r1 = gen.gen(_node("data.custom.a"), "doc", out, "    ", cse=memo)
    r2 = gen.gen(_node("data.custom.b"), "doc", out, "    ", cse=memo)
    r3 = gen.gen(_node("data.custom.a"), "doc", out, "    ", cse=memo)
    code = "\n".join(out)
    assert code.count("'data'") == 2  # one lookup (the key appears twice in it)
    assert code.count("'custom'") == 2
    assert r3 == r1
    doc = {"data": {"custom": {"a": 1, "b": 2}}}
    assert _run(gen, out, f"({r1}, {r2}, {r3})", "doc", doc) == (1, 2, 1)


def test_cse_does_not_leak_out_of_branches() -> None:
    gen = PyGen()
    out: list[str] = []
    memo: dict[Any, Any] = {}
    r1 = gen.gen(_node("a || b.c"), "doc", out, "    ", cse=memo)
    r2 = gen.gen(_node("b.c"), "doc", out, "    ", cse=memo)
    r3 = gen.gen(_node("items[*].b.c"), "doc", out, "    ", cse=memo)
    r4 = gen.gen(_node("b.c"), "doc", out, "    ", cse=memo)
    assert r4 == r2
    doc = {"a": 1, "b": {"c": 2}, "items": [{"b": {"c": 5}}]}
    assert _run(gen, out, f"[{r1}, {r2}, {r3}, {r4}]", "doc", doc) == [1, 2, [5], 2]


def test_cse_does_not_share_fresh_containers() -> None:
    gen = PyGen()
    out: list[str] = []
    memo: dict[Any, Any] = {}
    r1 = gen.gen(_node("a[*].b"), "doc", out, "    ", cse=memo)
    r2 = gen.gen(_node("a[*].b"), "doc", out, "    ", cse=memo)
    assert r1 != r2
    first, second = _run(gen, out, f"({r1}, {r2})", "doc", {"a": [{"b": 1}]})
    assert first == second == [1] and first is not second


def _custom() -> dict[str, FunctionDef]:
    def double(n: Any) -> Any:
        return n * 2

    def concat(*parts: str) -> str:
        return "".join(parts)

    def apply(ref: Any, value: Any) -> Any:
        return [ref(value), ref.visit(ref.expression, value)]

    return {
        "double": FunctionDef("double", double, (["number"],), "test"),
        "concat": FunctionDef("concat", concat, (["string"], {"variadic": True}), "test"),
        "apply": FunctionDef("apply", apply, (["expref"], ["any"]), "test"),
        "length": FunctionDef("length", lambda v: -1, (["any"],), "test"),
        "first": FunctionDef("first", lambda v: v[0], (["array-number", "array-string"],), "t"),
    }


@pytest.mark.parametrize(
    ("expression", "doc"),
    [
        ("double(a)", {"a": 2}),
        ("double(a)", {"a": "x"}),
        ("double(a)", {"a": True}),
        ("double(a, b)", {"a": 2}),
        ("double()", {}),
        ("concat(a, b, 'c')", {"a": "x", "b": "y"}),
        ("concat(a)", {"a": "x"}),
        ("concat()", {}),
        ("concat(a, b)", {"a": 1, "b": "y"}),
        ("apply(&b, a)", {"a": {"b": 3}}),
        ("apply(a, a)", {"a": 1}),
        ("length(a)", {"a": "abc"}),  # a custom function may replace a builtin
        ("length(`[1]`)", {}),
        ("first(a)", {"a": [1, 2]}),
        ("first(a)", {"a": ["x", 2]}),
        ("items[*].double(n)", {"items": [{"n": 1}, {"n": 2}]}),
        ("unknown(a)", {}),
    ],
)
def test_custom_functions(expression: str, doc: Any) -> None:
    functions = _custom()
    options = jmespath.Options(custom_functions=make_functions_class(functions)())
    expected = _outcome(jmespath.search, expression, doc, options)
    actual = _outcome(compile_expression(expression, functions), doc)
    assert repr(actual) == repr(expected)


def test_signatures_in_jmespath_form() -> None:
    assert jmespath_signature((["string"], ["number", "null"], {"variadic": True})) == [
        {"types": ["string"]},
        {"types": ["number", "null"], "variadic": True},
    ]
    assert jmespath_signature((["any"],)) == [
        {"types": ["string", "number", "boolean", "array", "object", "null"]}
    ]
    assert jmespath_signature(([],)) == [{"types": []}]
    with pytest.raises(ValueError, match="unknown JMESPath type"):
        jmespath_signature((["text"],))


def test_any_is_every_json_type_but_not_an_expression_reference() -> None:
    compiled = compile_expression("length(a)", _custom())
    assert compiled({"a": None}) == -1
    with pytest.raises(jexc.JMESPathTypeError):
        compile_expression("length(&a)", _custom())({})


def test_custom_function_type_error_is_jmespaths() -> None:
    compiled = compile_expression("double(a)", _custom())
    with pytest.raises(jexc.JMESPathTypeError):
        compiled({"a": "x"})
    with pytest.raises(jexc.ArityError):
        compile_expression("double(a, a)", _custom())({})
    with pytest.raises(jexc.UnknownFunctionError):
        compile_expression("double(a)")({})


@pytest.mark.parametrize(
    "expression",
    ["items[?x == 'y'].z", "a[*].b", "a[].b", "a.*.b", "[a, {k: b}]", "a || b", "!a"],
)
def test_forced_fallback_is_used_and_correct(expression: str) -> None:
    gen = PyGen()
    gen._force_fallback = frozenset(
        {"projection", "filter_projection", "value_projection", "multi_select_dict"}
        | {"or_expression", "not_expression"}
    )
    compiled = _compile(expression, gen)
    assert compiled.fallback_nodes >= 1
    assert "_interp" in compiled.source
    for doc in [
        {"items": [{"x": "y", "z": 1}], "a": [{"b": 1}, [{"b": 2}]], "b": 2},
        {"a": {"k": {"b": 3}}},
        {"a": 0},
        None,
    ]:
        assert_same(compiled, expression, doc)


def test_deep_nesting_falls_back_without_breaking() -> None:
    expression = ".".join(["a[*]"] * 30) + ".b"
    compiled = compile_expression(expression)
    assert compiled.fallback_nodes >= 1
    doc: Any = {"b": 1}
    for _ in range(30):
        doc = {"a": [doc]}
    assert_same(compiled, expression, doc)
    ors = " || ".join(f"(a{i} && b{i})" for i in range(60))
    assert_same(compile_expression(ors), ors, {"a59": 1, "b59": 2})


def test_source_is_readable_python() -> None:
    compiled = compile_expression("sort_by(items[?x == 'y'], &z)[*].{id: id, n: length(tags)}")
    ast.parse(compiled.source)
    assert compiled.source.count("def ") == 2  # the function and the &z reference
    assert "def _f(data):" in compiled.source
    assert compiled.expression.startswith("sort_by")
    assert all(len(line) < 200 for line in compiled.source.splitlines())


def test_simple_paths_are_straight_line() -> None:
    lines = compile_expression("data.event_name").source.strip().splitlines()
    assert len(lines) == 4  # def, two lookups, return
    assert not any(line.strip().startswith(("if ", "for ", "else", "try")) for line in lines)
