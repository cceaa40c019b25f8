"""Standard functions for numbers read from text: ``to_int``, and decimal numerals.

``decimal_value`` gives the exact value of a decimal numeral; ``to_int`` and
``sort_numeric`` read numeric strings with it.
"""

from __future__ import annotations

import math
import re
from decimal import Decimal, InvalidOperation

from .json_values import Json

_INT_TEXT = re.compile(r"[+-]?[0-9]+", re.ASCII)
_DECIMAL_TEXT = re.compile(r"[+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?", re.ASCII)
_MAX_DIGITS = 4300  # Python's own limit for int <-> str conversion


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
    number = decimal_value(text)
    return int(number) if number is not None and number.adjusted() < _MAX_DIGITS else None


def decimal_value(text: str) -> Decimal | None:
    """The exact value of a decimal numeral (sign, fraction, exponent), else None."""
    if not _DECIMAL_TEXT.fullmatch(text):
        return None
    try:
        return Decimal(text)
    except InvalidOperation:
        return None
