"""The destination's payload checks at intake: an action its destination would refuse is
not queued to be dead-lettered later, but held with its source document.

``held_back`` asks each action's destination (``Destination.prepare_ahead``: the checks
its ``prepare`` makes that need no settings or credentials, ``check_payload``'s) and turns
every action that would fail into a ``MappingFailure`` with the code ``undeliverable``
(its item: ``action[i]``, the i-th action its rule made for the document):
kept as a ``mapping`` dead letter (the source document, for ``mapwire dlq replay`` once
the mapping is fixed) and reported to the sender, by the pipeline. The messages name the
field and the check, never a value. An action that passed is marked ``checked``, so
delivery need not check it again, and carries the item its destination prepared ahead
with the connection's settings, if any (``Action.wire``), so delivery need not prepare it
again. ``failures_of`` turns the items of a document that failed to map into
``MappingFailure``s the same way, and a document the mapping failed on as a whole (an
error the engine does not expect) into one, ``unprocessable``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from ..contracts.actions import Action
from ..contracts.destination import Destination
from ..contracts.errors import UNPROCESSABLE, ItemError, unprocessable
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
    settings = conn.destination
    for index, action in enumerate(actions):
        destination = destinations.get(action.destination)
        if destination is None:
            kept.append(action)
            continue
        problems, wire = destination.prepare_ahead(action, settings)
        if not problems:
            action.checked = True
            action.wire = wire
            kept.append(action)
            continue
        what = f"{action.destination}.{action.action}"
        text = "; ".join(problems)
        message = text if text.startswith(what) else f"{what}: {text}"
        item = held_item(sum(1 for a in actions[:index] if a.rule == action.rule))
        failure = MappingFailure(
            conn.name, conn.plan.name, action.rule, "", UNDELIVERABLE, message, doc, item=item
        )
        held.append(failure)
    return kept, held


def held_item(position: int) -> str:
    """The item of an action held back: its place among the actions its rule made for the
    document (``dlq replay`` tells two held actions of one rule apart by it)."""
    return f"action[{position}]"


def failures_of(conn: Connection, doc: Any, errors: Sequence[Exception]) -> list[MappingFailure]:
    """A document's per-item errors as failures to keep (messages carry no values)."""
    out = []
    for e in errors:
        if isinstance(e, ItemError):
            failure = MappingFailure(
                conn.name, conn.plan.name, e.rule, e.field, e.code, e.detail, doc, item=e.index
            )
        else:  # an error the engine does not expect: named by its class, never its text
            message = unprocessable(e)
            failure = MappingFailure(conn.name, conn.plan.name, "", "", UNPROCESSABLE, message, doc)
        out.append(failure)
    return out
