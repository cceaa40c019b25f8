"""The endpoints mParticle posts to, both guarded by ``server.auth``.

``POST /mparticle/events`` takes an Events API batch or what the Webhook output posts (one
batch, or an array of them with "Send as Batch"). Each batch's dialect is read from its
``user_identities`` (``batches``); each goes to the connections whose flow reads that
source. Answer: 202 and a small summary.

``POST /mparticle/firehose`` takes one Firehose request and answers it with the matching
Firehose response message (200), after its documents are queued. Event processing,
audience membership and audience subscription requests are queued for the connections
reading them (verification requests, with no events or no profiles, map to nothing and are
answered normally); so are DSR (erasure) requests, answered with the
``dsr_processing_response`` the protocol defines (an envelope: it carries no status) once
the erasure is queued. The Firehose sends its token as ``Authorization: Token X``. A module
registration request is answered with this server's registration, without credentials, as
the Firehose protocol requires.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from typing import Any, Final

from mapwire import Answering, Documents, Endpoint, InputError, Reply, __version__

from .batches import (
    EVENTS_API_BATCH,
    WEBHOOK_OUTPUT,
    check_list_of_objects,
    looks_like_batches,
    shape_error,
    split_batches,
)
from .firehose import FIREHOSE_VERSION, firehose_response

FIREHOSE_SOURCES: Final = {
    "event_processing_request": "mparticle.firehose_event_processing",
    "audience_membership_change_request": "mparticle.firehose_audience_membership",
    "audience_subscription_request": "mparticle.firehose_audience_subscription",
    "dsr_processing_request": "mparticle.firehose_dsr",
}
#: Request type -> the list field that carries its documents' items.
FIREHOSE_ITEMS: Final = {
    "event_processing_request": "events",
    "audience_membership_change_request": "user_profiles",
}
REGISTRATION: Final = "module_registration_request"
#: The most an unauthenticated Firehose request may send: a registration request is tiny.
UNAUTHENTICATED_BODY_BYTES: Final = 16_384
#: The event types the registration may ask for: those the Firehose mapping has rules for
#: (its ``forward_events`` choices). mParticle sends a partner only the types it registered.
FIREHOSE_EVENT_TYPES: Final = (
    "custom_event",
    "screen_view",
    "product_action",
    "push_subscription",
    "privacy_setting_change",
    "user_attribute_change",
    "user_identity_change",
)
#: The Authorization schemes the token may come with: the Firehose sends ``Token``.
TOKEN_SCHEMES: Final = ("bearer", "token")


def check_firehose(message: Any) -> str:
    """The request's type, after the cheap shape checks its answer and mapping rely on."""
    if not isinstance(message, dict):
        raise shape_error("body", "a Firehose request object", message)
    kind = message.get("type")
    if not isinstance(kind, str):
        raise shape_error("body.type", "a string", kind)
    request_id = message.get("id")
    if not isinstance(request_id, str) or not request_id:
        raise shape_error("body.id", "a non-empty string", request_id)
    if kind not in FIREHOSE_SOURCES and kind != REGISTRATION:
        known = ", ".join([*FIREHOSE_SOURCES, REGISTRATION])
        raise InputError(
            f"unsupported Firehose request type; this endpoint answers {known}",
            code="unsupported_type",
        )
    items = FIREHOSE_ITEMS.get(kind)
    if items is not None:
        check_list_of_objects(message, items, "body")
    if kind == "event_processing_request":
        check_list_of_objects(message, "user_identities", "body")
    return kind


def firehose_split(source: str) -> Callable[[Any], list[Any]]:
    """The split of one Firehose source (``send`` reads files with it): a request of that
    source's type, checked as the endpoint checks it, is one document."""

    def split(message: Any) -> list[Any]:
        kind = check_firehose(message)
        if FIREHOSE_SOURCES.get(kind) != source:
            raise InputError(f"body.type: expected a request for {source}", code="invalid_shape")
        return [message]

    return split


def split_firehose(message: Any) -> list[Documents] | None:
    """The request as one document of its source; None for a registration request, which
    is answered, not queued."""
    kind = check_firehose(message)
    source = FIREHOSE_SOURCES.get(kind)
    return None if source is None else [Documents(source, [message])]


def is_registration(message: Any) -> bool:
    return check_firehose(message) == REGISTRATION


def answer_firehose(answering: Answering) -> Reply:
    """The Firehose response message the request's type calls for."""
    message = answering.body
    kind = message["type"]
    if kind == REGISTRATION:
        return Reply(registration_response(message, answering))
    return Reply(firehose_response(message))


def registration_response(message: Mapping[str, Any], answering: Answering) -> dict[str, Any]:
    """This server's module registration: what it reads, by the connections configured."""
    reply: dict[str, Any] = {
        "type": "module_registration_response",
        "id": message["id"],
        "timestamp_ms": int(time.time() * 1000),
        "firehose_version": FIREHOSE_VERSION,
        "sdk_version": FIREHOSE_VERSION,
        "name": "mapwire",
        "description": "mapwire forwards mParticle events and audiences to Customer.io.",
        "version": __version__,
        "permissions": {
            "user_identities": [
                {"type": "customer", "encoding": "raw", "required": False},
                {"type": "email", "encoding": "raw", "required": False},
            ],
            "allow_user_attributes": True,
            "allow_access_mpid": True,
            "allow_audience_user_attributes": True,
            "allow_eventless_batches": True,
            # mParticle sends only what the registration asks for: the device's platform,
            # model, OS and locale (the runtime environment) feed the push devices.
            "allow_device_info": True,
        },
    }
    event_readers = answering.readers(FIREHOSE_SOURCES["event_processing_request"])
    if any(settings.get("anonymous_id") == "device_id" for settings in event_readers):
        # the device application stamp names anonymous visitors (anonymous_id: device_id)
        reply["permissions"]["allow_access_device_application_stamp"] = True
    if event_readers:
        chosen: set[str] = set()
        for settings in event_readers:
            forward = settings.get("forward_events")
            chosen.update(forward if isinstance(forward, list) else FIREHOSE_EVENT_TYPES)
        reply["event_processing_registration"] = {
            "account_settings": [],
            "supported_event_types": [t for t in FIREHOSE_EVENT_TYPES if t in chosen]
            or list(FIREHOSE_EVENT_TYPES),
            "max_data_age_hours": 24,
        }
    if answering.readers(FIREHOSE_SOURCES["audience_membership_change_request"]):
        reply["audience_processing_registration"] = {"account_settings": []}
    if answering.readers(FIREHOSE_SOURCES["dsr_processing_request"]):
        # Without it mParticle has no reason to send this integration erasure requests.
        reply["dsr_processing_registration"] = {
            "account_settings": [],
            "supported_dsr_types": ["erasure"],
        }
    return reply


def is_firehose_request(doc: Any) -> bool:
    """Whether a sample is a Firehose request (``mapwire demo post``)."""
    return isinstance(doc, dict) and str(doc.get("type", "")).endswith("_request")


def all_endpoints() -> list[Endpoint]:
    """The two mParticle endpoints."""
    return [
        Endpoint(
            path="/mparticle/firehose",
            description="Firehose event and audience requests (200, the Firehose reply)",
            sources=tuple(FIREHOSE_SOURCES.values()),
            split=split_firehose,
            answer=answer_firehose,
            schemes=TOKEN_SCHEMES,
            open_to=is_registration,
            open_body_bytes=UNAUTHENTICATED_BODY_BYTES,
            recognizes=is_firehose_request,
        ),
        Endpoint(
            path="/mparticle/events",
            description="Events API batches, Webhook output JSON (202)",
            sources=(EVENTS_API_BATCH, WEBHOOK_OUTPUT),
            split=split_batches,
            schemes=TOKEN_SCHEMES,
            recognizes=lambda doc: looks_like_batches(doc) and not is_firehose_request(doc),
        ),
    ]
