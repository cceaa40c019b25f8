"""Standard functions that choose a value: by lookup (``map_value``), by condition (``if_else``)."""

from __future__ import annotations

from .json_values import Json, JsonObject, string_form


def map_value(value: Json, table: JsonObject, default: Json) -> Json:
    """``table[string form of value]`` if present, else ``default`` (also for a null value)."""
    if value is None:
        return default
    return table.get(string_form(value), default)


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
