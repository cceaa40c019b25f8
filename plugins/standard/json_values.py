"""The JSON values the standard functions take and return, and their *string form*.

The string form of a value, used by ``concat``, ``quote_join`` and ``map_value``, is the
string itself for strings and compact JSON text for everything else (``1`` -> ``"1"``,
``true`` -> ``"true"``, ``{"a": 1}`` -> ``'{"a":1}'``), like JMESPath's ``to_string`` but
keeping non-ASCII characters as they are.
"""

from __future__ import annotations

import json
import math
from typing import TypeAlias

Json: TypeAlias = "bool | int | float | str | list[Json] | dict[str, Json] | None"
JsonObject: TypeAlias = "dict[str, Json]"


def finite(value: object) -> int | float | None:
    """``value`` if it is a finite number (not a boolean), else None."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def string_form(value: Json) -> str:
    """``value`` itself if it is a string, else its compact JSON text (non-ASCII kept)."""
    if isinstance(value, str):
        return value
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)
