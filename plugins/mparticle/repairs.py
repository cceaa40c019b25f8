"""Repairs ``prepare`` makes so that one field over an mParticle limit never drops the item.

mParticle counts names and values in characters. Under the connection's ``oversize``
policy a field over a limit is cut (``truncate``: strings; any other value is left out),
left out (``drop_field``), or the item is dead-lettered as before (``dead_letter``, by the
schema check that follows). An event or screen name is required, so it is cut under either
repairing policy. Attributes past the count limit are left out, last ones first. Each
repair appends a note (never a value) that the delivery loop counts.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from . import limits

_NAME_FIELDS = ("event_name", "screen_name")


def repair(action: str, payload: Mapping[str, Any], policy: str, notes: list[str]) -> Any:
    """``payload`` with its names, attribute names and values within mParticle's limits."""
    if policy == "dead_letter" or not isinstance(payload, Mapping):
        return payload
    out = dict(payload)
    for name in _NAME_FIELDS:
        value = out.get(name)
        if isinstance(value, str) and len(value) > limits.EVENT_NAME_CHARS:
            out[name] = value[: limits.EVENT_NAME_CHARS]
            notes.append(f"event name over {limits.EVENT_NAME_CHARS} characters: truncated")
    found = out.get("custom_attributes")
    if isinstance(found, Mapping):
        out["custom_attributes"] = _attributes(found, limits.EVENT_ATTRIBUTES, policy, notes)
    found = out.get("user_attributes")
    if isinstance(found, Mapping):
        out["user_attributes"] = _attributes(found, limits.USER_ATTRIBUTES, policy, notes)
    return out


def _attributes(
    found: Mapping[str, Any], most: int, policy: str, notes: list[str]
) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name, value in found.items():
        if not isinstance(name, str) or len(name) > limits.ATTRIBUTE_NAME_CHARS:
            notes.append(f"attribute name over {limits.ATTRIBUTE_NAME_CHARS} characters: left out")
            continue
        if len(out) >= most:
            notes.append(f"attributes over {most}: left out")
            continue
        if isinstance(value, list):
            value = _list(value, policy, notes)
        elif isinstance(value, str) and len(value) > limits.ATTRIBUTE_VALUE_CHARS:
            what = f"attribute value over {limits.ATTRIBUTE_VALUE_CHARS} characters"
            if policy != "truncate":
                notes.append(f"{what}: left out")
                continue
            value = value[: limits.ATTRIBUTE_VALUE_CHARS]
            notes.append(f"{what}: truncated")
        out[name] = value
    return out


def _list(values: list[Any], policy: str, notes: list[str]) -> list[Any]:
    """A list-valued user attribute within the entry count and entry length limits."""
    most = limits.USER_ATTRIBUTE_LIST_ENTRIES
    if len(values) > most:
        notes.append(f"attribute list over {most} entries: cut")
        values = values[:most]
    chars = limits.USER_ATTRIBUTE_LIST_ENTRY_CHARS
    out: list[Any] = []
    for entry in values:
        if isinstance(entry, str) and len(entry) > chars:
            if policy != "truncate":
                notes.append(f"attribute list entry over {chars} characters: left out")
                continue
            entry = entry[:chars]
            notes.append(f"attribute list entry over {chars} characters: truncated")
        out.append(entry)
    return out
