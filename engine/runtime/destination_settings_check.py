"""A connection's ``destination:`` settings checked against the destination's settings
schema, as config problems (C105-C107) that never quote a value (it may be a secret).

When the connection's flow is unknown, the destination is not known either; the one
destination that has every given setting (``fitting_destinations``) then checks their
values, so a wrong region is reported in the same run as the wrong flow name.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from typing import Any

import jsonschema

from ..contracts.errors import Problem
from ..language.schema_errors import did_you_mean
from ..language.yaml_loader import Path, Positions
from .registry import Registry


def fitting_destinations(registry: Registry, given: Mapping[str, Any]) -> list[str]:
    """The destinations whose settings include every setting in ``given`` (none if empty)."""
    found = registry.destinations()
    return [
        name
        for name, d in found.items()
        if given and set(given) <= set(d.settings_schema.get("properties", {}))
    ]


def destination_problems(
    positions: Positions,
    registry: Registry,
    destination_name: str | None,
    values: Mapping[str, Any],
    path: Path,
    left_out: Collection[str] = (),
) -> list[Problem]:
    """The problems of the (resolved) ``values`` at ``path`` for ``destination_name``; with
    None (the flow is unknown), only the values' own problems, for the one destination
    that fits them, if one does. Settings in ``left_out`` (given, but with problems of
    their own already reported) are not reported missing."""
    guessed = destination_name is None
    if destination_name is None:
        fits = fitting_destinations(registry, values)
        destination_name = fits[0] if len(fits) == 1 else None
    destination = registry.destinations().get(destination_name) if destination_name else None
    if destination is None:
        return []
    schema = dict(destination.settings_schema)
    out: list[Problem] = []
    named = f"destination {destination_name!r}"
    for error in jsonschema.Draft202012Validator(schema).iter_errors(dict(values)):
        where = (*path, *error.absolute_path)
        if error.validator == "additionalProperties":
            allowed = sorted(schema.get("properties", {}))
            for extra in [k for k in error.instance if k not in allowed]:
                hint = did_you_mean(extra, allowed)
                message = f"{named} has no setting {extra!r}{hint}"
                out.append(positions.problem((*path, extra), "C105", message, key=True))
        elif guessed:  # a value's own problems only: the flow would say what is required
            if error.validator != "required" and error.absolute_path:
                out.append(positions.problem(where, "C107", f"{named}: {_safe(error)}"))
        elif error.validator == "required":
            if any(repr(k) in error.message for k in left_out):
                continue
            out.append(positions.problem(path, "C106", f"{named}: {error.message}"))
        else:
            out.append(positions.problem(where, "C107", f"{named}: {_safe(error)}"))
    return out


def _safe(error: jsonschema.ValidationError) -> str:
    """A validation message that does not quote the (possibly secret) value."""
    field_name = ".".join(str(p) for p in error.absolute_path) or "settings"
    if error.validator in ("enum", "const"):
        return f"{field_name}: must be one of {error.validator_value!r}"
    if error.validator == "type":
        return f"{field_name}: must be of type {error.validator_value}"
    if error.validator == "pattern":
        return f"{field_name}: does not have the expected format"
    return f"{field_name}: invalid value ({error.validator})"
