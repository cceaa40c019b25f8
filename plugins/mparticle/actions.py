"""The three actions: payload contracts and pure renderers to Events API items.

Each payload schema is the contract a mapping file is validated against; it carries the
documented per-event limits (``limits``), so a payload that passes it is within them. A
rendered item is a plain JSON-ready dict (``ItemBody``): the user it belongs to, and
either one Events API event or the user attributes to set.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Mapping
from types import MappingProxyType
from typing import Any, Final, TypedDict

from mapwire import ActionSpec, SchemaValidator

from . import limits
from .validation import compile_schema, problems
from .wire import message_uuid

#: Identity keys accepted by both the Events API JSON Schema and its OpenAPI document.
USER_IDENTITY_KEYS: Final = (
    "customer_id",
    "email",
    "other",
    "other_id_2",
    "other_id_3",
    "other_id_4",
    "alias",
    "facebook",
    "twitter",
    "google",
    "microsoft",
    "yahoo",
    "facebook_custom_audience_id",
)

#: ``custom_event_type`` values of the Events API JSON Schema (``CustomEvent``).
CUSTOM_EVENT_TYPES: Final = (
    "navigation",
    "location",
    "search",
    "transaction",
    "user_content",
    "user_preference",
    "social",
    "other",
    "media",
)
DEFAULT_CUSTOM_EVENT_TYPE: Final = "other"

_SCALAR = ["string", "number", "boolean", "null"]

_USER_IDENTITIES = {
    "type": "object",
    "description": "The user's identities, as the Events API's flat map. The mParticle ID "
    "goes in mpid, not here. Always given, so that a mapping that never sets it is told "
    "so when it loads; empty when the user is named by mpid alone (the batch then leaves "
    "it out). A payload names its user by at least one identity or by mpid.",
    "properties": {
        key: {"type": "string", "minLength": 1, "description": f"The user's {key} identity."}
        for key in USER_IDENTITY_KEYS
    },
    "additionalProperties": False,
}
_MPID = {
    "type": "integer",
    "minimum": -(2**63),
    "maximum": 2**63 - 1,
    "description": "mParticle ID (64-bit signed integer), if known: with it the user "
    "identities may be left out.",
}
#: Why a payload that names no user is refused (the schemas cannot say "an identity or mpid"
#: without an ``anyOf``, which would cost every payload the full validator: ``check`` does).
NO_USER = "payload: names no user; expected user_identities with at least one identity, or mpid"
_CUSTOM_ATTRIBUTES = {
    "type": "object",
    "description": f"Event attributes: at most {limits.EVENT_ATTRIBUTES}, names up to "
    f"{limits.ATTRIBUTE_NAME_CHARS} characters, scalar values up to "
    f"{limits.ATTRIBUTE_VALUE_CHARS} characters.",
    "maxProperties": limits.EVENT_ATTRIBUTES,
    "propertyNames": {"minLength": 1, "maxLength": limits.ATTRIBUTE_NAME_CHARS},
    "additionalProperties": {"type": _SCALAR, "maxLength": limits.ATTRIBUTE_VALUE_CHARS},
}
_SOURCE_MESSAGE_ID = {
    "type": "string",
    "minLength": 1,
    "description": "Stable id of the source message, one per event. Sent as the event's "
    "source_message_id (a UUID as is; any other string as a UUID derived from it) and used "
    "to derive its batch's source_request_id, so a resent event is deduplicated by "
    "mParticle (two events with one id are one to it).",
}
_TIMESTAMP = {
    "type": "integer",
    "description": "When the event happened, in integer milliseconds since the Unix epoch; "
    f"values below {limits.MIN_TIMESTAMP_MS} (seconds) or from {limits.MAX_TIMESTAMP_MS} "
    "(microseconds) are rejected.",
}
_EVENT_NAME = {
    "type": "string",
    "minLength": 1,
    "maxLength": limits.EVENT_NAME_CHARS,
    "description": f"Event name, up to {limits.EVENT_NAME_CHARS} characters.",
}


def _event_schema(title: str, fields: Mapping[str, Any], required: list[str]) -> dict[str, Any]:
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": title,
        "type": "object",
        "properties": {
            "user_identities": _USER_IDENTITIES,
            "mpid": _MPID,
            **fields,
            "custom_attributes": _CUSTOM_ATTRIBUTES,
            "source_message_id": _SOURCE_MESSAGE_ID,
            "timestamp_unixtime_ms": _TIMESTAMP,
        },
        "required": ["user_identities", *required],
        "additionalProperties": False,
    }


CUSTOM_EVENT_SCHEMA: Final = _event_schema(
    "mparticle custom_event payload",
    {
        "event_name": _EVENT_NAME,
        "custom_event_type": {
            "type": "string",
            "enum": list(CUSTOM_EVENT_TYPES),
            "default": DEFAULT_CUSTOM_EVENT_TYPE,
            "description": "Category of the event; defaults to other.",
        },
    },
    ["event_name"],
)
SCREEN_VIEW_SCHEMA: Final = _event_schema(
    "mparticle screen_view payload",
    {"screen_name": {**_EVENT_NAME, "description": "Screen name, counted as an event name."}},
    ["screen_name"],
)
USER_ATTRIBUTES_SCHEMA: Final = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "title": "mparticle user_attributes payload",
    "type": "object",
    "properties": {
        "user_identities": _USER_IDENTITIES,
        "mpid": _MPID,
        "user_attributes": {
            "type": "object",
            "description": f"Attributes to set: at most {limits.USER_ATTRIBUTES}; a scalar "
            f"(up to {limits.ATTRIBUTE_VALUE_CHARS} characters), a list of up to "
            f"{limits.USER_ATTRIBUTE_LIST_ENTRIES} entries of up to "
            f"{limits.USER_ATTRIBUTE_LIST_ENTRY_CHARS} characters, or null (a tag).",
            "minProperties": 1,
            "maxProperties": limits.USER_ATTRIBUTES,
            "propertyNames": {"minLength": 1, "maxLength": limits.ATTRIBUTE_NAME_CHARS},
            "additionalProperties": {
                "anyOf": [
                    {"type": _SCALAR, "maxLength": limits.ATTRIBUTE_VALUE_CHARS},
                    {
                        "type": "array",
                        "maxItems": limits.USER_ATTRIBUTE_LIST_ENTRIES,
                        "items": {
                            "type": ["string", "number", "boolean"],
                            "maxLength": limits.USER_ATTRIBUTE_LIST_ENTRY_CHARS,
                        },
                    },
                ]
            },
        },
        "source_message_id": {
            **_SOURCE_MESSAGE_ID,
            "description": "Stable id of the source message; used only to derive the "
            "batch's source_request_id (apart from an event's with the same id).",
        },
    },
    "required": ["user_identities", "user_attributes"],
    "additionalProperties": False,
}

ACTIONS: Final[Mapping[str, ActionSpec]] = MappingProxyType(
    {
        "custom_event": ActionSpec(
            "custom_event", "Send one custom event for a user.", CUSTOM_EVENT_SCHEMA
        ),
        "screen_view": ActionSpec(
            "screen_view", "Send one screen view for a user.", SCREEN_VIEW_SCHEMA
        ),
        "user_attributes": ActionSpec(
            "user_attributes",
            "Set user attributes with a batch that carries no event.",
            USER_ATTRIBUTES_SCHEMA,
        ),
    }
)


@functools.cache
def _validator(action: str) -> SchemaValidator:
    """The action's validator, compiled on first use: importing the plugin (every command
    does, to list what is installed) compiles nothing."""
    return compile_schema(ACTIONS[action].payload_schema)


class ItemBody(TypedDict, total=False):
    """One rendered action: its user (its identities, left out when it has none, and its
    mpid), and one event or the user attributes to set."""

    user_identities: dict[str, str]
    mpid: int
    event: dict[str, Any]
    user_attributes: dict[str, Any]
    source_message_id: str


def check(action: str, payload: Any) -> list[str]:
    """Every problem of ``payload`` for ``action``, as safe messages; empty if it can go."""
    found = problems(_validator(action), payload)
    if found:
        return found
    if not payload.get("user_identities") and "mpid" not in payload:
        found.append(NO_USER)
    stamp = payload.get("timestamp_unixtime_ms")
    if stamp is not None and stamp < limits.MIN_TIMESTAMP_MS:
        found.append(
            f"timestamp_unixtime_ms: below {limits.MIN_TIMESTAMP_MS}, which looks like "
            "seconds; expected integer milliseconds"
        )
    elif stamp is not None and stamp >= limits.MAX_TIMESTAMP_MS:
        found.append(
            f"timestamp_unixtime_ms: from {limits.MAX_TIMESTAMP_MS}, which looks like "
            "microseconds; expected integer milliseconds"
        )
    for name in ("custom_attributes", "user_attributes"):
        if not _finite(payload.get(name)):
            found.append(f"{name}: a value is not a finite number (NaN or infinity)")
    return found


def render(action: str, payload: Mapping[str, Any]) -> ItemBody:
    """The wire form of a checked payload: user, and one event or the attributes to set."""
    body = ItemBody()
    identities = payload.get("user_identities")
    if identities:
        body["user_identities"] = dict(identities)
    if "mpid" in payload:
        body["mpid"] = payload["mpid"]
    if "source_message_id" in payload:
        body["source_message_id"] = message_uuid(payload["source_message_id"])
    if action == "user_attributes":
        body["user_attributes"] = dict(payload["user_attributes"])
        return body
    data: dict[str, Any] = {}
    if action == "custom_event":
        data["event_name"] = payload["event_name"]
        data["custom_event_type"] = payload.get("custom_event_type", DEFAULT_CUSTOM_EVENT_TYPE)
    else:
        data["screen_name"] = payload["screen_name"]
    if "custom_attributes" in payload:
        data["custom_attributes"] = dict(payload["custom_attributes"])
    if "source_message_id" in body:
        data["source_message_id"] = body["source_message_id"]
    if "timestamp_unixtime_ms" in payload:
        data["timestamp_unixtime_ms"] = payload["timestamp_unixtime_ms"]
    body["event"] = {"event_type": action, "data": data}
    return body


def _finite(values: Any) -> bool:
    """False if a mapping of attribute values holds a NaN or an infinity anywhere."""
    if not isinstance(values, Mapping):
        return True
    for value in values.values():
        items = value if isinstance(value, list) else [value]
        if any(isinstance(v, float) and not math.isfinite(v) for v in items):
            return False
    return True
