"""The depth checks ``serve`` and ``send`` apply before parsing, against the true depth of
many generated documents (strings with brackets, escaped quotes and backslashes in them,
wide and deep shapes) and the shapes that cost the most to check."""

from __future__ import annotations

import json
import random
from typing import Any

import pytest

from mapwire.runtime.json_limits import inexact_integer, nesting_exceeds, value_nests_deeper

LEAVES = ["1", '"a[b"', '"x\\\\"', '"q\\"]"', "[]", "{}", '"\\\\\\"[{"', "null"]


def _document(rng: random.Random, depth: int) -> str:
    if depth == 0 or rng.random() < 0.25:
        return rng.choice(LEAVES)
    children = [_document(rng, depth - 1) for _ in range(rng.randint(0, 4))]
    if rng.random() < 0.5:
        return "[" + ",".join(children) + "]"
    return "{" + ",".join(f'"k{i}]":{c}' for i, c in enumerate(children)) + "}"


def _depth(value: Any) -> int:
    if isinstance(value, dict):
        return 1 + max(map(_depth, value.values()), default=0)
    if isinstance(value, list):
        return 1 + max(map(_depth, value), default=0)
    return 0


def test_the_raw_check_agrees_with_the_true_depth_of_generated_documents() -> None:
    rng = random.Random(20261204)
    for _ in range(1500):
        text = _document(rng, rng.randint(1, 16))
        value = json.loads(text)
        depth = _depth(value)
        for limit in range(1, 18):
            assert nesting_exceeds(text.encode(), limit) == (depth > limit), (text, limit)
            assert value_nests_deeper(value, limit) == (depth > limit), (text, limit)


@pytest.mark.parametrize("unit_depth", [1, 5, 9, 20, 63])
def test_many_repeated_structures_are_measured_exactly(unit_depth: int) -> None:
    unit = "[" * unit_depth + "0" + "]" * unit_depth
    body = ("[" + ",".join([unit] * 20_000) + "]").encode()
    assert not nesting_exceeds(body, unit_depth + 1)
    assert nesting_exceeds(body, unit_depth)


@pytest.mark.parametrize(
    ("text", "inexact"),
    [
        (b'{"mpid": 7346244611012968789}', False),  # a 64-bit id: exact
        (b'{"a": 9223372036854775807, "b": -9223372036854775808}', False),
        (b'{"a": 18446744073709551615}', False),  # the largest the parser keeps exactly
        (b'{"a": 18446744073709551616}', True),
        (b'{"a": -9223372036854775809}', True),
        (b'{"a": 123456789012345678901234567}', True),
        (b'{"a": "123456789012345678901234567"}', False),  # a string stays a string
        (b'{"a": 1.23456789012345678901234567}', False),  # a fraction is a float anyway
        (b'{"a": 12345678901234567890123e5}', False),
        (b'{"a": 123456789012345678901234567', False),  # not JSON: the parser says so
    ],
)
def test_integers_the_parser_would_change_are_found(text: bytes, inexact: bool) -> None:
    assert inexact_integer(text) is inexact
