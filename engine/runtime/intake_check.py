"""The destination's payload checks at intake: an action its destination would refuse is
not queued to be dead-lettered later, but held with its source document.

``held_back`` asks each action's destination (``Destination.check_payload``: the checks
its ``prepare`` makes that need no settings or credentials) and turns every action that
would fail into a ``MappingFailure`` with the code ``undeliverable``: kept as a
``mapping`` dead letter (the source document, for ``mapwire dlq replay`` once the mapping
is fixed) and reported to the sender, by the pipeline. The messages name the field and
the check, never a value. An action that passed is marked ``checked``, so delivery need not check
it again.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from ..contracts.actions import Action
from ..contracts.destination import Destination
from ..contracts.queue import MappingFailure
from .config import Connection

UNDELIVERABLE = "undeliverable"


def held_back(
    conn: Connection,
    doc: Any,
    actions: Sequence[Action],
    destinations: Mapping[str, Destination],
) -> tuple[list[Action], list[MappingFailure]]:
    """The actions their destinations would take, and a failure for each other one."""
    kept: list[Action] = []
    held: list[MappingFailure] = []
    for action in actions:
        destination = destinations.get(action.destination)
        problems = destination.check_payload(action.action, action.payload) if destination else []
        if not problems:
            action.checked = destination is not None
            kept.append(action)
            continue
        what = f"{action.destination}.{action.action}"
        text = "; ".join(problems)
        message = text if text.startswith(what) else f"{what}: {text}"
        held.append(
            MappingFailure(conn.name, conn.plan.name, action.rule, "", UNDELIVERABLE, message, doc)
        )
    return kept, held
