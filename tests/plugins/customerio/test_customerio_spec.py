"""Every request the destination builds is one Customer.io documents: server, path, method and
body, checked against the vendor's own Track API OpenAPI document with formats on."""

from __future__ import annotations

import json
from typing import Any

import pytest

UUID = "7c9e6679-7425-40de-944b-e07fc1f90ae7"
TS = 1713484800

PAYLOADS: dict[str, list[dict[str, Any]]] = {
    "identify": [
        {"identifiers": {"id": "42"}},
        {
            "identifiers": {"email": "jane@example.com"},
            "attributes": {"first_name": "Jane", "plan": "premium", "logins": 3, "vip": True},
            "created_at": 1361205308,
            "unsubscribed": False,
            "timestamp": TS,
        },
        {
            "identifiers": {"cio_id": "03000001"},
            "attributes": {"cio_subscription_preferences": {"topics": {"topic_1": True}}},
        },
    ],
    "event": [
        {"identifiers": {"id": "42"}, "name": "purchase"},
        {
            "identifiers": {"email": "a@example.com"},
            "name": "purchase",
            "event_id": UUID,
            "timestamp": TS,
            "data": {"price": 23.45, "product": "socks", "recipient": "a@example.com"},
        },
    ],
    "page": [
        {"identifiers": {"id": "42"}, "name": "/pricing"},
        {
            "identifiers": {"cio_id": "a3000001"},
            "name": "https://example.com/pricing?plan=pro",
            "event_id": "01BX5ZZKBKACTAV9WEVGEMMVRY",
            "timestamp": TS,
            "data": {"referrer": "https://example.com", "keywords": ["a", "b"]},
        },
    ],
    "screen": [
        {"identifiers": {"id": "42"}, "name": "Dashboard"},
        {
            "identifiers": {"id": "42"},
            "name": "Dashboard",
            "event_id": UUID,
            "timestamp": TS,
            "data": {"app_version": "2.1.0"},
        },
    ],
    "anonymous_event": [
        {"anonymous_id": "anon-1", "name": "watched_video"},
        {
            "anonymous_id": "anon-1",
            "name": "watched_video",
            "event_id": UUID,
            "timestamp": TS,
            "data": {"video": "intro", "from_address": "team@example.com"},
        },
    ],
    "add_device": [
        {"identifiers": {"id": "42"}, "device": {"token": "tok-1", "platform": "ios"}},
        {
            "identifiers": {"email": "a@example.com"},
            "device": {
                "token": "a83b219c-e756-4c5b-a8e3-d1a5c5b2f3c1",
                "platform": "android",
                "last_used": TS,
                "attributes": {"app_version": "2.1.0", "push_enabled": "true"},
            },
        },
    ],
    "delete_device": [
        {"identifiers": {"cio_id": "a3000001"}, "device": {"token": "tok/with slash"}},
    ],
    "delete": [{"identifiers": {"id": "user/with space"}}],
    "suppress": [{"identifiers": {"email": "x+tag@example.com"}}],
    "unsuppress": [{"identifiers": {"cio_id": "a3000001"}}],
    "merge": [
        {"primary": {"email": "cool.person@company.com"}, "secondary": {"email": "cp@gmail.com"}},
        {"primary": {"id": "42"}, "secondary": {"cio_id": "a3000001"}},
    ],
}
CASES = [
    pytest.param(name, payload, id=f"{name}-{i}")
    for name, payloads in PAYLOADS.items()
    for i, payload in enumerate(payloads)
]

PERSON = "/api/v1/customers/{identifier}"
BATCH = ("/api/v2/batch", "post")
ENTITY = ("/api/v2/entity", "post")
ANONYMOUS = ("/api/v1/events", "post")
EXPECTED_OPERATION: dict[tuple[str, str], tuple[str, str]] = {
    **{(name, "v2"): BATCH for name in PAYLOADS if name != "anonymous_event"},
    ("anonymous_event", "v2"): ANONYMOUS,
    ("anonymous_event", "v1"): ANONYMOUS,
    ("identify", "v1"): (PERSON, "put"),
    ("event", "v1"): (f"{PERSON}/events", "post"),
    ("page", "v1"): (f"{PERSON}/events", "post"),
    ("screen", "v1"): ENTITY,
    ("merge", "v1"): ENTITY,
    ("add_device", "v1"): (f"{PERSON}/devices", "put"),
    ("delete_device", "v1"): (f"{PERSON}/devices/{{device_id}}", "delete"),
    ("delete", "v1"): (PERSON, "delete"),
    ("suppress", "v1"): (f"{PERSON}/suppress", "post"),
    ("unsuppress", "v1"): (f"{PERSON}/unsuppress", "post"),
}
HOSTS = {"us": "track.customer.io", "eu": "track-eu.customer.io"}


@pytest.mark.parametrize("region", ["us", "eu"])
@pytest.mark.parametrize("api", ["v2", "v1"])
@pytest.mark.parametrize(("name", "payload"), CASES)
def test_request_is_a_documented_track_operation(
    track_spec: Any,
    cio: Any,
    prepare: Any,
    settings: Any,
    name: str,
    payload: Any,
    api: str,
    region: str,
) -> None:
    item = prepare(name, payload, api=api, region=region)
    [sent] = cio.build_requests([item], {**settings, "api": api, "region": region})
    assert track_spec.check(sent.request) == EXPECTED_OPERATION[(name, api)]
    assert sent.request.url.host == HOSTS[region]
    assert sent.items == [item]


def test_one_batch_mixing_every_v2_action_is_valid(
    track_spec: Any, cio: Any, prepare: Any, settings: Any
) -> None:
    items = [
        prepare(name, payload) for name, payload in ((p.values[0], p.values[1]) for p in CASES)
    ]
    requests = cio.build_requests(items, settings)
    batches = [r for r in requests if r.request.url.path == "/api/v2/batch"]
    assert sum(len(r.items) for r in batches) == len(items) - len(PAYLOADS["anonymous_event"])
    for sent in requests:
        track_spec.check(sent.request)


@pytest.mark.parametrize("region", ["us", "eu"])
def test_check_request_is_the_region_lookup(
    track_spec: Any, cio: Any, settings: Any, region: str
) -> None:
    request = cio.check_request({**settings, "region": region})
    assert track_spec.check(request) == ("/api/v1/accounts/region", "get")
    assert request.url.host == HOSTS[region]


def test_v2_event_ids_are_ulids_the_spec_format_checker_enforces(track_spec: Any) -> None:
    body = {
        "batch": [
            {
                "type": "person",
                "action": "event",
                "identifiers": {"id": "42"},
                "name": "x",
                "id": UUID,
            }
        ]
    }
    assert track_spec.body_errors("/api/v2/batch", "post", body), "a UUID is not a ULID"


# The vendor's document has defects that decide three routes; each test below proves one.
# Should one fail, Customer.io has fixed its document and the route can move back.


def test_vendor_v1_screen_schema_rejects_its_own_example(track_spec: Any) -> None:
    """The v1 person screen view requires ``anonymous_id``; its own example has none.
    So with api v1, ``screen`` goes to ``/api/v2/entity``."""
    screen = track_spec.document["components"]["schemas"]["eventsRequest"]["oneOf"][2]
    assert "anonymous_id" in screen["required"] and "anonymous_id" not in screen["example"]
    assert track_spec.body_errors(f"{PERSON}/events", "post", screen["example"])


def test_vendor_v1_merge_schema_rejects_its_own_example(track_spec: Any) -> None:
    """The v1 merge ``oneOf`` branches overlap (each allows any one property), so no body is
    valid. So with api v1, ``merge`` goes to ``/api/v2/entity``."""
    content = track_spec.document["paths"]["/api/v1/merge_customers"]["post"]["requestBody"]
    example = content["content"]["application/json"]["example"]
    errors = track_spec.body_errors("/api/v1/merge_customers", "post", example)
    assert errors and all("valid under each of" in e for e in errors)


def test_vendor_v2_has_no_anonymous_person_event(track_spec: Any) -> None:
    """v2 person identifiers are id/email/phone/cio_id only: anonymous events stay on v1."""
    entity = {
        "type": "person",
        "action": "event",
        "identifiers": {"anonymous_id": "a"},
        "name": "x",
    }
    assert track_spec.body_errors("/api/v2/batch", "post", {"batch": [entity]})
    assert track_spec.body_errors("/api/v2/entity", "post", entity)


def test_v1_anonymous_event_is_sent_as_type_event(cio: Any, prepare: Any, settings: Any) -> None:
    """The v1 anonymous schema's ``oneOf`` overlaps for page/screen; ``event`` is unambiguous."""
    item = prepare("anonymous_event", PAYLOADS["anonymous_event"][0])
    [sent] = cio.build_requests([item], settings)
    assert json.loads(sent.request.content)["type"] == "event"
