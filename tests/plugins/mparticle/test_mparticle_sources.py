"""Input sources: our schemas against mParticle's own sample messages, and the split."""

from __future__ import annotations

import copy
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from jsonschema import Draft202012Validator

from mapwire import InputError
from mapwire.plugins.mparticle.sources import (
    DESCRIPTIONS,
    all_sources,
    load_schema,
    split_webhook_output,
)

SourceValidator = Callable[[str], Draft202012Validator]
LoadVendor = Callable[[str], Any]

#: mParticle's samples, by the source that must accept them.
SAMPLES = [
    ("mparticle.events_api_batch", "eventsapi.sample.json"),
    ("mparticle.firehose_event_processing", "firehose/EventProcessingRequest_ios.json"),
    ("mparticle.firehose_event_processing", "firehose/EventProcessingRequest_android.json"),
    ("mparticle.firehose_audience_membership", "firehose/AudienceMembershipChangeRequest.json"),
    ("mparticle.firehose_audience_subscription", "firehose/AudienceSubscriptionRequest.json"),
]
FIREHOSE = sorted({source for source, _ in SAMPLES if "firehose" in source})


def _properties(node: Any, where: str = "") -> Iterator[tuple[str, dict[str, Any]]]:
    """Every ``properties`` member of a schema, with its location (conditions excluded)."""
    if isinstance(node, dict):
        for name, spec in node.get("properties", {}).items():
            yield f"{where}/{name}", spec
        for key, value in node.items():
            if key not in {"if", "then", "else"}:
                yield from _properties(value, f"{where}/{key}")
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield from _properties(value, f"{where}/{index}")


@pytest.mark.parametrize("name", sorted(DESCRIPTIONS))
def test_schema_is_a_titled_described_2020_12_schema(name: str) -> None:
    schema = load_schema(name)
    Draft202012Validator.check_schema(schema)
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert schema["$id"] == f"https://mapwire.dev/schemas/{name}.schema.json"
    assert schema["title"] and schema["description"]
    assert schema["type"] == "object"
    undocumented = [where for where, spec in _properties(schema) if "description" not in spec]
    assert undocumented == []
    assert all(spec.get("description") for spec in schema.get("$defs", {}).values())


def test_every_source_checks_what_it_reads_and_none_authenticates() -> None:
    """Each source's split refuses what its endpoint refuses (``send``, ``map`` and
    ``test`` read through it); the endpoints authenticate, not the sources."""
    sources = {source.name: source for source in all_sources()}
    assert list(sources) == list(DESCRIPTIONS)
    assert all(s.split is not None for s in sources.values())
    split = sources["mparticle.events_api_batch"].split
    assert split is not None
    batch = {"user_identities": {"customer_id": "c1"}, "events": []}
    assert split(batch) == [batch] and split([batch, batch]) == [batch, batch]
    with pytest.raises(InputError, match=r"body\.user_attributes: expected an object"):
        split({**batch, "user_attributes": "oops"})
    assert all(s.authenticate is None and s.description for s in sources.values())


def test_a_firehose_source_splits_only_its_own_requests() -> None:
    """``send`` reads Firehose files through the checks the endpoint makes."""
    split = {s.name: s.split for s in all_sources()}["mparticle.firehose_event_processing"]
    assert split is not None
    request = {"type": "event_processing_request", "id": "r1", "events": []}
    assert split(request) == [request]
    with pytest.raises(InputError, match="expected a request for") as caught:
        split({"type": "audience_subscription_request", "id": "r2"})
    assert caught.value.code == "invalid_shape"
    with pytest.raises(InputError, match=r"^body\.events: expected an array"):
        split({**request, "events": "no"})


@pytest.mark.parametrize(("source", "sample"), SAMPLES)
def test_vendor_samples_are_accepted(
    source_validator: SourceValidator, load_vendor: LoadVendor, source: str, sample: str
) -> None:
    errors = [e.message for e in source_validator(source).iter_errors(load_vendor(sample))]
    assert errors == []


@pytest.mark.parametrize(
    ("source", "sample"),
    [
        (other, sample)
        for source, sample in SAMPLES
        if source in FIREHOSE
        for other in FIREHOSE
        if other != source
    ],
)
def test_a_firehose_message_is_refused_by_the_other_firehose_sources(
    source_validator: SourceValidator, load_vendor: LoadVendor, source: str, sample: str
) -> None:
    assert not source_validator(source).is_valid(load_vendor(sample))


def _as_webhook_output(batch: dict[str, Any], n: int = 0) -> dict[str, Any]:
    """An Events API batch as the Webhook output posts it: identities as a list, ids added."""
    out = copy.deepcopy(batch)
    received = out["timestamp_unixtime_ms"]
    out["user_identities"] = [
        {
            "identity_type": kind,
            "identity": value,
            "timestamp_unixtime_ms": received,
            "created_this_batch": n == 0,
        }
        for kind, value in batch["user_identities"].items()
    ]
    out["message_id"] = str(uuid.uuid5(uuid.NAMESPACE_URL, f"message/{n}"))
    out["message_type"] = "events"
    out["batch_id"] = batch["batch_id"] + n
    for index, event in enumerate(out["events"]):
        event["message_id"] = str(uuid.uuid5(uuid.NAMESPACE_URL, f"message/{n}/{index}"))
    return out


@pytest.fixture(scope="module")
def webhook_batch(load_vendor: LoadVendor) -> dict[str, Any]:
    return _as_webhook_output(load_vendor("eventsapi.sample.json"))


@pytest.mark.parametrize("count", [1, 2], ids=["one-batch", "array-of-two"])
def test_webhook_output_bodies_split_into_valid_batches(
    source_validator: SourceValidator, load_vendor: LoadVendor, count: int
) -> None:
    batches = [_as_webhook_output(load_vendor("eventsapi.sample.json"), n) for n in range(count)]
    body = batches[0] if count == 1 else batches
    documents = split_webhook_output(body)
    assert documents == batches
    validator = source_validator("mparticle.webhook_output")
    assert [[e.message for e in validator.iter_errors(d)] for d in documents] == [[]] * count


def test_identity_forms_tell_the_two_batch_shapes_apart(
    source_validator: SourceValidator, load_vendor: LoadVendor, webhook_batch: dict[str, Any]
) -> None:
    assert not source_validator("mparticle.webhook_output").is_valid(
        load_vendor("eventsapi.sample.json")
    )
    assert not source_validator("mparticle.events_api_batch").is_valid(webhook_batch)


@pytest.mark.parametrize(
    ("body", "message"),
    [
        pytest.param("text", r"^body: expected a batch object, got a string$", id="string"),
        pytest.param(3, r"^body: expected a batch object, got a number$", id="number"),
        pytest.param(None, r"^body: expected a batch object, got null$", id="null"),
        pytest.param([{}, []], r"^body\[1\]: expected a batch object", id="array-in-array"),
        pytest.param({"events": "no"}, r"^body\.events: expected an array", id="events"),
        pytest.param(
            [{"user_identities": 7}], r"^body\[0\]\.user_identities: expected", id="identities"
        ),
    ],
)
def test_webhook_output_split_refuses_what_is_not_batches(body: Any, message: str) -> None:
    """The split ``send`` uses is the events endpoint's: the same checks, the same words."""
    with pytest.raises(InputError, match=message) as caught:
        split_webhook_output(body)
    assert caught.value.status == 400


def test_an_empty_array_is_no_documents() -> None:
    assert split_webhook_output([]) == []


#: (source, sample, where to change it, new value): each change must be refused.
MUTATIONS = [
    ("mparticle.events_api_batch", "eventsapi.sample.json", ("mpid",), "123"),
    (
        "mparticle.events_api_batch",
        "eventsapi.sample.json",
        ("events", 9, "data", "event_name"),
        None,
    ),
    (
        "mparticle.events_api_batch",
        "eventsapi.sample.json",
        ("events", 10, "data", "screen_name"),
        None,
    ),
    ("mparticle.events_api_batch", "eventsapi.sample.json", ("events", 0, "event_type"), None),
    (
        "mparticle.events_api_batch",
        "eventsapi.sample.json",
        ("user_attributes", "x"),
        {"nested": 1},
    ),
    (
        "mparticle.firehose_event_processing",
        "firehose/EventProcessingRequest_ios.json",
        ("mpid",),
        12345,
    ),
    (
        "mparticle.firehose_event_processing",
        "firehose/EventProcessingRequest_ios.json",
        ("events", 0, "name"),
        None,
    ),
    (
        "mparticle.firehose_event_processing",
        "firehose/EventProcessingRequest_android.json",
        ("runtime_environment", "identities", 0, "encoding"),
        "base64",
    ),
    (
        "mparticle.firehose_event_processing",
        "firehose/EventProcessingRequest_ios.json",
        ("id",),
        None,
    ),
    (
        "mparticle.firehose_audience_membership",
        "firehose/AudienceMembershipChangeRequest.json",
        ("user_profiles", 0, "audiences", 0, "action"),
        "remove",
    ),
    (
        "mparticle.firehose_audience_membership",
        "firehose/AudienceMembershipChangeRequest.json",
        ("user_profiles", 0, "audiences", 1, "audience_id"),
        "789",
    ),
    (
        "mparticle.firehose_audience_subscription",
        "firehose/AudienceSubscriptionRequest.json",
        ("action",),
        "delete",
    ),
    (
        "mparticle.firehose_audience_subscription",
        "firehose/AudienceSubscriptionRequest.json",
        ("audience_id",),
        None,
    ),
]


@pytest.mark.parametrize(
    ("source", "sample", "path", "value"),
    [pytest.param(*m, id=f"{m[0].split('.')[1]}:{'/'.join(map(str, m[2]))}") for m in MUTATIONS],
)
def test_the_fields_mappings_read_are_typed(
    source_validator: SourceValidator,
    load_vendor: LoadVendor,
    source: str,
    sample: str,
    path: tuple[str | int, ...],
    value: Any,
) -> None:
    """``None`` removes the field; anything else replaces it."""
    document = copy.deepcopy(load_vendor(sample))
    parent = document
    for key in path[:-1]:
        parent = parent[key]
    assert path[-1] in parent or value is not None
    if value is None:
        del parent[path[-1]]
    else:
        parent[path[-1]] = value
    assert not source_validator(source).is_valid(document)


@pytest.mark.parametrize(
    "name",
    ["string_like", "attribute_map", "user_attributes", "device_info", "application_info"],
)
def test_both_batch_schemas_share_their_common_definitions(name: str) -> None:
    batch = load_schema("mparticle.events_api_batch")["$defs"][name]
    output = load_schema("mparticle.webhook_output")["$defs"][name]
    assert batch == output
