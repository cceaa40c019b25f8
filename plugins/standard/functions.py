"""The standard JMESPath function library's table: pure, total, fast functions over JSON.

Every function takes plain JSON values (``None``, ``bool``, ``int``, ``float``, ``str``,
``list``, ``dict``) and never raises for an argument of its declared types: where there is
no sensible answer (an unparseable date, a non-numeric string) it returns null. A null in
the first argument gives null unless the docstring says otherwise. The functions live by
family: ``time_functions``, ``string_functions``, ``number_functions``, ``identifiers``,
``object_functions``, ``choice_functions``, ``array_functions``.

``FUNCTIONS`` maps each name to ``(function, signature)``: one list of JMESPath type names
per argument, and ``{"variadic": True}`` last when the previous argument repeats.
``RETURNS`` gives the JSON type(s) each returns.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TypeAlias

from .array_functions import compact, sort_numeric, unique
from .choice_functions import if_else, map_value
from .identifiers import ulid_to_uuid, uuid_to_ulid
from .json_values import Json
from .number_functions import to_int, to_int64
from .object_functions import (
    entries,
    from_entries,
    get_ci,
    merge_deep,
    omit,
    omit_prefixed,
    pick,
    pick_prefixed,
    rename_keys,
    rename_keys_ci,
    snake_keys,
)
from .string_functions import (
    concat,
    event_name,
    lower,
    quote_join,
    replace,
    sha256,
    snake_case,
    split,
    trim,
    truncate_bytes,
    upper,
)
from .time_functions import iso_to_unix, ms_to_s, s_to_ms, unix_to_iso

Signature: TypeAlias = tuple[list[str] | dict[str, bool], ...]

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
    "to_int64": (to_int64, (["any"],)),
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
    "to_int64": _I,
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
