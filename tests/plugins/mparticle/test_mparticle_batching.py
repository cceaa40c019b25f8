"""``build_requests``: a batch per item, bulk requests within every limit, valid bodies."""

from __future__ import annotations

import base64
import json
import uuid
from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st
from jsonschema import Draft7Validator

from mapwire import OutboundRequest, PreparedItem
from mapwire.plugins.mparticle import limits, wire
from mapwire.plugins.mparticle.destination import MParticle

Prepare = Callable[..., PreparedItem]

#: Kinds of item a scenario is written in: (action, payload fields from a size in chars).
KINDS: dict[str, tuple[str, Callable[[int], dict[str, Any]]]] = {
    "event": ("custom_event", lambda n: {"event_name": "Clicked", "custom_attributes": _pad(n)}),
    "screen": ("screen_view", lambda n: {"screen_name": "Home", "custom_attributes": _pad(n)}),
    "attrs": ("user_attributes", lambda n: {"user_attributes": {f"a{n % 7}": "v" * min(n, 4096)}}),
}


def _pad(chars: int) -> dict[str, str]:
    """Attributes holding about ``chars`` characters, in values of at most 4,096."""
    full, rest = divmod(chars, 4096)
    values = ["v" * 4096] * full + (["v" * rest] if rest else [])
    return {f"p{i}": value for i, value in enumerate(values)}


def _items(
    prepare: Prepare, spec: list[tuple[str, str, int]], *, with_ids: bool = False
) -> list[PreparedItem]:
    """Items from ``(user, kind, chars)``; each event is tagged with its user and sequence."""
    seen: dict[str, int] = {}
    items = []
    for user, kind, chars in spec:
        action, fields = KINDS[kind]
        payload = fields(chars)
        if action != "user_attributes":
            payload["custom_attributes"] |= {"who": user, "seq": seen.get(user, 0)}
        if with_ids:
            payload["source_message_id"] = f"{user}/{seen.get(user, 0)}"
        seen[user] = seen.get(user, 0) + 1
        items.append(prepare(action, user=user, **payload))
    return items


def _verify(
    requests: list[OutboundRequest],
    items: list[PreparedItem],
    batch_validator: Draft7Validator,
    bulk_validator: Draft7Validator,
) -> list[list[dict[str, Any]]]:
    """Every invariant of a build; returns the parsed bodies."""
    bodies = []
    carried: list[PreparedItem] = []
    last_seq: dict[str, int] = {}
    for sent in requests:
        raw = sent.request.content
        assert len(raw) <= limits.REQUEST_BYTES
        body = json.loads(raw)
        assert raw == json.dumps(body, separators=(",", ":"), ensure_ascii=False).encode()
        assert 1 <= len(body) <= limits.BATCHES_PER_REQUEST
        assert list(bulk_validator.iter_errors(body)) == []
        for batch in body:
            assert list(batch_validator.iter_errors(batch)) == []
            encoded = json.dumps(batch, separators=(",", ":"), ensure_ascii=False).encode()
            assert len(encoded) <= limits.BATCH_BYTES
            user = batch["user_identities"]["customer_id"]
            for event in batch.get("events", []):
                attributes = event["data"]["custom_attributes"]
                assert attributes["who"] == user
                assert attributes["seq"] > last_seq.get(user, -1)
                last_seq[user] = attributes["seq"]
        events = [e for batch in body for e in batch.get("events", [])]
        assert events == [i.body["event"] for i in sent.items if "event" in i.body]
        carried.extend(sent.items)
        bodies.append(body)
    assert [id(i) for i in carried] == [id(i) for i in items]
    return bodies


#: (id, items as (user, kind, chars), batches per request, events per batch)
SCENARIOS = [
    ("one-event", [("u1", "event", 10)], [1], [1]),
    (
        "consecutive-same-user-a-batch-each",
        [("u1", "event", 10), ("u1", "screen", 10), ("u1", "event", 10)],
        [3],
        [1, 1, 1],
    ),
    (
        "interleaved-users-keep-their-order",
        [("u1", "event", 10), ("u1", "event", 10), ("u2", "event", 10), ("u1", "event", 10)],
        [4],
        [1, 1, 1, 1],
    ),
    (
        "attributes-a-batch-of-their-own",
        [("u1", "attrs", 5), ("u1", "event", 10), ("u1", "attrs", 12)],
        [3],
        [0, 1, 0],
    ),
    ("attributes-only", [("u1", "attrs", 3), ("u2", "attrs", 3)], [2], [0, 0]),
    (
        "250-users-three-requests",
        [(f"u{i}", "event", 10) for i in range(250)],
        [100, 100, 50],
        None,
    ),
    ("big-events-split-at-256kb", [("u1", "event", 30_000)] * 9, [8, 1], [1] * 9),
    (
        "big-batches-split-at-256kb",
        [(f"u{i}", "event", 100_000) for i in range(5)],
        [2, 2, 1],
        None,
    ),
]


@pytest.mark.parametrize(
    ("spec", "per_request", "per_batch"),
    [pytest.param(s, r, b, id=i) for i, s, r, b in SCENARIOS],
)
def test_batches_and_requests(
    destination: MParticle,
    settings: dict[str, Any],
    prepare: Prepare,
    batch_validator: Draft7Validator,
    bulk_validator: Draft7Validator,
    spec: list[tuple[str, str, int]],
    per_request: list[int],
    per_batch: list[int] | None,
) -> None:
    items = _items(prepare, spec)
    requests = destination.build_requests(items, settings)
    bodies = _verify(requests, items, batch_validator, bulk_validator)
    assert [len(body) for body in bodies] == per_request
    if per_batch is not None:
        assert [len(b.get("events", [])) for body in bodies for b in body] == per_batch


def test_each_item_carries_its_own_attributes_in_order(
    destination: MParticle, settings: dict[str, Any], prepare: Prepare
) -> None:
    items = [
        prepare("user_attributes", user_attributes={"plan": "free", "seats": 1}),
        prepare("custom_event", event_name="Upgraded"),
        prepare("user_attributes", user_attributes={"plan": "pro", "$FirstName": "Ada"}),
    ]
    (sent,) = destination.build_requests(items, settings)
    body = json.loads(sent.request.content)
    assert [b.get("user_attributes") for b in body] == [
        {"plan": "free", "seats": 1},
        None,
        {"plan": "pro", "$FirstName": "Ada"},
    ]
    assert [[e["data"]["event_name"] for e in b.get("events", [])] for b in body] == [
        [],
        ["Upgraded"],
        [],
    ]


def test_each_attributes_item_is_a_batch_of_its_own_attributes(
    destination: MParticle, settings: dict[str, Any], prepare: Prepare
) -> None:
    items = [
        prepare("user_attributes", user_attributes={f"k{i}": i for i in keys})
        for keys in (range(0, 60), range(60, 100), range(10, 100))
    ]
    (sent,) = destination.build_requests(items, settings)
    body = json.loads(sent.request.content)
    assert [len(b["user_attributes"]) for b in body] == [60, 40, 90]
    assert all(len(b["user_attributes"]) <= limits.USER_ATTRIBUTES for b in body)


def test_each_batch_names_its_items_user(
    destination: MParticle, settings: dict[str, Any], prepare: Prepare
) -> None:
    both = {"customer_id": "u1", "email": "u1@example.com"}
    items = [
        prepare("custom_event", user_identities=both, event_name="a"),
        prepare("custom_event", user_identities=both, mpid=7, event_name="c"),
        prepare("custom_event", user_identities={"customer_id": "u1"}, event_name="d"),
    ]
    (sent,) = destination.build_requests(items, settings)
    body = json.loads(sent.request.content)
    assert [[e["data"]["event_name"] for e in b["events"]] for b in body] == [["a"], ["c"], ["d"]]
    assert [b["user_identities"] for b in body] == [both, both, {"customer_id": "u1"}]
    assert [b.get("mpid") for b in body] == [None, 7, None]


def test_request_is_a_bulk_post_with_basic_auth(
    destination: MParticle, settings: dict[str, Any], prepare: Prepare
) -> None:
    (sent,) = destination.build_requests([prepare("custom_event", event_name="e")], settings)
    request = sent.request
    assert request.method == "POST"
    assert str(request.url) == "https://s2s.us1.mparticle.com/v2/bulkevents"
    assert request.headers["content-type"] == "application/json"
    assert request.headers["user-agent"] == "mapwire/0.1.0"
    scheme, token = request.headers["authorization"].split(" ")
    assert scheme == "Basic"
    assert base64.b64decode(token).decode() == f"{settings['api_key']}:{settings['api_secret']}"
    assert json.loads(request.content)[0]["environment"] == "production"


def test_no_items_no_requests(destination: MParticle, settings: dict[str, Any]) -> None:
    assert destination.build_requests([], settings) == []


def _ids(requests: list[OutboundRequest]) -> list[str | None]:
    return [b.get("source_request_id") for r in requests for b in json.loads(r.request.content)]


def test_source_request_id_is_derived_from_the_items_message_id(
    destination: MParticle, settings: dict[str, Any], prepare: Prepare
) -> None:
    def build(*message_ids: str) -> list[str | None]:
        items = [prepare("custom_event", event_name="e", source_message_id=m) for m in message_ids]
        return _ids(destination.build_requests(items, settings))

    first, second = build("m1", "m2")
    assert first is not None and second is not None and first != second
    assert uuid.UUID(first).version == 5
    assert build("m1") == [first]
    assert build("m2", "m1") == [second, first]


def test_a_resent_item_keeps_its_source_request_id_whatever_is_claimed_with_it(
    destination: MParticle, settings: dict[str, Any], prepare: Prepare
) -> None:
    """An item sent, unanswered (a timeout: mParticle may have taken it), then claimed
    again with a newer item of its user and items of others, goes out with the id it had:
    mParticle drops the copy instead of counting the event twice."""

    def ids_by_message(spec: list[tuple[str, str]]) -> dict[str, str | None]:
        items = [
            prepare("custom_event", user=user, event_name="e", source_message_id=message)
            for user, message in spec
        ]
        requests = destination.build_requests(items, settings)
        return {
            event["data"]["source_message_id"]: batch.get("source_request_id")
            for sent in requests
            for batch in json.loads(sent.request.content)
            for event in batch["events"]
        }

    first = ids_by_message([("u1", "m1"), ("u1", "m2")])
    again = ids_by_message([("u1", "m1"), ("u1", "m2"), ("u1", "m3"), ("u2", "m4")])
    assert None not in first.values()
    assert {message: again[message] for message in first} == first


def test_a_rebuilt_request_is_byte_for_byte_the_same(
    destination: MParticle, settings: dict[str, Any], prepare: Prepare
) -> None:
    spec = [(f"u{i % 7 // 3}", "event", 40) for i in range(60)]
    first = destination.build_requests(_items(prepare, spec, with_ids=True), settings)
    second = destination.build_requests(_items(prepare, spec, with_ids=True), settings)
    assert [r.request.content for r in first] == [r.request.content for r in second]
    ids = _ids(first)
    assert None not in ids
    assert len(set(ids)) == len(ids)


def test_attributes_and_an_event_of_one_message_have_different_ids(
    destination: MParticle, settings: dict[str, Any], prepare: Prepare
) -> None:
    """A sign-up yields the person's attributes and the event, both naming its message:
    two batches with one id would be one to mParticle, which keeps the first."""
    items = [
        prepare("user_attributes", user_attributes={"plan": "pro"}, source_message_id="m1"),
        prepare("custom_event", event_name="Signed Up", source_message_id="m1"),
    ]
    attributes, event = _ids(destination.build_requests(items, settings))
    assert attributes is not None and event is not None and attributes != event
    (alone,) = _ids(destination.build_requests(items[1:], settings))
    assert alone == event, "an event's id is its message's, as it always was"


def test_source_request_id_only_for_an_item_with_a_message_id(
    destination: MParticle, settings: dict[str, Any], prepare: Prepare
) -> None:
    items = [
        prepare("user_attributes", user_attributes={"a": 1}, source_message_id="m1"),
        prepare("custom_event", event_name="e"),
    ]
    with_id, without = _ids(destination.build_requests(items, settings))
    assert with_id is not None and without is None


users = st.sampled_from([f"u{i}" for i in range(5)])
kinds = st.sampled_from(sorted(KINDS))
sizes = st.integers(min_value=0, max_value=40_000)


@hypothesis_settings(
    max_examples=25,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(spec=st.lists(st.tuples(users, kinds, sizes), min_size=1, max_size=120))
def test_any_item_sequence_meets_every_limit(
    destination: MParticle,
    settings: dict[str, Any],
    prepare: Prepare,
    batch_validator: Draft7Validator,
    bulk_validator: Draft7Validator,
    spec: list[tuple[str, str, int]],
) -> None:
    items = _items(prepare, spec)
    requests = destination.build_requests(items, settings)
    _verify(requests, items, batch_validator, bulk_validator)


@pytest.mark.parametrize("name", ["message:evt-1", "request:a\nb", "message:ünïcode", ""])
def test_derived_ids_are_the_standard_uuid5(name: str) -> None:
    assert wire.uuid5(name) == str(uuid.uuid5(wire.NAMESPACE, name))
