"""The wire encoding and the deterministic ids derived for deduplication.

Bodies are compact UTF-8 JSON (no spaces, non-ASCII kept as UTF-8, no NaN). mParticle's
schema wants a UUID in ``source_message_id``; a source id that is not one becomes a UUID
derived from it, so the same source message always gets the same id.
"""

from __future__ import annotations

import hashlib
import re
import uuid
from collections.abc import Iterable
from typing import Any, Final

from mapwire import wire_json

#: Namespace of every UUID mapwire derives for mParticle (uuid5 of a fixed URL).
NAMESPACE: Final = uuid.uuid5(uuid.NAMESPACE_URL, "https://mapwire.dev/ns/mparticle")
_NAMESPACE_BYTES: Final = NAMESPACE.bytes

_UUID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")


def encode(value: Any) -> bytes:
    """Compact UTF-8 JSON (``mapwire.wire_json``); ``ValueError`` on NaN or infinity."""
    return wire_json(value)


def size(value: Any) -> int:
    """Bytes of ``value`` as compact UTF-8 JSON."""
    return len(encode(value))


def uuid5(name: str) -> str:
    """``str(uuid.uuid5(NAMESPACE, name))``, without building ``UUID`` objects."""
    digest = bytearray(hashlib.sha1(_NAMESPACE_BYTES + name.encode("utf-8")).digest()[:16])
    digest[6] = (digest[6] & 0x0F) | 0x50  # version 5
    digest[8] = (digest[8] & 0x3F) | 0x80  # the RFC 4122 variant
    h = digest.hex()
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


def message_uuid(source_id: str) -> str:
    """``source_id`` if it is a UUID, else the UUID derived from it (uuid5, lower case)."""
    if _UUID.match(source_id):
        return source_id
    return uuid5(f"message:{source_id}")


def request_uuid(message_ids: Iterable[str]) -> str:
    """The ``source_request_id`` of a batch: a uuid5 of its items' message ids, in order."""
    return uuid5("request:" + "\n".join(message_ids))
