"""Identifier conversions for the standard library: ULID <-> UUID, losslessly.

A ULID (26 Crockford base32 characters) and a UUID are both 128-bit numbers, so each
converts to the other without losing a bit: ``uuid_to_ulid(ulid_to_uuid(x)) == upper(x)``.
Customer.io's event ids are ULIDs, and mParticle wants UUIDs in ``source_message_id``; the
UUID with the same 128 bits keeps the original id recoverable.
"""

from __future__ import annotations

import re
import uuid
from typing import Final

_CROCKFORD: Final = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
_ULID: Final = re.compile(r"[0-7][0-9A-HJKMNP-TV-Z]{25}", re.ASCII | re.IGNORECASE)
_UUID: Final = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}", re.I)
_SHIFTS: Final = tuple(range(125, -1, -5))


def ulid_to_uuid(text: str | None) -> str | None:
    """The UUID (lower-case, hyphenated) with the same 128 bits as a ULID; null if ``text``
    is not a ULID (26 Crockford base32 characters, either case, the first at most ``7``).

    ``01ARZ3NDEKTSV4RRFFQ69G5FAV`` -> ``01563e3a-b5d3-d676-4c61-efb99302bd5b``.
    """
    if not isinstance(text, str) or not _ULID.fullmatch(text):
        return None
    number = 0
    for char in text.upper():
        number = number * 32 + _CROCKFORD.index(char)
    return str(uuid.UUID(int=number))


def uuid_to_ulid(text: str | None) -> str | None:
    """The ULID (upper case) with the same 128 bits as a hyphenated UUID; null otherwise.
    The inverse of ``ulid_to_uuid``."""
    if not isinstance(text, str) or not _UUID.fullmatch(text):
        return None
    number = uuid.UUID(text).int
    return "".join(_CROCKFORD[(number >> shift) & 31] for shift in _SHIFTS)
