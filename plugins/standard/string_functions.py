"""Standard functions for strings: case, trim, split, join, names, hashes, byte limits."""

from __future__ import annotations

import functools
import hashlib
import math
import re

from .json_values import Json, string_form

_SEPARATORS = re.compile(r"[\s!-/:-@\[-`{-~]+")  # whitespace and ASCII punctuation
_ACRONYM_END = re.compile(r"([A-Z]+)([A-Z][a-z])")
_CAMEL_HUMP = re.compile(r"([a-z0-9])([A-Z])")
_CACHED_NAME_LENGTH = 64


def lower(text: str | None) -> str | None:
    """Lower-cased text (Unicode rules)."""
    return text.lower() if isinstance(text, str) else None


def upper(text: str | None) -> str | None:
    """Upper-cased text (Unicode rules; ``"ß"`` -> ``"SS"``)."""
    return text.upper() if isinstance(text, str) else None


def trim(text: str | None) -> str | None:
    """Text without leading and trailing whitespace."""
    return text.strip() if isinstance(text, str) else None


def replace(text: str | None, old: str, new: str) -> str | None:
    """Every ``old`` in ``text`` replaced by ``new``; an empty ``old`` changes nothing."""
    if not isinstance(text, str):
        return None
    return text.replace(old, new) if old else text


def split(text: str | None, separator: str) -> list[Json] | None:
    """``text`` split on every ``separator``; an empty separator splits into characters."""
    if not isinstance(text, str):
        return None
    return list(text.split(separator) if separator else text)


def concat(*values: Json) -> str | None:
    """The string forms of the non-null arguments, joined; null if every argument is null."""
    parts = [string_form(v) for v in values if v is not None]
    return "".join(parts) if parts else None


def snake_case(text: str | None) -> str | None:
    """``text`` as a snake_case name: ``"$FirstName"`` -> ``"first_name"``.

    Words are split at whitespace and ASCII punctuation (so a leading ``$`` goes), at a
    lower-case letter or digit followed by a capital (``"userID"`` -> ``"user_id"``) and
    before the last capital of an acronym (``"HTTPServer"`` -> ``"http_server"``); then
    lower-cased and joined by ``_``. Capitals are found among ASCII letters only; other
    letters are kept and lower-cased. Idempotent; text with no word characters gives ``""``.
    """
    return snake_name(text) if isinstance(text, str) else None


def snake_name(text: str) -> str:
    """``snake_case`` of a string (short names are remembered)."""
    return _snake_cached(text) if len(text) <= _CACHED_NAME_LENGTH else _snake(text)


def _snake(text: str) -> str:
    text = _CAMEL_HUMP.sub(r"\1_\2", _ACRONYM_END.sub(r"\1_\2", text))
    return "_".join(w for w in _SEPARATORS.split(text) if w).lower()


# Attribute names repeat from event to event: remember the short ones.
_snake_cached = functools.lru_cache(maxsize=4096)(_snake)


def event_name(text: str | None) -> str | None:
    """Trimmed text with each space replaced by ``_`` (``" Add To Cart "`` -> ``"Add_To_Cart"``)."""
    return text.strip().replace(" ", "_") if isinstance(text, str) else None


def sha256(text: str | None) -> str | None:
    """Lower-case hex SHA-256 of the UTF-8 bytes (lone surrogates encoded as-is)."""
    if not isinstance(text, str):
        return None
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()


def truncate_bytes(text: str | None, limit: float) -> str | None:
    """The longest prefix of ``text`` whose UTF-8 form fits in ``limit`` bytes.

    Never splits a character (it may split a character from its combining marks). A
    fractional limit rounds down, a negative one gives ``""``, NaN gives null.
    """
    if not isinstance(text, str) or (isinstance(limit, float) and math.isnan(limit)):
        return None
    if len(text) * 4 <= limit:  # cheap: no character is longer than 4 bytes
        return text
    if limit < 1:
        return ""
    data = text.encode("utf-8", "surrogatepass")
    if len(data) <= limit:
        return text
    end = math.floor(limit)
    while end > 0 and data[end] & 0xC0 == 0x80:  # a continuation byte: back to its start
        end -= 1
    return data[:end].decode("utf-8", "surrogatepass")


def quote_join(values: list[Json] | None) -> str | None:
    """Each non-null element's string form in single quotes, joined by commas: ``'a','b'``.

    Quotes inside elements are not escaped. An empty array gives ``""``.
    """
    if not isinstance(values, list):
        return None
    return ",".join(f"'{string_form(v)}'" for v in values if v is not None)
