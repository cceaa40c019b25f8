"""The event dedup id: a deterministic, well-formed ULID derived from the source event id."""

from __future__ import annotations

import hashlib
import re
from typing import Any

import pytest

from mapwire.plugins.customerio.ulid import CROCKFORD, decode_time, encode, event_ulid, is_ulid

ULID_RE = re.compile(r"^[0-7][0-9A-HJKMNP-TV-Z]{25}$")
UUID = "7c9e6679-7425-40de-944b-e07fc1f90ae7"


def random_part(ulid: str) -> bytes:
    number = 0
    for char in ulid[10:]:
        number = number * 32 + CROCKFORD.index(char)
    return number.to_bytes(10, "big")


@pytest.mark.parametrize(
    ("event_id", "timestamp"),
    [(UUID, 1713484800), (UUID, None), ("42", 0), ("ünïcode-id", 10**11), ("x" * 500, 1)],
)
def test_derived_ulid_format_time_and_randomness(event_id: str, timestamp: int | None) -> None:
    ulid = event_ulid(event_id, timestamp)
    assert ULID_RE.match(ulid)
    assert decode_time(ulid) == (timestamp or 0) * 1000
    assert random_part(ulid) == hashlib.sha256(event_id.encode()).digest()[:10]
    assert event_ulid(event_id, timestamp) == ulid


def test_different_source_ids_give_different_ulids() -> None:
    ids = {event_ulid(f"{UUID}-{i}", 1713484800) for i in range(1000)}
    assert len(ids) == 1000


def test_spec_example_vector() -> None:
    """The time part of the ULID specification's example, 1469918176385 ms."""
    assert encode(1469918176385, bytes(10)) == "01ARYZ6S41" + "0" * 16
    assert encode(2**48 - 1, b"\xff" * 10) == "7" + "Z" * 25


@pytest.mark.parametrize(
    ("time_ms", "randomness"), [(-1, bytes(10)), (2**48, bytes(10)), (0, bytes(9))]
)
def test_encode_rejects_what_does_not_fit(time_ms: int, randomness: bytes) -> None:
    with pytest.raises(ValueError, match="ULID"):
        encode(time_ms, randomness)


@pytest.mark.parametrize(
    ("value", "valid"),
    [
        ("01BX5ZZKBKACTAV9WEVGEMMVRY", True),
        ("7ZZZZZZZZZZZZZZZZZZZZZZZZZ", True),
        ("8ZZZZZZZZZZZZZZZZZZZZZZZZZ", False),  # over 128 bits
        ("01bx5zzkbkactav9wevgemmvry", False),  # only the canonical upper-case form
        ("01BX5ZZKBKACTAV9WEVGEMMVRI", False),  # I is not Crockford
        ("01BX5ZZKBKACTAV9WEVGEMMVR", False),
        (UUID, False),
    ],
)
def test_is_ulid(value: str, valid: bool) -> None:
    assert is_ulid(value) is valid
    assert (event_ulid(value, 5) == value) is valid


def test_wire_id_is_the_derived_ulid_and_absent_without_event_id(prepare: Any) -> None:
    person = {"identifiers": {"id": "42"}, "name": "n", "timestamp": 1713484800}
    with_id = prepare("event", {**person, "event_id": UUID}).body
    assert with_id["id"] == event_ulid(UUID, 1713484800)
    assert "id" not in prepare("event", person).body
    assert "id" not in prepare("page", person, api="v1").body.body
    anonymous = prepare("anonymous_event", {"anonymous_id": "a", "name": "n", "event_id": UUID})
    assert anonymous.body.body["id"] == event_ulid(UUID)
