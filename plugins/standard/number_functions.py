"""Standard functions for numbers read from text: ``to_int``, ``to_int64``, and decimal
numerals.

``decimal_value`` gives the exact value of a decimal numeral; ``to_int`` and
``sort_numeric`` read numeric strings with it. ``to_int64`` is the strict one: an identifier
such as an mParticle ID, exactly, or nothing.
"""

from __future__ import annotations

import math
import re
from decimal import Decimal, InvalidOperation

from .json_values import Json

_INT_TEXT = re.compile(r"[+-]?[0-9]+", re.ASCII)
_DECIMAL_TEXT = re.compile(r"[+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?", re.ASCII)
_MAX_DIGITS = 4300  # Python's own limit for int <-> str conversion
#: The canonical decimal form of an integer: an optional minus, no leading zero, no "-0".
_CANONICAL_INT = re.compile(r"0|-?[1-9][0-9]*", re.ASCII)
_INT64_MIN, _INT64_MAX = -(2**63), 2**63 - 1


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


def to_int64(value: Json) -> int | None:
    """The 64-bit signed integer ``value`` is exactly, else null: nothing is rounded,
    truncated, trimmed or guessed.

    An integer in range gives itself; a string gives its value only when it is an integer's
    canonical decimal form (``"7346244611012968789"``, ``"-42"``, ``"0"``: no sign but a
    minus, no leading zero, no space, fraction or exponent) in range. The digits are read as
    an integer, never through a float, so values beyond 2**53 are exact. Booleans, floats
    (``5.0`` too) and anything else give null.
    """
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value if _INT64_MIN <= value <= _INT64_MAX else None
    # Twenty characters hold every int64 ("-9223372036854775808"): longer is out of range.
    if not isinstance(value, str) or len(value) > 20 or not _CANONICAL_INT.fullmatch(value):
        return None
    number = int(value)
    return number if _INT64_MIN <= number <= _INT64_MAX else None


def decimal_value(text: str) -> Decimal | None:
    """The exact value of a decimal numeral (sign, fraction, exponent), else None."""
    if not _DECIMAL_TEXT.fullmatch(text):
        return None
    try:
        return Decimal(text)
    except InvalidOperation:
        return None
