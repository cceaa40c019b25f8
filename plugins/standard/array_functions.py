"""Standard functions for arrays: without nulls, without repeats, in numeric order."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

from .json_values import Json, finite, string_form
from .number_functions import decimal_value


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
        number = decimal_value(value.strip())
    elif (numeric := finite(value)) is not None:
        number = Decimal(numeric)
    if number is None:
        return (1, Decimal(0), string_form(value))
    return (0, number, "")


def _identity(value: Json) -> tuple[str, Any]:
    if isinstance(value, bool):
        return ("bool", value)
    if isinstance(value, list | dict):
        return ("json", json.dumps(value, sort_keys=True, separators=(",", ":")))
    if isinstance(value, int | float):
        return ("number", value)
    return (type(value).__name__, value)
