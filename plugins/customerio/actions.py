"""The Customer.io actions: payload JSON Schemas (the mapping contract) and pure renderers.

A payload is what a mapping produces for one action; ``validation.validate`` checks it
against the action's schema. ``render`` turns a valid payload into what goes on the wire: a
Track v2 entity for ``/api/v2/batch``, or one ``Call`` (a method, an encoded path and a body)
for the per-item endpoints.

Routes follow the vendor's OpenAPI document, which decides where the reference notes differ:

* ``anonymous_event`` always uses v1 ``POST /api/v1/events``: v2 person identifiers are only
  ``id``, ``email``, ``phone`` or ``cio_id``, so v2 has no anonymous person event.
* With ``api: v1``, ``screen`` and ``merge`` go to ``POST /api/v2/entity`` (still one request
  per item). The v1 person-event schema requires ``anonymous_id`` on a screen view (its own
  example omits it), and the v1 merge schema's ``oneOf`` branches overlap so that no body
  can satisfy it. The v2 shapes for both are well defined.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, NamedTuple
from urllib.parse import quote

from mapwire import ActionSpec, PermanentDeliveryError

from .ulid import event_ulid

ROUTE_BATCH = "v2/batch"
ROUTE_ENTITY = "v2/entity"
ROUTE_V1 = "v1"
ENTITY_PATH = "/api/v2/entity"
BATCH_PATH = "/api/v2/batch"

EVENT_ACTIONS = ("event", "page", "screen")
V1_VIA_ENTITY = frozenset({"screen", "merge"})
V1_OBJECT_ATTRIBUTES = frozenset({"cio_relationships", "cio_subscription_preferences"})
"""Identify attributes whose v1 schema is an object; every other v1 value is a scalar."""


class Call(NamedTuple):
    """One request for one item: the method, the encoded path and the JSON body (or None)."""

    method: str
    path: str
    body: dict[str, Any] | None


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
                    "values at most 1000 bytes. With api v1 values must be strings, integers "
                    "or booleans.",
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


# -- rendering ------------------------------------------------------------------------------

Payload = Mapping[str, Any]


FOLDED_ATTRIBUTES = ("created_at", "unsubscribed")
"""Identify fields that are person attributes on the wire."""


def identify_attributes(p: Payload) -> dict[str, Any]:
    """The person attributes an identify sets, with ``created_at``/``unsubscribed`` folded in."""
    attributes = dict(p.get("attributes") or {})
    for key in FOLDED_ATTRIBUTES:
        if key in p:
            attributes[key] = p[key]
    return attributes


def path_identifier(identifiers: Mapping[str, str]) -> str:
    """The v1 ``{identifier}`` path segment: URL-encoded; a ``cio_id`` gets its ``cio_`` prefix."""
    ((kind, value),) = identifiers.items()
    encoded = quote(value, safe="")
    return f"cio_{encoded}" if kind == "cio_id" else encoded


def _event_fields(p: Payload, data_key: str) -> dict[str, Any]:
    fields: dict[str, Any] = {"name": p["name"]}
    if "event_id" in p:
        fields["id"] = event_ulid(p["event_id"], p.get("timestamp"))
    if "timestamp" in p:
        fields["timestamp"] = p["timestamp"]
    if "data" in p:
        fields[data_key] = p["data"]
    return fields


def _device(p: Payload, token_key: str) -> dict[str, Any]:
    device = p["device"]
    out: dict[str, Any] = {token_key: device["token"]}
    out.update({k: device[k] for k in ("platform", "last_used", "attributes") if k in device})
    return out


def v2_entity(name: str, p: Payload) -> dict[str, Any]:
    """The Track v2 entity operation for one person action."""
    if name == "merge":
        return {
            "type": "person",
            "action": "merge",
            "primary": dict(p["primary"]),
            "secondary": dict(p["secondary"]),
        }
    entity: dict[str, Any] = {
        "type": "person",
        "action": name,
        "identifiers": dict(p["identifiers"]),
    }
    if name == "identify":
        attributes = identify_attributes(p)
        if attributes:
            entity["attributes"] = attributes
        if "timestamp" in p:
            entity["timestamp"] = p["timestamp"]
    elif name in EVENT_ACTIONS:
        entity.update(_event_fields(p, "attributes"))
    elif name == "add_device":
        entity["device"] = _device(p, "token")
    elif name == "delete_device":
        entity["device"] = {"token": p["device"]["token"]}
    return entity


def v1_call(name: str, p: Payload) -> Call:
    """The Track v1 request for one action (not ``screen`` or ``merge``: see the module doc)."""
    if name == "anonymous_event":
        body = {"anonymous_id": p["anonymous_id"], "type": "event", **_event_fields(p, "data")}
        return Call("POST", "/api/v1/events", body)
    person = "/api/v1/customers/" + path_identifier(p["identifiers"])
    if name == "identify":
        attributes = identify_attributes(p)
        if "timestamp" in p:
            attributes["_timestamp"] = p["timestamp"]
        return Call("PUT", person, attributes)
    if name in ("event", "page"):
        return Call("POST", f"{person}/events", {"type": name, **_event_fields(p, "data")})
    if name == "add_device":
        return Call("PUT", f"{person}/devices", {"device": _device(p, "id")})
    if name == "delete_device":
        return Call("DELETE", f"{person}/devices/{quote(p['device']['token'], safe='')}", None)
    if name == "delete":
        return Call("DELETE", person, None)
    if name in ("suppress", "unsuppress"):
        return Call("POST", f"{person}/{name}", None)
    raise ValueError(f"no v1 request for action {name!r}")


def check_v1(name: str, p: Payload) -> None:
    """What the v1 endpoints cannot take, though v2 can."""
    identifiers = p.get("identifiers") or {}
    value = identifiers.get("id")
    if isinstance(value, str) and ("@" in value or value.startswith("cio_")):
        raise PermanentDeliveryError(
            "identifiers.id: v1 paths infer the identifier type from its shape and this id "
            "looks like an email or a cio_ id; use api v2"
        )
    if name == "identify":
        for key, attribute in identify_attributes(p).items():
            if key in V1_OBJECT_ATTRIBUTES:
                continue
            if not isinstance(attribute, str | int):  # bool is an int
                raise PermanentDeliveryError(
                    f"attributes.{key}: v1 takes only string, integer or boolean "
                    "values; use api v2 for fractions, lists, objects and null"
                )


def render(name: str, p: Payload, api: str) -> tuple[str, Any]:
    """``(route, body)`` for one validated payload: a v2 entity or a ``Call``."""
    if name == "anonymous_event":
        return ROUTE_V1, v1_call(name, p)
    if api == "v2":
        return ROUTE_BATCH, v2_entity(name, p)
    if name in V1_VIA_ENTITY:
        return ROUTE_ENTITY, Call("POST", ENTITY_PATH, v2_entity(name, p))
    check_v1(name, p)
    return ROUTE_V1, v1_call(name, p)
