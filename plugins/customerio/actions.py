"""The Customer.io actions' pure renderers: a valid payload -> what goes on the wire.

A payload is what a mapping produces for one action; its JSON Schema (the mapping
contract) is in ``action_schemas`` and ``validation.validate`` checks it. ``render`` turns
a valid payload into a Track v2 entity for ``/api/v2/batch``, or one ``Call`` (a method,
an encoded path and a body) for the per-item endpoints.

Routes follow the vendor's OpenAPI document, which decides where the reference notes differ:

* ``anonymous_event`` always uses v1 ``POST /api/v1/events``: v2 person identifiers are only
  ``id``, ``email``, ``phone`` or ``cio_id``, so v2 has no anonymous person event.
* On v2, a person ``event`` or ``page`` too large for one v2 entity (32,000 bytes) goes to
  v1 ``POST /api/v1/customers/{identifier}/events`` (``v1_event_call``), whose event data
  may be 100,000 bytes, when its identifier can name the person in a v1 path. A ``screen``
  cannot (below), so it stays held to the v2 entity limit.
* With ``api: v1``, ``screen`` and ``merge`` go to ``POST /api/v2/entity`` (still one request
  per item). The v1 person-event schema requires ``anonymous_id`` on a screen view (its own
  example omits it), and the v1 merge schema's ``oneOf`` branches overlap so that no body
  can satisfy it. The v2 shapes for both are well defined.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, NamedTuple
from urllib.parse import quote

from mapwire import PermanentDeliveryError, PreparedItem

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


def _event_fields(
    p: Payload, data_key: str, fields: dict[str, Any] | None = None
) -> dict[str, Any]:
    """An event's fields, written into ``fields`` (a v2 entity, no copy to merge) or a new
    dict."""
    if fields is None:
        fields = {}
    fields["name"] = p["name"]
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


MERGE_PREFIX = b'{"type":"person","action":"merge",'
"""How every encoded merge entity starts (``v2_entity`` writes these keys first)."""


def is_merge(item: PreparedItem) -> bool:
    """Whether a prepared item (a v2 batch item, or the v2 entity v1 sends a merge as) is
    a merge, read from its bytes when it was restored from them."""
    if item.encoded is not None:
        return item.encoded.startswith(MERGE_PREFIX)
    body = item.body
    return isinstance(body, dict) and body.get("action") == "merge" and body.get("type") == "person"


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
        _event_fields(p, "attributes", entity)
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
    if name in V1_EVENT_ACTIONS:
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


V1_EVENT_ACTIONS = frozenset({"event", "page"})
"""Person event actions the v1 events endpoint takes (a screen view: see the module doc)."""


def _v1_path_ambiguous(identifiers: Mapping[str, Any]) -> bool:
    """An ``id`` that a v1 path would take for an email or a ``cio_`` id."""
    value = identifiers.get("id")
    return isinstance(value, str) and ("@" in value or value.startswith("cio_"))


def v1_event_call(name: str, p: Payload) -> Call | None:
    """The v1 events request for a person ``event`` or ``page`` (one too large for a v2
    entity), or None when v1 cannot take it: another action, or an identifier a v1 path
    would misread."""
    if name not in V1_EVENT_ACTIONS or _v1_path_ambiguous(p["identifiers"]):
        return None
    return v1_call(name, p)


def check_v1(name: str, p: Payload) -> None:
    """What the v1 endpoints cannot take, though v2 can."""
    if _v1_path_ambiguous(p.get("identifiers") or {}):
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
