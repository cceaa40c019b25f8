"""Deterministic ULIDs for Customer.io's event dedup ``id``.

Customer.io ignores an event whose ``id`` it has already seen, and wants that id to be a ULID
(26 Crockford base32 characters: a 48-bit millisecond time, then 80 random bits). It does not
read the time part, so the id only has to be a well-formed ULID that is unique per event.

Source events carry their own ids (an mParticle ``source_message_id`` is a UUID), so the ULID
is derived from that id: time = the event timestamp in milliseconds (0 if unknown), random
part = the first 10 bytes of SHA-256 of the source id. A retried or replayed source event
therefore gets the same ULID, and Customer.io drops the duplicate.
"""

from __future__ import annotations

import hashlib
import re

CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
ULID_PATTERN = re.compile(r"[0-7][0-9A-HJKMNP-TV-Z]{25}")
"""A canonical (upper-case) ULID; the first character is at most 7 so it fits 128 bits."""

_TIME_BITS = 48
_RANDOM_BYTES = 10


def is_ulid(value: str) -> bool:
    """True if ``value`` is a canonical upper-case ULID (the length first: most ids are
    UUIDs, 36 characters, and need no pattern match)."""
    return len(value) == 26 and ULID_PATTERN.fullmatch(value) is not None


_PAIRS = [first + second for first in CROCKFORD for second in CROCKFORD]
"""Two digits for each 10-bit value: a ULID is written 13 pairs at a time."""

_HALF = (1 << 40) - 1
"""The low 40 bits of the random part (its high 40 are the rest)."""


def encode(time_ms: int, randomness: bytes) -> str:
    """Encode a 48-bit millisecond time and 10 random bytes as a 26-character ULID.

    The 130 bits are read from three numbers of at most 48 bits, the time and the random
    part's two halves (5 pairs, 4 and 4), not from one 128-bit number: Python shifts and
    masks a small number faster, and every event queued takes a ULID."""
    if not 0 <= time_ms < 1 << _TIME_BITS:
        raise ValueError("ULID time must fit in 48 bits")
    if len(randomness) != _RANDOM_BYTES:
        raise ValueError("ULID randomness must be exactly 10 bytes")
    entropy = int.from_bytes(randomness, "big")
    high, low, t = entropy >> 40, entropy & _HALF, time_ms
    p = _PAIRS  # 13 pairs of digits, 10 bits each, written out and joined once
    return "".join(
        (
            p[t >> 40],
            p[(t >> 30) & 1023],
            p[(t >> 20) & 1023],
            p[(t >> 10) & 1023],
            p[t & 1023],
            p[high >> 30],
            p[(high >> 20) & 1023],
            p[(high >> 10) & 1023],
            p[high & 1023],
            p[low >> 30],
            p[(low >> 20) & 1023],
            p[(low >> 10) & 1023],
            p[low & 1023],
        )
    )


def decode_time(ulid: str) -> int:
    """The millisecond time part of a canonical ULID."""
    if not is_ulid(ulid):
        raise ValueError("not a canonical ULID")
    number = 0
    for char in ulid[:10]:
        number = number * 32 + CROCKFORD.index(char)
    return number  # the first 10 characters are the top 50 bits: 2 zero bits, then the time


def event_ulid(event_id: str, timestamp: int | None = None) -> str:
    """The dedup ULID for a source event id; an id that already is a ULID is kept as is."""
    if is_ulid(event_id):
        return event_id
    time_ms = timestamp * 1000 if timestamp is not None else 0
    return encode(time_ms, hashlib.sha256(event_id.encode("utf-8")).digest()[:_RANDOM_BYTES])
