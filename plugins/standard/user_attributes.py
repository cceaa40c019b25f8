"""Standard functions for person attributes: reserved names, tags, dates, null members.

mParticle reserves ``$``-prefixed user attributes (``$FirstName``, ``$Age`` …). Every path
that forwards a user attribute (a batch's ``user_attributes`` and ``deleted_user_attributes``,
a ``user_attribute_change``, the Firehose ``added``/``removed`` maps and attribute lists)
names it through ``mparticle_attribute_name``, so one table decides the name whichever path
the value took. Names match case-insensitively.

A user attribute whose value is null is a *tag* (mParticle's "set without a value"). A
null person attribute means "remove this attribute" to Customer.io, so a tag is handled by
an explicit policy: ``skip`` (leave it out), ``true`` (send ``true``) or ``remove`` (send
``""``, which removes it like null does and which Track v1 accepts too).

Each of those paths also goes through ``mparticle_attributes``, which leaves out the names
Customer.io reads as the person's identity (``id``, ``cio_id``, ``anonymous_id``, and ``email``
when the person has an email identity) or as instructions (``_update``, ``_timestamp``): a user
attribute never changes who the person is.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TypeAlias

from .functions import Signature
from .json_values import Json, JsonObject
from .string_functions import snake_case
from .time_functions import iso_to_unix

RESERVED_ATTRIBUTE_NAMES: Mapping[str, str] = {
    "$firstname": "first_name",
    "$lastname": "last_name",
    "$gender": "gender",
    "$age": "age",
    "$city": "city",
    "$state": "state",
    "$zip": "zip",
    "$country": "country",
    "$mobile": "mobile",
    "$address": "address",
}
"""mParticle's reserved user attributes (keys case-folded) and their readable names."""

IDENTIFIER_ATTRIBUTES = frozenset({"id", "cio_id", "anonymous_id", "_update", "_timestamp"})
"""Identify body keys that Customer.io reads as the person's identity or as instructions
(``_update``: never create; ``_timestamp``: when), never as plain attributes."""

_WITH_EMAIL = IDENTIFIER_ATTRIBUTES | {"email"}

TAG_POLICIES = ("skip", "true", "remove")

_Function: TypeAlias = Callable[..., Json]


def mparticle_attribute_name(name: str | None) -> str | None:
    """The readable name of one mParticle user attribute.

    A reserved name in any casing gets its table name (``"$firstname"`` -> ``"first_name"``),
    another ``$`` name its snake_case form (``"$LoyaltyTier"`` -> ``"loyalty_tier"``); every
    other name is kept as it is.
    """
    if not isinstance(name, str):
        return None
    if not name.startswith("$"):
        return name
    return RESERVED_ATTRIBUTE_NAMES.get(name.casefold()) or snake_case(name)


# The same few reserved names come with every batch: their readable names, remembered
# (short names only, and so many: the names come from the input).
_READABLE: dict[str, str] = {}
_READABLE_SIZE = 4096
_READABLE_LENGTH = 64


def _remember_readable(key: str) -> str:
    """``mparticle_attribute_name(key) or key`` for a ``$`` name, remembered (up to a bound)."""
    name = mparticle_attribute_name(key) or key
    if len(_READABLE) < _READABLE_SIZE and len(key) <= _READABLE_LENGTH:
        _READABLE[key] = name
    return name


def mparticle_attributes(obj: JsonObject | None, tags: str, email: str | None) -> JsonObject | None:
    """User attributes with readable names and tags handled by ``tags``, as Customer.io
    person attributes.

    Names go through ``mparticle_attribute_name``; a reserved attribute wins over a plain
    one that has the same readable name. A null value (a tag) is left out for ``skip``,
    sent as ``true`` for ``true`` and as ``""`` (Customer.io removes the attribute) for
    ``remove``; any other policy is taken as ``skip``.

    An attribute whose readable name is one of ``IDENTIFIER_ATTRIBUTES`` is left out: it
    would change who the person is (``id``, ``cio_id``, ``anonymous_id``) or how Customer.io
    takes the update. ``email`` is the person's email identity; when there is one, an
    ``email`` attribute is left out too, so the identity stays the person's email.
    """
    if not isinstance(obj, dict):
        return None
    plain: JsonObject = {}
    reserved: JsonObject = {}
    readable = _READABLE
    for key, value in obj.items():
        if value is None:
            if tags == "true":
                value = True
            elif tags == "remove":
                value = ""
            else:
                continue
        if key.startswith("$"):
            name = readable.get(key)
            reserved[_remember_readable(key) if name is None else name] = value
        else:
            plain[key] = value
    if not reserved:
        out = plain
    else:
        for key in reserved:
            plain.pop(key, None)
        out = {**plain, **reserved}
    left_out = IDENTIFIER_ATTRIBUTES if email is None else _WITH_EMAIL
    if not left_out.isdisjoint(out):  # rarely: the names are seldom any of these
        for key in left_out:
            out.pop(key, None)
    return out


def unix_seconds_attributes(obj: JsonObject | None, names: list[Json] | None) -> JsonObject | None:
    """``obj`` with each attribute named in ``names`` turned into whole Unix seconds.

    A string is read as an ISO-8601 date or date-time (``"2020-01-01"``, midnight UTC); a
    value that does not parse, and a value that is not a string, is kept as it is.
    """
    if not isinstance(obj, dict):
        return None
    if not names:  # the usual setting: no date attributes
        return dict(obj)
    wanted = {n for n in names if isinstance(n, str)}
    out = dict(obj)
    for key in wanted.intersection(out):
        value = out[key]
        if isinstance(value, str) and (seconds := iso_to_unix(value)) is not None:
            out[key] = seconds
    return out


def omit_nulls(value: Json) -> Json:
    """An object without its null members, or each object of an array so; others as is.

    One level deep, like a mapping's own fields: ``{"brand": null, "id": "a"}`` ->
    ``{"id": "a"}``.
    """
    if isinstance(value, dict):
        return {k: v for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [
            {k: v for k, v in item.items() if v is not None} if isinstance(item, dict) else item
            for item in value
        ]
    return value


FUNCTIONS: Mapping[str, tuple[_Function, Signature]] = {
    "mparticle_attribute_name": (mparticle_attribute_name, (["string", "null"],)),
    "mparticle_attributes": (
        mparticle_attributes,
        (["object", "null"], ["string"], ["string", "null"]),
    ),
    "unix_seconds_attributes": (
        unix_seconds_attributes,
        (["object", "null"], ["array", "null"]),
    ),
    "omit_nulls": (omit_nulls, (["any"],)),
}

#: The JSON type(s) each function returns, for the static type checks.
RETURNS: Mapping[str, str | tuple[str, ...]] = {
    "mparticle_attribute_name": ("string", "null"),
    "mparticle_attributes": ("object", "null"),
    "unix_seconds_attributes": ("object", "null"),
    "omit_nulls": "any",
}
