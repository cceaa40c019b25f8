"""``prepare`` repairs: one field over a Customer.io limit never drops the whole item.

Every repair is a note on the prepared item (a reason, never a value); ``oversize`` picks
truncate (default), drop_field or dead_letter.
"""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

from mapwire import OutboundRequest, PermanentDeliveryError
from mapwire.plugins.customerio import errors, limits
from mapwire.plugins.customerio.repairs import truncate_utf8, truncate_value

PERSON = {"identifiers": {"id": "42"}}
SECRET = "VALUE-SENTINEL"


def body(item: Any) -> Any:
    return json.loads(b"[" + item.encoded + b"]")


@pytest.mark.parametrize(
    ("text", "limit", "expected"),
    [("abc", 3, "abc"), ("abcd", 3, "abc"), ("aé", 2, "a"), ("aé", 3, "aé"), ("😀😀", 7, "😀")],
)
def test_truncate_utf8_keeps_whole_characters(text: str, limit: int, expected: str) -> None:
    assert truncate_utf8(text, limit) == expected


@pytest.mark.parametrize(
    ("text", "limit", "expected"),
    [
        ("'11034','11036'", 15, "'11034','11036'"),
        ("'11034','11036'", 14, "'11034'"),
        ("'11034','11036'", 8, "'11034'"),
        ("'11034','11036'", 6, ""),
        ("not, a 'list'", 6, "not, a"),
    ],
)
def test_a_quoted_id_list_is_cut_after_a_whole_id(text: str, limit: int, expected: str) -> None:
    assert truncate_value(text, limit) == expected


def test_a_long_membership_list_keeps_whole_ids(prepare: Any) -> None:
    ids = ",".join(f"'{n}'" for n in range(10_000, 10_200))  # 1,599 bytes
    item = prepare("identify", {**PERSON, "attributes": {"Segment Membership": ids}})
    kept = body(item)[0]["attributes"]["Segment Membership"]
    assert len(kept.encode()) <= 1000 and ids.startswith(kept) and ids[len(kept)] == ","
    assert kept.endswith("'") and item.repairs == ["attribute value over 1000 bytes: truncated"]


def test_event_name_is_cut_at_a_character_boundary(prepare: Any) -> None:
    item = prepare("event", {**PERSON, "name": "a" + "€" * 40})  # 121 bytes
    (entity,) = body(item)
    assert entity["name"] == "a" + "€" * 33  # 100 bytes
    assert item.repairs == ["event name over 100 bytes: truncated"]


def test_event_name_is_cut_under_drop_field_too(prepare: Any) -> None:
    item = prepare("screen", {**PERSON, "name": "n" * 101}, oversize="drop_field")
    assert body(item)[0]["name"] == "n" * 100


@pytest.mark.parametrize(
    ("oversize", "expected", "notes"),
    [
        (
            "truncate",
            {"bio": "b" * 1000, "ok": 1},
            [
                "attribute value over 1000 bytes: truncated",
                "attribute value over 1000 bytes: left out",
            ],
        ),
        (
            "drop_field",
            {"ok": 1},
            [
                "attribute value over 1000 bytes: left out",
                "attribute value over 1000 bytes: left out",
            ],
        ),
    ],
)
def test_attribute_values(prepare: Any, oversize: str, expected: Any, notes: list[str]) -> None:
    found = {"bio": "b" * 1001, "list": [SECRET * 100], "ok": 1}
    item = prepare("identify", {**PERSON, "attributes": found}, oversize=oversize)
    assert body(item)[0]["attributes"] == expected
    assert item.repairs == notes
    assert all(SECRET not in note for note in item.repairs)


def test_a_long_attribute_name_is_left_out(prepare: Any) -> None:
    item = prepare("identify", {**PERSON, "attributes": {"n" * 151: 1, "ok": 1}})
    assert body(item)[0]["attributes"] == {"ok": 1}
    assert item.repairs == ["attribute name over 150 bytes: left out"]


def test_an_identify_over_the_entity_size_is_split_in_order(prepare: Any) -> None:
    found = {f"k{i:02}": "v" * 990 for i in range(70)}  # about 70 KB: three entities
    item = prepare("identify", {**PERSON, "attributes": found, "created_at": 5, "timestamp": 9})
    parts = body(item)
    assert len(parts) == 3 and item.body == parts
    assert all(len(limits.compact_json(p)) <= limits.MAX_V2_ITEM_BYTES for p in parts)
    assert [k for p in parts for k in p["attributes"]] == [*found, "created_at"]
    assert {json.dumps(p["identifiers"]) for p in parts} == {'{"id": "42"}'}
    assert {p["timestamp"] for p in parts} == {9}
    assert item.repairs == ["identify split: over the entity size limit"]


@pytest.mark.parametrize("api", ["v1", "v2"])
def test_past_300_attributes_the_rest_are_left_out(prepare: Any, api: str) -> None:
    """A person holds at most 300 attributes ("per person or Identify call"): splitting
    them over several calls would not make room, so the first 300 go and each other one
    is noted; under ``dead_letter`` the item is refused."""
    found = {f"a{i}": i for i in range(302)}
    item = prepare("identify", {**PERSON, "attributes": found}, api=api)
    sent = item.body.body if hasattr(item.body, "body") else body(item)[0]["attributes"]
    assert list(sent) == [f"a{i}" for i in range(300)]
    assert item.repairs == ["attribute past the 300 a person may have: left out"] * 2
    with pytest.raises(PermanentDeliveryError, match=r"^attributes: 302 attributes"):
        prepare("identify", {**PERSON, "attributes": found}, api=api, oversize="dead_letter")


V1_FOUND = {
    "first_name": "Ann",
    "email": "ann@example.com",
    "score": 1.5,
    "tags": ["a", SECRET],
    "address": {"city": SECRET},
    "gone": None,
    "visits": 3.0,
    "vip": True,
    "n": 7,
    "cio_subscription_preferences": {"topics": {"topic_1": True}},
}
V1_SENT = {
    "first_name": "Ann",
    "email": "ann@example.com",
    "visits": 3,
    "vip": True,
    "n": 7,
    "cio_subscription_preferences": {"topics": {"topic_1": True}},
}


@pytest.mark.parametrize("oversize", ["truncate", "drop_field"])
def test_v1_leaves_out_the_values_it_cannot_take_and_sends_the_rest(
    prepare: Any, track_spec: Any, oversize: str
) -> None:
    """The v1 identify takes string, integer and boolean values: a fraction, a list, an
    object or a null is left out (one note each, naming its JSON type, never the value), a
    whole-number float goes as that integer, and the rest of the identify goes out."""
    payload = {**PERSON, "attributes": V1_FOUND, "timestamp": 9}
    item = prepare("identify", payload, api="v1", oversize=oversize)
    assert item.route == "v1" and item.body.path == "/api/v1/customers/42"
    assert item.body.body == {**V1_SENT, "_timestamp": 9}
    assert type(item.body.body["visits"]) is int
    assert item.repairs == [
        "attribute value of type number, which v1 does not take: left out",
        "attribute value of type array, which v1 does not take: left out",
        "attribute value of type object, which v1 does not take: left out",
        "attribute value of type null, which v1 does not take: left out",
    ]
    assert all(SECRET not in note and "score" not in note for note in item.repairs)
    assert track_spec.body_errors("/api/v1/customers/{identifier}", "put", item.body.body) == []


def test_v1_value_repairs_leave_v2_and_dead_letter_as_they_were(prepare: Any) -> None:
    payload = {**PERSON, "attributes": V1_FOUND}
    v2 = prepare("identify", payload)
    assert body(v2)[0]["attributes"] == V1_FOUND and v2.repairs == []
    with pytest.raises(PermanentDeliveryError, match=r"^attributes.score: v1 takes only"):
        prepare("identify", payload, api="v1", oversize="dead_letter")


def test_v1_leaves_out_unfit_values_before_counting_300(prepare: Any) -> None:
    """A value v1 cannot take does not use up one of the 300 attributes a person may have."""
    found = {"tags": ["a"], **{f"a{i}": i for i in range(300)}}
    item = prepare("identify", {**PERSON, "attributes": found}, api="v1")
    assert list(item.body.body) == [f"a{i}" for i in range(300)]
    assert item.repairs == ["attribute value of type array, which v1 does not take: left out"]


@pytest.mark.parametrize("value", [1.5, 2.0**53, -(2.0**60), 1e300])
def test_v1_leaves_out_a_fraction_or_a_float_too_big_to_be_exact(
    prepare: Any, value: float
) -> None:
    item = prepare("identify", {**PERSON, "attributes": {"x": value, "y": "z"}}, api="v1")
    assert item.body.body == {"y": "z"}
    assert item.repairs == ["attribute value of type number, which v1 does not take: left out"]


def test_v1_still_refuses_nan_as_json_cannot_carry_it(prepare: Any) -> None:
    with pytest.raises(PermanentDeliveryError):
        prepare("identify", {**PERSON, "attributes": {"x": float("nan")}}, api="v1")


def test_an_email_or_cio_id_identifier_has_no_length_limit(prepare: Any) -> None:
    """The 150-byte limit is the vendor's on "a person's ID value", not on an email."""
    email = "e" * 240 + "@example.com"
    item = prepare("identify", {"identifiers": {"email": email}})
    assert body(item)[0]["identifiers"] == {"email": email}
    merged = prepare("merge", {"primary": {"id": "1"}, "secondary": {"cio_id": "c" * 200}})
    assert body(merged)[0]["secondary"] == {"cio_id": "c" * 200}


def test_a_207_naming_one_part_of_a_split_identify_fails_that_item(
    cio: Any, prepare: Any, settings: Any
) -> None:
    found = {f"k{i:02}": "v" * 990 for i in range(70)}  # about 70 KB: three entities
    split = prepare("identify", {**PERSON, "attributes": found})
    items = [
        prepare("event", {**PERSON, "name": "a"}),
        split,
        prepare("event", {**PERSON, "name": "b"}),
    ]
    (sent,) = cio.build_requests(items, settings)
    assert len(json.loads(sent.request.content)["batch"]) == 5
    answer = {"errors": [{"batch_index": 4, "reason": "invalid"}]}
    response = httpx.Response(207, json=answer, request=sent.request)
    outcomes = errors.classify(sent, response)
    assert [o.status for o in outcomes] == ["delivered", "delivered", "failed"]
    answer = {"errors": [{"batch_index": 3, "reason": "invalid"}]}
    outcomes = errors.classify(sent, httpx.Response(207, json=answer, request=sent.request))
    assert [o.status for o in outcomes] == ["delivered", "failed", "delivered"]


@pytest.mark.parametrize(
    ("action", "left_out"),
    [
        ("event", ["recipient", "from_address", "reply_to"]),
        ("anonymous_event", ["from_address", "reply_to"]),  # the keys its data defines
        ("screen", []),  # a screen's or a page's data defines none: all of it is data
        ("page", []),
    ],
)
def test_message_override_keys_are_left_out_unless_allowed(
    prepare: Any, action: str, left_out: list[str]
) -> None:
    who = {"anonymous_id": "a"} if action == "anonymous_event" else PERSON
    data = {"recipient": "x@y.co", "from_address": "f@y.co", "reply_to": "r@y.co", "sku": 1}
    item = prepare(action, {**who, "name": "n", "data": data})
    sent = item.body.body if hasattr(item.body, "body") else item.body
    assert sent.get("data", sent.get("attributes")) == {
        k: v for k, v in data.items() if k not in left_out
    }
    assert item.repairs == ["message override key left out of event data"] * len(left_out)
    allowed = prepare(action, {**who, "name": "n", "data": data}, allow_message_overrides=True)
    assert allowed.repairs == []


@pytest.mark.parametrize(
    ("value", "timestamp", "notes"),
    [
        (1_713_484_800_123, 1_713_484_800, []),
        (1_713_484_800, 1_713_484_800, ["timestamp in seconds, not milliseconds"]),
        (1_713_484_800.9, 1_713_484_800, ["timestamp in seconds, not milliseconds"]),
    ],
)
def test_timestamp_ms(prepare: Any, value: float, timestamp: int, notes: list[str]) -> None:
    item = prepare("event", {**PERSON, "name": "n", "timestamp_ms": value})
    assert body(item)[0]["timestamp"] == timestamp
    assert item.repairs == notes


def test_an_explicit_timestamp_wins_and_a_bad_timestamp_ms_is_refused(prepare: Any) -> None:
    item = prepare("identify", {**PERSON, "timestamp": 7, "timestamp_ms": 9_000_000_000_000})
    assert body(item)[0]["timestamp"] == 7
    with pytest.raises(PermanentDeliveryError, match="timestamp_ms"):
        prepare("event", {**PERSON, "name": "n", "timestamp_ms": "soon"})


def test_identifiers_are_never_repaired(prepare: Any) -> None:
    with pytest.raises(PermanentDeliveryError, match=r"^identifiers.id: 151 bytes"):
        prepare("identify", {"identifiers": {"id": "i" * 151}})


def test_the_oversize_setting_is_checked(prepare: Any) -> None:
    with pytest.raises(Exception, match="oversize: expected one of truncate, drop_field"):
        prepare("identify", PERSON, oversize="shrink")


def test_unrepaired_items_carry_no_notes(cio: Any, prepare: Any, settings: Any) -> None:
    item = prepare("event", {**PERSON, "name": "n", "data": {"k": "v"}})
    assert item.repairs == []
    requests: list[OutboundRequest] = cio.build_requests([item], settings)
    assert len(requests) == 1
