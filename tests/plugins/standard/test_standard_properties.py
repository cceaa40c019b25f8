"""Properties of the standard functions, checked with generated inputs."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mapwire.plugins.standard.array_functions import sort_numeric, unique
from mapwire.plugins.standard.functions import FUNCTIONS, RETURNS, Signature
from mapwire.plugins.standard.identifiers import ulid_to_uuid, uuid_to_ulid
from mapwire.plugins.standard.object_functions import entries, from_entries
from mapwire.plugins.standard.string_functions import quote_join, snake_case, truncate_bytes
from mapwire.plugins.standard.time_functions import iso_to_unix, ms_to_s, s_to_ms, unix_to_iso
from mapwire.plugins.standard.user_attributes import FUNCTIONS as ATTRIBUTE_FUNCTIONS
from mapwire.plugins.standard.user_attributes import RETURNS as ATTRIBUTE_RETURNS

quick = settings(max_examples=40, deadline=None)
FIRST_SECOND = -62135596800  # 0001-01-01T00:00:00Z
LAST_SECOND = 253402300799  # 9999-12-31T23:59:59Z

numbers = st.integers() | st.floats() | st.integers(min_value=-(10**40), max_value=10**40)
scalars = st.none() | st.booleans() | numbers | st.text(max_size=20)
json_values = st.recursive(
    scalars,
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=8,
)
TYPES: dict[str, st.SearchStrategy[Any]] = {
    "any": json_values,
    "null": st.none(),
    "boolean": st.booleans(),
    "number": numbers,
    "string": st.text(max_size=40),
    "array": st.lists(json_values, max_size=5),
    "object": st.dictionaries(st.text(max_size=8), json_values, max_size=5),
    "array-string": st.lists(st.text(max_size=8), max_size=5),
    "array-number": st.lists(numbers, max_size=5),
}


def arguments(signature: Signature) -> st.SearchStrategy[list[Any]]:
    """Argument lists of the declared types, repeating a variadic argument 0-3 times."""
    parts: list[st.SearchStrategy[list[Any]]] = []
    for entry in signature:
        if isinstance(entry, dict):
            repeated = parts.pop()
            parts.append(st.lists(repeated.map(lambda one: one[0]), min_size=1, max_size=4))
        else:
            parts.append(st.one_of(*(TYPES[t] for t in entry)).map(lambda value: [value]))
    return st.tuples(*parts).map(lambda lists: [v for part in lists for v in part])


ALL_FUNCTIONS = {**FUNCTIONS, **ATTRIBUTE_FUNCTIONS}
ALL_RETURNS = {**RETURNS, **ATTRIBUTE_RETURNS}


def json_types(value: Any) -> set[str]:
    """The JSON type names ``value`` has (an integer is a number too)."""
    if value is None:
        return {"null"}
    if type(value) is bool:
        return {"boolean"}
    if type(value) is int:
        return {"integer", "number"}
    if type(value) is float:
        return {"number"}
    names = {str: "string", list: "array", dict: "object"}
    return {names[type(value)]} if type(value) in names else set()


@pytest.mark.parametrize("name", sorted(ALL_FUNCTIONS))
def test_total_over_declared_types_and_returns_what_it_declares(name: str) -> None:
    """Never raises on arguments of its declared types, and returns one of its declared
    types: the static checks and the generated code (which tests the truth of a result
    declared never to be a number as Python does) rely on the declaration."""
    function, signature = ALL_FUNCTIONS[name]
    declared = ALL_RETURNS.get(name, "any")
    returns = {declared} if isinstance(declared, str) else set(declared)

    @quick
    @given(arguments(signature))
    def never_raises(args: list[Any]) -> None:
        result = function(*args)
        assert "any" in returns or json_types(result) & returns, (args, result)

    never_raises()


@given(st.integers(min_value=-(10**30), max_value=10**30))
def test_ms_to_s_undoes_s_to_ms(seconds: int) -> None:
    assert ms_to_s(s_to_ms(seconds)) == seconds


@given(st.integers(min_value=-(10**30), max_value=10**30) | st.floats(-1e15, 1e15))
def test_ms_to_s_rounds_down(ms: float) -> None:
    seconds = ms_to_s(ms)
    assert isinstance(seconds, int)
    assert seconds * 1000 <= ms < (seconds + 1) * 1000


@given(st.integers(min_value=FIRST_SECOND, max_value=LAST_SECOND))
def test_iso_to_unix_undoes_unix_to_iso(seconds: int) -> None:
    text = unix_to_iso(seconds)
    assert text is not None and text.endswith("Z")
    assert iso_to_unix(text) == seconds


@given(st.floats(min_value=FIRST_SECOND, max_value=LAST_SECOND - 1))
def test_iso_to_unix_of_fractional_time_is_within_a_second(seconds: float) -> None:
    back = iso_to_unix(unix_to_iso(seconds))
    assert back is not None
    assert back <= seconds + 1e-6 and seconds - back < 1 + 1e-6


@given(st.text())
def test_snake_case_is_idempotent(text: str) -> None:
    once = snake_case(text)
    assert once is not None
    assert snake_case(once) == once
    assert once == once.lower() and "__" not in once
    assert not once.startswith("_") and not once.endswith("_")


@given(st.lists(st.text().filter(lambda t: "'" not in t) | st.integers(), max_size=8))
def test_quote_join_round_trips(values: list[str | int]) -> None:
    joined = quote_join(list(values))
    assert joined is not None
    parsed = joined[1:-1].split("','") if joined else []
    assert parsed == [str(v) for v in values]


@given(st.integers(min_value=0, max_value=2**128 - 1))
def test_ulid_and_uuid_round_trip_all_128_bits(number: int) -> None:
    as_uuid = str(uuid.UUID(int=number))
    ulid = uuid_to_ulid(as_uuid)
    assert ulid is not None and len(ulid) == 26
    assert ulid_to_uuid(ulid) == as_uuid
    assert ulid_to_uuid(ulid.lower()) == as_uuid
    assert uuid_to_ulid(ulid_to_uuid(ulid)) == ulid


@given(st.text(), st.integers(min_value=0, max_value=200))
def test_truncate_bytes_is_a_fitting_prefix(text: str, limit: int) -> None:
    cut = truncate_bytes(text, limit)
    assert cut is not None and text.startswith(cut)
    assert len(cut.encode()) <= limit
    if cut != text:
        assert len((cut + text[len(cut)]).encode()) > limit, "the longest prefix that fits"


@quick
@given(st.dictionaries(st.text(max_size=8), json_values, max_size=6))
def test_from_entries_undoes_entries(obj: dict[str, Any]) -> None:
    assert from_entries(entries(obj)) == obj


@quick
@given(st.lists(json_values, max_size=10))
def test_unique_is_idempotent_and_keeps_first_occurrences(values: list[Any]) -> None:
    once = unique(values)
    assert once is not None
    assert unique(once) == once
    assert all(any(v is u for u in values) for v in once)


@given(st.lists(st.integers()))
def test_sort_numeric_orders_numeric_strings_by_value(numbers: list[int]) -> None:
    assert sort_numeric([str(n) for n in numbers]) == [str(n) for n in sorted(numbers)]


@given(st.lists(json_values, max_size=8))
def test_sort_numeric_is_a_permutation(values: list[Any]) -> None:
    ordered = sort_numeric(values)
    assert ordered is not None and len(ordered) == len(values)
    assert sorted(map(id, ordered)) == sorted(map(id, values))
