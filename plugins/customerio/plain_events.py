"""The commonest items written straight to their wire bytes.

``CustomerIO.prepare_ahead`` prepares most items through the general path: ``_checked``
(timestamps resolved, the schema, the identifiers) and ``_render`` (repairs, the v2
entity, its size and limits), with the copies and dispatch every kind of action needs. The
commonest items are a Track v2 ``event``, ``screen`` or ``page``, and an ``identify``, that
need nothing of that: the payload plainly within the limits and certainly valid
(``validation.certainly_plain``), a timestamp that is a timestamp, and for
an event a short ASCII name and no message-override keys to leave out of its data (or
overrides allowed), for an identify attributes that no repair touches. For them,
``plain_item`` renders the entity (``actions.v2_entity``) and encodes it directly; for
anything else it answers None and the general path runs, repairs, notes and refusals
included. A property test holds the two to the same bytes on generated payloads and
settings.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from mapwire import PermanentDeliveryError, wire_json

from . import limits
from .actions import EVENT_ACTIONS, v2_entity
from .repairs import attributes, event_data_kept
from .settings import CioSettings
from .validation import certainly_plain


def plain_item(name: str, payload: Mapping[str, Any], cfg: CioSettings) -> bytes | None:
    """``plain_event`` or ``plain_identify``, by the action's name; None for other actions."""
    if name == "identify":
        return plain_identify(payload, cfg)
    return plain_event(name, payload, cfg)


def plain_event(name: str, payload: Mapping[str, Any], cfg: CioSettings) -> bytes | None:
    """The v2 batch item's bytes for ``payload`` when it is the plain case (see the module
    docstring), byte for byte what ``_render`` would encode; None otherwise."""
    if name not in EVENT_ACTIONS or cfg.api != "v2":
        return None
    if not certainly_plain(name, payload):
        return None
    event_name = payload["name"]
    if not (len(event_name) <= limits.MAX_EVENT_NAME_BYTES and event_name.isascii()):
        return None  # the oversize policy decides what becomes of a long name
    resolved = _resolved(payload)
    if resolved is None:
        return None
    if "data" in payload and not event_data_kept(
        name, payload["data"], cfg.allow_message_overrides
    ):
        return None  # override keys are left out, with a note
    return _encoded(v2_entity(name, resolved))  # the entity's shape has one definition


def plain_identify(payload: Mapping[str, Any], cfg: CioSettings) -> bytes | None:
    """The v2 batch item's bytes for an ``identify`` when it is the plain case (see the
    module docstring), byte for byte what ``_render`` would encode; None otherwise."""
    if cfg.api != "v2":
        return None
    if not certainly_plain("identify", payload):
        return None
    resolved = _resolved(payload)
    if resolved is None:
        return None
    entity = v2_entity("identify", resolved)
    found = entity.get("attributes", {})
    if not limits.plain_attributes(found):  # short ASCII strings need no repair: else ask
        notes: list[str] = []
        try:  # the repairs the general path makes: with none to make, it sends them as is
            attributes(found, cfg.oversize, notes)
        except PermanentDeliveryError:  # refused: the general path says why
            return None
        if notes:
            return None
    return _encoded(entity)


def _resolved(payload: Mapping[str, Any]) -> Mapping[str, Any] | None:
    """The payload as ``repairs.resolve_timestamp_ms`` leaves it, for what the entity reads;
    None when that makes a repair (seconds given as milliseconds, with a note)."""
    if "timestamp_ms" in payload and "timestamp" not in payload:
        value = payload["timestamp_ms"]
        if value < limits.MAX_TIMESTAMP:
            return None
        return {**payload, "timestamp": value // 1000}
    return payload


def _encoded(entity: Mapping[str, Any]) -> bytes | None:
    """The entity's wire bytes, or None when the general path decides (it refuses NaN and
    Infinity, and splits or moves an item over the v2 entity limit)."""
    try:
        encoded = wire_json(entity)
    except ValueError:
        return None
    if len(encoded) > limits.MAX_V2_ITEM_BYTES:
        return None
    return encoded
