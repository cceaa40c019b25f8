"""The standard JMESPath function library: pure, total, fast functions over JSON values.

Every function takes plain JSON values (``None``, ``bool``, ``int``, ``float``, ``str``,
``list``, ``dict``) and never raises for an argument of its declared types: where there is
no sensible answer (an unparseable date, a non-numeric string) it returns null. A null in
the first argument gives null unless the docstring says otherwise.

The *string form* of a value, used by ``concat``, ``quote_join`` and ``map_value``, is the
string itself for strings and compact JSON text for everything else (``1`` -> ``"1"``,
``true`` -> ``"true"``, ``{"a": 1}`` -> ``'{"a":1}'``), like JMESPath's ``to_string`` but
keeping non-ASCII characters as they are.

``FUNCTIONS`` maps each name to ``(function, signature)``: one list of JMESPath type names
per argument, and ``{"variadic": True}`` last when the previous argument repeats.
"""

from __future__ import annotations

import functools
import hashlib
import json
import math
import re
from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any, TypeAlias

from .identifiers import ulid_to_uuid, uuid_to_ulid

Json: TypeAlias = "bool | int | float | str | list[Json] | dict[str, Json] | None"
JsonObject: TypeAlias = "dict[str, Json]"
Signature: TypeAlias = tuple[list[str] | dict[str, bool], ...]

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_SECOND = timedelta(seconds=1)
_INT_TEXT = re.compile(r"[+-]?[0-9]+", re.ASCII)
_DECIMAL_TEXT = re.compile(r"[+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?", re.ASCII)
_MAX_DIGITS = 4300  # Python's own limit for int <-> str conversion
_SEPARATORS = re.compile(r"[\s!-/:-@\[-`{-~]+")  # whitespace and ASCII punctuation
_ACRONYM_END = re.compile(r"([A-Z]+)([A-Z][a-z])")
_CAMEL_HUMP = re.compile(r"([a-z0-9])([A-Z])")
_CACHED_NAME_LENGTH = 64


def _finite(value: object) -> int | float | None:
    """``value`` if it is a finite number (not a boolean), else None."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def _string_form(value: Json) -> str:
    if isinstance(value, str):
        return value
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


# -- time -------------------------------------------------------------------------------
def ms_to_s(ms: float | None) -> int | None:
    """Milliseconds to whole seconds, rounding down (``-1`` -> ``-1``); null if not finite."""
    if type(ms) is int:  # the common case, first
        return ms // 1000
    number = _finite(ms)
    return None if number is None else int(number // 1000)


def s_to_ms(s: float | None) -> int | None:
    """Seconds to whole milliseconds, rounded to the nearest.

    Null if not finite, or if a fractional number overflows when multiplied.
    """
    number = _finite(s)
    if isinstance(number, float):
        ms = number * 1000
        return round(ms) if math.isfinite(ms) else None
    return None if number is None else number * 1000


def iso_to_unix(text: str | None) -> int | None:
    """An ISO-8601 date-time to whole Unix seconds, rounding down; null if unparseable.

    Accepts ``Z``/``z``, ``+hh:mm``/``+hhmm`` offsets (no offset means UTC), any number of
    fractional digits, ``T`` or a space as separator, basic and week formats, and a date on
    its own (midnight UTC). Surrounding whitespace is ignored.
    """
    if not isinstance(text, str):
        return None
    text = text.strip()
    if text.endswith("z"):
        text = text[:-1] + "Z"
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return (moment - _EPOCH) // _SECOND


def unix_to_iso(seconds: float | None) -> str | None:
    """Unix seconds to ISO-8601 in UTC with a ``Z`` suffix.

    Whole seconds give ``2024-05-01T12:00:00Z``; a fraction is kept to the microsecond
    (``...:00.250000Z``). Null outside years 1-9999 and for non-finite numbers.
    """
    number = _finite(seconds)
    if number is None:
        return None
    try:
        moment = _EPOCH + timedelta(seconds=number)
    except OverflowError:
        return None
    return moment.replace(tzinfo=None).isoformat() + "Z"


# -- strings ----------------------------------------------------------------------------
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
    parts = [_string_form(v) for v in values if v is not None]
    return "".join(parts) if parts else None


def snake_case(text: str | None) -> str | None:
    """``text`` as a snake_case name: ``"$FirstName"`` -> ``"first_name"``.

    Words are split at whitespace and ASCII punctuation (so a leading ``$`` goes), at a
    lower-case letter or digit followed by a capital (``"userID"`` -> ``"user_id"``) and
    before the last capital of an acronym (``"HTTPServer"`` -> ``"http_server"``); then
    lower-cased and joined by ``_``. Capitals are found among ASCII letters only; other
    letters are kept and lower-cased. Idempotent; text with no word characters gives ``""``.
    """
    return _snake_name(text) if isinstance(text, str) else None


def _snake_name(text: str) -> str:
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


def to_int(value: Json) -> int | None:
    """An integer from a number or numeric string, truncating toward zero; else null.

    Strings may have surrounding whitespace, a sign, a fraction and an exponent (``" 1e3"``
    -> ``1000``); ASCII digits only, no ``_`` separators. Booleans, non-finite numbers and
    numbers of more than 4300 digits give null.
    """
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        return int(value) if math.isfinite(value) else None
    if not isinstance(value, str):
        return None
    text = value.strip()
    if _INT_TEXT.fullmatch(text):
        try:
            return int(text)
        except ValueError:  # beyond Python's digit limit
            return None
    number = _decimal(text)
    return int(number) if number is not None and number.adjusted() < _MAX_DIGITS else None


def _decimal(text: str) -> Decimal | None:
    """The exact value of a decimal numeral (sign, fraction, exponent), else None."""
    if not _DECIMAL_TEXT.fullmatch(text):
        return None
    try:
        return Decimal(text)
    except InvalidOperation:
        return None


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
    return ",".join(f"'{_string_form(v)}'" for v in values if v is not None)


# -- objects ----------------------------------------------------------------------------
def rename_keys(obj: JsonObject | None, names: JsonObject) -> JsonObject | None:
    """``obj`` with keys renamed by ``names`` (old -> new), in place; other keys kept.

    A renamed key replaces a kept key of the same name; if two keys are renamed to one
    name, the later one wins. Non-string entries in ``names`` are ignored.
    """
    if not isinstance(obj, dict):
        return None
    return _rename(obj, lambda key: names.get(key))


def rename_keys_ci(obj: JsonObject | None, names: JsonObject) -> JsonObject | None:
    """``rename_keys`` matching the old names case-insensitively (``casefold``)."""
    if not isinstance(obj, dict):
        return None
    folded = {old.casefold(): new for old, new in names.items() if isinstance(new, str)}
    targets = {key: new for key in obj if (new := folded.get(key.casefold())) is not None}
    if not targets:
        return dict(obj)
    return _apply_renames(obj, targets)


def _rename(obj: JsonObject, new_name: Callable[[str], Json]) -> JsonObject:
    targets = {key: new for key in obj if isinstance(new := new_name(key), str)}
    return _apply_renames(obj, targets)


def _apply_renames(obj: JsonObject, targets: dict[str, str]) -> JsonObject:
    """``obj`` with ``targets`` (old key -> new key) applied; see ``rename_keys``."""
    renamed = {new: obj[key] for key, new in targets.items()}  # the later rename wins
    result: JsonObject = {}
    for key, value in obj.items():
        if key in targets:
            result[targets[key]] = renamed[targets[key]]
        elif key not in renamed:  # a kept key yields to a renamed one of the same name
            result[key] = value
    return result


def omit(obj: JsonObject | None, keys: list[str]) -> JsonObject | None:
    """``obj`` without the listed keys."""
    if not isinstance(obj, dict):
        return None
    drop = set(keys)
    return {k: v for k, v in obj.items() if k not in drop}


def pick(obj: JsonObject | None, keys: list[str]) -> JsonObject | None:
    """Only the listed keys of ``obj`` that it has, in ``obj``'s order."""
    if not isinstance(obj, dict):
        return None
    keep = set(keys)
    return {k: v for k, v in obj.items() if k in keep}


def omit_prefixed(obj: JsonObject | None, prefix: str) -> JsonObject | None:
    """``obj`` without keys starting with ``prefix`` (an empty prefix drops every key)."""
    if not isinstance(obj, dict):
        return None
    return {k: v for k, v in obj.items() if not k.startswith(prefix)}


def pick_prefixed(obj: JsonObject | None, prefix: str) -> JsonObject | None:
    """Only the keys of ``obj`` starting with ``prefix`` (the other half of ``omit_prefixed``)."""
    if not isinstance(obj, dict):
        return None
    return {k: v for k, v in obj.items() if k.startswith(prefix)}


def get_ci(obj: JsonObject | None, name: str) -> Json:
    """``obj[name]``, else the first key equal to ``name`` ignoring case; null if none.

    Case is compared with ``casefold`` (``"STRASSE"`` matches ``"straße"``).
    """
    if not isinstance(obj, dict):
        return None
    if name in obj:
        return obj[name]
    folded = name.casefold()
    return next((v for k, v in obj.items() if k.casefold() == folded), None)


def snake_keys(obj: JsonObject | None) -> JsonObject | None:
    """``obj`` with each top-level key passed through ``snake_case``; on a clash the later wins."""
    if not isinstance(obj, dict):
        return None
    return {_snake_name(k): v for k, v in obj.items()}


def merge_deep(*objects: JsonObject | None) -> JsonObject | None:
    """Objects merged left to right, recursing where both sides hold an object.

    Any other value on the right replaces the left one (arrays are not concatenated).
    Null arguments are skipped; null if all are null.
    """
    present = [o for o in objects if isinstance(o, dict)]
    if not present:
        return None
    merged: JsonObject = {}
    for obj in present:
        merged = _merge_two(merged, obj)
    return merged


def _merge_two(left: JsonObject, right: JsonObject) -> JsonObject:
    merged = dict(left)
    for key, value in right.items():
        old = merged.get(key)
        if isinstance(old, dict) and isinstance(value, dict):
            merged[key] = _merge_two(old, value)
        else:
            merged[key] = value
    return merged


def entries(obj: JsonObject | None) -> list[Json] | None:
    """``obj`` as ``[{"key": k, "value": v}, ...]`` in key order."""
    if not isinstance(obj, dict):
        return None
    return [{"key": k, "value": v} for k, v in obj.items()]


def from_entries(items: list[Json] | None) -> JsonObject | None:
    """The inverse of ``entries``; elements without a string ``key`` are skipped.

    A missing ``value`` is null; a repeated key keeps the last value.
    """
    if not isinstance(items, list):
        return None
    result: JsonObject = {}
    for item in items:
        if isinstance(item, dict) and isinstance(key := item.get("key"), str):
            result[key] = item.get("value")
    return result


def map_value(value: Json, table: JsonObject, default: Json) -> Json:
    """``table[string form of value]`` if present, else ``default`` (also for a null value)."""
    if value is None:
        return default
    return table.get(_string_form(value), default)


def if_else(condition: Json, then: Json, otherwise: Json) -> Json:
    """``then`` if ``condition`` is true by JMESPath's rules, else ``otherwise``.

    False, null and empty strings, arrays and objects are false; every number (0 too) is
    true. Both branches are evaluated before the call, as for any function.
    """
    if condition is None or condition is False:
        return otherwise
    if isinstance(condition, str | list | dict) and not condition:
        return otherwise
    return then


# -- arrays -----------------------------------------------------------------------------
def compact(values: list[Json] | None) -> list[Json] | None:
    """The array without its nulls."""
    if not isinstance(values, list):
        return None
    return [v for v in values if v is not None]


def unique(values: list[Json] | None) -> list[Json] | None:
    """The array without repeats, first occurrences kept in order.

    Numbers compare by value (``1`` equals ``1.0``), booleans never equal numbers, and
    arrays and objects compare by their JSON text with sorted keys.
    """
    if not isinstance(values, list):
        return None
    seen: set[tuple[str, Any]] = set()
    result: list[Json] = []
    for value in values:
        marker = _identity(value)
        if marker not in seen:
            seen.add(marker)
            result.append(value)
    return result


def sort_numeric(values: list[Json] | None) -> list[Json] | None:
    """The array sorted by numeric value, its elements unchanged.

    ``["10", 9, "8.5"]`` -> ``["8.5", 9, "10"]``. Numbers and numeric strings (as
    ``to_int`` reads them, fraction kept) come first, in value order; everything else
    follows, ordered by its string form. The sort is stable.
    """
    if not isinstance(values, list):
        return None
    return sorted(values, key=_numeric_order)


def _numeric_order(value: Json) -> tuple[int, Decimal, str]:
    number: Decimal | None = None
    if isinstance(value, str):
        number = _decimal(value.strip())
    elif (finite := _finite(value)) is not None:
        number = Decimal(finite)
    if number is None:
        return (1, Decimal(0), _string_form(value))
    return (0, number, "")


def _identity(value: Json) -> tuple[str, Any]:
    if isinstance(value, bool):
        return ("bool", value)
    if isinstance(value, list | dict):
        return ("json", json.dumps(value, sort_keys=True, separators=(",", ":")))
    if isinstance(value, int | float):
        return ("number", value)
    return (type(value).__name__, value)


_NULLABLE_STRING = ["string", "null"]
_NULLABLE_NUMBER = ["number", "null"]
_NULLABLE_OBJECT = ["object", "null"]
_NULLABLE_ARRAY = ["array", "null"]

FUNCTIONS: Mapping[str, tuple[Callable[..., Json], Signature]] = {
    # time
    "ms_to_s": (ms_to_s, (_NULLABLE_NUMBER,)),
    "s_to_ms": (s_to_ms, (_NULLABLE_NUMBER,)),
    "iso_to_unix": (iso_to_unix, (_NULLABLE_STRING,)),
    "unix_to_iso": (unix_to_iso, (_NULLABLE_NUMBER,)),
    # strings
    "lower": (lower, (_NULLABLE_STRING,)),
    "upper": (upper, (_NULLABLE_STRING,)),
    "trim": (trim, (_NULLABLE_STRING,)),
    "replace": (replace, (_NULLABLE_STRING, ["string"], ["string"])),
    "split": (split, (_NULLABLE_STRING, ["string"])),
    "concat": (concat, (["any"], {"variadic": True})),
    "snake_case": (snake_case, (_NULLABLE_STRING,)),
    "event_name": (event_name, (_NULLABLE_STRING,)),
    "sha256": (sha256, (_NULLABLE_STRING,)),
    "to_int": (to_int, (["any"],)),
    "truncate_bytes": (truncate_bytes, (_NULLABLE_STRING, ["number"])),
    "quote_join": (quote_join, (_NULLABLE_ARRAY,)),
    "ulid_to_uuid": (ulid_to_uuid, (_NULLABLE_STRING,)),
    "uuid_to_ulid": (uuid_to_ulid, (_NULLABLE_STRING,)),
    # objects
    "rename_keys": (rename_keys, (_NULLABLE_OBJECT, ["object"])),
    "rename_keys_ci": (rename_keys_ci, (_NULLABLE_OBJECT, ["object"])),
    "omit": (omit, (_NULLABLE_OBJECT, ["array-string"])),
    "pick": (pick, (_NULLABLE_OBJECT, ["array-string"])),
    "omit_prefixed": (omit_prefixed, (_NULLABLE_OBJECT, ["string"])),
    "pick_prefixed": (pick_prefixed, (_NULLABLE_OBJECT, ["string"])),
    "get_ci": (get_ci, (_NULLABLE_OBJECT, ["string"])),
    "snake_keys": (snake_keys, (_NULLABLE_OBJECT,)),
    "merge_deep": (merge_deep, (_NULLABLE_OBJECT, {"variadic": True})),
    "entries": (entries, (_NULLABLE_OBJECT,)),
    "from_entries": (from_entries, (_NULLABLE_ARRAY,)),
    "map_value": (map_value, (["any"], ["object"], ["any"])),
    "if_else": (if_else, (["any"], ["any"], ["any"])),
    # arrays
    "compact": (compact, (_NULLABLE_ARRAY,)),
    "unique": (unique, (_NULLABLE_ARRAY,)),
    "sort_numeric": (sort_numeric, (_NULLABLE_ARRAY,)),
}

_S = ("string", "null")
_I = ("integer", "null")
_O = ("object", "null")
_A = ("array", "null")

#: The JSON type(s) each function returns, for the static type checks (``any`` if absent).
RETURNS: Mapping[str, str | tuple[str, ...]] = {
    "ms_to_s": _I,
    "s_to_ms": _I,
    "iso_to_unix": _I,
    "unix_to_iso": _S,
    "lower": _S,
    "upper": _S,
    "trim": _S,
    "replace": _S,
    "split": _A,
    "concat": _S,
    "snake_case": _S,
    "event_name": _S,
    "sha256": _S,
    "to_int": _I,
    "truncate_bytes": _S,
    "quote_join": _S,
    "rename_keys": _O,
    "rename_keys_ci": _O,
    "omit": _O,
    "pick": _O,
    "omit_prefixed": _O,
    "pick_prefixed": _O,
    "get_ci": "any",
    "snake_keys": _O,
    "merge_deep": _O,
    "entries": _A,
    "from_entries": _O,
    "map_value": "any",
    "if_else": "any",
    "compact": _A,
    "unique": _A,
    "sort_numeric": _A,
    "ulid_to_uuid": _S,
    "uuid_to_ulid": _S,
}
