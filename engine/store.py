"""The dedup/state plugin point: small, atomic, per-key state shared by every process.

Two operations are all the mappings and the pipeline need:

* ``first_seen(namespace, key, ttl)`` records a key and says whether it was new, atomically;
  a second caller racing on the same key gets ``False``. Keys expire after ``ttl`` seconds
  (None: never).
* ``update_membership(namespace, key, changes)`` applies membership changes to a set and
  returns the members afterwards, atomically. Each change is ``(member, present, version)``;
  a change older than the last one applied to the same member is ignored, so changes that
  arrive out of order still converge (a last-writer-wins set with tombstones).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol


class StateStore(Protocol):
    def first_seen(self, namespace: str, key: str, ttl: float | None = None) -> bool: ...

    def update_membership(
        self, namespace: str, key: str, changes: Sequence[tuple[str, bool, int]]
    ) -> list[str]: ...

    def close(self) -> None: ...


class MemoryStore:
    """A process-local store for dry runs (``mapwire map``, ``mapwire test``)."""

    def __init__(self) -> None:
        self._seen: set[tuple[str, str]] = set()
        self._sets: dict[tuple[str, str], dict[str, tuple[bool, int]]] = {}

    def first_seen(self, namespace: str, key: str, ttl: float | None = None) -> bool:
        k = (namespace, key)
        if k in self._seen:
            return False
        self._seen.add(k)
        return True

    def update_membership(
        self, namespace: str, key: str, changes: Sequence[tuple[str, bool, int]]
    ) -> list[str]:
        members = self._sets.setdefault((namespace, key), {})
        for member, present, version in changes:
            old = members.get(member)
            if old is None or version >= old[1]:
                members[member] = (present, version)
        return sorted(m for m, (present, _) in members.items() if present)

    def close(self) -> None:
        pass
