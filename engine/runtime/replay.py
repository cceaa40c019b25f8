"""``mapwire dlq replay``: map kept source documents again, with the current mapping.

Only ``mapping`` dead letters keep their source document, so only they can be replayed;
a ``delivery`` dead letter keeps the payload that was sent (``mapwire dlq retry`` sends it
again as it was). A replay maps the document through the connection as it is configured
now and queues the actions of the rule that failed (all of the document's actions when
the mapping's top-level ``variables`` failed, or the mapping failed on the document as a
whole, ``unprocessable``: then nothing was queued), but only if at least one of the
failed items now maps. The other rules' actions were queued the first
time; dedup keys (and the vendors' own dedup by event id) absorb an action queued before.
Items that fail again are kept as new mapping dead letters whose history continues the
old one; the replayed dead letters are then removed. Dead letters of one document and
rule are replayed together, so the document is mapped once; each is matched with a
failure of the new mapping by its item (an action its destination held back has the item
``action[i]``, its place among its rule's actions), so that fixing some of them is seen
as a fix, and letters of the same document taken twice count once. When in doubt (a held
letter, a failure matching no letter) the rule's actions are queued and every failure of
the rule kept: a duplicate absorbed downstream rather than an item lost.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field

from ..contracts.errors import UNPROCESSABLE
from ..contracts.queue import MAPPING, DeadLetter, MappingFailure
from .config import Config, Connection
from .intake_check import UNDELIVERABLE
from .pipeline import Pipeline
from .submissions import ConnectionReport

#: The rule name of a failure in the mapping's top-level ``variables``.
PLAN_VARIABLES = "variables"


@dataclass
class ReplayReport:
    replayed: int = 0
    queued: int = 0
    duplicates: int = 0
    failed_again: list[str] = field(default_factory=list)
    refused: list[str] = field(default_factory=list)


def why_not_replayable(letter: DeadLetter, config: Config) -> str | None:
    """Why ``letter`` cannot be replayed with ``config``, or None if it can."""
    if letter.kind != MAPPING:
        return (
            "a delivery dead letter keeps the payload that was sent, not the source "
            "document, so it cannot be mapped again; send the payload again with "
            "`mapwire dlq retry`"
        )
    if letter.source is None:
        return "its source document was not kept"
    conn = _connection(config, letter.connection)
    if conn is None:
        return f"connection {letter.connection!r} is not in the config"
    if not conn.enabled:
        return f"connection {letter.connection!r} is disabled"
    if letter.mapping and letter.mapping != conn.plan.name:
        return (
            f"connection {letter.connection!r} now runs mapping {conn.plan.name!r}, not "
            f"{letter.mapping!r} the document failed in"
        )
    return None


def replay(pipeline: Pipeline, letters: Sequence[DeadLetter]) -> ReplayReport:
    """Replay ``letters`` (see the module docstring); the others are listed as refused."""
    report = ReplayReport()
    groups: dict[tuple[str, str, str], list[DeadLetter]] = {}
    for letter in letters:
        why = why_not_replayable(letter, pipeline.config)
        if why is not None:
            report.refused.append(f"dead letter {letter.id}: {why}")
            continue
        key = (letter.connection, letter.rule, json.dumps(letter.source, sort_keys=True))
        groups.setdefault(key, []).append(letter)
    for (name, rule, _), group in groups.items():
        conn = _connection(pipeline.config, name)
        assert conn is not None  # checked above
        [actions], failures = pipeline.map_each(conn, [group[0].source], ConnectionReport())
        whole = rule == PLAN_VARIABLES or group[0].code == UNPROCESSABLE
        again, fixed = _failed_again(group, failures, rule, whole)
        if not whole:
            # Nothing that was missing got through: the rule's other actions were queued
            # the first time, so queue nothing rather than send them again.
            actions = [a for a in actions if a.rule == rule] if fixed else []
            if fixed and not actions:  # the rule is gone (renamed?): keep the letters
                report.refused += [
                    f"dead letter {letter.id}: the mapping has no rule {rule!r} any more, "
                    "so nothing of it would be queued; the dead letter is kept"
                    for letter in group
                ]
                continue
        pipeline.keep_failures(again)
        if pipeline.erase_first:
            pipeline.erase(conn, actions)
        queued = pipeline.queue.enqueue(
            name, actions, dedup=pipeline.store, dedup_ttl=conn.dedup_ttl
        )
        if not pipeline.erase_first:  # once queued, as intake erases
            pipeline.erase(conn, actions)
        pipeline.queue.purge_dead_letters([letter.id for letter in group], None, None)
        report.replayed += len(group)
        report.queued += queued.queued
        report.duplicates += queued.duplicates
        report.failed_again += [f.describe() for f in again]
    return report


def _failed_again(
    group: Sequence[DeadLetter], failures: Sequence[MappingFailure], rule: str, whole: bool
) -> tuple[list[MappingFailure], bool]:
    """The failures of this mapping that are ``group``'s letters failing again, each with
    its letter's history (every failure when the letters stand for the whole document),
    and whether a letter may be fixed.

    A letter and a failure of the rule match by item; letters of one item (the same
    document taken twice) are one. A failure of the rule matching no letter (an action
    held back at another place among its rule's actions, or an item failing otherwise
    now) is kept too, never dropped, with the history of a letter left over (of its kind
    first). A letter may be fixed when its item has no failure now, and a held one always
    (its place names no action for sure): then the rule's actions are queued, a
    duplicate the vendors' dedup absorbs rather than an item lost."""
    unmatched: dict[str, DeadLetter] = {}
    legacy: list[DeadLetter] = []  # held back before held actions had an item
    for letter in group:
        if not letter.item and letter.code == UNDELIVERABLE:
            legacy.append(letter)
        else:
            unmatched.setdefault(letter.item, letter)
    fixed = any(letter.code == UNDELIVERABLE for letter in group)
    again: list[MappingFailure] = []
    other: list[MappingFailure] = []
    for failure in failures:
        earlier = unmatched.pop(failure.item, None) if failure.rule == rule else None
        if earlier is not None:
            failure.history = list(earlier.history)
            again.append(failure)
        elif failure.rule == rule or whole:
            other.append(failure)
    fixed = fixed or bool(unmatched)
    held_left = [*legacy, *(x for x in unmatched.values() if x.code == UNDELIVERABLE)]
    items_left = [x for x in unmatched.values() if x.code != UNDELIVERABLE]
    for failure in other:
        if failure.rule == rule:  # a letter left over of its kind first, else any
            held = failure.code == UNDELIVERABLE
            spare = (held_left or items_left) if held else (items_left or held_left)
            if spare:
                failure.history = list(spare.pop(0).history)
        again.append(failure)
    return again, fixed


def _connection(config: Config, name: str) -> Connection | None:
    return next((c for c in config.connections if c.name == name), None)
