"""The dedup/state plugin point: small, atomic, per-key state shared by every process.

What the mappings and the pipeline need:

* ``first_seen(namespace, key, ttl)`` records a key and says whether it was new, atomically;
  a second caller racing on the same key gets ``False``. Keys expire after ``ttl`` seconds
  (None: never).
* ``update_membership(namespace, key, changes)`` applies membership changes to a set and
  returns the members afterwards, atomically. Each change is ``(member, present, version)``;
  a change older than the last one applied to the same member is ignored, so changes that
  arrive out of order still converge (a last-writer-wins set with tombstones).
* ``apply_membership(namespace, key, changes)`` does the same and also says, per change,
  whether it was applied or was stale (older than the member's stored version), and what
  the store knew of the member before (``was_present``: None if nothing). Optional: for a
  store without it, ``membership_update`` reports every change applied and nothing known.
* ``add_aliases(namespace, key, aliases)`` records other identifiers of the person whose
  set is stored under ``key`` (a mapping's ``state`` ``aliases``), so that an erasure
  naming the person by one of them finds the set.
* ``forget(namespace, keys)`` removes, atomically, the sets stored under any of ``keys``
  or under a key one of them is an alias of, with every alias recorded for those sets
  (an erasure: a mapping rule's ``forget``); it returns how many sets it removed.
* ``forget_seen(namespace, keys)`` removes dedup keys ``first_seen`` recorded, so that
  each is new again. Optional: a queue whose enqueue failed after it recorded keys in a
  store it does not share a transaction with takes back, through it, the keys that call
  recorded (``undo_seen_on_failure``); without it those keys stay.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Protocol

Change = tuple[str, bool, int]
"""``(member, present, version)``."""


@dataclass(frozen=True, slots=True)
class ChangeOutcome:
    """What one membership change did: ``applied`` is False for a stale change (older than
    the version stored for the member); ``was_present`` is the member's stored state before
    it (None: the store knew nothing of the member)."""

    member: str
    present: bool
    applied: bool
    was_present: bool | None


@dataclass(frozen=True, slots=True)
class MembershipUpdate:
    members: list[str]
    outcomes: list[ChangeOutcome]


class MembershipOutcomes(Protocol):
    """A state store that reports what each membership change did."""

    def apply_membership(
        self, namespace: str, key: str, changes: Sequence[Change]
    ) -> MembershipUpdate: ...


def apply_in_order(
    stored: dict[str, tuple[bool, int]], changes: Sequence[Change]
) -> list[ChangeOutcome]:
    """Apply ``changes`` to ``stored`` (member -> (present, version)) last-writer-wins, in
    order (an equal version applied later wins), and say what each did."""
    outcomes = []
    for member, present, version in changes:
        old = stored.get(member)
        applied = old is None or version >= old[1]
        if applied:
            stored[member] = (present, version)
        outcomes.append(ChangeOutcome(member, present, applied, None if old is None else old[0]))
    return outcomes


def membership_update(
    store: StateStore, namespace: str, key: str, changes: Sequence[Change]
) -> MembershipUpdate:
    """``store.apply_membership`` if the store has it; else ``update_membership``, with every
    change reported applied and nothing known of the members before."""
    apply = getattr(store, "apply_membership", None)
    if apply is not None:
        update: MembershipUpdate = apply(namespace, key, changes)
        return update
    members = store.update_membership(namespace, key, changes)
    return MembershipUpdate(members, [ChangeOutcome(m, p, True, None) for m, p, _ in changes])


def first_seen_all(
    store: StateStore, namespace: str, keys: Sequence[str], ttl: float | None
) -> list[bool]:
    """``first_seen`` for each of ``keys``, in order: in one call if the store offers
    ``first_seen_many``. Key by key, a failure part-way removes again the keys this call
    recorded (through the store's ``forget_seen``), before it is raised: the input is
    refused, and its retry must not be skipped as duplicates."""
    many = getattr(store, "first_seen_many", None)
    if many is not None:
        return list(many(namespace, list(keys), ttl))
    keys = list(keys)  # read twice when a failure takes the recorded ones back
    found: list[bool] = []
    with undo_seen_on_failure(store, namespace, keys, found):  # nothing is queued for them
        for key in keys:
            found.append(store.first_seen(namespace, key, ttl))
    return found


#: The server's logger: its lines are written with the server's (``server/logs.py``).
_logger = logging.getLogger("mapwire.server")


@contextmanager
def undo_seen_on_failure(
    store: StateStore | None, namespace: str, keys: Sequence[str], new: Sequence[bool]
) -> Iterator[None]:
    """If the block fails, remove the keys ``first_seen_all(store, namespace, keys, ...)``
    recorded (``new``: its answer), through the store's ``forget_seen``, and re-raise.

    For a queue that records dedup keys in a store it does not share a transaction with,
    around the write of the surviving entries: an input refused because that write failed
    must not have its retry skipped as duplicates. Only the keys that call recorded
    (``new`` True) are removed; those seen before stay (they are real duplicates). A write
    that failed only to report it (a lost reply) may have queued its entries: the retry
    then queues them again (delivery is at least once).

    If the store has no ``forget_seen``, or it fails too, the keys stay, and the retry may
    be skipped as duplicates (no worse than with nothing undone): ``dedup_undo_failed`` is
    logged (the namespace, how many keys and the error's type; never a key), and the
    block's error is raised all the same.
    """
    try:
        yield
    except BaseException:
        if store is not None and any(new):
            recorded = [k for k, n in zip(keys, new, strict=False) if n]  # new may stop short
            _forget_seen(store, namespace, list(dict.fromkeys(recorded)))
        raise


def _forget_seen(store: StateStore, namespace: str, keys: list[str]) -> None:
    forget = getattr(store, "forget_seen", None)
    error = "unsupported"
    if forget is not None:
        try:
            forget(namespace, keys)
            return
        except Exception as exc:  # the block's error is the one raised
            error = type(exc).__name__
    fields = {"connection": namespace, "keys": len(keys), "error": error}
    _logger.error("dedup_undo_failed", extra={"mapwire_fields": fields})


class StateStore(Protocol):
    def first_seen(self, namespace: str, key: str, ttl: float | None = None) -> bool: ...

    def update_membership(
        self, namespace: str, key: str, changes: Sequence[tuple[str, bool, int]]
    ) -> list[str]: ...

    def add_aliases(self, namespace: str, key: str, aliases: Sequence[str]) -> None: ...

    def forget(self, namespace: str, keys: Sequence[str]) -> int: ...

    def close(self) -> None: ...


class MemoryStore:
    """A process-local store for dry runs (``mapwire map``, ``mapwire test``)."""

    def __init__(self) -> None:
        self._seen: set[tuple[str, str]] = set()
        self._sets: dict[tuple[str, str], dict[str, tuple[bool, int]]] = {}
        #: (namespace, alias) -> keys it names, and (namespace, key) -> its aliases
        self._keys_of: dict[tuple[str, str], set[str]] = {}
        self._aliases_of: dict[tuple[str, str], set[str]] = {}

    def first_seen(self, namespace: str, key: str, ttl: float | None = None) -> bool:
        k = (namespace, key)
        if k in self._seen:
            return False
        self._seen.add(k)
        return True

    def update_membership(
        self, namespace: str, key: str, changes: Sequence[tuple[str, bool, int]]
    ) -> list[str]:
        return self.apply_membership(namespace, key, changes).members

    def apply_membership(
        self, namespace: str, key: str, changes: Sequence[Change]
    ) -> MembershipUpdate:
        members = self._sets.setdefault((namespace, key), {})
        outcomes = apply_in_order(members, changes)
        return MembershipUpdate(
            sorted(m for m, (present, _) in members.items() if present), outcomes
        )

    def add_aliases(self, namespace: str, key: str, aliases: Sequence[str]) -> None:
        for alias in aliases:
            self._keys_of.setdefault((namespace, alias), set()).add(key)
            self._aliases_of.setdefault((namespace, key), set()).add(alias)

    def forget(self, namespace: str, keys: Sequence[str]) -> int:
        targets = set(keys).union(*(self._keys_of.get((namespace, a), ()) for a in keys))
        removed = sum(bool(self._sets.pop((namespace, k), None)) for k in targets)
        for key in targets:
            for alias in self._aliases_of.pop((namespace, key), ()):
                self._keys_of.get((namespace, alias), set()).discard(key)
        for alias in keys:
            for key in self._keys_of.pop((namespace, alias), ()):
                self._aliases_of.get((namespace, key), set()).discard(alias)
        return removed

    def forget_seen(self, namespace: str, keys: Sequence[str]) -> None:
        for key in keys:
            self._seen.discard((namespace, key))

    def close(self) -> None:
        pass
