"""The commonest item written straight to its wire bytes.

``CustomerIO.prepare_ahead`` prepares most items through the general path: ``_checked``
(timestamps resolved, the schema, the identifiers) and ``_render`` (repairs, the v2
entity, its size and limits), with the copies and dispatch every kind of action needs. The
commonest item is a Track v2 ``event``, ``screen`` or ``page`` that needs nothing of
that: its payload plainly within the limits (``limits.plainly_within``), certainly valid
(``validation.certainly_valid``), a short ASCII name, no message-override keys to leave
out of its data (or overrides allowed), and a timestamp that is a timestamp. For it,
``plain_event`` renders the entity (``actions.v2_entity``) and encodes it directly; for
anything else it answers None and the general path runs, repairs, notes and refusals
included. A property test holds the
two to the same bytes on generated payloads and settings.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from mapwire import wire_json

from . import limits
from .actions import EVENT_ACTIONS, v2_entity
from .repairs import event_data_kept
from .settings import CioSettings
from .validation import certainly_valid


def plain_event(name: str, payload: Mapping[str, Any], cfg: CioSettings) -> bytes | None:
    """The v2 batch item's bytes for ``payload`` when it is the plain case (see the module
    docstring), byte for byte what ``_render`` would encode; None otherwise."""
    if name not in EVENT_ACTIONS or cfg.api != "v2":
        return None
    if not (limits.plainly_within(payload) and certainly_valid(name, payload)):
        return None
    event_name = payload["name"]
    if not (len(event_name) <= limits.MAX_EVENT_NAME_BYTES and event_name.isascii()):
        return None  # the oversize policy decides what becomes of a long name
    resolved = payload  # as repairs.resolve_timestamp_ms leaves it, for what the entity reads
    if "timestamp_ms" in payload and "timestamp" not in payload:
        value = payload["timestamp_ms"]
        if value < limits.MAX_TIMESTAMP:
            return None  # seconds given as milliseconds: repaired, with a note
        resolved = {**payload, "timestamp": value // 1000}
    if "data" in payload and not event_data_kept(
        name, payload["data"], cfg.allow_message_overrides
    ):
        return None  # override keys are left out, with a note
    entity = v2_entity(name, resolved)  # the entity's shape has one definition
    try:
        encoded = wire_json(entity)
    except ValueError:  # NaN or Infinity: the general path refuses it
        return None
    if len(encoded) > limits.MAX_V2_ITEM_BYTES:
        return None
    return encoded
