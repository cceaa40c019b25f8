"""Standard functions for times: milliseconds and seconds, ISO-8601 and Unix seconds."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta

from .json_values import finite

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_SECOND = timedelta(seconds=1)


def ms_to_s(ms: float | None) -> int | None:
    """Milliseconds to whole seconds, rounding down (``-1`` -> ``-1``); null if not finite."""
    if type(ms) is int:  # the common case, first
        return ms // 1000
    number = finite(ms)
    return None if number is None else int(number // 1000)


def s_to_ms(s: float | None) -> int | None:
    """Seconds to whole milliseconds, rounded to the nearest.

    Null if not finite, or if a fractional number overflows when multiplied.
    """
    number = finite(s)
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
    number = finite(seconds)
    if number is None:
        return None
    try:
        moment = _EPOCH + timedelta(seconds=number)
    except OverflowError:
        return None
    return moment.replace(tzinfo=None).isoformat() + "Z"
