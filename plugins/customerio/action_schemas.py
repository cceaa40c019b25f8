"""The Customer.io actions' payload JSON Schemas: the contract a mapping writes to.

Each action is named as the Track API names it; ``mapwire describe`` and the typed
mapping checks read these schemas, and ``validation.validate`` holds every payload to them.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from mapwire import ActionSpec

# -- schemas --------------------------------------------------------------------------------

_DRAFT = "https://json-schema.org/draft/2020-12/schema"


def _seconds(description: str) -> dict[str, Any]:
    return {"type": "integer", "minimum": 0, "maximum": 10**11, "description": description}


def _milliseconds(what: str) -> dict[str, Any]:
    return {
        "type": "number",
        "minimum": 0,
        "description": f"{what}, unix milliseconds, sent as `timestamp` in seconds; a value "
        "below 1e11 is clearly seconds already and is taken as such (counted as repaired). "
        "Ignored when `timestamp` is given.",
    }


def _identifiers(description: str) -> dict[str, Any]:
    return {
        "type": "object",
        "description": description + " Exactly one of `id`, `email`, `cio_id`.",
        "minProperties": 1,
        "maxProperties": 1,
        "additionalProperties": False,
        "properties": {
            "id": {
                "type": "string",
                "minLength": 1,
                "description": "Your id for the person; case-sensitive, at most 150 bytes.",
            },
            "email": {
                "type": "string",
                "format": "email",
                "description": "The person's email address; case-insensitive.",
            },
            "cio_id": {
                "type": "string",
                "pattern": "^[A-Za-z0-9]+$",
                "description": "Customer.io's immutable person id, without the `cio_` prefix.",
            },
        },
    }


_PERSON = _identifiers("The person.")
_EVENT_FIELDS: dict[str, Any] = {
    "name": {
        "type": "string",
        "minLength": 1,
        "description": "Event name (page: the URL or path; screen: the screen name); "
        "at most 100 bytes.",
    },
    "event_id": {
        "type": "string",
        "minLength": 1,
        "description": "The source event's unique id (e.g. mParticle `source_message_id`). "
        "Sent as a deterministic ULID so Customer.io drops replays; a ULID is sent as is.",
    },
    "timestamp": _seconds("When the event happened, unix seconds (not milliseconds)."),
    "timestamp_ms": _milliseconds("When the event happened"),
    "data": {
        "type": "object",
        "description": "Event properties, usable in messages; at most 100,000 bytes as JSON.",
    },
}


def _payload(description: str, required: list[str], properties: dict[str, Any]) -> dict[str, Any]:
    return {
        "$schema": _DRAFT,
        "type": "object",
        "description": description,
        "required": required,
        "additionalProperties": False,
        "properties": properties,
    }


def _event(description: str) -> dict[str, Any]:
    return _payload(description, ["identifiers", "name"], {"identifiers": _PERSON, **_EVENT_FIELDS})


def _person_only(description: str) -> dict[str, Any]:
    return _payload(description, ["identifiers"], {"identifiers": _PERSON})


_DEVICE_TOKEN = {"type": "string", "minLength": 1, "description": "The device's push token."}
_DEVICE_ATTRIBUTES: dict[str, Any] = {
    name: {"type": "string", "description": description}
    for name, description in (
        ("device_os", "The operating system (and its version) on the device."),
        ("device_model", "The device's model."),
        ("app_version", "The version of the app on the device."),
        ("cio_sdk_version", "The version of the Customer.io SDK in the app."),
        ("device_locale", "The device's IETF language tag, such as `en-US`."),
    )
}
"""The device attributes the Track API defines (``device_object_common``); others are custom."""

_SCHEMAS: dict[str, tuple[str, dict[str, Any]]] = {
    "identify": (
        "Create or update a person and their attributes.",
        _payload(
            "Identify a person.",
            ["identifiers"],
            {
                "identifiers": _PERSON,
                "attributes": {
                    "type": "object",
                    "description": "Attributes to set: at most 300, names at most 150 bytes, "
                    "values at most 1000 bytes. With api v1 a value that is not a string, "
                    "integer or boolean is left out (oversize: dead_letter refuses it).",
                },
                "created_at": _seconds(
                    "When the person was created, unix seconds; overrides attributes.created_at."
                ),
                "unsubscribed": {
                    "type": "boolean",
                    "description": "Global email unsubscribe; overrides attributes.unsubscribed.",
                },
                "timestamp": _seconds("When the change happened, unix seconds; orders updates."),
                "timestamp_ms": _milliseconds("When the change happened"),
            },
        ),
    ),
    "event": ("Track a custom event for a person.", _event("A person's custom event.")),
    "page": ("Track a page view for a person.", _event("A person's page view.")),
    "screen": ("Track a mobile screen view for a person.", _event("A person's screen view.")),
    "anonymous_event": (
        "Track an event for a visitor who is not identified yet.",
        _payload(
            "An anonymous event; merged into a person who is later identified with the same "
            "anonymous_id.",
            ["anonymous_id", "name"],
            {
                "anonymous_id": {
                    "type": "string",
                    "minLength": 1,
                    "description": "The visitor's anonymous id (e.g. a cookie or device id).",
                },
                **_EVENT_FIELDS,
            },
        ),
    ),
    "add_device": (
        "Add or update a person's push device.",
        _payload(
            "Add a device to a person.",
            ["identifiers", "device"],
            {
                "identifiers": _PERSON,
                "device": {
                    "type": "object",
                    "description": "The device.",
                    "required": ["token", "platform"],
                    "additionalProperties": False,
                    "properties": {
                        "token": _DEVICE_TOKEN,
                        "platform": {
                            "type": "string",
                            "enum": ["ios", "android"],
                            "description": "The device platform.",
                        },
                        "last_used": _seconds("When the device was last used, unix seconds."),
                        "attributes": {
                            "type": "object",
                            "description": "Device attributes, string values only (e.g. "
                            "device_os, app_version, push_enabled).",
                            "additionalProperties": {"type": "string"},
                            "properties": {
                                **_DEVICE_ATTRIBUTES,
                                "push_enabled": {
                                    "type": "string",
                                    "enum": ["true", "false"],
                                    "description": "Whether push is enabled, as a string.",
                                },
                            },
                        },
                    },
                },
            },
        ),
    ),
    "delete_device": (
        "Remove a device from a person.",
        _payload(
            "Delete a person's device.",
            ["identifiers", "device"],
            {
                "identifiers": _PERSON,
                "device": {
                    "type": "object",
                    "description": "The device to remove.",
                    "required": ["token"],
                    "additionalProperties": False,
                    "properties": {"token": _DEVICE_TOKEN},
                },
            },
        ),
    ),
    "delete": (
        "Delete a person and their data (they can be re-created later).",
        _person_only("Delete a person."),
    ),
    "suppress": (
        "Delete a person and block their identifiers from being re-added.",
        _person_only("Suppress a person."),
    ),
    "unsuppress": (
        "Allow a suppressed person's identifiers to be used again.",
        _person_only("Unsuppress a person."),
    ),
    "merge": (
        "Merge the secondary person into the primary one (the secondary is deleted).",
        _payload(
            "Merge two people.",
            ["primary", "secondary"],
            {
                "primary": _identifiers("The person who remains."),
                "secondary": _identifiers("The person merged into primary and then deleted."),
            },
        ),
    ),
}

ACTIONS: Mapping[str, ActionSpec] = {
    name: ActionSpec(name, description, schema) for name, (description, schema) in _SCHEMAS.items()
}
