"""``build_requests``: v2 batching within Customer.io's limits, order, headers, v1 paths."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest

from mapwire.plugins.customerio.destination import CustomerIO

BATCH_LIMIT = 500_000
ITEM_LIMIT = 32_000


def person_event(i: int, **fields: Any) -> dict[str, Any]:
    return {
        "identifiers": {"id": f"user-{i}"},
        "name": "purchase",
        "event_id": f"evt-{i}",
        "timestamp": 1713484800,
        **fields,
    }


def check_batches(requests: list[Any]) -> list[dict[str, Any]]:
    """Every batch body is valid JSON under the byte limit and carries its items in order."""
    entities = []
    for sent in requests:
        assert len(sent.request.content) < BATCH_LIMIT
        body = json.loads(sent.request.content)
        assert body["batch"] == [item.body for item in sent.items]
        for entity in body["batch"]:
            size = len(json.dumps(entity, separators=(",", ":"), ensure_ascii=False).encode())
            assert size <= ITEM_LIMIT
        entities.extend(body["batch"])
    return entities


@pytest.mark.parametrize(
    ("count", "data", "max_requests"),
    [(1000, {"price": 1}, 10), (1000, {"blob": "x" * 2_000}, 10), (500, {}, 1), (501, {}, 2)],
    ids=["1000-small", "1000-2kb", "exactly-one-batch", "one-over-the-item-cap"],
)
def test_events_are_packed_within_limits(
    cio: CustomerIO, prepare: Any, settings: Any, count: int, data: Any, max_requests: int
) -> None:
    items = [prepare("event", person_event(i, data=data)) for i in range(count)]
    requests = cio.build_requests(items, settings)
    assert len(requests) <= max_requests
    assert all(len(r.items) <= cio.capabilities.max_items_per_request for r in requests)
    entities = check_batches(requests)
    assert [e["identifiers"]["id"] for e in entities] == [f"user-{i}" for i in range(count)]


def test_large_items_split_on_bytes(cio: CustomerIO, prepare: Any, settings: Any) -> None:
    items = [prepare("event", person_event(i, data={"blob": "x" * 30_000})) for i in range(100)]
    requests = cio.build_requests(items, settings)
    assert len(requests) == 7  # 16 items of ~30 KB per batch
    assert len(check_batches(requests)) == 100


def sized(prepare: Any, i: int, size: int) -> Any:
    base = prepare("event", person_event(i, data={"k": ""})).size
    item = prepare("event", person_event(i, data={"k": "d" * (size - base)}))
    assert item.size == size
    return item


@pytest.mark.parametrize(("last", "expected"), [(19_971, [17]), (19_972, [16, 1])])
def test_batch_body_stays_below_500000_bytes(
    cio: CustomerIO, prepare: Any, settings: Any, last: int, expected: list[int]
) -> None:
    """16 items of 30,000 bytes, 16 commas and the 12-byte envelope leave 19,971 bytes for a
    17th item: 499,999 in all. One byte more and the 17th item starts a new batch."""
    items = [sized(prepare, i, 30_000) for i in range(16)] + [sized(prepare, 16, last)]
    requests = cio.build_requests(items, settings)
    assert [len(r.items) for r in requests] == expected
    if expected == [17]:
        assert len(requests[0].request.content) == BATCH_LIMIT - 1
    check_batches(requests)


def test_v1_sends_one_request_per_item(cio: CustomerIO, prepare: Any, settings: Any) -> None:
    items = [prepare("event", person_event(i), api="v1") for i in range(5)]
    requests = cio.build_requests(items, {**settings, "api": "v1"})
    assert [r.items for r in requests] == [[item] for item in items]
    assert {r.request.url.path for r in requests} == {
        f"/api/v1/customers/user-{i}/events" for i in range(5)
    }


def test_a_single_request_item_keeps_its_place(
    cio: CustomerIO, prepare: Any, settings: Any
) -> None:
    anonymous = prepare("anonymous_event", {"anonymous_id": "a", "name": "n"})
    items = [
        prepare("event", person_event(0)),
        prepare("event", person_event(1)),
        anonymous,
        prepare("event", person_event(2)),
    ]
    requests = cio.build_requests(items, settings)
    assert [(r.request.url.path, len(r.items)) for r in requests] == [
        ("/api/v2/batch", 2),
        ("/api/v1/events", 1),
        ("/api/v2/batch", 1),
    ]


def test_no_items_no_requests(cio: CustomerIO, settings: Any) -> None:
    assert cio.build_requests([], settings) == []


def test_headers(cio: CustomerIO, prepare: Any, settings: Any) -> None:
    [sent] = cio.build_requests([prepare("event", person_event(0))], settings)
    token = base64.b64encode(f"{settings['site_id']}:{settings['api_key']}".encode()).decode()
    assert sent.request.headers["authorization"] == f"Basic {token}"
    assert sent.request.headers["content-type"] == "application/json"
    assert sent.request.headers["user-agent"] == "mapwire/0.1.0"
    assert b", " not in sent.request.content and b'": ' not in sent.request.content


@pytest.mark.parametrize(
    ("base_url", "expected"),
    [
        ("http://127.0.0.1:8123", "http://127.0.0.1:8123/api/v2/batch"),
        ("https://proxy.example.com/cio/", "https://proxy.example.com/cio/api/v2/batch"),
    ],
)
def test_base_url_overrides_the_region(
    cio: CustomerIO, prepare: Any, settings: Any, base_url: str, expected: str
) -> None:
    item = prepare("event", person_event(0))
    [sent] = cio.build_requests([item], {**settings, "region": "eu", "base_url": base_url})
    assert str(sent.request.url) == expected


def test_capabilities(cio: CustomerIO) -> None:
    caps = cio.capabilities
    assert 100 <= caps.max_items_per_request <= 1000
    assert caps.max_request_bytes < BATCH_LIMIT and caps.max_item_bytes <= 32 * 1024
    assert caps.regions == ("us", "eu") and caps.requests_per_second <= 1000


# -- v1 paths -------------------------------------------------------------------------------

PATHS = [
    ({"id": "42"}, "/api/v1/customers/42"),
    ({"id": "user/with space"}, "/api/v1/customers/user%2Fwith%20space"),
    ({"id": "ünï?#%"}, "/api/v1/customers/%C3%BCn%C3%AF%3F%23%25"),
    ({"email": "jane+tag@example.com"}, "/api/v1/customers/jane%2Btag%40example.com"),
    ({"cio_id": "03000001"}, "/api/v1/customers/cio_03000001"),
]


@pytest.mark.parametrize(("identifiers", "path"), PATHS)
def test_v1_path_identifier(
    cio: CustomerIO, prepare: Any, settings: Any, identifiers: Any, path: str
) -> None:
    item = prepare("delete", {"identifiers": identifiers}, api="v1")
    [sent] = cio.build_requests([item], settings)
    assert sent.request.url.raw_path.decode() == path


def test_v1_device_token_is_encoded(cio: CustomerIO, prepare: Any, settings: Any) -> None:
    payload = {"identifiers": {"cio_id": "abc"}, "device": {"token": "tok/+=="}}
    [sent] = cio.build_requests([prepare("delete_device", payload, api="v1")], settings)
    assert sent.request.url.raw_path == b"/api/v1/customers/cio_abc/devices/tok%2F%2B%3D%3D"


@pytest.mark.parametrize("api", ["v2", "v1"])
def test_cio_ids_are_unprefixed_in_bodies(prepare: Any, api: str) -> None:
    merge = prepare("merge", {"primary": {"cio_id": "a1"}, "secondary": {"id": "b"}}, api=api)
    entity = merge.body if api == "v2" else merge.body.body
    assert entity["primary"] == {"cio_id": "a1"}
    if api == "v2":
        assert prepare("delete", {"identifiers": {"cio_id": "a1"}}).body["identifiers"] == {
            "cio_id": "a1"
        }


def test_v1_device_body_uses_id_and_v2_uses_token(prepare: Any) -> None:
    payload = {"identifiers": {"id": "42"}, "device": {"token": "t", "platform": "ios"}}
    assert prepare("add_device", payload, api="v1").body.body == {
        "device": {"id": "t", "platform": "ios"}
    }
    assert prepare("add_device", payload).body["device"] == {"token": "t", "platform": "ios"}
