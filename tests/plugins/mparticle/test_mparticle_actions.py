"""Action contracts and ``prepare``: payload schemas, limits at the boundary, rendering."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from jsonschema import Draft7Validator, Draft202012Validator

from mapwire import Action, PermanentDeliveryError, PreparedItem
from mapwire.plugins.mparticle import limits
from mapwire.plugins.mparticle.actions import (
    ACTIONS,
    CUSTOM_EVENT_TYPES,
    NO_USER,
    USER_IDENTITY_KEYS,
)
from mapwire.plugins.mparticle.destination import MParticle
from mapwire.plugins.mparticle.requests import estimate_alone

Prepare = Callable[..., PreparedItem]


def _fields(schema: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    return list(schema["properties"].items())


@pytest.mark.parametrize("name", sorted(ACTIONS))
def test_payload_schema_is_a_closed_documented_contract(name: str) -> None:
    schema = dict(ACTIONS[name].payload_schema)
    Draft202012Validator.check_schema(schema)
    assert schema["type"] == "object"
    assert schema["additionalProperties"] is False
    # Always given (a mapping that never sets it is told when it loads); "at least one
    # identity, or mpid" is the destination's check, not an anyOf (see NO_USER)
    assert "user_identities" in schema["required"]
    assert {"user_identities", "mpid"} <= set(schema["properties"])
    assert set(schema["required"]) <= set(schema["properties"])
    for field, spec in _fields(schema):
        assert spec.get("type"), f"{name}.{field} has no type"
        assert spec.get("description"), f"{name}.{field} has no description"


def test_custom_event_types_are_the_events_api_schema_enum(
    load_vendor: Callable[[str], Any],
) -> None:
    vendor = load_vendor("eventsapi.schema.json")["definitions"]["CustomEvent"]
    enum = vendor["properties"]["data"]["allOf"][1]["properties"]["custom_event_type"]["enum"]
    assert list(CUSTOM_EVENT_TYPES) == enum
    payload_enum = ACTIONS["custom_event"].payload_schema["properties"]["custom_event_type"]
    assert payload_enum["enum"] == enum
    assert payload_enum["default"] == "other"


def test_identity_keys_are_accepted_by_the_events_api_schema(
    load_vendor: Callable[[str], Any],
) -> None:
    vendor = load_vendor("eventsapi.schema.json")["properties"]["user_identities"]
    assert vendor["additionalProperties"] is False
    assert set(USER_IDENTITY_KEYS) <= set(vendor["properties"])
    assert {"customer_id", "email", "other"} <= set(USER_IDENTITY_KEYS)


RENDERED = [
    pytest.param(
        "custom_event",
        {"event_name": "Signed Up", "custom_attributes": {"plan": "pro", "seats": 3}},
        {
            "event_type": "custom_event",
            "data": {
                "event_name": "Signed Up",
                "custom_event_type": "other",
                "custom_attributes": {"plan": "pro", "seats": 3},
            },
        },
        id="custom_event-default-type",
    ),
    pytest.param(
        "custom_event",
        {"event_name": "Searched", "custom_event_type": "search", "timestamp_unixtime_ms": 10**12},
        {
            "event_type": "custom_event",
            "data": {
                "event_name": "Searched",
                "custom_event_type": "search",
                "timestamp_unixtime_ms": 10**12,
            },
        },
        id="custom_event-typed",
    ),
    pytest.param(
        "screen_view",
        {"screen_name": "Home", "custom_attributes": {"tab": None, "dark": True}},
        {
            "event_type": "screen_view",
            "data": {"screen_name": "Home", "custom_attributes": {"tab": None, "dark": True}},
        },
        id="screen_view",
    ),
]


@pytest.mark.parametrize(("action", "payload", "event"), RENDERED)
def test_prepare_renders_one_events_api_event(
    prepare: Prepare, action: str, payload: dict[str, Any], event: dict[str, Any]
) -> None:
    item = prepare(action, mpid=42, **payload)
    assert item.body["event"] == event
    assert item.body["user_identities"] == {"customer_id": "u1"}
    assert item.body["mpid"] == 42
    assert item.size > 0


def test_user_attributes_render_no_event(prepare: Prepare) -> None:
    item = prepare("user_attributes", user_attributes={"$FirstName": "Ada", "tags": ["a", "b"]})
    assert "event" not in item.body
    assert item.body["user_attributes"] == {"$FirstName": "Ada", "tags": ["a", "b"]}


SOURCE_IDS = [
    pytest.param("f73133d5-116d-4ea4-b04a-691c339f04e3", True, id="uuid-kept"),
    pytest.param("01HZX3K5Q9W8Y7V6T5S4R3P2N1", False, id="ulid-derived"),
    pytest.param("delivery:42", False, id="text-derived"),
]


@pytest.mark.parametrize(("source_id", "kept"), SOURCE_IDS)
def test_source_message_id_is_always_a_stable_uuid(
    prepare: Prepare, batch_validator: Draft7Validator, source_id: str, kept: bool
) -> None:
    first = prepare("custom_event", event_name="e", source_message_id=source_id)
    again = prepare("custom_event", event_name="e", source_message_id=source_id)
    sent = first.body["event"]["data"]["source_message_id"]
    assert sent == again.body["event"]["data"]["source_message_id"]
    assert (sent == source_id) is kept
    batch = {"environment": "production", "user_identities": {"customer_id": "u1"}}
    batch["events"] = [first.body["event"]]
    assert list(batch_validator.iter_errors(batch)) == []


def _attributes(count: int, name_chars: int = 8, value_chars: int = 1) -> dict[str, str]:
    return {f"{i:0{name_chars}d}": "v" * value_chars for i in range(count)}


#: (id, action, payload fields, expected fragment of the error or None when it must pass)
LIMITS = [
    ("event-name-at-limit", "custom_event", {"event_name": "n" * 256}, None),
    ("event-name-over", "custom_event", {"event_name": "n" * 257}, "event_name: 257 characters"),
    ("screen-name-at-limit", "screen_view", {"screen_name": "s" * 256}, None),
    ("screen-name-over", "screen_view", {"screen_name": "s" * 257}, "screen_name: 257 characters"),
    (
        "attributes-at-limit",
        "custom_event",
        {"event_name": "e", "custom_attributes": _attributes(100)},
        None,
    ),
    (
        "attributes-over",
        "custom_event",
        {"event_name": "e", "custom_attributes": _attributes(101)},
        "custom_attributes: 101 entries; at most 100",
    ),
    (
        "attribute-name-at-limit",
        "custom_event",
        {"event_name": "e", "custom_attributes": _attributes(1, name_chars=256)},
        None,
    ),
    (
        "attribute-name-over",
        "custom_event",
        {"event_name": "e", "custom_attributes": _attributes(1, name_chars=257)},
        "has 257 characters; at most 256",
    ),
    (
        "attribute-value-at-limit",
        "screen_view",
        {"screen_name": "s", "custom_attributes": _attributes(1, value_chars=4096)},
        None,
    ),
    (
        "attribute-value-over",
        "screen_view",
        {"screen_name": "s", "custom_attributes": _attributes(1, value_chars=4097)},
        "4097 characters; at most 4096",
    ),
    ("user-attributes-at-limit", "user_attributes", {"user_attributes": _attributes(100)}, None),
    (
        "user-attributes-over",
        "user_attributes",
        {"user_attributes": _attributes(101)},
        "user_attributes: 101 entries; at most 100",
    ),
    (
        "user-attribute-value-over",
        "user_attributes",
        {"user_attributes": _attributes(1, value_chars=4097)},
        "user_attributes.00000000: 4097 characters; at most 4096",
    ),
    ("list-at-limit", "user_attributes", {"user_attributes": {"l": ["x"] * 1000}}, None),
    (
        "list-over",
        "user_attributes",
        {"user_attributes": {"l": ["x"] * 1001}},
        "user_attributes.l: 1001 entries; at most 1000",
    ),
    ("list-entry-at-limit", "user_attributes", {"user_attributes": {"l": ["x" * 512]}}, None),
    (
        "list-entry-over",
        "user_attributes",
        {"user_attributes": {"l": ["x" * 513]}},
        "user_attributes.l[0]: 513 characters; at most 512",
    ),
    (
        "timestamp-lowest-ms",
        "custom_event",
        {"event_name": "e", "timestamp_unixtime_ms": limits.MIN_TIMESTAMP_MS},
        None,
    ),
    (
        "timestamp-seconds",
        "custom_event",
        {"event_name": "e", "timestamp_unixtime_ms": limits.MIN_TIMESTAMP_MS - 1},
        "looks like seconds",
    ),
    (
        "timestamp-seconds-now",
        "screen_view",
        {"screen_name": "s", "timestamp_unixtime_ms": 1_714_592_744},
        "looks like seconds",
    ),
    (
        "timestamp-highest-ms",
        "custom_event",
        {"event_name": "e", "timestamp_unixtime_ms": limits.MAX_TIMESTAMP_MS - 1},
        None,
    ),
    (
        "timestamp-microseconds",
        "custom_event",
        {"event_name": "e", "timestamp_unixtime_ms": limits.MAX_TIMESTAMP_MS},
        "looks like microseconds",
    ),
    (
        "timestamp-float",
        "custom_event",
        {"event_name": "e", "timestamp_unixtime_ms": 1714592744066.5},
        "timestamp_unixtime_ms: expected integer, got number",
    ),
]


@pytest.mark.parametrize(
    ("action", "fields", "expected"),
    [pytest.param(a, f, e, id=i) for i, a, f, e in LIMITS],
)
def test_limits_at_the_boundary_and_one_over(
    prepare: Prepare, action: str, fields: dict[str, Any], expected: str | None
) -> None:
    """With ``oversize: dead_letter`` every limit dead-letters the item, as mParticle would."""
    if expected is None:
        assert prepare(action, oversize="dead_letter", **fields).size > 0
        return
    with pytest.raises(PermanentDeliveryError) as caught:
        prepare(action, oversize="dead_letter", **fields)
    assert expected in str(caught.value)
    assert str(caught.value).startswith(f"mparticle.{action}: ")


#: (id, action, payload, expected fragment of the error)
INVALID = [
    (
        "no-identities",
        "custom_event",
        {"event_name": "e"},
        "payload: missing required field user_identities",
    ),
    (
        "empty-identities",
        "custom_event",
        {"user_identities": {}, "event_name": "e"},
        NO_USER,
    ),
    (
        "no-identities-screen-view",
        "screen_view",
        {"user_identities": {}, "screen_name": "s"},
        NO_USER,
    ),
    (
        "no-identities-user-attributes",
        "user_attributes",
        {"user_identities": {}, "user_attributes": {"a": 1}},
        NO_USER,
    ),
    (
        "mpid-beyond-64-bits",
        "custom_event",
        {"user_identities": {}, "mpid": 2**63, "event_name": "e"},
        "mpid: above the maximum",
    ),
    (
        "mpid-in-identities",
        "custom_event",
        {"user_identities": {"mpid": "1"}, "event_name": "e"},
        "unexpected field 'mpid'",
    ),
    (
        "unknown-field",
        "screen_view",
        {"user_identities": {"email": "a@b.c"}, "screen_name": "s", "colour": "red"},
        "payload: unexpected field 'colour'",
    ),
    (
        "bad-event-type",
        "custom_event",
        {"user_identities": {"other": "x"}, "event_name": "e", "custom_event_type": "purchase"},
        "custom_event_type: not one of navigation",
    ),
    (
        "mpid-string",
        "user_attributes",
        {"user_identities": {"other": "x"}, "mpid": "123", "user_attributes": {"a": 1}},
        "mpid: expected integer, got string",
    ),
    (
        "attribute-object",
        "custom_event",
        {"user_identities": {"other": "x"}, "event_name": "e", "custom_attributes": {"a": {}}},
        "custom_attributes.a: expected string or number or boolean or null, got object",
    ),
    (
        "attribute-nan",
        "custom_event",
        {"user_identities": {"other": "x"}, "event_name": "e", "custom_attributes": {"a": 1e999}},
        "not a finite number",
    ),
    (
        "user-attribute-object",
        "user_attributes",
        {"user_identities": {"other": "x"}, "user_attributes": {"a": {}}},
        "user_attributes.a: matches none of the allowed forms, got object",
    ),
    ("not-an-object", "custom_event", ["e"], "payload: expected object, got array"),
]


@pytest.mark.parametrize(
    ("action", "payload", "expected"),
    [pytest.param(a, p, e, id=i) for i, a, p, e in INVALID],
)
def test_invalid_payloads_fail_with_a_message_that_names_the_field(
    destination: MParticle, action: str, payload: Any, expected: str
) -> None:
    with pytest.raises(PermanentDeliveryError) as caught:
        destination.prepare(Action("mparticle", action, payload), {})
    assert expected in str(caught.value)


def test_error_messages_never_quote_payload_values(destination: MParticle) -> None:
    secret_value = "VALUE-SENTINEL-" + "x" * 5000
    payload = {
        "user_identities": {"email": 12345},
        "event_name": secret_value,
        "custom_attributes": {"k": secret_value, "n": ["VALUE-SENTINEL"]},
        "mpid": "VALUE-SENTINEL",
    }
    with pytest.raises(PermanentDeliveryError) as caught:
        destination.prepare(
            Action("mparticle", "custom_event", payload), {"oversize": "dead_letter"}
        )
    message = str(caught.value)
    assert "VALUE-SENTINEL" not in message
    assert "12345" not in message
    assert "event_name: 5015 characters; at most 256" in message


def test_unknown_action_is_rejected(destination: MParticle) -> None:
    with pytest.raises(PermanentDeliveryError, match="no such action; expected one of"):
        destination.prepare(Action("mparticle", "purchase", {}), {})


def test_a_batch_of_one_item_is_at_most_128_kb(prepare: Prepare) -> None:
    """Within every per-field limit, 32 long values make a batch of exactly 128 KB, then over."""
    attributes = _attributes(31, value_chars=4096) | {"pad": ""}
    empty = prepare("custom_event", event_name="e", custom_attributes=attributes)
    room = limits.BATCH_BYTES - estimate_alone(empty, "development")
    assert 0 < room <= limits.ATTRIBUTE_VALUE_CHARS
    attributes["pad"] = "v" * room
    full = prepare("custom_event", event_name="e", custom_attributes=attributes)
    assert estimate_alone(full, "development") == limits.BATCH_BYTES
    attributes["pad"] = "v" * (room + 1)
    with pytest.raises(PermanentDeliveryError, match="alone is 128001 bytes; at most 128000"):
        prepare("custom_event", event_name="e", custom_attributes=attributes)


@pytest.mark.parametrize(
    ("action", "fields"),
    [
        ("custom_event", {"event_name": "e", "custom_attributes": {"a": "b" * 900}}),
        ("custom_event", {"event_name": "e", "custom_attributes": {"plan": "pro", "n": 5}}),
        ("screen_view", {"screen_name": "home", "mpid": 7_346_244_611_012_968_789}),
        ("user_attributes", {"user_attributes": {"tags": ["a", "b"], "x": None}}),
    ],
)
def test_the_quick_bound_of_a_batch_alone_is_never_below_its_estimate(
    prepare: Prepare, action: str, fields: dict[str, Any]
) -> None:
    from mapwire.plugins.mparticle.destination import _alone_at_most

    item = prepare(action, **fields)
    for environment in ("development", "production"):
        assert _alone_at_most(item) >= estimate_alone(item, environment)
