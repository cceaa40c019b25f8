"""A rule's action and fields checked against the destination's contract (E302, E303).

When the destinations are known, a rule's ``action`` must be one its destination declares
and every field it writes must be a property of that action's payload schema (where the
schema is closed), recursing into nested ``object`` fields; each miss gets a did-you-mean.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ..contracts.errors import Problem
from .schema_errors import did_you_mean
from .yaml_loader import Path, Positions


def check_action(
    destination: Any,
    action: str,
    fields: dict[str, Any],
    path: Path,
    positions: Positions,
    problems: list[Problem],
) -> None:
    """Append to ``problems`` those of the rule at ``path`` writing ``fields`` with ``action``."""
    actions = destination.actions
    if action not in actions:
        hint = did_you_mean(action, actions)
        message = (
            f"destination {destination.name!r} has no action {action!r}{hint}; "
            f"actions: {', '.join(sorted(actions))}"
        )
        problems.append(positions.problem((*path, "action"), "E302", message))
        return
    _check_fields(
        actions[action].payload_schema, fields, (*path, "fields"), action, positions, problems
    )


def _check_fields(
    schema: Mapping[str, Any],
    fields: dict[str, Any],
    path: Path,
    action: str,
    positions: Positions,
    problems: list[Problem],
) -> None:
    props = schema.get("properties", {})
    closed = schema.get("additionalProperties", True) is False
    for fname, fspec in fields.items():
        if fname not in props:
            if closed:
                hint = did_you_mean(fname, props)
                problems.append(
                    positions.problem(
                        (*path, fname),
                        "E303",
                        f"action {action!r} has no field {fname!r}{hint}",
                        key=True,
                    )
                )
            continue
        if isinstance(fspec, dict) and "object" in fspec and isinstance(props[fname], dict):
            sub = props[fname]
            if sub.get("type") == "object" and "properties" in sub:
                _check_fields(
                    sub, fspec["object"], (*path, fname, "object"), action, positions, problems
                )
