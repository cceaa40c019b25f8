"""The ``customerio.reporting_webhook`` source: the vendor's own example bodies fit the input
schema, and signatures are checked the way Customer.io signs them."""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Iterator
from typing import Any

import pytest
from jsonschema import Draft202012Validator

from mapwire import InputError
from mapwire.plugins.customerio import webhooks

ENVELOPE = {"event_id", "object_type", "metric", "timestamp", "data"}
KEY = "whsec-SENTINEL-5150"
NOW = 1_713_484_800
BODY = json.dumps(
    {
        "event_id": "01E4C4CT6YDC7Y5M7FE1GWWPQJ",
        "object_type": "email",
        "metric": "opened",
        "timestamp": NOW,
        "data": {"delivery_id": "RPILAgUBcRhIBqSfeiIwdIYJKxTY"},
    }
).encode()


def walk_examples(node: Any, where: str = "#") -> Iterator[tuple[str, Any]]:
    """Every ``example`` and ``examples`` value in an OpenAPI document, with its location."""
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "example":
                yield f"{where}/example", value
            elif key == "examples" and isinstance(value, dict):
                for name, example in value.items():
                    yield f"{where}/examples/{name}", example.get("value", example)
            elif key == "examples" and isinstance(value, list):
                yield from ((f"{where}/examples/{i}", e) for i, e in enumerate(value))
            yield from walk_examples(value, f"{where}/{key}")
    elif isinstance(node, list):
        for i, value in enumerate(node):
            yield from walk_examples(value, f"{where}/{i}")


@pytest.fixture(scope="module")
def validator() -> Draft202012Validator:
    schema = webhooks.input_schema()
    Draft202012Validator.check_schema(schema)
    return Draft202012Validator(schema, format_checker=Draft202012Validator.FORMAT_CHECKER)


def test_vendor_example_bodies_are_valid_input(webhook_document: Any, validator: Any) -> None:
    bodies = [
        (where, ex)
        for where, ex in walk_examples(webhook_document)
        if isinstance(ex, dict) and ex.keys() >= ENVELOPE
    ]
    assert len(bodies) >= 3, "expected the vendor's worked examples of whole webhook bodies"
    for where, body in bodies:
        assert not [e.message for e in validator.iter_errors(body)], where


def test_vendor_data_examples_fit_the_data_schema(webhook_document: Any, validator: Any) -> None:
    """The common-data examples (one has a numeric ``journey_id``) fit ``data``."""
    data_schema = webhooks.input_schema()["properties"]["data"]
    examples = [
        (w, ex)
        for w, ex in walk_examples(webhook_document)
        if isinstance(ex, dict) and {"delivery_id", "identifiers"} <= ex.keys()
    ]
    assert len(examples) >= 2
    for where, example in examples:
        assert Draft202012Validator(data_schema).is_valid(example), where


@pytest.mark.parametrize(
    "change",
    [
        {"metric": None},
        {"timestamp": "1713484800"},
        {"data": []},
        {"data": {"link_id": "1"}},
        {"data": {"identifiers": {"id": 42}}},
        {"data": {"campaign_id": "7"}},
    ],
    ids=repr,
)
def test_malformed_bodies_are_invalid(validator: Any, change: dict[str, Any]) -> None:
    body = {**json.loads(BODY), **change}
    if change.get("metric", "") is None:
        del body["metric"]
    assert not validator.is_valid(body)


def test_the_specs_subscription_preferences_change_is_taken_in(validator: Any) -> None:
    """The spec names ``object_type`` ``object_type_type`` on this one webhook (its text still
    says ``object_type``): either passes, so a body shaped as the spec says is never refused
    with a 400, which would hold back every later webhook for an hour."""
    body = {
        "metric": "cio_subscription_preferences_changed",
        "event_id": "01HXYZ0000000000000000000F",
        "object_type_type": "email",
        "timestamp": NOW,
        "data": {"customer_id": "42", "email_address": "a@b.c", "identifiers": {"id": "42"}},
    }
    assert webhooks.webhook_documents(body) == [body]
    assert validator.is_valid(body)
    renamed = {"object_type" if k == "object_type_type" else k: v for k, v in body.items()}
    assert webhooks.webhook_documents(renamed) == [renamed]
    neither = {k: v for k, v in body.items() if k != "object_type_type"}
    with pytest.raises(InputError, match=r"body\.object_type is required"):
        webhooks.webhook_documents(neither)
    with pytest.raises(InputError, match=r"body\.object_type: expected a string"):
        webhooks.webhook_documents({**body, "object_type": None})


def test_source_is_registered_with_schema_and_authenticator() -> None:
    source = webhooks.make_source()
    assert source.name == "customerio.reporting_webhook"
    # object_type is not required by the schema: it may come as object_type_type
    assert set(source.schema["required"]) == ENVELOPE - {"object_type"}
    assert {"object_type", "object_type_type"} <= source.schema["properties"].keys()
    assert source.authenticate is webhooks.authenticate


# -- signatures -----------------------------------------------------------------------------


def sign(body: bytes, stamp: str, key: str = KEY) -> str:
    return hmac.new(key.encode(), b"v0:" + stamp.encode() + b":" + body, hashlib.sha256).hexdigest()


def headers(
    stamp: str | None = str(NOW), signature: str | None = None, body: bytes = BODY
) -> dict[str, str]:
    out = {}
    if stamp is not None:
        out["x-cio-timestamp"] = stamp
        out["x-cio-signature"] = sign(body, stamp) if signature is None else signature
    elif signature is not None:
        out["x-cio-signature"] = signature
    return out


SETTINGS = {"webhook_signing_key": KEY}


def refusal(given: dict[str, str], body: bytes, now: int, settings: Any) -> str | None:
    """The refusal code, or None when the request is accepted."""
    try:
        webhooks.authenticate(given, body, settings, now=now)
    except InputError as exc:
        return exc.code
    return None


@pytest.mark.parametrize(
    ("given", "body", "now", "settings"),
    [
        (headers(), BODY, NOW, SETTINGS),
        (headers(), BODY, NOW + 300, SETTINGS),
        (headers(), BODY, NOW - 300, SETTINGS),
        ({k: v.upper() for k, v in headers().items()}, BODY, NOW, SETTINGS),
        (headers(), BODY, NOW + 3000, {**SETTINGS, "signature_tolerance_seconds": 3600}),
        (headers(body=b""), b"", NOW, SETTINGS),
    ],
    ids=["fresh", "300s-late", "300s-early", "upper-case-hex", "wider-tolerance", "empty-body"],
)
def test_valid_signatures_pass(given: Any, body: bytes, now: int, settings: Any) -> None:
    assert refusal(given, body, now, settings) is None


@pytest.mark.parametrize(
    ("given", "body", "now", "settings", "code"),
    [
        (
            headers(signature=sign(BODY, str(NOW), "other-key")),
            BODY,
            NOW,
            SETTINGS,
            "bad_signature",
        ),
        (headers(), BODY[:-1] + b" ", NOW, SETTINGS, "bad_signature"),
        (headers(), BODY + b"\n", NOW, SETTINGS, "bad_signature"),
        (headers(signature="v0=" + sign(BODY, str(NOW))), BODY, NOW, SETTINGS, "bad_signature"),
        (headers(signature="zz\u00e9"), BODY, NOW, SETTINGS, "bad_signature"),
        (headers(), BODY, NOW + 301, SETTINGS, "stale_timestamp"),
        (headers(), BODY, NOW - 301, SETTINGS, "stale_timestamp"),
        (
            headers(),
            BODY,
            NOW + 61,
            {**SETTINGS, "signature_tolerance_seconds": 60},
            "stale_timestamp",
        ),
        (
            headers(stamp=None, signature=sign(BODY, str(NOW))),
            BODY,
            NOW,
            SETTINGS,
            "missing_signature",
        ),
        ({"x-cio-timestamp": str(NOW)}, BODY, NOW, SETTINGS, "missing_signature"),
        ({}, BODY, NOW, SETTINGS, "missing_signature"),
        (headers(stamp=f"{NOW}.0"), BODY, NOW, SETTINGS, "bad_signature"),
        (headers(stamp="-1"), BODY, NOW, SETTINGS, "bad_signature"),
        (headers(stamp="soon"), BODY, NOW, SETTINGS, "bad_signature"),
        (headers(), BODY, NOW, {}, "signing_key_not_configured"),
    ],
    ids=[
        "forged",
        "body-altered-by-one-byte",
        "body-extended",
        "prefixed-signature",
        "non-hex-signature",
        "stale",
        "future",
        "custom-tolerance",
        "missing-timestamp",
        "missing-signature",
        "no-headers",
        "float-timestamp",
        "negative-timestamp",
        "word-timestamp",
        "no-key-configured",
    ],
)
def test_bad_requests_are_refused(
    given: Any, body: bytes, now: int, settings: Any, code: str
) -> None:
    with pytest.raises(InputError) as caught:
        webhooks.authenticate(given, body, settings, now=now)
    assert (caught.value.status, caught.value.code) == (401, code)
    message = str(caught.value)
    assert KEY not in message and sign(body, given.get("x-cio-timestamp", "")) not in message


def test_the_registered_authenticator_reads_the_clock(monkeypatch: pytest.MonkeyPatch) -> None:
    source = webhooks.make_source()
    assert source.authenticate is not None
    monkeypatch.setattr(webhooks, "clock", lambda: float(NOW + 10))
    source.authenticate(headers(), BODY, SETTINGS)
    monkeypatch.setattr(webhooks, "clock", lambda: float(NOW + 1000))
    with pytest.raises(InputError, match="X-CIO-Timestamp is more than 300 seconds from now"):
        source.authenticate(headers(), BODY, SETTINGS)
