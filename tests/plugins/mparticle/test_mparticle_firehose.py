"""Firehose replies: valid against mParticle's Draft 3 schemas, shaped like its examples."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import pytest
from jsonschema import Draft3Validator

from mapwire import InputError
from mapwire.plugins.mparticle.firehose import FIREHOSE_VERSION, RESPONSE_TYPES, firehose_response

LoadVendor = Callable[[str], Any]
FirehoseValidator = Callable[[str], Draft3Validator]

#: (request example, reply example, reply class, keyword arguments of the reply)
EXCHANGES = [
    ("EventProcessingRequest_ios", "EventProcessingResponse", {}),
    ("EventProcessingRequest_android", "EventProcessingResponse", {}),
    ("AudienceMembershipChangeRequest", "AudienceMembershipChangeResponse", {}),
    (
        "AudienceSubscriptionRequest",
        "AudienceSubscriptionResponse",
        {"audience_subscription_settings": {"list_id": "42"}},
    ),
    ("DsrProcessingRequest", "DsrProcessingResponse", {}),
]


@pytest.mark.parametrize("reply_class", sorted({reply for _, reply, _ in EXCHANGES}))
def test_the_vendor_reply_examples_pass_their_schemas(
    load_vendor: LoadVendor, firehose_validator: FirehoseValidator, reply_class: str
) -> None:
    """The validators are set up right: mParticle's own replies pass them."""
    example = load_vendor(f"firehose/{reply_class}.json")
    assert list(firehose_validator(reply_class).iter_errors(example)) == []


@pytest.mark.parametrize(
    ("request_name", "reply_class", "options"),
    [pytest.param(*exchange, id=exchange[0]) for exchange in EXCHANGES],
)
def test_replies_validate_and_match_the_vendor_examples(
    load_vendor: LoadVendor,
    firehose_validator: FirehoseValidator,
    request_name: str,
    reply_class: str,
    options: dict[str, Any],
) -> None:
    request = load_vendor(f"firehose/{request_name}.json")
    example = load_vendor(f"firehose/{reply_class}.json")
    reply = firehose_response(request, timestamp_ms=1714592744067, **options)
    assert list(firehose_validator(reply_class).iter_errors(reply)) == []
    assert set(reply) == set(example)
    assert {k: type(v) for k, v in reply.items()} == {k: type(v) for k, v in example.items()}
    assert reply["type"] == example["type"]
    assert reply["firehose_version"] == example["firehose_version"] == FIREHOSE_VERSION
    assert reply["id"] == request["id"]
    assert reply["timestamp_ms"] == 1714592744067


def test_membership_reply_can_suspend_the_subscription(load_vendor: LoadVendor) -> None:
    request = load_vendor("firehose/AudienceMembershipChangeRequest.json")
    assert firehose_response(request)["suspend_subscription"] is False
    assert firehose_response(request, suspend_subscription=True)["suspend_subscription"] is True


def test_subscription_reply_without_settings_is_the_bare_envelope(load_vendor: LoadVendor) -> None:
    reply = firehose_response(load_vendor("firehose/AudienceSubscriptionRequest.json"))
    assert set(reply) == {"type", "id", "timestamp_ms", "firehose_version"}


def test_timestamp_defaults_to_now(load_vendor: LoadVendor) -> None:
    before = int(time.time() * 1000)
    reply = firehose_response(load_vendor("firehose/EventProcessingRequest_ios.json"))
    assert before <= reply["timestamp_ms"] <= int(time.time() * 1000)


def test_every_answered_type_has_a_reply_schema(load_vendor: LoadVendor) -> None:
    replies = {load_vendor(f"firehose/{reply}.json")["type"] for _, reply, _ in EXCHANGES}
    assert replies == set(RESPONSE_TYPES.values())


@pytest.mark.parametrize(
    ("request_body", "message"),
    [
        pytest.param(
            {"type": "module_registration_request", "id": "438b0f74-8656-4f87-93c7-c9f9ac8a5544"},
            "cannot answer a request of type 'module_registration_request'",
            id="registration",
        ),
        pytest.param(
            {"type": "event_processing_response", "id": "x"}, "cannot answer", id="a-reply"
        ),
        pytest.param({"id": "x"}, "of type None", id="no-type"),
        pytest.param({"type": "event_processing_request"}, "has no id", id="no-id"),
        pytest.param({"type": "event_processing_request", "id": ""}, "has no id", id="empty-id"),
        pytest.param(["event_processing_request"], "not a JSON object", id="array"),
    ],
)
def test_requests_that_cannot_be_answered(request_body: Any, message: str) -> None:
    with pytest.raises(InputError, match=message) as caught:
        firehose_response(request_body)
    assert caught.value.status == 400


@pytest.mark.parametrize(
    ("field", "value"),
    [
        pytest.param("id", None, id="no-id"),
        pytest.param("timestamp_ms", "1714592744067", id="timestamp-as-text"),
        pytest.param("firehose_version", 3.2, id="version-as-number"),
        pytest.param("suspend_subscription", "false", id="flag-as-text"),
    ],
)
def test_the_reply_schemas_catch_a_wrong_reply(
    load_vendor: LoadVendor, firehose_validator: FirehoseValidator, field: str, value: Any
) -> None:
    """The same validators refuse a reply with a missing or mistyped field."""
    reply = firehose_response(load_vendor("firehose/AudienceMembershipChangeRequest.json"))
    if value is None:
        del reply[field]
    else:
        reply[field] = value
    assert not firehose_validator("AudienceMembershipChangeResponse").is_valid(reply)
