"""Table-driven cases for every standard function, evaluated through JMESPath."""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

import pytest

from mapwire.plugins.standard.functions import FUNCTIONS

Call = Callable[..., Any]
NULL = None
BIG = 123456789012345678901234567890

CASES: dict[str, list[tuple[tuple[Any, ...], Any]]] = {
    "ms_to_s": [
        ((1500,), 1),
        ((1999,), 1),
        ((2000,), 2),
        ((0,), 0),
        ((999,), 0),
        ((-1,), -1),
        ((-1000,), -1),
        ((-1001,), -2),
        ((1500.9,), 1),
        ((1_700_000_000_123,), 1_700_000_000),
        ((BIG,), BIG // 1000),
        ((NULL,), NULL),
    ],
    "s_to_ms": [
        ((1,), 1000),
        ((1.5,), 1500),
        ((1.001,), 1001),
        ((-2,), -2000),
        ((0,), 0),
        ((1_700_000_000,), 1_700_000_000_000),
        ((BIG,), BIG * 1000),
        ((NULL,), NULL),
    ],
    "iso_to_unix": [
        (("1970-01-01T00:00:00Z",), 0),
        (("2024-01-01T00:00:00Z",), 1704067200),
        (("2024-01-01T00:00:00",), 1704067200),
        (("2024-01-01T00:00:00+00:00",), 1704067200),
        (("2024-01-01T05:30:00+05:30",), 1704067200),
        (("2023-12-31T16:00:00-08:00",), 1704067200),
        (("2024-01-01T05:30:00+0530",), 1704067200),
        (("2024-01-01T00:00:00.999Z",), 1704067200),
        (("2024-01-01T00:00:00.123456789Z",), 1704067200),
        (("2024-01-01 00:00:00Z",), 1704067200),
        (("2024-01-01T00:00:00z",), 1704067200),
        (("  2024-01-01T00:00:00Z\n",), 1704067200),
        (("20240101T000000Z",), 1704067200),
        (("2024-01-01",), 1704067200),
        (("1969-12-31T23:59:59.5Z",), -1),
        (("0001-01-01T00:00:00Z",), -62135596800),
        (("9999-12-31T23:59:59Z",), 253402300799),
        (("2024-02-29T12:00:00Z",), 1709208000),
        (("",), NULL),
        (("yesterday",), NULL),
        (("2024-13-01T00:00:00Z",), NULL),
        (("2023-02-29T00:00:00Z",), NULL),
        (("2024-01-01T25:00:00Z",), NULL),
        (("٢٠٢٤-01-01",), NULL),
        (("1704067200",), NULL),
        ((NULL,), NULL),
    ],
    "unix_to_iso": [
        ((0,), "1970-01-01T00:00:00Z"),
        ((1704067200,), "2024-01-01T00:00:00Z"),
        ((1704067200.0,), "2024-01-01T00:00:00Z"),
        ((1.25,), "1970-01-01T00:00:01.250000Z"),
        ((-1,), "1969-12-31T23:59:59Z"),
        ((253402300799,), "9999-12-31T23:59:59Z"),
        ((253402300800,), NULL),
        ((-62135596801,), NULL),
        ((BIG,), NULL),
        ((1e300,), NULL),
        ((NULL,), NULL),
    ],
    "lower": [(("ÀBC",), "àbc"), (("",), ""), ((NULL,), NULL)],
    "upper": [(("straße",), "STRASSE"), (("abc1",), "ABC1"), ((NULL,), NULL)],
    "trim": [
        (("  a b \n\t",), "a b"),
        (("\u00a0x\u2003",), "x"),
        (("",), ""),
        ((NULL,), NULL),
    ],
    "replace": [
        (("a-b-c", "-", "_"), "a_b_c"),
        (("ééé", "é", "e"), "eee"),
        (("abc", "", "-"), "abc"),
        (("abc", "x", "y"), "abc"),
        ((NULL, "a", "b"), NULL),
    ],
    "split": [
        (("a,b,,c", ","), ["a", "b", "", "c"]),
        (("a::b", "::"), ["a", "b"]),
        (("abc", ""), ["a", "b", "c"]),
        (("", ","), [""]),
        ((NULL, ","), NULL),
    ],
    "concat": [
        (("a", 1, NULL, True, 2.5), "a1true2.5"),
        (("x", {"k": "é"}, [1, NULL]), 'x{"k":"é"}[1,null]'),
        (("", NULL), ""),
        ((NULL,), NULL),
        ((NULL, NULL), NULL),
        (("only",), "only"),
    ],
    "snake_case": [
        (("$FirstName",), "first_name"),
        (("Last Name",), "last_name"),
        (("userID",), "user_id"),
        (("$user_id",), "user_id"),
        (("HTTPServer",), "http_server"),
        (("address2Line",), "address2_line"),
        (("firstName.lastName",), "first_name_last_name"),
        (("Add-To  Cart",), "add_to_cart"),
        (("  spaced  ",), "spaced"),
        (("already_snake_case",), "already_snake_case"),
        (("ÄpfelBirnen",), "äpfel_birnen"),
        (("ID",), "id"),
        (("$$",), ""),
        (("",), ""),
        ((NULL,), NULL),
    ],
    "event_name": [
        ((" Add To Cart ",), "Add_To_Cart"),
        (("a  b",), "a__b"),
        (("Checkout",), "Checkout"),
        (("\tÉté Sale\n",), "Été_Sale"),
        ((NULL,), NULL),
    ],
    "sha256": [
        (("",), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"),
        (("abc",), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"),
        (("é",), "4a99557e4033c3539de2eb65472017cad5f9557f7a0625a09f1c3f6e2ba69c4c"),
        ((NULL,), NULL),
    ],
    "to_int": [
        ((42,), 42),
        ((3.9,), 3),
        ((-3.9,), -3),
        ((BIG,), BIG),
        (("42",), 42),
        ((" -7 ",), -7),
        (("+8",), 8),
        (("3.7",), 3),
        (("-0.5",), 0),
        ((".5",), 0),
        (("1e3",), 1000),
        (("1E-2",), 0),
        ((str(BIG),), BIG),
        (("1e400",), 10**400),
        (("1e5000",), NULL),
        (("1_000",), NULL),
        (("0x10",), NULL),
        (("١٢",), NULL),
        (("abc",), NULL),
        (("",), NULL),
        (("inf",), NULL),
        (("nan",), NULL),
        ((True,), NULL),
        (([1],), NULL),
        (({"a": 1},), NULL),
        ((NULL,), NULL),
    ],
    "to_int64": [
        (("7346244611012968789",), 7346244611012968789),
        (("-4263172847210939204",), -4263172847210939204),
        # beyond 2**53: a float would round it (to ...992)
        (("9007199254740993",), 9007199254740993),
        (("9223372036854775807",), 2**63 - 1),
        (("-9223372036854775808",), -(2**63)),
        (("9223372036854775808",), NULL),
        (("-9223372036854775809",), NULL),
        (("99999999999999999999999",), NULL),
        (("0",), 0),
        (("42",), 42),
        ((42,), 42),
        ((-(2**63),), -(2**63)),
        ((2**63,), NULL),
        ((BIG,), NULL),
        (("-0",), NULL),
        (("007",), NULL),
        (("+8",), NULL),
        ((" 42",), NULL),
        (("42 ",), NULL),
        (("42\n",), NULL),
        (("4.2",), NULL),
        (("42.0",), NULL),
        (("1e3",), NULL),
        (("1_000",), NULL),
        (("0x10",), NULL),
        (("١٢",), NULL),
        (("abc",), NULL),
        (("",), NULL),
        (("-",), NULL),
        ((5.0,), NULL),
        ((True,), NULL),
        (([1],), NULL),
        (({"a": 1},), NULL),
        ((NULL,), NULL),
    ],
    "truncate_bytes": [
        (("hello", 3), "hel"),
        (("hello", 5), "hello"),
        (("hello", 100), "hello"),
        (("héllo", 2), "h"),
        (("héllo", 3), "hé"),
        (("😀x", 3), ""),
        (("😀x", 4), "😀"),
        (("日本語", 7), "日本"),
        (("abc", 2.9), "ab"),
        (("abc", 0), ""),
        (("abc", -1), ""),
        ((NULL, 3), NULL),
    ],
    "quote_join": [
        ((["a", "b"],), "'a','b'"),
        (([123, 456],), "'123','456'"),
        ((["a", NULL, "b"],), "'a','b'"),
        ((["only"],), "'only'"),
        ((["", "x"],), "'','x'"),
        (([],), ""),
        ((NULL,), NULL),
    ],
    "ulid_to_uuid": [
        (("01ARZ3NDEKTSV4RRFFQ69G5FAV",), "01563e3a-b5d3-d676-4c61-efb99302bd5b"),
        (("01arz3ndektsv4rrffq69g5fav",), "01563e3a-b5d3-d676-4c61-efb99302bd5b"),
        (("00000000000000000000000000",), "00000000-0000-0000-0000-000000000000"),
        (("7ZZZZZZZZZZZZZZZZZZZZZZZZZ",), "ffffffff-ffff-ffff-ffff-ffffffffffff"),
        (("8ZZZZZZZZZZZZZZZZZZZZZZZZZ",), NULL),  # more than 128 bits
        (("01ARZ3NDEKTSV4RRFFQ69G5FAU",), NULL),  # U is not Crockford base32
        (("01ARZ3NDEKTSV4RRFFQ69G5FA",), NULL),
        (("e1",), NULL),
        ((NULL,), NULL),
    ],
    "uuid_to_ulid": [
        (("01563e3a-b5d3-d676-4c61-efb99302bd5b",), "01ARZ3NDEKTSV4RRFFQ69G5FAV"),
        (("01563E3A-B5D3-D676-4C61-EFB99302BD5B",), "01ARZ3NDEKTSV4RRFFQ69G5FAV"),
        (("ffffffff-ffff-ffff-ffff-ffffffffffff",), "7ZZZZZZZZZZZZZZZZZZZZZZZZZ"),
        (("01563e3ab5d3d6764c61efb99302bd5b",), NULL),
        (("not a uuid",), NULL),
        ((NULL,), NULL),
    ],
    "rename_keys": [
        (({"a": 1, "b": 2}, {"a": "x"}), {"x": 1, "b": 2}),
        (({"a": 1, "b": 2}, {"a": "b", "b": "a"}), {"b": 1, "a": 2}),
        (({"b": 2, "a": 1}, {"a": "b"}), {"b": 1}),
        (({"a": 1, "c": 3}, {"a": "z", "c": "z"}), {"z": 3}),
        (({"a": 1}, {"a": NULL, "missing": "m"}), {"a": 1}),
        (({}, {"a": "b"}), {}),
        ((NULL, {"a": "b"}), NULL),
    ],
    "rename_keys_ci": [
        (
            ({"Email": 1, "NAME": 2, "x": 3}, {"email": "email_address", "Name": "first"}),
            {"email_address": 1, "first": 2, "x": 3},
        ),
        (({"STRASSE": 1}, {"straße": "street"}), {"street": 1}),
        ((NULL, {}), NULL),
    ],
    "omit": [
        (({"a": 1, "b": 2, "c": 3}, ["a", "c", "zz"]), {"b": 2}),
        (({"a": 1}, []), {"a": 1}),
        ((NULL, ["a"]), NULL),
    ],
    "pick": [
        (({"a": 1, "b": 2, "c": 3}, ["c", "a", "zz"]), {"a": 1, "c": 3}),
        (({"a": 1}, []), {}),
        ((NULL, ["a"]), NULL),
    ],
    "omit_prefixed": [
        (({"$a": 1, "b": 2, "$": 3, "c$": 4}, "$"), {"b": 2, "c$": 4}),
        (({"a": 1}, ""), {}),
        ((NULL, "$"), NULL),
    ],
    "pick_prefixed": [
        (({"$a": 1, "b": 2, "$": 3, "c$": 4}, "$"), {"$a": 1, "$": 3}),
        (({"a": 1}, ""), {"a": 1}),
        ((NULL, "$"), NULL),
    ],
    "get_ci": [
        (({"$FirstName": "Ada"}, "$FirstName"), "Ada"),
        (({"$firstname": "Ada"}, "$FirstName"), "Ada"),
        (({"$FIRSTNAME": "A", "$FirstName": "B"}, "$FirstName"), "B"),
        (({"$FIRSTNAME": "A", "$firstname": "B"}, "$FirstName"), "A"),
        (({"STRASSE": 1}, "straße"), 1),
        (({"a": NULL}, "A"), NULL),
        (({}, "a"), NULL),
        ((NULL, "a"), NULL),
    ],
    "snake_keys": [
        (
            ({"$FirstName": "A", "Last Name": "B", "userID": 1},),
            {"first_name": "A", "last_name": "B", "user_id": 1},
        ),
        (({},), {}),
        ((NULL,), NULL),
    ],
    "merge_deep": [
        (
            ({"a": {"x": 1, "y": 2}, "b": [1]}, {"a": {"y": 3, "z": {"q": 1}}, "b": [2]}),
            {"a": {"x": 1, "y": 3, "z": {"q": 1}}, "b": [2]},
        ),
        (({"a": {"x": 1}}, {"a": 5}), {"a": 5}),
        (({"a": 1}, NULL, {"b": 2}), {"a": 1, "b": 2}),
        (({"a": 1},), {"a": 1}),
        ((NULL, NULL), NULL),
    ],
    "entries": [
        (({"a": 1, "b": NULL},), [{"key": "a", "value": 1}, {"key": "b", "value": NULL}]),
        (({},), []),
        ((NULL,), NULL),
    ],
    "from_entries": [
        (([{"key": "a", "value": 1}, {"key": "b"}],), {"a": 1, "b": NULL}),
        (([{"key": "a", "value": 1}, {"key": "a", "value": 2}],), {"a": 2}),
        (([{"key": 1, "value": 1}, "junk", NULL, {"value": 3}],), {}),
        ((NULL,), NULL),
    ],
    "map_value": [
        (("US", {"US": "United States"}, "?"), "United States"),
        ((1, {"1": "one"}, NULL), "one"),
        ((True, {"true": "yes"}, "no"), "yes"),
        (("x", {}, "default"), "default"),
        ((NULL, {"null": "n"}, "default"), "default"),
        (("k", {"k": NULL}, "default"), NULL),
    ],
    "if_else": [
        ((True, "yes", "no"), "yes"),
        ((False, "yes", "no"), "no"),
        ((NULL, "yes", "no"), "no"),
        (("", "yes", "no"), "no"),
        (([], "yes", "no"), "no"),
        (({}, "yes", "no"), "no"),
        ((0, "yes", "no"), "yes"),
        (("false", "yes", "no"), "yes"),
        (([NULL], 1, 2), 1),
        ((True, NULL, "no"), NULL),
    ],
    "compact": [
        (([1, NULL, "", False, NULL, []],), [1, "", False, []]),
        (([],), []),
        ((NULL,), NULL),
    ],
    "sort_numeric": [
        ((["11036", "11034", "9"],), ["9", "11034", "11036"]),
        ((["10", 9, "8.5", -1, " 7 "],), [-1, " 7 ", "8.5", 9, "10"]),
        ((["b", "2", NULL, "a", 1, True],), [1, "2", "a", "b", NULL, True]),
        ((["1", 1, "1.0"],), ["1", 1, "1.0"]),
        (([BIG, str(BIG - 1), 1e300],), [str(BIG - 1), BIG, 1e300]),
        (([],), []),
        ((NULL,), NULL),
    ],
    "unique": [
        (([3, 1, 3, 2, 1],), [3, 1, 2]),
        (([1, "1", 1.0, True, False, 0, NULL, NULL],), [1, "1", True, False, 0, NULL]),
        (([{"a": 1, "b": 2}, {"b": 2, "a": 1}, [1], [1]],), [{"a": 1, "b": 2}, [1]]),
        (([],), []),
        ((NULL,), NULL),
    ],
}


def test_every_function_has_cases() -> None:
    assert set(CASES) == set(FUNCTIONS)


@pytest.mark.parametrize(
    ("name", "args", "expected"),
    [
        pytest.param(name, args, expected, id=f"{name}-{i}")
        for name, cases in CASES.items()
        for i, (args, expected) in enumerate(cases)
    ],
)
def test_function(call: Call, name: str, args: tuple[Any, ...], expected: Any) -> None:
    before = copy.deepcopy(args)
    result = call(name, *args)
    assert result == expected
    assert type(result) is type(expected), "ints stay ints, null stays null"
    assert args == before, "arguments are never modified"


def test_results_keep_key_order(call: Call) -> None:
    assert list(call("rename_keys", {"a": 1, "b": 2, "c": 3}, {"b": "z"})) == ["a", "z", "c"]
    assert list(call("snake_keys", {"B": 1, "a": 2})) == ["b", "a"]
    assert list(call("pick", {"b": 1, "a": 2}, ["a", "b"])) == ["b", "a"]


def test_functions_compose_in_expressions(options: Any) -> None:
    import jmespath

    event = {
        "event_name": " Add To Cart ",
        "timestamp_unixtime_ms": 1704067200999,
        "user_attributes": {"$FirstName": "Ada", "$Mobile": "1", "Plan Type": "pro"},
        "segments": [12, 34],
    }
    expression = (
        "{name: event_name(event_name), at: unix_to_iso(ms_to_s(timestamp_unixtime_ms)), "
        "attrs: snake_keys(omit(user_attributes, ['$Mobile'])), "
        "segments: quote_join(segments)}"
    )
    assert jmespath.search(expression, event, options=options) == {
        "name": "Add_To_Cart",
        "at": "2024-01-01T00:00:00Z",
        "attrs": {"first_name": "Ada", "plan_type": "pro"},
        "segments": "'12','34'",
    }
