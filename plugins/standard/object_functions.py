"""Standard functions for objects: rename, pick and omit keys, look up, merge, entries."""

from __future__ import annotations

from collections.abc import Callable

from .json_values import Json, JsonObject
from .string_functions import snake_name


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
    return {snake_name(k): v for k, v in obj.items()}


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
