"""The mParticle endpoints: event batches and Firehose messages.

``POST /mparticle/events`` takes an Events API batch or what the Webhook output posts (one
batch, or an array of them with "Send as Batch"). Each batch's dialect is read from its
``user_identities``: an object is the Events API's inbound format, a list the Webhook
output's; each goes to the connections whose flow reads that source. Answer: 202 and a
small summary.

``POST /mparticle/firehose`` takes one Firehose request and answers it with the matching
Firehose response message (200), after its documents are queued. Event processing,
audience membership and audience subscription requests are queued for the connections
reading them (verification requests, with no events or no profiles, map to nothing and are
answered normally). A module registration request is answered with this server's
registration, without credentials, as the Firehose protocol requires; a DSR request is
acknowledged and logged, not processed.
"""

from __future__ import annotations

import logging
import time
from typing import Any, Final

from starlette.requests import Request
from starlette.responses import Response

from ..contracts.errors import InputError
from ..language.value_types import a_json_type
from ..runtime.registry import get_registry
from .committer import Part
from .handling import (
    JSONBody,
    ServerState,
    accepted,
    read_json,
    require_connections,
    server_state,
    submit,
)
from .logs import log_event

EVENTS_API_BATCH: Final = "mparticle.events_api_batch"
WEBHOOK_OUTPUT: Final = "mparticle.webhook_output"
FIREHOSE_SOURCES: Final = {
    "event_processing_request": "mparticle.firehose_event_processing",
    "audience_membership_change_request": "mparticle.firehose_audience_membership",
    "audience_subscription_request": "mparticle.firehose_audience_subscription",
}
#: Every source these endpoints feed (all of them behind ``server.auth``).
SOURCES: Final = frozenset({EVENTS_API_BATCH, WEBHOOK_OUTPUT, *FIREHOSE_SOURCES.values()})
#: Request type -> the list field that carries its documents' items.
FIREHOSE_ITEMS: Final = {
    "event_processing_request": "events",
    "audience_membership_change_request": "user_profiles",
}
#: The Firehose protocol version this server speaks (the partner SDK's wire format).
FIREHOSE_VERSION: Final = "3.2.0"
REGISTRATION: Final = "module_registration_request"
DSR: Final = "dsr_processing_request"
#: The most an unauthenticated Firehose request may send: a registration request is tiny.
UNAUTHENTICATED_BODY_BYTES: Final = 16_384
FIREHOSE_EVENT_TYPES: Final = (
    "custom_event",
    "screen_view",
    "product_action",
    "push_subscription",
    "privacy_setting_change",
    "user_attribute_change",
)


def _shape_error(where: str, expected: str, value: Any) -> InputError:
    return InputError(
        f"{where}: expected {expected}, got {a_json_type(value)}", code="invalid_shape"
    )


def _check_list_of_objects(doc: dict[str, Any], key: str, where: str) -> None:
    value = doc.get(key)
    if value is None:
        return
    if not isinstance(value, list):
        raise _shape_error(f"{where}.{key}", "an array", value)
    for index, item in enumerate(value):
        if not isinstance(item, dict):
            raise _shape_error(f"{where}.{key}[{index}]", "an object", item)


def batch_source(doc: Any, where: str) -> str:
    """The source of one batch: its ``user_identities`` tell the dialect."""
    if not isinstance(doc, dict):
        raise _shape_error(where, "a batch object", doc)
    _check_list_of_objects(doc, "events", where)
    attributes = doc.get("user_attributes")
    if attributes is not None and not isinstance(attributes, dict):
        raise _shape_error(f"{where}.user_attributes", "an object", attributes)
    identities = doc.get("user_identities")
    if isinstance(identities, list):
        return WEBHOOK_OUTPUT
    if isinstance(identities, dict):
        return EVENTS_API_BATCH
    if identities is not None:
        raise _shape_error(f"{where}.user_identities", "an object or an array", identities)
    return WEBHOOK_OUTPUT if "message_type" in doc or "message_id" in doc else EVENTS_API_BATCH


def batch_parts(body: Any) -> list[Part]:
    """One part per dialect found in the body, documents in body order."""
    if isinstance(body, list):
        batches = body
        sources = [batch_source(doc, f"body[{i}]") for i, doc in enumerate(body)]
    else:
        batches = [body]
        sources = [batch_source(body, "body")]
    grouped: dict[str, list[Any]] = {}
    for source, doc in zip(sources, batches, strict=True):
        grouped.setdefault(source, []).append(doc)
    return [Part(source, docs) for source, docs in grouped.items()]


async def events(request: Request) -> Response:
    state = server_state(request)
    state.auth.check(request.headers.get("authorization"))
    body = await read_json(request, state)
    parts = batch_parts(body)
    for part in parts:
        require_connections(state, part.source)
    report = await submit(request, state, parts)
    return accepted(report)


def check_firehose(message: Any) -> str:
    """The request's type, after the cheap shape checks its answer and mapping rely on."""
    if not isinstance(message, dict):
        raise _shape_error("body", "a Firehose request object", message)
    kind = message.get("type")
    if not isinstance(kind, str):
        raise _shape_error("body.type", "a string", kind)
    request_id = message.get("id")
    if not isinstance(request_id, str) or not request_id:
        raise _shape_error("body.id", "a non-empty string", request_id)
    if kind not in FIREHOSE_SOURCES and kind not in (REGISTRATION, DSR):
        known = ", ".join([*FIREHOSE_SOURCES, REGISTRATION, DSR])
        raise InputError(
            f"unsupported Firehose request type; this endpoint answers {known}",
            code="unsupported_type",
        )
    items = FIREHOSE_ITEMS.get(kind)
    if items is not None:
        _check_list_of_objects(message, items, "body")
    if kind == "event_processing_request":
        _check_list_of_objects(message, "user_identities", "body")
    return kind


async def firehose(request: Request) -> Response:
    state = server_state(request)
    refused: InputError | None = None
    try:
        state.auth.check(request.headers.get("authorization"))
    except InputError as exc:
        refused = exc
    if refused is not None:
        return await _unauthenticated_firehose(request, state, refused)
    message = await read_json(request, state)
    kind = check_firehose(message)
    if kind == REGISTRATION:
        return JSONBody(registration_response(message, state))
    if kind == DSR:
        log_event(logging.WARNING, "dsr_not_processed", request_id=request.state.request_id)
        return JSONBody(_reply(FIREHOSE_SOURCES["event_processing_request"], message))
    source = FIREHOSE_SOURCES[kind]
    require_connections(state, source)
    await submit(request, state, [Part(source, [message])])
    return JSONBody(_reply(source, message))


def _reply(source: str, message: dict[str, Any]) -> Any:
    """The reply the sender expects, built by the source plugin that reads ``message``."""
    respond = get_registry().sources()[source].respond
    if respond is None:
        raise RuntimeError(f"source {source!r} builds no reply")
    return respond(message)


async def _unauthenticated_firehose(
    request: Request, state: ServerState, refused: InputError
) -> Response:
    """Only a module registration request is answered without credentials."""
    try:
        limit = min(UNAUTHENTICATED_BODY_BYTES, state.config.server.max_body_bytes)
        message = await read_json(request, state, limit=limit)
        kind = check_firehose(message)
    except InputError:
        raise refused from None
    if kind != REGISTRATION:
        raise refused
    return JSONBody(registration_response(message, state))


def registration_response(message: dict[str, Any], state: ServerState) -> dict[str, Any]:
    """This server's module registration: what it reads, by the connections configured."""
    from .. import __version__

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
        },
    }
    pipeline = state.pipeline
    event_connections = pipeline.connections_for(FIREHOSE_SOURCES["event_processing_request"])
    if event_connections:
        chosen: set[str] = set()
        for conn in event_connections:
            forward = conn.settings.get("forward_events")
            chosen.update(forward if isinstance(forward, list) else FIREHOSE_EVENT_TYPES)
        reply["event_processing_registration"] = {
            "account_settings": [],
            "supported_event_types": [t for t in FIREHOSE_EVENT_TYPES if t in chosen]
            or list(FIREHOSE_EVENT_TYPES),
            "max_data_age_hours": 24,
        }
    if pipeline.connections_for(FIREHOSE_SOURCES["audience_membership_change_request"]):
        reply["audience_processing_registration"] = {"account_settings": []}
    return reply
