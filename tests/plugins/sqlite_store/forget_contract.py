"""The erasure part of the ``StateStore`` contract: ``add_aliases`` and ``forget``.

A mixin beside ``StateStoreContract``: a store's test class inherits both and gets the
``store`` fixture from the latter. ``forget(namespace, keys)`` removes the membership sets
stored under any of ``keys`` or under a key one of them was recorded as an alias of,
tombstones included, with every alias of those sets; it returns how many sets it removed.
"""

from __future__ import annotations

from mapwire import MemoryStore, StateStore
from mapwire.contracts.store import membership_update


def _members(store: StateStore, namespace: str, key: str) -> list[str]:
    return store.update_membership(namespace, key, [])


class ForgetContract:
    """Checks of ``add_aliases`` and ``forget`` every ``StateStore`` must pass."""

    def test_forget_removes_the_named_sets_and_only_them(self, store: StateStore) -> None:
        store.update_membership("aud", "p1", [("a", True, 1), ("b", True, 1)])
        store.update_membership("aud", "p2", [("c", True, 1)])
        store.update_membership("other", "p1", [("d", True, 1)])
        assert store.forget("aud", ["p1", "nobody"]) == 1
        assert _members(store, "aud", "p1") == []
        assert _members(store, "aud", "p2") == ["c"], "another person's set is kept"
        assert _members(store, "other", "p1") == ["d"], "another namespace is kept"

    def test_forget_removes_tombstones_so_nothing_is_known_after(self, store: StateStore) -> None:
        store.update_membership("aud", "p1", [("a", False, 9)])
        assert store.forget("aud", ["p1"]) == 1, "a set of tombstones is a stored set"
        (outcome,) = membership_update(store, "aud", "p1", [("a", True, 1)]).outcomes
        assert outcome.applied, "an older change applies again: the tombstone is gone"
        assert store.update_membership("aud", "p1", []) == ["a"]

    def test_forget_finds_a_set_by_its_aliases(self, store: StateStore) -> None:
        store.update_membership("aud", "mpid-1", [("a", True, 1)])
        store.add_aliases("aud", "mpid-1", ["c1", "jane@example.com"])
        store.update_membership("aud", "mpid-2", [("b", True, 1)])
        store.add_aliases("aud", "mpid-2", ["c2"])
        assert store.forget("aud", ["jane@example.com"]) == 1
        assert _members(store, "aud", "mpid-1") == []
        assert _members(store, "aud", "mpid-2") == ["b"]

    def test_forget_removes_the_aliases_with_the_set(self, store: StateStore) -> None:
        store.update_membership("aud", "mpid-1", [("a", True, 1)])
        store.add_aliases("aud", "mpid-1", ["c1", "jane@example.com"])
        assert store.forget("aud", ["c1"]) == 1
        store.update_membership("aud", "mpid-1", [("z", True, 2)])
        assert store.forget("aud", ["jane@example.com"]) == 0, "the alias went with the set"
        assert _members(store, "aud", "mpid-1") == ["z"]

    def test_an_alias_may_name_several_sets(self, store: StateStore) -> None:
        store.update_membership("aud", "mpid-1", [("a", True, 1)])
        store.update_membership("aud", "mpid-2", [("b", True, 1)])
        store.add_aliases("aud", "mpid-1", ["shared@example.com"])
        store.add_aliases("aud", "mpid-2", ["shared@example.com", "c2"])
        assert store.forget("aud", ["shared@example.com"]) == 2
        assert _members(store, "aud", "mpid-1") == _members(store, "aud", "mpid-2") == []
        store.update_membership("aud", "mpid-2", [("b", True, 3)])
        assert store.forget("aud", ["c2"]) == 0, "mpid-2's other alias went too"

    def test_aliases_are_per_namespace(self, store: StateStore) -> None:
        store.update_membership("aud", "mpid-1", [("a", True, 1)])
        store.update_membership("other", "mpid-1", [("b", True, 1)])
        store.add_aliases("other", "mpid-1", ["c1"])
        assert store.forget("aud", ["c1"]) == 0
        assert _members(store, "aud", "mpid-1") == ["a"]
        assert store.forget("other", ["c1"]) == 1

    def test_forget_of_nothing_and_aliases_without_a_set(self, store: StateStore) -> None:
        assert store.forget("aud", []) == 0
        store.add_aliases("aud", "mpid-1", [])
        store.add_aliases("aud", "mpid-9", ["c9"])  # recorded before any membership
        assert store.forget("aud", ["c9"]) == 0
        store.update_membership("aud", "mpid-9", [("a", True, 1)])
        assert store.forget("aud", ["c9"]) == 0, "forgetting c9 removed the alias itself"
        assert _members(store, "aud", "mpid-9") == ["a"]

    def test_forget_matches_memory_store(self, store: StateStore) -> None:
        reference = MemoryStore()
        for target in (store, reference):
            for person in range(4):
                target.update_membership("aud", f"m{person}", [(f"s{person}", True, 1)])
                target.add_aliases("aud", f"m{person}", [f"c{person}", f"c{person + 1}"])
        for keys in (["c1"], ["m3", "c0"], ["c4"], ["m0", "m1", "m2", "m3"]):
            assert store.forget("aud", keys) == reference.forget("aud", keys), keys
            for person in range(4):
                assert _members(store, "aud", f"m{person}") == _members(
                    reference, "aud", f"m{person}"
                )
