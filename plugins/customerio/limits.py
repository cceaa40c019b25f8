"""Customer.io's client-side limits as data, and the checks ``prepare`` runs against them.

Every number comes from the Track API OpenAPI document (``info.description``: "Customer
limits", "Track API Event limits", "v2 API Limits"). Sizes are UTF-8 bytes; a non-string
value is measured by its compact JSON encoding. The vendor writes "32kb" and "500kb" without
saying 1000 or 1024, so the smaller (decimal) reading is used: what passes here passes
under either reading.

A failed check raises ``PermanentDeliveryError`` whose reason names the field and the limit
but never the value.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from mapwire import ASCII_PATTERN, PermanentDeliveryError, SchemaValidator, wire_json

MAX_ID_BYTES = 150
MAX_ATTRIBUTE_NAME_BYTES = 150
MAX_ATTRIBUTE_VALUE_BYTES = 1000
MAX_ATTRIBUTES = 300
MAX_EVENT_NAME_BYTES = 100
MAX_EVENT_DATA_BYTES = 100_000
MAX_V2_ITEM_BYTES = 32_000
"""Each v2 entity (alone on ``/entity`` or inside a batch): "32kb or smaller"."""
MAX_BATCH_BYTES = 500_000
"""A ``/batch`` request body must be *smaller* than this."""
BATCH_ENVELOPE = len(b'{"batch":[]}')
"""The bytes around a batch's entities."""
MAX_TIMESTAMP = 10**11
"""Unix seconds up to the year 5138; anything larger is taken for milliseconds."""

TIMESTAMP_FIELDS = ("timestamp", "created_at")


def compact_json(value: Any) -> bytes:
    """The wire encoding (``mapwire.wire_json``); NaN or Infinity is refused for good."""
    try:
        return wire_json(value)
    except ValueError as exc:
        raise PermanentDeliveryError(
            "payload contains NaN or Infinity, which JSON cannot carry"
        ) from exc


def value_bytes(value: Any) -> int:
    """Size of one value: UTF-8 bytes for a string, compact JSON bytes otherwise."""
    if isinstance(value, str):
        return len(value.encode("utf-8"))
    return len(compact_json(value))


def too_big(field: str, size: int, limit: int, what: str = "") -> PermanentDeliveryError:
    return PermanentDeliveryError(f"{field}: {what}{size} bytes; the limit is {limit}")


def seconds(value: Any, field: str) -> int:
    """A timestamp as integer unix seconds; integral floats are accepted, milliseconds are not."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise PermanentDeliveryError(f"{field}: expected integer unix seconds")
    if isinstance(value, float) and not value.is_integer():
        raise PermanentDeliveryError(f"{field}: expected whole unix seconds, got a fraction")
    if value < 0:
        raise PermanentDeliveryError(f"{field}: expected unix seconds, got a negative number")
    if value > MAX_TIMESTAMP:
        raise PermanentDeliveryError(
            f"{field}: timestamp looks like milliseconds; expected unix seconds"
        )
    return int(value)


def normalize_timestamps(payload: Mapping[str, Any]) -> dict[str, Any]:
    """``payload`` with ``timestamp``, ``created_at`` and ``device.last_used`` checked, as
    integer seconds; a copy only when one of them changes (an integral float, say)."""
    out: Any = payload
    for name in TIMESTAMP_FIELDS:
        if name in out:
            value = out[name]
            checked = seconds(value, name)
            if type(value) is not int:
                out = {**out, name: checked}
    device = out.get("device")
    if isinstance(device, Mapping) and "last_used" in device:
        value = device["last_used"]
        checked = seconds(value, "device.last_used")
        if type(value) is not int:
            out = {**out, "device": {**device, "last_used": checked}}
    return out  # type: ignore[no-any-return]


_PLAIN_ID = {"type": "string", "maxLength": MAX_ID_BYTES, "pattern": ASCII_PATTERN}
_PLAIN_IDENTIFIERS = {"type": "object", "additionalProperties": _PLAIN_ID}
_PLAIN_SECONDS = {"type": "integer", "minimum": 0, "maximum": MAX_TIMESTAMP}
PLAIN: dict[str, Any] = {
    "timestamp_ms": {"type": "integer", "minimum": 0, "exclusiveMaximum": MAX_TIMESTAMP * 1000},
    **{name: _PLAIN_SECONDS for name in TIMESTAMP_FIELDS},
    "device": {"type": ["object", "null"], "properties": {"last_used": False}},
    **{name: _PLAIN_IDENTIFIERS for name in ("identifiers", "primary", "secondary")},
}
"""What makes a payload plainly within the limits, property by property: integer timestamps
within range (``timestamp_ms`` too, in milliseconds), no device ``last_used`` and short ASCII
identifiers. ``normalize_timestamps`` and ``check_identifier`` then pass it unchanged, and
``timestamp_ms`` converts to seconds within range."""

_PLAINLY_WITHIN = SchemaValidator({"type": "object", "properties": PLAIN}).certainly_valid


def plainly_within(payload: Mapping[str, Any]) -> bool:
    """``True`` when the payload is plainly within the limits (``PLAIN``). ``False`` means
    "run the checks" (a float timestamp, a long or non-ASCII identifier, a problem), never
    that the payload is bad."""
    return _PLAINLY_WITHIN(payload)


def plain_schema(schema: Mapping[str, Any]) -> dict[str, Any]:
    """An action's payload ``schema`` narrowed to the payloads ``plainly_within`` passes,
    each of ``PLAIN``'s properties checked beside the schema's own (``allOf``), so that one
    compiled check (``SchemaValidator.certainly_valid``) answers both at once."""
    props = dict(schema.get("properties") or {})
    rest = {}
    for name, plain in PLAIN.items():
        if name in props:
            props[name] = {"allOf": [props[name], plain]}
        elif schema.get("additionalProperties", True) is not False:
            rest[name] = plain  # allowed beside the schema's properties: narrowed too
    narrowed = {**schema, "properties": props}
    if rest:
        narrowed["allOf"] = [*schema.get("allOf", ()), {"properties": rest}]
    return narrowed


def check_identifier(field: str, identifiers: Mapping[str, Any]) -> None:
    """An ``id`` is at most ``MAX_ID_BYTES`` (the vendor's limit on "a person's ID value";
    it sets none on an ``email`` or a ``cio_id``, so neither is refused here)."""
    if "id" in identifiers:
        size = value_bytes(identifiers["id"])
        if size > MAX_ID_BYTES:
            raise too_big(f"{field}.id", size, MAX_ID_BYTES)


def plain_attributes(attributes: Mapping[str, Any]) -> bool:
    """``True`` when ``check_attributes`` would pass ``attributes`` and ``repairs.attributes``
    keep them as they are, read without encoding a thing: few enough, each an ASCII string
    (its length its size in bytes) under an ASCII name, both within the limits. ``False``
    means "measure them", never that they are too big."""
    if len(attributes) > MAX_ATTRIBUTES:
        return False
    for name, value in attributes.items():
        if not (
            type(value) is str
            and len(value) <= MAX_ATTRIBUTE_VALUE_BYTES
            and value.isascii()
            and type(name) is str
            and len(name) <= MAX_ATTRIBUTE_NAME_BYTES
            and name.isascii()
        ):
            return False
    return True


def check_attributes(field: str, attributes: Mapping[str, Any]) -> None:
    """Person attributes: count, name length and value length."""
    if len(attributes) > MAX_ATTRIBUTES:
        raise PermanentDeliveryError(
            f"{field}: {len(attributes)} attributes; the limit is {MAX_ATTRIBUTES}"
        )
    for name, value in attributes.items():
        name_size = len(name.encode("utf-8"))
        if name_size > MAX_ATTRIBUTE_NAME_BYTES:
            raise too_big(field, name_size, MAX_ATTRIBUTE_NAME_BYTES, "an attribute name is ")
        size = value_bytes(value)
        if size > MAX_ATTRIBUTE_VALUE_BYTES:
            raise too_big(f"{field}.{name}", size, MAX_ATTRIBUTE_VALUE_BYTES, "the value is ")


def check_event(name: str, data: Mapping[str, Any] | None, item_bytes: int | None = None) -> None:
    """Event name and event data sizes.

    ``item_bytes`` (the whole rendered item, when known) bounds the data's size: only an
    item larger than the data limit needs its data measured on its own.
    """
    size = len(name.encode("utf-8"))
    if size > MAX_EVENT_NAME_BYTES:
        raise too_big("name", size, MAX_EVENT_NAME_BYTES)
    if data is not None and (item_bytes is None or item_bytes > MAX_EVENT_DATA_BYTES):
        size = len(compact_json(data))
        if size > MAX_EVENT_DATA_BYTES:
            raise too_big("data", size, MAX_EVENT_DATA_BYTES)


def check_batch_room(size: int) -> None:
    """Entities that must go in one batch (the parts of a split identify), with room to
    spare for the batch's envelope."""
    if BATCH_ENVELOPE + size >= MAX_BATCH_BYTES:  # what ``requests.build_requests`` checks
        raise too_big("item", size, MAX_BATCH_BYTES - BATCH_ENVELOPE, "the split identify is ")


def check_v2_item(size: int) -> None:
    """One v2 entity, alone or in a batch."""
    if size > MAX_V2_ITEM_BYTES:
        raise too_big("item", size, MAX_V2_ITEM_BYTES, "the v2 entity is ")
