"""The standard plugin as the engine sees it: registration, names and signatures."""

from __future__ import annotations

import inspect
from collections.abc import Callable
from pathlib import Path
from typing import Any

import jmespath
import jmespath.exceptions
import jmespath.functions
import pytest

import mapwire.mappings
from mapwire.plugins.standard.functions import FUNCTIONS as BASE_FUNCTIONS
from mapwire.plugins.standard.user_attributes import FUNCTIONS as ATTRIBUTE_FUNCTIONS
from mapwire.runtime.registry import build_registry

Call = Callable[..., Any]
JMESPATH_TYPES = {
    "string",
    "number",
    "boolean",
    "array",
    "object",
    "null",
    "any",
    "array-string",
    "array-number",
    "expref",
}

FUNCTIONS = {**BASE_FUNCTIONS, **ATTRIBUTE_FUNCTIONS}


@pytest.fixture
def registry(monkeypatch: pytest.MonkeyPatch) -> Any:
    monkeypatch.setenv("MAPWIRE_LOAD_PLUGINS", "standard")
    return build_registry(strict=True)


def test_hook_register_functions(registry: Any) -> None:
    found = registry.functions()
    assert set(found) == set(FUNCTIONS)
    for name, definition in found.items():
        assert definition.plugin == "standard"
        assert definition.function is FUNCTIONS[name][0]
        assert definition.signature == tuple(FUNCTIONS[name][1])


def test_hook_register_mappings(registry: Any) -> None:
    assert registry.mapping_paths() == [Path(mapwire.mappings.__file__).parent]


def test_names_do_not_clash_with_jmespath_builtins() -> None:
    assert not set(FUNCTIONS) & set(jmespath.functions.Functions.FUNCTION_TABLE)


@pytest.mark.parametrize("name", sorted(FUNCTIONS))
def test_definition_is_well_formed(name: str) -> None:
    function, signature = FUNCTIONS[name]
    assert name.isidentifier() and name == name.lower()
    assert inspect.getdoc(function), "each function documents its null behaviour"
    *args, last = signature
    for entry in args:
        assert isinstance(entry, list) and set(entry) <= JMESPATH_TYPES
    if isinstance(last, dict):
        assert last == {"variadic": True} and args
    else:
        assert isinstance(last, list) and set(last) <= JMESPATH_TYPES
    positional = [
        p
        for p in inspect.signature(function).parameters.values()
        if p.kind is p.POSITIONAL_OR_KEYWORD
    ]
    declared = [e for e in signature if isinstance(e, list)]
    assert len(positional) == len(declared) or isinstance(last, dict)


@pytest.mark.parametrize(
    ("name", "args"),
    [("ms_to_s", ("1500",)), ("omit", ({"a": 1}, [1])), ("replace", ("a", None, "b"))],
)
def test_jmespath_enforces_signatures(call: Call, name: str, args: tuple[Any, ...]) -> None:
    with pytest.raises(jmespath.exceptions.JMESPathTypeError):
        call(name, *args)


def test_variadic_functions_need_their_first_argument(call: Call) -> None:
    with pytest.raises(jmespath.exceptions.ArityError):
        call("concat")
    assert call("concat", "a", "b", "c", 1) == "abc1"
    assert call("merge_deep", {"a": 1}, {"b": 1}, {"a": 2}) == {"a": 2, "b": 1}


def test_engine_adapter_calls_every_function() -> None:
    from mapwire.contracts.functions import FunctionDef
    from mapwire.language.jmespath_support import make_functions_class

    definitions = {n: FunctionDef(n, f, s, "standard") for n, (f, s) in FUNCTIONS.items()}
    options = jmespath.Options(custom_functions=make_functions_class(definitions)())
    data = {"s": " Add To Cart ", "n": 1500, "o": {"$A": 1}, "l": [1, None, 1]}
    expression = (
        "[event_name(s), ms_to_s(n), concat(s, n), to_int(n), map_value(n, {\"1500\": 'x'}, 'd'),"
        " snake_keys(o), unique(compact(l)), merge_deep(o, o, o)]"
    )
    assert jmespath.search(expression, data, options=options) == [
        "Add_To_Cart",
        1,
        " Add To Cart 1500",
        1500,
        "x",
        {"a": 1},
        [1],
        {"$A": 1},
    ]
