"""The contract servers behave as the vendors document, over real HTTP with plain httpx.

Valid bodies come from the vendors' own files: the Track API document's examples and
mParticle's sample batch. Where a vendor example fails the vendor's own schema, the test
names the example, so a corrected vendor file shows up here.
"""

from __future__ import annotations

import copy
import json
import os
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import contract_specs
import httpx
import pytest
from contract_base import VendorServer
from contract_servers import CustomerIOServer, MParticleServer
from contract_specs import events_spec, load_vendor_json, track_spec

CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
BATCH = "POST /api/v2/batch"
ENTITY = "POST /api/v2/entity"


def new_ulid() -> str:
    """A random, well-formed ULID."""
    number = int.from_bytes(os.urandom(16), "big")
    return "".join(CROCKFORD[(number >> (5 * i)) & 31] for i in reversed(range(26)))


def person(identifier: str, action: str = "identify", **fields: Any) -> dict[str, Any]:
    """A Track v2 person entity."""
    return {"type": "person", "identifiers": {"id": identifier}, "action": action, **fields}


def event(identifier: str, name: str = "purchase", **fields: Any) -> dict[str, Any]:
    """A Track v2 person event entity."""
    return person(identifier, "event", name=name, **fields)


@pytest.fixture
def cio(customerio_server: CustomerIOServer) -> Iterator[httpx.Client]:
    """A client for the Customer.io server, with its credentials."""
    with httpx.Client(base_url=customerio_server.base_url, auth=customerio_server.auth) as c:
        yield c


@pytest.fixture
def mp(mparticle_server: MParticleServer) -> Iterator[httpx.Client]:
    """A client for the mParticle server, with its credentials."""
    with httpx.Client(base_url=mparticle_server.base_url, auth=mparticle_server.auth) as c:
        yield c


@pytest.fixture(scope="module")
def sample() -> dict[str, Any]:
    """mParticle's own full sample batch."""
    document: dict[str, Any] = load_vendor_json("mparticle", "eventsapi.sample.json")
    return document


def small_batch(user: str, **fields: Any) -> dict[str, Any]:
    """A minimal valid mParticle batch for one user."""
    data = {"event_name": "click", "custom_event_type": "navigation"}
    return {
        "environment": "development",
        "user_identities": {"customer_id": user},
        "events": [{"event_type": "custom_event", "data": data}],
        **fields,
    }


# -- vendor examples -----------------------------------------------------------------------


def batch_item_examples() -> dict[str, Any]:
    """Every component example reachable from the ``/api/v2/batch`` item schema, by name."""
    document = track_spec().document
    items = document["paths"]["/api/v2/batch"]["post"]["requestBody"]["content"][
        "application/json"
    ]["schema"]["properties"]["batch"]["items"]
    out: dict[str, Any] = {}

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            ref = node.get("$ref")
            if isinstance(ref, str) and ref.startswith("#/components/schemas/"):
                name = ref.rsplit("/", 1)[-1]
                schema = document["components"]["schemas"][name]
                if "example" in schema:
                    out[name] = schema["example"]
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(items)
    return out


#: Vendor examples that fail the vendor's own schema: the merge example has no ``type`` or
#: ``action`` (both required), and the object relationship examples hit a ``oneOf`` whose
#: branches (``id``/``email``/``cio_id``, none required) all match the same identifiers.
SELF_CONTRADICTING_EXAMPLES = {
    "person_merge",
    "object_add_relationships",
    "object_delete_relationships",
}


def test_batch_examples_from_the_track_spec(
    customerio_server: CustomerIOServer, cio: httpx.Client
) -> None:
    examples = batch_item_examples()
    assert len(examples) >= 15
    names = list(examples)
    response = cio.post("/api/v2/batch", json={"batch": list(examples.values())})
    assert response.status_code == 207
    failed = {names[e["batch_index"]] for e in response.json()["errors"]}
    assert failed == SELF_CONTRADICTING_EXAMPLES
    good = [examples[n] for n in names if n not in SELF_CONTRADICTING_EXAMPLES]
    assert customerio_server.accepted_items(BATCH) == good


def test_the_batch_request_example_has_one_item_its_schema_refuses(
    customerio_server: CustomerIOServer, cio: httpx.Client
) -> None:
    content = track_spec().document["paths"]["/api/v2/batch"]["post"]["requestBody"]["content"]
    example = content["application/json"]["schema"]["example"]
    response = cio.post("/api/v2/batch", json=example)
    assert response.status_code == 207
    (error,) = response.json()["errors"]
    assert error["batch_index"] == 2
    assert error["field"] == "cio_relationships[0].identifiers"
    assert customerio_server.accepted_items(BATCH) == example["batch"][:2]


def test_v1_identify_example_from_the_track_spec(
    customerio_server: CustomerIOServer, cio: httpx.Client
) -> None:
    content = track_spec().document["paths"]["/api/v1/customers/{identifier}"]["put"]
    example = content["requestBody"]["content"]["application/json"]["example"]
    response = cio.put("/api/v1/customers/5", json=example)
    assert (response.status_code, response.json()) == (200, {})
    assert customerio_server.accepted == [("PUT /api/v1/customers/5", example)]


def test_vendor_files_are_inside_the_repository(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    assert (contract_specs.REPO_ROOT / "pyproject.toml").is_file()
    assert contract_specs.REPO_ROOT / "tests" / "vendor" == contract_specs.VENDOR_DIR
    assert contract_specs.vendor_file("customerio", "track-api.openapi.json").is_file()
    monkeypatch.setattr(contract_specs, "VENDOR_DIR", tmp_path / "vendor")
    with pytest.raises(contract_specs.VendorFilesMissing, match="under tests/vendor"):
        contract_specs.vendor_file("customerio", "track-api.openapi.json")


# -- Customer.io ---------------------------------------------------------------------------


def test_credentials_ok_wrong_and_missing(customerio_server: CustomerIOServer) -> None:
    url = customerio_server.base_url + "/api/v1/accounts/region"
    assert httpx.get(url, auth=customerio_server.auth).status_code == 200
    assert httpx.get(url, auth=(customerio_server.site_id, "wrong")).status_code == 401
    assert httpx.get(url, auth=("wrong", customerio_server.api_key)).status_code == 401
    missing = httpx.get(url)
    assert missing.status_code == 401
    assert missing.headers["www-authenticate"].startswith("Basic")
    batch = httpx.post(customerio_server.base_url + "/api/v2/batch", json={"batch": []})
    assert batch.status_code == 401


@pytest.mark.parametrize(
    ("region", "url"),
    [("us", "https://track.customer.io"), ("eu", "https://track-eu.customer.io")],
)
def test_region_endpoint(region: str, url: str) -> None:
    with CustomerIOServer(region=region, environment_id=42) as server:
        response = httpx.get(server.base_url + "/api/v1/accounts/region", auth=server.auth)
    assert response.status_code == 200
    assert response.json() == {"url": url, "region": region, "environment_id": 42}


def test_valid_batch_is_recorded_in_order(
    customerio_server: CustomerIOServer, cio: httpx.Client
) -> None:
    items = [
        person("1", attributes={"email": "one@example.com", "plan": "pro"}),
        event("1", id=new_ulid(), timestamp=1713484800, attributes={"price": 9.5}),
        person("2", "page", name="/pricing", attributes={"referrer": "https://example.com"}),
        person("2", "add_device", device={"token": "tok-1", "platform": "ios"}),
        person("3", "delete"),
    ]
    response = cio.post("/api/v2/batch", json={"batch": items})
    assert (response.status_code, response.json()) == (200, {})
    assert customerio_server.accepted == [(BATCH, item) for item in items]
    size = len(response.request.content)
    assert customerio_server.requests == [("POST", "/api/v2/batch", 200, size)]


def test_one_invalid_item_gets_207_and_the_rest_is_accepted(
    customerio_server: CustomerIOServer, cio: httpx.Client
) -> None:
    items = [person("1"), event("2"), event("3", id=new_ulid()), person("4"), event("5")]
    items[3] = {"type": "person", "identifiers": {"id": "4"}, "action": "event"}  # no name
    response = cio.post("/api/v2/batch", json={"batch": items})
    assert response.status_code == 207
    (error,) = response.json()["errors"]
    assert error["batch_index"] == 3
    assert error["reason"] == "invalid"
    assert "name" in error["message"]
    assert set(error) == {"batch_index", "reason", "field", "message"}
    assert customerio_server.accepted_items(BATCH) == [items[i] for i in (0, 1, 2, 4)]
    assert [r.item for r in customerio_server.rejected] == [items[3]]


@pytest.mark.parametrize(
    ("item", "field"),
    [
        (event("1", id="not-a-ulid"), "id"),
        (event("1", attributes={"recipient": "not-an-email"}), "attributes.recipient"),
        (person("1", identifiers={"id": "1", "email": "a@example.com"}), "identifiers"),
        (person("1", identifiers={"id": 1}), "identifiers.id"),
        ({"type": "person", "identifiers": {"id": "1"}, "action": "fly"}, "action"),
    ],
)
def test_item_errors_name_the_field(cio: httpx.Client, item: dict[str, Any], field: str) -> None:
    response = cio.post("/api/v2/batch", json={"batch": [person("ok"), item]})
    assert response.status_code == 207
    (error,) = response.json()["errors"]
    assert (error["batch_index"], error["field"]) == (1, field)


def test_batch_size_limits(customerio_server: CustomerIOServer, cio: httpx.Client) -> None:
    big = person("big", attributes={"blob": "x" * 32_100})
    response = cio.post("/api/v2/batch", json={"batch": [person("1"), big]})
    assert response.status_code == 207
    assert response.json()["errors"][0]["batch_index"] == 1
    assert response.json()["errors"][0]["reason"] == "too_large"
    chunk = person("c", attributes={"blob": "y" * 25_000})
    oversize = {"batch": [chunk] * 20}
    assert len(json.dumps(oversize)) >= CustomerIOServer.MAX_BATCH_BYTES
    response = cio.post("/api/v2/batch", json=oversize)
    assert response.status_code == 400
    assert response.json()["errors"][0]["reason"] == "too_large"
    assert customerio_server.accepted_items(BATCH) == [person("1")]


def test_malformed_batch_is_400(customerio_server: CustomerIOServer, cio: httpx.Client) -> None:
    for content in (b"{not json", b'{"batch": {}}', b"[]"):
        response = cio.post("/api/v2/batch", content=content)
        assert response.status_code == 400
        assert set(response.json()["errors"][0]) == {"reason", "field", "message"}
    assert customerio_server.accepted == []


def test_entity(customerio_server: CustomerIOServer, cio: httpx.Client) -> None:
    merge = {"type": "person", "action": "merge", "primary": {"id": "1"}, "secondary": {"id": "2"}}
    assert cio.post("/api/v2/entity", json=merge).status_code == 200
    invalid = cio.post("/api/v2/entity", json={"type": "person", "action": "identify"})
    assert invalid.status_code == 400
    (error,) = invalid.json()["errors"]
    assert set(error) == {"reason", "field", "message"}
    too_big = cio.post("/api/v2/entity", json=person("1", attributes={"x": "z" * 32_000}))
    assert too_big.status_code == 400
    assert customerio_server.accepted == [(ENTITY, merge)]


def test_v1_calls(customerio_server: CustomerIOServer, cio: httpx.Client) -> None:
    ulid = new_ulid()
    calls: list[tuple[str, str, dict[str, Any] | None]] = [
        ("POST", "/api/v1/customers/42/events", {"name": "purchase", "id": ulid, "data": {"n": 1}}),
        ("POST", "/api/v1/customers/42/events", {"name": "/pricing", "type": "page"}),
        ("POST", "/api/v1/events", {"name": "watched", "anonymous_id": "anon-1", "type": "event"}),
        ("PUT", "/api/v1/customers/42/devices", {"device": {"id": "tok", "platform": "android"}}),
        ("DELETE", "/api/v1/customers/42/devices/tok", None),
        ("POST", "/api/v1/customers/42/suppress", None),
        ("POST", "/api/v1/customers/42/unsuppress", None),
        ("DELETE", "/api/v1/customers/a%40example.com", None),
    ]
    for method, path, body in calls:
        response = cio.request(method, path, json=body)
        assert (response.status_code, response.json()) == (200, {}), path
    assert customerio_server.accepted == [
        (f"{method} {path}", body or {}) for method, path, body in calls
    ]


def test_v1_errors_use_the_v1_error_shape(
    customerio_server: CustomerIOServer, cio: httpx.Client
) -> None:
    response = cio.post("/api/v1/customers/42/events", json={"data": {"no": "name"}})
    assert response.status_code == 400
    assert isinstance(response.json()["meta"]["errors"][0], str)
    assert cio.put("/api/v1/customers/42", content=b"not json").status_code == 400
    device = cio.put("/api/v1/customers/42/devices", json={"device": {"id": "t", "platform": "x"}})
    assert device.status_code == 400
    assert customerio_server.accepted == []


def test_v1_merge_example_fails_its_own_schema(cio: httpx.Client) -> None:
    content = track_spec().document["paths"]["/api/v1/merge_customers"]["post"]["requestBody"]
    example = content["content"]["application/json"]["example"]
    response = cio.post("/api/v1/merge_customers", json=example)
    assert response.status_code == 400
    assert "primary" in response.json()["meta"]["error"]


def test_repeated_event_id_is_absorbed(
    customerio_server: CustomerIOServer, cio: httpx.Client
) -> None:
    ulid = new_ulid()
    first = event("1", id=ulid)
    assert cio.post("/api/v2/batch", json={"batch": [first, person("1")]}).status_code == 200
    assert cio.post("/api/v2/batch", json={"batch": [event("1", id=ulid)]}).status_code == 200
    assert cio.post("/api/v2/entity", json=event("1", id=ulid.lower())).status_code == 200
    body = {"name": "purchase", "id": ulid}
    assert cio.post("/api/v1/customers/1/events", json=body).status_code == 200
    assert cio.post("/api/v2/batch", json={"batch": [person("1")]}).status_code == 200
    assert customerio_server.accepted_items(BATCH) == [first, person("1"), person("1")]
    assert customerio_server.duplicates_absorbed == 3


def test_fail_items_refuses_matching_entities(
    customerio_server: CustomerIOServer, cio: httpx.Client
) -> None:
    customerio_server.fail_items(lambda item: item.get("identifiers") == {"id": "bad"})
    items = [person("a"), person("bad"), event("bad"), person("b")]
    response = cio.post("/api/v2/batch", json={"batch": items})
    assert response.status_code == 207
    assert [e["batch_index"] for e in response.json()["errors"]] == [1, 2]
    assert cio.post("/api/v2/entity", json=person("bad")).status_code == 400
    customerio_server.fail_items(None)
    assert cio.post("/api/v2/entity", json=person("bad")).status_code == 200
    assert customerio_server.accepted_items(BATCH) == [person("a"), person("b")]


def test_unknown_path_and_method(cio: httpx.Client) -> None:
    assert cio.post("/api/v3/batch", json={}).status_code == 404
    wrong = cio.get("/api/v2/batch")
    assert wrong.status_code == 405
    assert wrong.headers["allow"] == "POST"


# -- mParticle -------------------------------------------------------------------------------


def test_mparticle_credentials(mparticle_server: MParticleServer, sample: dict[str, Any]) -> None:
    url = mparticle_server.base_url + "/events"
    assert url.endswith("/v2/events")
    assert httpx.post(url, json=sample).status_code == 401
    assert httpx.post(url, json=sample, auth=("wrong", "creds")).status_code == 403
    bearer = httpx.post(url, json=sample, headers={"Authorization": "Bearer abc"})
    assert bearer.status_code == 403
    assert httpx.post(url, json=sample, auth=mparticle_server.auth).status_code == 202
    assert [r.status for r in mparticle_server.requests] == [401, 403, 403, 202]


def test_events_sample_is_accepted(
    mparticle_server: MParticleServer, mp: httpx.Client, sample: dict[str, Any]
) -> None:
    response = mp.post("/events", json=sample)
    assert (response.status_code, response.content) == (202, b"")
    assert mparticle_server.accepted == [("POST /v2/events", sample)]


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (lambda b: b.pop("environment"), "'environment' is a required property"),
        (lambda b: b.update(ip="300.1.2.3"), "ip"),
        (lambda b: b["events"][0]["data"].pop("event_name"), "events[0].data"),
        (lambda b: b["events"][0].update(event_type="nope"), "events[0].event_type"),
        (lambda b: b.update(unknown_field=1), "unknown_field"),
    ],
)
def test_events_invalid_batch_is_400(
    mparticle_server: MParticleServer, mp: httpx.Client, change: Any, expected: str
) -> None:
    batch = small_batch("u1")
    change(batch)
    response = mp.post("/events", json=batch)
    assert response.status_code == 400
    errors = response.json()["errors"]
    assert errors[0]["code"] == "BAD_REQUEST"
    assert any(expected in e["message"] for e in errors), errors
    assert mparticle_server.accepted == []


def test_bulkevents(
    mparticle_server: MParticleServer, mp: httpx.Client, sample: dict[str, Any]
) -> None:
    batches = [sample, small_batch("u2")]
    assert mp.post("/bulkevents", json=batches).status_code == 202
    assert mparticle_server.accepted_items("POST /v2/bulkevents") == batches
    bad = small_batch("u3", ip="not-an-ip")
    response = mp.post("/bulkevents", json=[small_batch("u4"), bad])
    assert response.status_code == 400
    assert response.json()["errors"][0]["message"].startswith("[1].ip")
    assert mp.post("/bulkevents", json=small_batch("u5")).status_code == 400
    assert len(mparticle_server.accepted) == 2


def test_bulkevents_historical_takes_only_events_older_than_72_hours(
    mparticle_server: MParticleServer, mp: httpx.Client
) -> None:
    old = small_batch("u1")
    old["events"][0]["data"]["timestamp_unixtime_ms"] = 1_600_000_000_000
    assert mp.post("/bulkevents/historical", json=[old]).status_code == 202
    assert mparticle_server.accepted_items("POST /v2/bulkevents/historical") == [old]
    recent = small_batch("u2")
    recent["events"][0]["data"]["timestamp_unixtime_ms"] = int(time.time() * 1000)
    unstamped = small_batch("u3")
    no_events = {"environment": "development", "user_identities": {"customer_id": "u4"}}
    for batch, why in [(recent, "72 hours"), (unstamped, "timestamp"), (no_events, "events")]:
        response = mp.post("/bulkevents/historical", json=[batch])
        assert response.status_code == 400
        assert why in response.json()["errors"][0]["message"]
    assert len(mparticle_server.accepted) == 1


def test_bulkevents_partial_failure_as_documented(sample: dict[str, Any]) -> None:
    with MParticleServer(bulk_partial_failure=True) as server:
        bad = small_batch("u2", environment="staging")
        response = httpx.post(server.base_url + "/bulkevents", json=[sample, bad], auth=server.auth)
        assert response.status_code == 202
        assert server.accepted_items("POST /v2/bulkevents") == [sample]
        assert [r.item for r in server.rejected] == [bad]


def test_bulkevents_limits(mparticle_server: MParticleServer, mp: httpx.Client) -> None:
    hundred = [small_batch(f"u{i}") for i in range(100)]
    assert mp.post("/bulkevents", json=hundred).status_code == 202
    response = mp.post("/bulkevents", json=[*hundred, small_batch("u100")])
    assert response.status_code == 400
    assert "100" in response.json()["errors"][0]["message"]
    limit = MParticleServer.MAX_REQUEST_BYTES
    padded = small_batch("big", user_attributes={"pad": ""})
    overhead = len(json.dumps([padded]).encode())
    padded["user_attributes"]["pad"] = "p" * (limit - overhead)
    exact = json.dumps([padded]).encode()
    assert len(exact) == limit
    assert mp.post("/bulkevents", content=exact).status_code == 202
    over = mp.post("/bulkevents", content=exact[:-1] + b" ]")
    assert over.status_code == MParticleServer.OVERSIZE_STATUS == 400
    assert over.json()["errors"][0]["code"] == "BAD_REQUEST"
    assert len(mparticle_server.accepted) == 101


def test_source_request_id_dedup(mparticle_server: MParticleServer, mp: httpx.Client) -> None:
    first = small_batch("u1", source_request_id="7fa67be4-f83a-429f-9d73-38b660c50825")
    assert mp.post("/events", json=first).status_code == 202
    assert mp.post("/events", json=first).status_code == 202
    assert mp.post("/bulkevents", json=[first, small_batch("u2")]).status_code == 202
    assert mp.post("/events", json=small_batch("u2")).status_code == 202
    users = [r.item["user_identities"]["customer_id"] for r in mparticle_server.accepted]
    assert users == ["u1", "u2", "u2"]
    assert mparticle_server.duplicates_absorbed == 2


def test_fast_event_validation_agrees_with_the_plain_schemas(sample: dict[str, Any]) -> None:
    spec = events_spec()
    empty_event = {"environment": "production", "events": [{}]}
    batches: list[Any] = [sample, small_batch("u1"), {}, empty_event]
    for item in sample["events"]:
        alone = {"environment": "production", "events": [item]}
        broken = copy.deepcopy(alone)
        broken["events"][0]["data"] = {"unexpected": "field"}
        untyped = copy.deepcopy(alone)
        del untyped["events"][0]["event_type"]
        batches += [alone, broken, untyped]
    for batch in batches:
        assert (spec.batch_problems(batch) == []) == spec.strict_batch.is_valid(batch), batch
    bulk = [sample, small_batch("u1", ip="1.2.3")]
    assert spec.bulk_problems(bulk) != []
    assert not spec.strict_bulk.is_valid(bulk)
    assert spec.bulk_problems(bulk[:1]) == []
    assert spec.strict_bulk.is_valid(bulk[:1])


# -- faults (both servers) -------------------------------------------------------------------


def good_request(server: VendorServer) -> httpx.Request:
    """A request the server accepts: a one-entity batch, or a small mParticle batch."""
    if isinstance(server, CustomerIOServer):
        body: Any = {"batch": [person("1")]}
        return httpx.Request("POST", server.base_url + "/api/v2/batch", json=body)
    return httpx.Request("POST", server.base_url + "/events", json=small_batch("u1"))


@pytest.fixture(params=["customerio", "mparticle"])
def server(request: pytest.FixtureRequest) -> VendorServer:
    """Each contract server in turn."""
    fixture: VendorServer = request.getfixturevalue(f"{request.param}_server")
    return fixture


@pytest.fixture
def client(server: VendorServer) -> Iterator[httpx.Client]:
    """A client with the server's credentials."""
    with httpx.Client(auth=server.auth, timeout=5) as c:
        yield c


def ok_status(server: VendorServer) -> int:
    return 200 if isinstance(server, CustomerIOServer) else 202


def test_fail_next_with_retry_after(server: VendorServer, client: httpx.Client) -> None:
    server.fail_next(2, 429, retry_after=7)
    server.fail_next(1, 503, body={"errors": [{"message": "down for maintenance"}]})
    first = client.send(good_request(server))
    assert (first.status_code, first.headers["retry-after"]) == (429, "7")
    assert client.send(good_request(server)).status_code == 429
    unavailable = client.send(good_request(server))
    assert unavailable.status_code == 503
    assert unavailable.json() == {"errors": [{"message": "down for maintenance"}]}
    assert client.send(good_request(server)).status_code == ok_status(server)
    assert [r.status for r in server.requests] == [429, 429, 503, ok_status(server)]
    assert len(server.accepted) == 1


def test_drop_next_is_a_transport_error(server: VendorServer, client: httpx.Client) -> None:
    server.drop_next(1)
    with pytest.raises(httpx.TransportError):
        client.send(good_request(server))
    assert server.accepted == []
    server.drop_next(1, processed=True)
    with pytest.raises(httpx.TransportError):
        client.send(good_request(server))
    assert len(server.accepted) == 1
    assert client.send(good_request(server)).status_code == ok_status(server)
    assert [r.status for r in server.requests] == [None, None, ok_status(server)]


def test_down_refuses_and_up_reopens_the_same_port(
    server: VendorServer, client: httpx.Client
) -> None:
    assert client.send(good_request(server)).status_code == ok_status(server)
    port = server.port
    server.down()
    assert not server.is_up
    with pytest.raises(httpx.ConnectError):
        client.send(good_request(server))
    server.up()
    assert server.port == port
    assert client.send(good_request(server)).status_code == ok_status(server)
    assert server.request_count == 2


def test_set_delay(server: VendorServer, client: httpx.Client) -> None:
    server.set_delay(0.3)
    started = time.monotonic()
    assert client.send(good_request(server)).status_code == ok_status(server)
    assert time.monotonic() - started >= 0.3
    impatient = good_request(server)
    impatient.extensions["timeout"] = httpx.Timeout(5, read=0.05).as_dict()
    with pytest.raises(httpx.ReadTimeout):
        client.send(impatient)
    server.set_delay(0)
    assert client.send(good_request(server)).status_code == ok_status(server)


def test_validation_off_accepts_what_the_schema_refuses(
    server: VendorServer, client: httpx.Client
) -> None:
    server.set_validate(False)
    if isinstance(server, CustomerIOServer):
        invalid: Any = {"type": "person", "action": "event", "identifiers": {"id": "1"}}
        response = client.post(server.base_url + "/api/v2/batch", json={"batch": [invalid]})
    else:
        invalid = {"no_environment": True}
        response = client.post(server.base_url + "/events", json=invalid)
    assert response.status_code == ok_status(server)
    assert [record.item for record in server.accepted] == [invalid]
    server.set_validate(True)
    assert server.validating


def test_reset_forgets_records_and_faults(server: VendorServer, client: httpx.Client) -> None:
    client.send(good_request(server))
    server.fail_next(5, 500)
    server.set_delay(5)
    server.down()
    server.reset()
    assert server.is_up
    assert (server.requests, server.accepted, server.duplicates_absorbed) == ([], [], 0)
    assert client.send(good_request(server)).status_code == ok_status(server)


def test_concurrent_clients(server: VendorServer) -> None:
    def send(worker: int) -> None:
        with httpx.Client(auth=server.auth) as c:
            for n in range(25):
                user = f"{worker}-{n}"
                if isinstance(server, CustomerIOServer):
                    url, body = server.base_url + "/api/v2/batch", {"batch": [person(user)]}
                else:
                    url, body = server.base_url + "/events", small_batch(user)
                assert c.post(url, json=body).status_code == ok_status(server)

    threads = [threading.Thread(target=send, args=(w,)) for w in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert server.request_count == 200
    assert len(server.accepted) == 200


def test_stop_interrupts_delays_and_leaves_no_threads() -> None:
    before = set(threading.enumerate())
    server = CustomerIOServer().start()
    idle = httpx.Client(auth=server.auth)
    idle.get(server.base_url + "/api/v1/accounts/region")
    server.set_delay(30)
    outcome: list[BaseException] = []

    def slow() -> None:
        try:
            httpx.get(server.base_url + "/api/v1/accounts/region", auth=server.auth, timeout=60)
        except httpx.TransportError as exc:
            outcome.append(exc)

    waiting = threading.Thread(target=slow)
    waiting.start()
    time.sleep(0.2)
    started = time.monotonic()
    server.stop()
    waiting.join(5)
    idle.close()
    assert time.monotonic() - started < 10  # far below the 30 s delay: stop does not wait
    assert len(outcome) == 1
    assert set(threading.enumerate()) <= before


def test_validation_off_accepts_large_bodies_undecoded(customerio_server: CustomerIOServer) -> None:
    """With validation off (what the benchmarks use) the server takes the fast path: large
    bodies are accepted without being checked, and still recorded (decoded on reading).
    How fast that is, is the benchmarks' business, not a test's."""
    item = event("u", attributes={"note": "n" * 300})
    body = json.dumps({"batch": [item] * 1200}, separators=(",", ":")).encode()
    assert 450_000 < len(body) < CustomerIOServer.MAX_BATCH_BYTES
    invalid = json.dumps({"batch": [{"type": "person", "action": "event"}]}).encode()
    with httpx.Client(base_url=customerio_server.base_url, auth=customerio_server.auth) as c:
        assert c.post("/api/v2/batch", content=invalid).status_code == 207  # item refused
        customerio_server.set_validate(False)
        assert customerio_server.fast_path()
        for _ in range(20):
            assert c.post("/api/v2/batch", content=body).status_code == 200
        assert c.post("/api/v2/batch", content=invalid).status_code == 200
    assert customerio_server.request_count == 22
