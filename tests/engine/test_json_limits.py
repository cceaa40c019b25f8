"""The depth checks ``serve`` and ``send`` apply before parsing, against the true depth of
many generated documents (strings with brackets, escaped quotes and backslashes in them,
wide and deep shapes) and the shapes that cost the most to check."""

from __future__ import annotations

import json
import random
from typing import Any

import pytest

from mapwire.runtime.json_limits import nesting_exceeds, value_nests_deeper

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
