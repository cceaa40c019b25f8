"""The ``customerio.reporting_webhook`` source: Customer.io's message-activity webhooks.

Each POST carries one event (``event_id``, ``object_type``, ``metric``, ``timestamp``,
``data``). Requests are signed: ``X-CIO-Signature`` is the hex HMAC-SHA256, keyed with the
webhook signing key, of ``b"v0:" + X-CIO-Timestamp + b":" + raw body``. Customer.io documents
no replay window; requests whose timestamp is further than ``signature_tolerance_seconds``
(default 300) from now, either way, are refused.

Connection settings (declared in ``settings.SETTINGS_SCHEMA``, shared with the destination):
``webhook_signing_key`` (secret, required here) and ``signature_tolerance_seconds``. Without a
key every request is refused: the source fails closed.
"""

from __future__ import annotations

import functools
import hashlib
import hmac
import json
import re
import time
from collections.abc import Callable, Mapping
from importlib import resources
from typing import Any, Final

from mapwire import Documents, Endpoint, InputError, Source, a_json_type

SOURCE_NAME = "customerio.reporting_webhook"
SCHEMA_FILE = "customerio.reporting_webhook.schema.json"
DEFAULT_TOLERANCE_SECONDS = 300

clock: Callable[[], float] = time.time
"""The current time; replaced in tests."""

_INTEGER = re.compile(r"[0-9]{1,15}")


@functools.cache
def input_schema() -> Mapping[str, Any]:
    """The JSON Schema of one webhook body, shipped in this plugin's ``schemas/`` folder."""
    text = (
        resources.files(__package__ or __name__).joinpath("schemas", SCHEMA_FILE).read_text("utf-8")
    )
    schema: dict[str, Any] = json.loads(text)
    return schema


def _refuse(message: str, code: str) -> InputError:
    return InputError(f"{SOURCE_NAME}: {message}", status=401, code=code)


def authenticate(
    headers: Mapping[str, str],
    body: bytes,
    settings: Mapping[str, Any],
    *,
    now: float | None = None,
) -> None:
    """Check the signature and freshness of one request; raise ``InputError`` (401) if bad.

    ``headers`` have lower-case names and ``body`` is the raw request body. The signing key
    and the expected signature never appear in an error.
    """
    key = settings.get("webhook_signing_key")
    if not isinstance(key, str) or not key:
        raise _refuse("no webhook_signing_key is configured", "signing_key_not_configured")
    signature = headers.get("x-cio-signature")
    stamp = headers.get("x-cio-timestamp")
    if not signature or not stamp:
        raise _refuse(
            "X-CIO-Signature and X-CIO-Timestamp headers are required", "missing_signature"
        )
    if not _INTEGER.fullmatch(stamp):
        raise _refuse("X-CIO-Timestamp must be integer unix seconds", "bad_signature")
    message = b"v0:" + stamp.encode("ascii") + b":" + body
    expected = hmac.new(key.encode("utf-8"), message, hashlib.sha256).hexdigest()
    given = signature.strip().lower().encode("utf-8", "replace")
    if not hmac.compare_digest(expected.encode("ascii"), given):
        raise _refuse("signature does not match the body", "bad_signature")
    tolerance = float(settings.get("signature_tolerance_seconds", DEFAULT_TOLERANCE_SECONDS))
    current = clock() if now is None else now
    if abs(current - int(stamp)) > tolerance:
        raise _refuse(
            f"X-CIO-Timestamp is more than {tolerance:g} seconds from now", "stale_timestamp"
        )


def sign(body: bytes, key: str, *, now: int | None = None) -> dict[str, str]:
    """The signature headers Customer.io sends with ``body``, signed with ``key``."""
    stamp = str(int(clock()) if now is None else now)
    message = b"v0:" + stamp.encode("ascii") + b":" + body
    digest = hmac.new(key.encode("utf-8"), message, hashlib.sha256).hexdigest()
    return {"X-CIO-Timestamp": stamp, "X-CIO-Signature": digest}


_STRING = (lambda v: isinstance(v, str), "a string")

#: Envelope field -> (check, what it must be, the other names it may come under).
#: Customer.io's spec calls ``object_type`` ``object_type_type`` on a subscription-preferences
#: change (``cio_subscription_preferences_changed``).
ENVELOPE: Final[dict[str, tuple[Callable[[Any], bool], str, tuple[str, ...]]]] = {
    "event_id": (lambda v: isinstance(v, str) and bool(v), "a non-empty string", ()),
    "object_type": (*_STRING, ("object_type_type",)),
    "metric": (*_STRING, ()),
    "timestamp": (lambda v: isinstance(v, int) and not isinstance(v, bool), "an integer", ()),
    "data": (lambda v: isinstance(v, dict), "an object", ()),
}


def check_envelope(doc: Any) -> None:
    """The five envelope fields every reporting webhook has (each under its name or one of
    the others ``ENVELOPE`` allows), with their types. A webhook refused here is retried by
    Customer.io only an hour later, with every later one held back behind it."""
    if not isinstance(doc, dict):
        raise InputError(f"body: expected an object, got {a_json_type(doc)}", code="invalid_shape")
    for name, (ok, expected, others) in ENVELOPE.items():
        found = next((key for key in (name, *others) if key in doc), None)
        if found is None:
            raise InputError(f"body.{name} is required", code="invalid_shape")
        if not ok(doc[found]):
            raise InputError(
                f"body.{found}: expected {expected}, got {a_json_type(doc[found])}",
                code="invalid_shape",
            )


def webhook_documents(doc: Any) -> list[Any]:
    """The source's split (``send`` reads files with it): one webhook, one document, once
    its envelope is checked."""
    check_envelope(doc)
    return [doc]


def split_webhook(doc: Any) -> list[Documents]:
    """The endpoint's split: the source's."""
    return [Documents(SOURCE_NAME, webhook_documents(doc))]


def is_webhook(doc: Any) -> bool:
    """Whether a sample is a reporting webhook (``mapwire demo post``)."""
    return isinstance(doc, dict) and "event_id" in doc and "metric" in doc


def make_endpoint() -> Endpoint:
    """``POST /customerio/webhook[/{connection}]``: each request is verified with the
    signing key of every candidate connection (the one named, or every enabled connection
    reading reporting webhooks) before it is parsed, and goes to those whose key verifies
    it. A webhook Customer.io redelivers is answered 202 again but forwarded once: the
    flow's dedup key is the ``event_id``."""
    return Endpoint(
        path="/customerio/webhook",
        description="Customer.io reporting webhooks, signed (202)",
        sources=(SOURCE_NAME,),
        split=split_webhook,
        credentials="source",
        by_connection=True,
        telling_refusals=("stale_timestamp",),
        recognizes=is_webhook,
        sign=sign,
    )


def make_source() -> Source:
    """The source registered by this plugin."""
    return Source(
        name=SOURCE_NAME,
        description="Customer.io reporting webhooks: one message or subscription event "
        "per request, signed with the webhook signing key.",
        schema=input_schema(),
        split=webhook_documents,
        authenticate=authenticate,
    )
