"""The plain paths of ``prepare_ahead`` (``plain_events``: events and identifies) answer
exactly what the general path (``_checked`` and ``_render``) answers, on generated payloads
and settings: the same wire bytes when they take an item, and the general path's answer
(repairs, notes, refusals) for every item they leave."""

from __future__ import annotations

import string
from typing import Any

from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from mapwire import Action
from mapwire.plugins.customerio.destination import CustomerIO
from mapwire.plugins.customerio.plain_events import plain_event, plain_identify
from mapwire.plugins.customerio.settings import read_settings

from .conftest import BASE_SETTINGS

ASCII = string.ascii_letters + string.digits + "_ -"
identifiers = st.one_of(
    st.fixed_dictionaries({"id": st.text(ASCII, max_size=6) | st.text(max_size=3)}),
    st.fixed_dictionaries({"id": st.text("i", min_size=148, max_size=152)}),
    st.fixed_dictionaries({"email": st.sampled_from(["a@b.co", "no email", "é@x.io", ""])}),
    st.fixed_dictionaries({"cio_id": st.sampled_from(["abc123", "bad id"])}),
    st.just({"id": "x", "email": "a@b.co"}),
    st.just({}),
)
names = st.one_of(
    st.text(ASCII, max_size=8),
    st.text(ASCII, min_size=98, max_size=102),
    st.sampled_from(["Added_To_Cart", "é" * 40, "é" * 60, ""]),
    st.integers(0, 2),
)
timestamps = st.sampled_from(
    [-5, 0, 1, 10**9, 10**11 - 1, 10**11, 10**11 + 1, 10**14 - 1, 10**14, 1.5, 1e12, True]
)
values = st.none() | st.booleans() | st.integers() | st.text(max_size=5) | st.floats()
data = st.dictionaries(
    st.sampled_from(["sku", "price", "recipient", "from_address", "reply_to", "nested"]),
    values | st.lists(values, max_size=2) | st.dictionaries(st.text(max_size=2), values),
    max_size=4,
) | st.sampled_from([None, "text", ["a"], {"big": "x" * 32_100}])
event_ids = st.sampled_from(
    ["3a8b8f0e-6f5a-4bde-9b7e-7c0b2f6d2a11", "01HVSTE8008BC5XZ9W3YE20YXK", "", "é", 7]
)
odd_payloads = st.fixed_dictionaries(
    {"identifiers": identifiers, "name": names},
    optional={
        "event_id": event_ids,
        "timestamp": timestamps,
        "timestamp_ms": timestamps,
        "data": data,
        "unexpected": st.just(1),
    },
)
#: Payloads of the plain kind, with the odd value here and there: most take the plain path.
plain_payloads = st.fixed_dictionaries(
    {
        "identifiers": st.fixed_dictionaries({"id": st.text(ASCII, min_size=1, max_size=8)}),
        "name": st.text(ASCII, min_size=1, max_size=12)
        | st.sampled_from(["é" * 40, "é" * 60, "日本" * 20, "x" * 100, "x" * 101]),
    },
    optional={
        "event_id": st.sampled_from(["3a8b8f0e-6f5a-4bde-9b7e-7c0b2f6d2a11", "evt-1"]),
        "timestamp": st.integers(0, 10**11),
        "timestamp_ms": st.integers(10**11, 10**14 - 1) | st.integers(0, 10**11 - 1),
        "data": st.dictionaries(
            st.text(ASCII, max_size=6) | st.sampled_from(["recipient", "reply_to"]),
            values,
            max_size=4,
        ),
    },
)
payloads = st.one_of(plain_payloads, plain_payloads, odd_payloads)
attribute_values = values | st.sampled_from(
    ["x" * 1000, "x" * 1001, "é" * 500, "é" * 501, ["a"], {"k": 1}, float("nan")]
)
attribute_names = st.text(ASCII, max_size=6) | st.sampled_from(
    ["created_at", "unsubscribed", "n" * 150, "n" * 151, "é" * 75, "é" * 76]
)
#: Identify payloads of the plain kind, with the odd value here and there.
identify_payloads = st.fixed_dictionaries(
    {
        "identifiers": st.fixed_dictionaries({"id": st.text(ASCII, min_size=1, max_size=8)})
        | st.fixed_dictionaries({"email": st.just("a@b.co")})
        | identifiers
    },
    optional={
        "attributes": st.dictionaries(attribute_names, attribute_values, max_size=5)
        | st.sampled_from([None, "text", {"big": "x" * 999, "more": "y" * 999}])
        | st.just({f"a{i}": i for i in range(301)})
        | st.just({f"a{i}": "x" * 990 for i in range(40)}),
        "created_at": st.integers(0, 10**11) | timestamps,
        "unsubscribed": st.booleans() | st.just("yes"),
        "timestamp": st.integers(0, 10**11) | timestamps,
        "timestamp_ms": st.integers(10**11, 10**14 - 1) | timestamps,
        "unexpected": st.just(1),
    },
)
connection_settings = st.fixed_dictionaries(
    {
        "api": st.sampled_from(["v2", "v2", "v1"]),
        "oversize": st.sampled_from(["truncate", "drop_field", "dead_letter"]),
        "allow_message_overrides": st.booleans(),
    }
).map(lambda extra: {**BASE_SETTINGS, **extra})


@settings(max_examples=1000, deadline=None, suppress_health_check=list(HealthCheck))
@given(
    name=st.sampled_from(["event", "event", "screen", "page", "identify", "anonymous_event"]),
    payload=payloads,
    given_settings=connection_settings,
)
def test_the_plain_path_answers_what_the_general_path_answers(
    name: str, payload: dict[str, Any], given_settings: dict[str, Any]
) -> None:
    destination = CustomerIO()
    action = Action("customerio", name, payload)
    general = destination._prepare_ahead(action, given_settings)
    assert destination.prepare_ahead(action, given_settings) == general
    taken = plain_event(name, payload, read_settings(given_settings))
    event("plain path" if taken is not None else "general path")
    if taken is not None:
        assert general[0] == [] and general[1] is not None
        assert general[1].endswith(b"\n" + taken)


@settings(max_examples=1000, deadline=None, suppress_health_check=list(HealthCheck))
@given(payload=identify_payloads, given_settings=connection_settings)
def test_the_plain_identify_answers_what_the_general_path_answers(
    payload: dict[str, Any], given_settings: dict[str, Any]
) -> None:
    destination = CustomerIO()
    action = Action("customerio", "identify", payload)
    general = destination._prepare_ahead(action, given_settings)
    assert destination.prepare_ahead(action, given_settings) == general
    taken = plain_identify(payload, read_settings(given_settings))
    event("plain path" if taken is not None else "general path")
    if taken is not None:
        assert general[0] == [] and general[1] is not None
        assert general[1].endswith(b"\n" + taken)


def test_the_plain_identify_takes_the_common_identify() -> None:
    payload = {
        "identifiers": {"id": "cust-1"},
        "attributes": {"plan": "pro", "first_name": "Ann", "created_at": 5},
        "unsubscribed": False,
        "timestamp_ms": 1_713_484_800_123,
    }
    taken = plain_identify(payload, read_settings(BASE_SETTINGS))
    assert taken == (
        b'{"type":"person","action":"identify","identifiers":{"id":"cust-1"},'
        b'"attributes":{"plan":"pro","first_name":"Ann","created_at":5,"unsubscribed":false},'
        b'"timestamp":1713484800}'
    )
    # an attribute value over the limit is repaired with a note: the general path's
    too_long = {**payload, "attributes": {"bio": "x" * 1001}}
    assert plain_identify(too_long, read_settings(BASE_SETTINGS)) is None


def test_the_plain_path_takes_the_common_event() -> None:
    payload = {
        "identifiers": {"id": "cust-1"},
        "name": "Added_To_Cart",
        "event_id": "3a8b8f0e-6f5a-4bde-9b7e-7c0b2f6d2a11",
        "timestamp_ms": 1_713_484_800_123,
        "data": {"sku": "A-1"},
    }
    taken = plain_event("event", payload, read_settings(BASE_SETTINGS))
    assert taken is not None
    assert taken.startswith(b'{"type":"person","action":"event","identifiers":{"id":"cust-1"}')
    # seconds given as milliseconds are repaired with a note: the general path's
    assert (
        plain_event("event", {**payload, "timestamp_ms": 10**9}, read_settings(BASE_SETTINGS))
        is None
    )
