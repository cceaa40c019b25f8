"""JSON as destinations put it on the wire: compact, UTF-8, never NaN or Infinity."""

from __future__ import annotations

import json
from typing import Any

import orjson

_ENCODER = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False, allow_nan=False)


def wire_json(value: Any) -> bytes:
    """Compact UTF-8 JSON; ``ValueError`` on NaN or Infinity.

    orjson writes it (a float may be spelled differently, ``1e16`` for ``1e+16``: the
    same number); what orjson cannot write, or may have written ``null`` for NaN or
    Infinity, is written by the standard encoder, which refuses NaN and Infinity.
    """
    try:
        fast = orjson.dumps(value)
    except TypeError:  # a non-string key, an integer over 64 bits, ...
        fast = b"null"
    if b"null" not in fast:
        return fast
    return _ENCODER.encode(value).encode("utf-8")
