"""``prepare``: Customer.io's client-side limits at the boundary and one over, timestamps in
seconds, value-free error messages, and what only v1 refuses."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest

from mapwire import PermanentDeliveryError

PERSON = {"identifiers": {"id": "42"}}


def identify(**fields: Any) -> dict[str, Any]:
    return {**PERSON, **fields}


def event(**fields: Any) -> dict[str, Any]:
    return {**PERSON, "name": "purchase", **fields}


def attributes(count: int) -> dict[str, str]:
    return {f"a{i}": "v" for i in range(count)}


# (id, action, payload at the limit, payload one over, the reason's start, settings)
LIMITS = [
    (
        "id-150-bytes",
        "identify",
        identify(identifiers={"id": "i" * 150}),
        identify(identifiers={"id": "i" * 151}),
        "identifiers.id: 151 bytes; the limit is 150",
        {},
    ),
    (
        "id-unicode-bytes",
        "identify",
        identify(identifiers={"id": "é" * 75}),
        identify(identifiers={"id": "é" * 75 + "x"}),
        "identifiers.id: 151 bytes",
        {},
    ),
    (
        "merge-secondary",
        "merge",
        {"primary": {"id": "1"}, "secondary": {"id": "c" * 150}},
        {"primary": {"id": "1"}, "secondary": {"id": "c" * 151}},
        "secondary.id: 151",
        {},
    ),
    (
        "attribute-name",
        "identify",
        identify(attributes={"n" * 150: 1}),
        identify(attributes={"n" * 151: 1}),
        "attributes: an attribute name is 151 bytes",
        {},
    ),
    (
        "attribute-name-unicode",
        "identify",
        identify(attributes={"ü" * 75: 1}),
        identify(attributes={"ü" * 75 + "x": 1}),
        "attributes: an attribute name is 151 bytes",
        {},
    ),
    (
        "attribute-value",
        "identify",
        identify(attributes={"plan": "v" * 1000}),
        identify(attributes={"plan": "v" * 1001}),
        "attributes.plan: the value is 1001 bytes; the limit is 1000",
        {},
    ),
    (
        "attribute-value-unicode",
        "identify",
        identify(attributes={"plan": "€" * 333 + "a"}),
        identify(attributes={"plan": "€" * 333 + "ab"}),
        "attributes.plan: the value is 1001",
        {},
    ),
    (
        "attribute-value-json",
        "identify",
        identify(attributes={"tags": ["t" * 996]}),
        identify(attributes={"tags": ["t" * 997]}),
        "attributes.tags: the value is 1001",
        {},
    ),
    (
        "attribute-count",
        "identify",
        identify(attributes=attributes(300)),
        identify(attributes=attributes(301)),
        "attributes: 301 attributes; the limit is 300",
        {},
    ),
    (
        "attribute-count-with-created-at",
        "identify",
        identify(attributes=attributes(299), created_at=1),
        identify(attributes=attributes(300), created_at=1),
        "attributes: 301 attributes",
        {},
    ),
    (
        "event-name",
        "event",
        event(name="n" * 100),
        event(name="n" * 101),
        "name: 101 bytes; the limit is 100",
        {},
    ),
    (
        "event-name-unicode",
        "page",
        event(name="日" * 33 + "a"),
        event(name="日" * 34),
        "name: 102 bytes",
        {},
    ),
    (
        "event-data-v1",
        "event",
        event(data={"k": "d" * 99_992}),
        event(data={"k": "d" * 99_993}),
        "data: 100001 bytes; the limit is 100000",
        {"api": "v1"},
    ),
    (
        "anonymous-event-data",
        "anonymous_event",
        {"anonymous_id": "a", "name": "n", "data": {"k": "d" * 99_992}},
        {"anonymous_id": "a", "name": "n", "data": {"k": "d" * 99_993}},
        "data: 100001 bytes",
        {},
    ),
]


@pytest.mark.parametrize(
    ("name", "at_limit", "over", "reason", "options"),
    [pytest.param(*case[1:], id=case[0]) for case in LIMITS],
)
def test_limit_boundary(
    prepare: Any, name: str, at_limit: Any, over: Any, reason: str, options: Any
) -> None:
    """With ``oversize: dead_letter`` every limit dead-letters the item, as the vendor's."""
    options = {"oversize": "dead_letter", **options}
    assert prepare(name, at_limit, **options).size > 0
    with pytest.raises(PermanentDeliveryError) as caught:
        prepare(name, over, **options)
    assert caught.value.reason.startswith(reason)


def _sized_event(prepare: Any, size: int, **options: Any) -> dict[str, Any]:
    """An event payload whose rendered v2 entity is exactly ``size`` bytes."""
    base = prepare("screen", event(data={"k": ""}), **options).size
    return event(data={"k": "d" * (size - base)})


@pytest.mark.parametrize("api", ["v2", "v1"])
def test_v2_entity_at_32000_bytes_and_one_over(prepare: Any, api: str) -> None:
    """In v1 mode screen goes to ``/api/v2/entity``, which has the same 32 KB cap."""
    item = prepare("screen", _sized_event(prepare, 32_000, api=api), api=api)
    assert item.size == 32_000
    with pytest.raises(PermanentDeliveryError, match=r"^item: the v2 entity is 32001 bytes"):
        prepare("screen", _sized_event(prepare, 32_001, api=api), api=api)


def test_v1_events_are_not_held_to_the_v2_entity_cap(prepare: Any) -> None:
    assert prepare("event", event(data={"k": "d" * 50_000}), api="v1").size > 50_000


# -- timestamps -----------------------------------------------------------------------------

MS = 1713484800123


@pytest.mark.parametrize(
    ("name", "payload", "reason"),
    [
        ("event", event(timestamp=MS), "timestamp: timestamp looks like milliseconds"),
        ("identify", identify(created_at=MS), "created_at: timestamp looks like milliseconds"),
        (
            "add_device",
            {**PERSON, "device": {"token": "t", "platform": "ios", "last_used": MS}},
            "device.last_used: timestamp looks like milliseconds",
        ),
        ("event", event(timestamp=10**11 + 1), "timestamp: timestamp looks like milliseconds"),
        ("event", event(timestamp=-1), "timestamp: expected unix seconds, got a negative"),
        ("event", event(timestamp=1.5), "timestamp: expected whole unix seconds"),
        ("event", event(timestamp="1713484800"), "timestamp: expected integer unix seconds"),
        ("event", event(timestamp=True), "timestamp: expected integer unix seconds"),
        ("event", event(timestamp=None), "timestamp: expected integer unix seconds"),
    ],
)
def test_bad_timestamps_are_item_errors(prepare: Any, name: str, payload: Any, reason: str) -> None:
    with pytest.raises(PermanentDeliveryError) as caught:
        prepare(name, payload)
    assert caught.value.reason.startswith(reason)
    assert "unix seconds" in caught.value.reason


@pytest.mark.parametrize(("given", "sent"), [(1713484800.0, 1713484800), (10**11, 10**11), (0, 0)])
def test_integral_timestamps_are_sent_as_integers(prepare: Any, given: Any, sent: int) -> None:
    body = prepare("event", event(timestamp=given)).body
    assert body["timestamp"] == sent and type(body["timestamp"]) is int


def test_prepare_does_not_change_the_action_payload(prepare: Any) -> None:
    payload = {**PERSON, "device": {"token": "t", "platform": "ios", "last_used": 5.0}}
    before = copy.deepcopy(payload)
    assert prepare("add_device", payload).body["device"]["last_used"] == 5
    assert payload == before


# -- schema errors never quote values -------------------------------------------------------

SECRET_VALUE = "PII-SENTINEL-7731"


@pytest.mark.parametrize(
    ("name", "payload", "reason"),
    [
        (
            "add_device",
            {**PERSON, "device": {"token": "t", "platform": SECRET_VALUE}},
            "payload.device.platform: expected one of ios, android",
        ),
        (
            "delete",
            {"identifiers": {"email": SECRET_VALUE}},
            "payload.identifiers.email: expected format email",
        ),
        (
            "delete",
            {"identifiers": {"cio_id": "cio_" + SECRET_VALUE}},
            "payload.identifiers.cio_id: does not match",
        ),
        (
            "delete",
            {"identifiers": {"id": "1", "email": SECRET_VALUE + "@x"}},
            "payload.identifiers: expected exactly one of id, email, cio_id",
        ),
        (
            "identify",
            {"identifiers": {"id": 12345}, "attributes": {"a": SECRET_VALUE}},
            "payload.identifiers.id: expected string, got integer",
        ),
        ("event", {**PERSON}, "payload: missing required field(s) name"),
        ("event", event(extra=SECRET_VALUE), "payload: unexpected field(s) extra"),
        ("identify", identify(attributes={"plan": SECRET_VALUE * 100}), "attributes.plan:"),
        ("event", event(name=SECRET_VALUE * 10), "name: 170 bytes"),
        ("delete", {"identifiers": {"id": SECRET_VALUE * 10}}, "identifiers.id: 170 bytes"),
        ("identify", identify(attributes={"score": 1.5}), "attributes.score: v1 takes only"),
    ],
)
def test_errors_name_the_field_but_never_the_value(
    prepare: Any, name: str, payload: Any, reason: str
) -> None:
    with pytest.raises(PermanentDeliveryError) as caught:
        prepare(name, payload, api="v1", oversize="dead_letter")
    assert reason in str(caught.value)
    assert "12345" not in str(caught.value) and SECRET_VALUE not in str(caught.value)


def test_unknown_action_is_an_item_error(prepare: Any) -> None:
    with pytest.raises(PermanentDeliveryError, match=r"unknown Customer\.io action 'upsert'"):
        prepare("upsert", PERSON)


def test_nan_cannot_be_sent(prepare: Any) -> None:
    with pytest.raises(PermanentDeliveryError, match="NaN or Infinity"):
        prepare("event", event(data={"x": float("nan")}))


def test_key_is_kept(cio: Any, settings: Any) -> None:
    from mapwire import Action

    item = cio.prepare(Action("customerio", "delete", PERSON), settings, key=("queue", 7))
    assert item.key == ("queue", 7)


# -- v1 only --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("payload", "v1_reason"),
    [
        (identify(attributes={"score": 1.5}), "attributes.score: v1 takes only"),
        (identify(attributes={"gone": None}), "attributes.gone: v1 takes only"),
        (identify(attributes={"tags": ["a"]}), "attributes.tags: v1 takes only"),
        (identify(identifiers={"id": "cio_123"}), "identifiers.id: v1 paths infer"),
        (identify(identifiers={"id": "a@b.example"}), "identifiers.id: v1 paths infer"),
    ],
)
def test_v1_refuses_what_only_v2_can_carry(prepare: Any, payload: Any, v1_reason: str) -> None:
    """Under ``oversize: dead_letter``; the repairing policies leave such a value out (see
    ``test_customerio_repairs``), but never repair an identifier."""
    assert prepare("identify", payload, api="v2").route == "v2/batch"
    with pytest.raises(PermanentDeliveryError) as caught:
        prepare("identify", payload, api="v1", oversize="dead_letter")
    assert caught.value.reason.startswith(v1_reason)
    if "identifiers" in v1_reason:
        with pytest.raises(PermanentDeliveryError, match=v1_reason):
            prepare("identify", payload, api="v1")


def test_v1_identify_body(prepare: Any) -> None:
    payload = identify(
        attributes={"plan": "pro", "vip": True, "n": 3, "cio_subscription_preferences": {}},
        created_at=1361205308,
        unsubscribed=True,
        timestamp=1713484800,
    )
    call = prepare("identify", payload, api="v1").body
    assert (call.method, call.path) == ("PUT", "/api/v1/customers/42")
    assert call.body == {
        "plan": "pro",
        "vip": True,
        "n": 3,
        "cio_subscription_preferences": {},
        "created_at": 1361205308,
        "unsubscribed": True,
        "_timestamp": 1713484800,
    }


def test_v2_identify_entity(prepare: Any) -> None:
    payload = identify(attributes={"created_at": 1}, created_at=2, unsubscribed=False, timestamp=3)
    assert prepare("identify", payload).body == {
        "type": "person",
        "action": "identify",
        "identifiers": {"id": "42"},
        "attributes": {"created_at": 2, "unsubscribed": False},
        "timestamp": 3,
    }


def test_size_is_the_compact_json_length(prepare: Any) -> None:
    item = prepare("event", event(data={"city": "Zürich"}))
    text = json.dumps(item.body, separators=(",", ":"), ensure_ascii=False)
    assert item.size == len(text.encode("utf-8"))
