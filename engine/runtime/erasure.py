"""Erasure once queued: an action that erases its person, once it is queued, removes what
mapwire keeps of that person for the same destination account.

A destination says which of its actions erase a person (``Destination.erases``, e.g. a
delete or a suppress) and which connections deliver to one account
(``Destination.account_key``: equal keys, one account). An input that erases is queued
alone; once it has gone to every connection, in each one that queued its erasing action
(an input refused before that erases nothing, so a refused request cannot lose the
person's earlier updates; refused by a later connection, the erasure queued in an earlier
one is sent all the same, so it is made):

* in every connection to the account, the queue drops the entries of its ``order_key``
  (the same person: the key is computed from the payload's identifiers, so it is the same
  in every connection of the destination) that no worker holds (``Queue.drop_person``), so
  no older update re-creates the person after the erasure; the person's other actions of
  the erasing input are among them, whatever their place in it. The person's erasing
  entries (this one, an earlier erasure in flight or waiting for a retry) are left alone:
  a redelivered erasure request must not undo the first. A queue whose ``drop_person``
  takes no ``keep`` (``keeps_erasures``) would drop them too, so with it the erasure is
  made before the input is queued, as before ``keep`` existed. Entries a worker has
  already claimed are marked in the same step: one the vendor accepts is removed as
  usual, one that fails (to be retried, or for good) or is given back is deleted,
  neither sent again nor kept as a dead letter, one in a request of the claim not yet
  sent is taken out of it before it goes (``Queue.drop_erased``, asked for each request
  of a claim that goes more than ``ERASED_LOOK_AFTER`` after the claim or after it was
  last asked for; one that goes sooner is not asked again), and one whose worker died is
  deleted once its lease
  runs out. What is left: a request already in flight when the erasure is queued, or one
  sent within 50 ms of the claim or of its look, may still reach the vendor; in the
  erasure's own connection per-person order sends the erasure after it, but in another
  connection to the account it may arrive just after the erasure (and re-create the
  person there). Entries of a worker that died are deleted uncounted
  (``mapwire_erased_claimed_actions_total`` counts those a worker settles or takes out);
* the state the mapping rule's ``forget`` names (``Action.forget``) is removed from the
  state store (``StateStore.forget``) in every connection to the account, e.g. the
  person's audience memberships an audience flow keeps.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from inspect import Parameter

from ..contracts.actions import Action
from ..contracts.destination import Destination
from ..contracts.queue import Queue
from ..contracts.store import StateStore
from .config import Config, Connection


@dataclass(frozen=True, slots=True)
class Erased:
    """What one erasure removed: pending queue entries, and stored sets."""

    dropped: int = 0
    forgotten: int = 0


def same_account(
    config: Config, conn: Connection, destinations: Mapping[str, Destination]
) -> tuple[Connection, ...]:
    """``conn`` and every other connection delivering to the same destination account
    (same destination, equal ``account_key``); ``conn`` alone when its key is None."""
    destination = destinations.get(conn.plan.destination)
    key = destination.account_key(conn.destination) if destination is not None else None
    if destination is None or key is None:
        return (conn,)
    others = tuple(
        c
        for c in config.connections
        if c is not conn
        and c.plan.destination == conn.plan.destination
        and destination.account_key(c.destination) == key
    )
    return (conn, *others)


def erasing(actions: Iterable[Action], destination: Destination | None) -> list[Action]:
    """Those of ``actions`` that erase their person (``Destination.erases``) or carry a
    ``forget``."""
    return [a for a in actions if a.forget or (a.order_key and _erases(a.action, destination))]


def erasers(
    connections: Iterable[Connection], destination_of: Callable[[str], Destination | None]
) -> set[str]:
    """The connections whose flow has a rule whose action erases its person or that
    forgets state: most have none, and their requests need no look at their actions."""
    return {
        c.name
        for c in connections
        if any(r.forget or _erases(r.action, destination_of(c.name)) for r in c.plan.all_rules())
    }


def erasing_connections(
    groups: Mapping[str, Sequence[Sequence[Action]]],
    names: Iterable[str],
    destination_of: Callable[[str], Destination | None],
) -> set[str]:
    """Those of the connections ``names`` in which an action of ``groups`` (each one's
    actions, per document) erases (``erasing``)."""
    return {
        name
        for name in names
        if erasing((a for g in groups[name] for a in g), destination_of(name))
    }


def _erases(action: str | None, destination: Destination | None) -> bool:
    return action is not None and destination is not None and destination.erases(action)


def erase_people(
    queue: Queue,
    store: StateStore,
    connections: Sequence[Connection],
    actions: Iterable[Action],
    destination: Destination | None,
) -> Erased:
    """For the actions in ``actions`` that erase their person, drop that person's pending
    entries in each of ``connections``; for every ``forget`` an action carries, remove the
    sets it names from each connection's state."""
    actions = list(actions)
    keys: set[str] = set()
    keep: list[str] = []  # an erasure never drops the person's erasures (a redelivered one)
    if destination is not None:
        keys = {a.order_key for a in actions if a.order_key and destination.erases(a.action)}
        keep = sorted(name for name in destination.actions if destination.erases(name))
    forgets = [f for a in actions for f in a.forget]
    if not keys and not forgets:
        return Erased()
    drop = _dropper(queue)
    dropped = sum(drop(c.name, key, keep) for c in connections for key in sorted(keys))
    forgotten = sum(
        store.forget(f"{c.state_namespace}{f.set}", f.keys) for c in connections for f in forgets
    )
    return Erased(dropped, forgotten)


def keeps_erasures(queue: Queue) -> bool:
    """Whether ``queue.drop_person`` takes ``keep`` (leaves the person's erasures): one
    written before ``keep`` existed drops them too, the one just queued included, so with
    it an erasure is made before its action is queued."""
    return _keep_argument(queue.drop_person) is not None


def _keep_argument(drop: Callable[..., int]) -> str | None:
    """How ``drop`` takes ``keep``: ``positional`` (or as far as its signature tells),
    ``keyword``, or None (two arguments)."""
    try:
        parameters = inspect.signature(drop).parameters.values()
    except (TypeError, ValueError):  # no signature to read: assume the current contract
        return "positional"
    kinds = [p.kind for p in parameters]
    positional = sum(
        k in (Parameter.POSITIONAL_ONLY, Parameter.POSITIONAL_OR_KEYWORD) for k in kinds
    )
    if positional >= 3 or Parameter.VAR_POSITIONAL in kinds:
        return "positional"
    if Parameter.VAR_KEYWORD in kinds or any(p.name == "keep" for p in parameters):
        return "keyword"
    return None


def _dropper(queue: Queue) -> Callable[[str, str, Sequence[str]], int]:
    """``queue.drop_person``, given ``keep`` when it takes it: a queue plugin written before
    ``keep`` existed takes two arguments (its erasures are then dropped like any entry)."""
    drop = queue.drop_person
    how = _keep_argument(drop)
    if how == "positional":
        return drop
    if how == "keyword":
        return lambda connection, key, keep: drop(connection, key, keep=keep)
    return lambda connection, key, keep: drop(connection, key)
