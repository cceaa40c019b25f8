"""Repairs ``prepare`` makes so that one bad field never drops a whole item.

Each repair appends a note (the kind of repair, never a value) to the list it is given; the
delivery loop counts the notes of every delivered item. What a field over a limit becomes
is the connection's ``oversize`` policy:

* ``truncate`` (default): a string is cut to the limit at a UTF-8 character boundary (a
  list of quoted ids, like the audience flow's membership attribute, after its last whole
  id); any other value is left out;
* ``drop_field``: the field is left out;
* ``dead_letter``: the item is dead-lettered (``PermanentDeliveryError``), as before.

An event name cannot be left out, so it is cut under either repairing policy. A person
holds at most ``MAX_ATTRIBUTES`` attributes ("per person or Identify call"): past them,
the rest are left out (one note each) under either repairing policy. An identify with more
bytes than one v2 entity may carry is split into several identify entities sent in order
(``split_identify``). With ``api: v1``, an identify attribute value the v1 schema cannot
take (it takes strings, integers and booleans) is left out under either repairing policy,
a whole-number float being sent as that integer (``v1_attributes``). The message-override
keys are left out of the data of the actions whose data defines them
(``OVERRIDE_KEYS_BY_ACTION``) unless the connection allows them.
Identifier values are never repaired: a shortened id would be another person.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from typing import Any

from mapwire import PermanentDeliveryError

from . import limits
from .actions import V1_OBJECT_ATTRIBUTES

MESSAGE_OVERRIDE_KEYS = ("recipient", "from_address", "reply_to")
"""Event data keys that redirect the messages an event triggers (the Track API's
``person_event`` data properties)."""
OVERRIDE_KEYS_BY_ACTION: dict[str, frozenset[str]] = {
    "event": frozenset(MESSAGE_OVERRIDE_KEYS),
    "anonymous_event": frozenset(("from_address", "reply_to")),  # its data defines these two
}
"""The override keys each action's data defines; a ``page`` or ``screen`` defines none, so
its data is kept whole."""
_NO_KEYS: frozenset[str] = frozenset()

Notes = list[str]

_NAME = f"attribute name over {limits.MAX_ATTRIBUTE_NAME_BYTES} bytes"
_VALUE = f"attribute value over {limits.MAX_ATTRIBUTE_VALUE_BYTES} bytes"
_COUNT = f"attribute past the {limits.MAX_ATTRIBUTES} a person may have: left out"


def truncate_utf8(text: str, limit: int) -> str:
    """The longest prefix of ``text`` whose UTF-8 form is at most ``limit`` bytes."""
    data = text.encode("utf-8", "surrogatepass")
    if len(data) <= limit:
        return text
    end = limit
    while end > 0 and data[end] & 0xC0 == 0x80:  # a continuation byte: back to its start
        end -= 1
    return data[:end].decode("utf-8", "surrogatepass")


_QUOTED_LIST = re.compile(r"'[^',]*'(?:,'[^',]*')*")
"""A list of single-quoted ids, as the audience flow's membership attribute carries them."""


def truncate_value(text: str, limit: int) -> str:
    """``text`` cut to ``limit`` UTF-8 bytes; a list of quoted ids (``'1','22'``) is cut
    after its last whole id, so that no id is ever cut in two."""
    cut = truncate_utf8(text, limit)
    if cut == text or not _QUOTED_LIST.fullmatch(text):
        return cut
    end = cut.rfind("',")
    return cut[: end + 1] if end >= 0 else ""


def resolve_timestamp_ms(payload: Mapping[str, Any], notes: Notes) -> dict[str, Any]:
    """``timestamp_ms`` (milliseconds) as ``timestamp`` (seconds).

    A value below ``limits.MAX_TIMESTAMP`` (1e11: March 1973 in milliseconds, the year 5138
    in seconds) is clearly seconds already: it is taken as seconds and noted. A value that
    is not a finite number is left for the schema check to reject. An explicit
    ``timestamp`` wins. Without ``timestamp_ms`` the payload itself is returned (no copy).
    """
    if "timestamp_ms" not in payload:
        return payload  # type: ignore[return-value]  # read-only from here on
    out = dict(payload)
    value = out.pop("timestamp_ms", None)
    number = value is not None and not isinstance(value, bool) and isinstance(value, int | float)
    if not number or not math.isfinite(value) or value < 0:
        if value is not None:
            out["timestamp_ms"] = value
        return out
    if "timestamp" in out:
        return out
    if value < limits.MAX_TIMESTAMP:
        out["timestamp"] = int(value)
        notes.append("timestamp in seconds, not milliseconds")
    else:
        out["timestamp"] = int(value // 1000)
    return out


def event_name(name: str, policy: str, notes: Notes) -> str:
    """The event name within ``MAX_EVENT_NAME_BYTES``."""
    size = len(name.encode("utf-8"))
    if size <= limits.MAX_EVENT_NAME_BYTES:
        return name
    if policy == "dead_letter":
        raise limits.too_big("name", size, limits.MAX_EVENT_NAME_BYTES)
    notes.append(f"event name over {limits.MAX_EVENT_NAME_BYTES} bytes: truncated")
    return truncate_utf8(name, limits.MAX_EVENT_NAME_BYTES)


def event_data_kept(action: str, data: Mapping[str, Any], allow_overrides: bool) -> bool:
    """Whether ``event_data`` keeps ``data`` as it is (no override key to leave out)."""
    return allow_overrides or OVERRIDE_KEYS_BY_ACTION.get(action, _NO_KEYS).isdisjoint(data)


def event_data(
    action: str, data: Mapping[str, Any], allow_overrides: bool, notes: Notes
) -> Mapping[str, Any]:
    """``action``'s data without the message-override keys it defines, unless they are
    allowed: ``data`` itself when nothing is left out (read-only from here on), else a
    copy."""
    if event_data_kept(action, data, allow_overrides):
        return data
    keys = OVERRIDE_KEYS_BY_ACTION[action]
    out = dict(data)
    for key in MESSAGE_OVERRIDE_KEYS:
        if key in keys and key in out:
            del out[key]
            notes.append("message override key left out of event data")
    return out


def attributes(found: Mapping[str, Any], policy: str, notes: Notes) -> dict[str, Any]:
    """Person attributes whose names and values are within Customer.io's limits."""
    out: dict[str, Any] = {}
    for name, value in found.items():
        name_size = len(name.encode("utf-8"))
        if name_size > limits.MAX_ATTRIBUTE_NAME_BYTES:
            if policy == "dead_letter":
                limit = limits.MAX_ATTRIBUTE_NAME_BYTES
                raise limits.too_big("attributes", name_size, limit, "an attribute name is ")
            notes.append(f"{_NAME}: left out")
            continue
        size = limits.value_bytes(value)
        if size <= limits.MAX_ATTRIBUTE_VALUE_BYTES:
            out[name] = value
        elif policy == "dead_letter":
            raise limits.too_big(
                f"attributes.{name}", size, limits.MAX_ATTRIBUTE_VALUE_BYTES, "the value is "
            )
        elif policy == "truncate" and isinstance(value, str):
            out[name] = truncate_value(value, limits.MAX_ATTRIBUTE_VALUE_BYTES)
            notes.append(f"{_VALUE}: truncated")
        else:
            notes.append(f"{_VALUE}: left out")
    if len(out) > limits.MAX_ATTRIBUTES:  # a person holds at most this many
        if policy == "dead_letter":
            raise PermanentDeliveryError(
                f"attributes: {len(out)} attributes; the limit is {limits.MAX_ATTRIBUTES}"
            )
        kept = dict(list(out.items())[: limits.MAX_ATTRIBUTES])
        notes.extend([_COUNT] * (len(out) - len(kept)))
        out = kept
    return out


V1_WHOLE_FLOATS = 2**53
"""A float below this (either way) that is a whole number is that integer exactly."""


def _json_type(value: Any) -> str:
    if isinstance(value, list | tuple):
        return "array"
    if isinstance(value, Mapping):
        return "object"
    return "null" if value is None else "number"


def v1_attributes(found: dict[str, Any], notes: Notes) -> dict[str, Any]:
    """The attributes a v1 identify can carry (``found`` itself when all of them can).

    The v1 identify schema takes string, integer or boolean values (and an object for the
    names in ``V1_OBJECT_ATTRIBUTES``). A whole-number float is sent as that integer (JSON
    counts 3.0 as the integer 3). Any other value has no v1 form: a fraction (the vendor
    documents no number-to-string conversion), a list, an object or a null is left out, with
    a note naming its JSON type. NaN and Infinity are kept: the encoding refuses them, as
    on v2.
    """
    if all(type(v) in (str, int, bool) for v in found.values()):
        return found
    out: dict[str, Any] = {}
    for name, value in found.items():
        number = isinstance(value, float)
        if isinstance(value, str | int) or name in V1_OBJECT_ATTRIBUTES:  # bool is an int
            out[name] = value
        elif number and value.is_integer() and abs(value) < V1_WHOLE_FLOATS:
            out[name] = int(value)
        elif number and not math.isfinite(value):
            out[name] = value  # refused when encoded
        else:
            kind = _json_type(value)
            notes.append(f"attribute value of type {kind}, which v1 does not take: left out")
    return out


def split_identify(entity: Mapping[str, Any], notes: Notes) -> list[dict[str, Any]]:
    """An identify entity over ``MAX_V2_ITEM_BYTES``, as several in order (its attributes
    are at most ``MAX_ATTRIBUTES``: ``attributes`` kept that many; one part if they cannot
    be split).

    Each part carries the same identifiers (and timestamp) and as many of the attributes,
    in their order, as fit the size limit.
    """
    found = entity.get("attributes") or {}
    base = {k: v for k, v in entity.items() if k != "attributes"}
    room = limits.MAX_V2_ITEM_BYTES - len(limits.compact_json({**base, "attributes": {}}))
    parts: list[dict[str, Any]] = []
    current: dict[str, Any] = {}
    used = 0
    for name, value in found.items():
        size = len(limits.compact_json({name: value})) - 1  # one "k":v plus a comma
        if current and used + size > room:
            parts.append({**base, "attributes": current})
            current, used = {}, 0
        current[name] = value
        used += size
    if current:
        parts.append({**base, "attributes": current})
    notes.append("identify split: over the entity size limit")
    return parts
