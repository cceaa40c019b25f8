"""A person event or page view too large for a v2 entity (32,000 bytes) goes to the v1 events
endpoint, whose event data may be 100,000 bytes, instead of being dead-lettered."""

from __future__ import annotations

import json
from typing import Any

import pytest

from mapwire import Action, PermanentDeliveryError
from mapwire.plugins.customerio import limits
from mapwire.plugins.customerio.plain_events import plain_event
from mapwire.plugins.customerio.settings import read_settings

from .conftest import BASE_SETTINGS

PERSON = {"identifiers": {"id": "42"}}
BIG = {f"k{i}": "d" * 4000 for i in range(9)}  # about 36 KB of event data
EVENTS = "/api/v1/customers/{identifier}/events"


@pytest.mark.parametrize("name", ["event", "page"])
@pytest.mark.parametrize("oversize", ["truncate", "drop_field", "dead_letter"])
def test_an_event_too_large_for_v2_goes_to_v1_whole(
    prepare: Any, track_spec: Any, name: str, oversize: str
) -> None:
    payload = {**PERSON, "name": "n", "event_id": "e-1", "timestamp": 1713484800, "data": BIG}
    item = prepare(name, payload, oversize=oversize)
    assert item.route == "v1" and item.repairs == []
    assert (item.body.method, item.body.path) == ("POST", "/api/v1/customers/42/events")
    assert item.body.body["data"] == BIG
    assert item.body.body["type"] == name and item.body.body["timestamp"] == 1713484800
    assert item.size == len(item.encoded) == len(limits.compact_json(item.body.body))
    assert track_spec.body_errors(EVENTS, "post", item.body.body) == []


@pytest.mark.parametrize(
    ("identifiers", "path"),
    [
        ({"email": "jane+tag@example.com"}, "/api/v1/customers/jane%2Btag%40example.com/events"),
        ({"cio_id": "03000001"}, "/api/v1/customers/cio_03000001/events"),
    ],
)
def test_the_v1_path_names_the_person(prepare: Any, identifiers: Any, path: str) -> None:
    item = prepare("event", {"identifiers": identifiers, "name": "n", "data": BIG})
    assert item.body.path == path


def test_an_event_within_a_v2_entity_stays_in_the_batch(prepare: Any) -> None:
    item = prepare("event", {**PERSON, "name": "n", "data": {"k": "d" * 31_000}})
    assert item.route == "v2/batch" and item.size <= limits.MAX_V2_ITEM_BYTES


@pytest.mark.parametrize(
    ("name", "payload", "reason"),
    [
        # v1 event data is held to 100,000 bytes: beyond it, refused as before
        ("event", {**PERSON, "name": "n", "data": {"k": "d" * 99_993}}, "data: 100001 bytes"),
        # a v1 path would take this id for an email: no v1 route, refused as before
        ("event", {"identifiers": {"id": "a@b"}, "name": "n", "data": BIG}, "item: the v2"),
        # v1 has no valid person screen body: a screen stays held to the v2 entity limit
        ("screen", {**PERSON, "name": "n", "data": BIG}, "item: the v2 entity is"),
    ],
)
def test_what_v1_cannot_take_is_refused_as_before(
    prepare: Any, name: str, payload: Any, reason: str
) -> None:
    with pytest.raises(PermanentDeliveryError) as caught:
        prepare(name, payload)
    assert caught.value.reason.startswith(reason)


def test_it_is_prepared_at_delivery_not_ahead(cio: Any) -> None:
    payload = {**PERSON, "name": "n", "data": BIG}
    assert plain_event("event", payload, read_settings(BASE_SETTINGS)) is None
    action = Action("customerio", "event", payload)
    assert cio.prepare_ahead(action, BASE_SETTINGS) == ([], None)


def test_it_gets_its_own_request_in_order(cio: Any, prepare: Any, settings: Any) -> None:
    items = [
        prepare("event", {**PERSON, "name": "a"}),
        prepare("event", {**PERSON, "name": "big", "data": BIG}),
        prepare("event", {**PERSON, "name": "b"}),
    ]
    sent = cio.build_requests(items, settings)
    assert [r.request.url.path for r in sent] == [
        "/api/v2/batch",
        "/api/v1/customers/42/events",
        "/api/v2/batch",
    ]
    assert json.loads(sent[1].request.content)["data"] == BIG
