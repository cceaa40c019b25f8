"""Would delivery take these actions? The destination's own payload checks, run where no
credentials exist (``map``, ``test``, ``explain``), so a mapping test fails when delivery
would dead-letter the item.

``Destination.check_payload`` answers for one payload; ``schema_problems`` is its default
(the action's payload JSON Schema, messages that name the field and the rule broken, never
the value); ``undeliverable`` runs it over a ``MapResult``'s actions.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .actions import Action
    from .schema_validator import SchemaValidator


@functools.lru_cache(maxsize=256)
def _validator(schema_text: str) -> SchemaValidator:
    from .schema_validator import SchemaValidator

    return SchemaValidator(json.loads(schema_text))


def schema_problems(schema: Mapping[str, Any], payload: Any) -> list[str]:
    """Where ``payload`` breaks ``schema``: ``payload.a.b: failed the 'type' check`` lines."""
    validator = _validator(json.dumps(schema, sort_keys=True, default=str))
    if validator.is_valid(payload):
        return []
    found: list[str] = []
    for error in validator.iter_errors(payload):
        where = "payload" + "".join(
            f"[{p}]" if isinstance(p, int) else f".{p}" for p in error.absolute_path
        )
        if error.validator == "required":
            wanted: Any = error.validator_value
            instance: Any = error.instance if isinstance(error.instance, dict) else {}
            missing = [n for n in wanted if n not in instance]
            text = f"{where}: missing required field(s) {', '.join(missing)}"
        else:
            text = f"{where}: failed the {error.validator!r} check"
        if text not in found:
            found.append(text)
    return sorted(found)


def undeliverable(
    actions: Iterable[Action], destinations: Mapping[str, Any]
) -> list[tuple[int, Action, list[str]]]:
    """``(index, action, problems)`` for each action its destination would refuse.

    Actions for a destination that is not loaded are not checked."""
    out = []
    for i, action in enumerate(actions):
        destination = destinations.get(action.destination)
        if destination is None:
            continue
        found = destination.check_payload(action.action, action.payload)
        if found:
            out.append((i, action, found))
    return out


def describe(index: int, action: Action, problems: list[str]) -> str:
    return (
        f"action {index + 1} ({action.action}, rule {action.rule!r}) would be dead-lettered "
        f"at delivery: {'; '.join(problems)}"
    )
