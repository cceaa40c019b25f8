"""The ``StateStore`` contract, as a test class any store implementation can inherit.

Subclass ``StateStoreContract`` in a ``Test*`` class and implement ``make_store`` (and, for
stores shared between processes, ``process_opener``)::

    class TestRedisStoreContract(StateStoreContract):
        def make_store(self, location, clock):
            return RedisStore(url, prefix=str(location), clock=clock)

Class flags switch off what a store does not promise: ``supports_ttl`` (honours ``ttl``
against the injected clock), ``persistent`` (a store opened again on the same location sees
earlier state) and ``shared_across_processes`` (runs the multi-process checks).

The multi-process workers below are module-level so that ``spawn`` children can import
them; ``process_opener`` must therefore return a picklable callable.
"""

from __future__ import annotations

import multiprocessing
import random
import time
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from queue import Empty
from typing import Any, ClassVar, TypeVar

import pytest

from mapwire import MemoryStore, StateStore
from mapwire.contracts.store import ChangeOutcome, membership_update

StoreOpener = Callable[[], StateStore]
Change = tuple[str, bool, int]

MP_TIMEOUT = 60.0


F = TypeVar("F", bound=Callable[..., Any])


def needs(flag: str) -> Callable[[F], F]:
    """Mark a contract test as applying only to implementations whose ``flag`` is true;
    the others do not collect it at all (see conftest.py), rather than skip it."""

    def mark(test: F) -> F:
        test._needs = flag  # type: ignore[attr-defined]
        return test

    return mark


class FakeClock:
    """A clock that stands still until the test moves it."""

    def __init__(self, now: float = 1_700_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


class StateStoreContract:
    """Checks every ``StateStore`` must pass; see the module docstring."""

    supports_ttl: ClassVar[bool] = True
    persistent: ClassVar[bool] = True
    shared_across_processes: ClassVar[bool] = True

    # -- what a store's test class provides -------------------------------------------
    def make_store(self, location: Path, clock: FakeClock) -> StateStore:
        """A store at ``location`` (a fresh folder per test) reading time from ``clock``."""
        raise NotImplementedError

    def process_opener(self, location: Path) -> StoreOpener:
        """A picklable callable opening the store at ``location`` in another process."""
        raise NotImplementedError

    def kept_dedup_keys(self, store: StateStore, namespace: str) -> int:
        """How many dedup keys of ``namespace`` the back end holds and will not remove by
        itself (rows not yet purged; keys without an expiry). Needed for ``supports_ttl``."""
        raise NotImplementedError

    # -- fixtures -----------------------------------------------------------------------
    @pytest.fixture
    def clock(self) -> FakeClock:
        return FakeClock()

    @pytest.fixture
    def open_store(self, tmp_path: Path, clock: FakeClock) -> Iterator[StoreOpener]:
        opened: list[StateStore] = []

        def open_() -> StateStore:
            store = self.make_store(tmp_path, clock)
            opened.append(store)
            return store

        yield open_
        for store in opened:
            store.close()

    @pytest.fixture
    def store(self, open_store: StoreOpener) -> StateStore:
        return open_store()

    # -- first_seen ---------------------------------------------------------------------
    def test_first_seen_new_then_duplicate(self, store: StateStore) -> None:
        assert store.first_seen("orders", "A1") is True
        assert store.first_seen("orders", "A1") is False
        assert store.first_seen("orders", "A1") is False
        assert store.first_seen("orders", "A2") is True

    def test_first_seen_namespaces_are_separate(self, store: StateStore) -> None:
        assert store.first_seen("a", "k") is True
        assert store.first_seen("b", "k") is True
        assert store.first_seen("a", "k") is False
        assert store.first_seen("b", "k") is False

    def test_first_seen_keys_are_exact(self, store: StateStore) -> None:
        keys = ["k", "K", "k ", "", "ключ", "🔑", "a\x00b", "a"]
        assert [store.first_seen("ns", k) for k in keys] == [True] * len(keys)
        assert [store.first_seen("ns", k) for k in keys] == [False] * len(keys)

    def test_forget_seen_makes_only_the_named_keys_new_again(self, store: StateStore) -> None:
        """The optional ``forget_seen`` (every store here has it): a queue takes back the
        keys of an input it failed to queue."""
        keys = ["k", "K", "", "ключ", "a\x00b", "kept"]
        assert [store.first_seen("ns", k, 60) for k in keys] == [True] * len(keys)
        store.first_seen("other", "k")
        forget_seen = store.forget_seen  # type: ignore[attr-defined]
        forget_seen("ns", ["k", "K", "", "ключ", "a\x00b", "k", "never seen"])
        forget_seen("ns", [])
        assert [store.first_seen("ns", k) for k in keys] == [True] * 5 + [False]
        assert store.first_seen("other", "k") is False, "namespaces are separate"

    @needs("supports_ttl")
    def test_ttl_expiry(self, store: StateStore, clock: FakeClock) -> None:
        assert store.first_seen("ns", "k", ttl=60) is True
        clock.advance(59.5)
        assert store.first_seen("ns", "k", ttl=60) is False
        clock.advance(0.5)
        assert store.first_seen("ns", "k", ttl=60) is True, "expired keys are new again"
        clock.advance(30)
        assert store.first_seen("ns", "k", ttl=60) is False, "re-recorded with a new TTL"
        clock.advance(30)
        assert store.first_seen("ns", "k", ttl=60) is True

    @needs("supports_ttl")
    def test_ttl_is_not_extended_by_duplicates(self, store: StateStore, clock: FakeClock) -> None:
        assert store.first_seen("ns", "k", ttl=10) is True
        for _ in range(3):
            clock.advance(3)
            assert store.first_seen("ns", "k", ttl=10) is False
        clock.advance(1)
        assert store.first_seen("ns", "k", ttl=10) is True

    def test_no_ttl_never_expires(self, store: StateStore, clock: FakeClock) -> None:
        assert store.first_seen("ns", "forever") is True
        clock.advance(10 * 365 * 86400)
        assert store.first_seen("ns", "forever", ttl=1) is False

    @needs("supports_ttl")
    def test_expired_key_revived_without_ttl_stays(
        self, store: StateStore, clock: FakeClock
    ) -> None:
        store.first_seen("ns", "k", ttl=1)
        clock.advance(2)
        assert store.first_seen("ns", "k") is True
        clock.advance(1e6)
        assert store.first_seen("ns", "k") is False

    @needs("supports_ttl")
    def test_expired_keys_are_removed_so_storage_stays_bounded(
        self, store: StateStore, clock: FakeClock
    ) -> None:
        per_day, days = 20, 40
        held = []
        for day in range(days):
            for i in range(per_day):
                assert store.first_seen("ns", f"d{day}-k{i}", ttl=86400) is True
            clock.advance(86400)
            held.append(self.kept_dedup_keys(store, "ns"))
        # Keys live one day: what is kept stays a few days' worth, not all 800 recorded.
        assert max(held) <= 8 * per_day, held
        for i in range(per_day):
            store.first_seen("forever", f"k{i}")
        clock.advance(365 * 86400)
        store.first_seen("ns", "one more", ttl=86400)
        assert self.kept_dedup_keys(store, "forever") == per_day, "keys without a TTL stay"

    # -- update_membership --------------------------------------------------------------
    def test_membership_outcomes_say_applied_or_stale(self, store: StateStore) -> None:
        update = membership_update(store, "seg", "u1", [("a", True, 10), ("b", False, 10)])
        assert update.members == ["a"]
        assert update.outcomes == [
            ChangeOutcome("a", True, True, None),
            ChangeOutcome("b", False, True, None),
        ]
        update = membership_update(
            store,
            "seg",
            "u1",
            [("a", False, 5), ("b", True, 10), ("a", False, 11), ("a", True, 11)],
        )
        assert update.members == ["a", "b"]
        assert update.outcomes == [
            ChangeOutcome("a", False, False, True),  # older than the stored add: stale
            ChangeOutcome("b", True, True, False),  # equal version, applied later: wins
            ChangeOutcome("a", False, True, True),
            ChangeOutcome("a", True, True, False),  # sees the change before it in the call
        ]
        assert membership_update(store, "seg", "u1", []).members == ["a", "b"]

    def test_membership_add_and_delete(self, store: StateStore) -> None:
        assert store.update_membership("seg", "u1", [("b", True, 1), ("a", True, 2)]) == [
            "a",
            "b",
        ]
        assert store.update_membership("seg", "u1", [("a", False, 3)]) == ["b"]
        assert store.update_membership("seg", "u1", [("c", True, 4)]) == ["b", "c"]

    def test_membership_empty_changes_reads(self, store: StateStore) -> None:
        assert store.update_membership("seg", "nobody", []) == []
        store.update_membership("seg", "u1", [("x", True, 1)])
        assert store.update_membership("seg", "u1", []) == ["x"]

    def test_membership_out_of_order_versions(self, store: StateStore) -> None:
        store.update_membership("seg", "u1", [("a", False, 5)])
        assert store.update_membership("seg", "u1", [("a", True, 3)]) == [], "tombstone wins"
        store.update_membership("seg", "u1", [("b", True, 9)])
        assert store.update_membership("seg", "u1", [("b", False, 8)]) == ["b"]
        assert store.update_membership("seg", "u1", [("b", False, 10)]) == []
        assert store.update_membership("seg", "u1", [("b", True, 11)]) == ["b"]

    def test_membership_versions_compare_exactly_past_float_precision(
        self, store: StateStore
    ) -> None:
        big = 2**53  # 2**53 + 1 is the first integer a float cannot hold
        store.update_membership("seg", "u1", [("a", True, big + 1)])
        assert store.update_membership("seg", "u1", [("a", False, big)]) == ["a"], "older"
        assert store.update_membership("seg", "u1", [("a", False, big + 2)]) == []
        store.update_membership("seg", "u1", [("b", False, -big - 1)])
        assert store.update_membership("seg", "u1", [("b", True, -big - 2)]) == []
        assert store.update_membership("seg", "u1", [("b", True, -big)]) == ["b"]
        assert store.update_membership("seg", "u1", [("b", False, 0), ("b", True, -1)]) == []

    def test_membership_out_of_order_within_one_call(self, store: StateStore) -> None:
        changes = [("a", True, 2), ("a", False, 1), ("b", False, 1), ("b", True, 2)]
        assert store.update_membership("seg", "u1", changes) == ["a", "b"]

    def test_membership_duplicate_changes(self, store: StateStore) -> None:
        changes = [("a", True, 1), ("a", True, 1), ("b", True, 1)]
        assert store.update_membership("seg", "u1", changes) == ["a", "b"]
        assert store.update_membership("seg", "u1", changes) == ["a", "b"]

    def test_membership_equal_version_applied_later_wins(self, store: StateStore) -> None:
        assert store.update_membership("seg", "u1", [("a", True, 1), ("a", False, 1)]) == []
        assert store.update_membership("seg", "u1", [("a", True, 1)]) == ["a"]

    def test_membership_sets_are_separate(self, store: StateStore) -> None:
        store.update_membership("seg", "u1", [("a", True, 1)])
        store.update_membership("seg", "u2", [("b", True, 1)])
        store.update_membership("other", "u1", [("c", True, 1)])
        assert store.update_membership("seg", "u1", []) == ["a"]
        assert store.update_membership("seg", "u2", []) == ["b"]
        assert store.update_membership("other", "u1", []) == ["c"]

    def test_membership_sorted_unicode(self, store: StateStore) -> None:
        members = ["é", "z", "A", "a", "😀", "ß", "10", "9"]
        changes = [(m, True, i) for i, m in enumerate(members)]
        assert store.update_membership("seg", "u1", changes) == sorted(members)

    def test_membership_matches_memory_store(self, store: StateStore) -> None:
        rng = random.Random(7)
        reference = MemoryStore()
        for _ in range(40):
            changes = random_changes(rng, rng.randint(0, 6), versions=range(0, 12))
            assert store.update_membership("seg", "u", changes) == reference.update_membership(
                "seg", "u", changes
            )

    # -- persistence --------------------------------------------------------------------
    @needs("persistent")
    def test_state_persists_across_reopen(self, open_store: StoreOpener) -> None:
        first = open_store()
        first.first_seen("ns", "k")
        first.update_membership("seg", "u1", [("a", True, 1), ("b", True, 1), ("b", False, 2)])
        first.close()
        second = open_store()
        assert second.first_seen("ns", "k") is False
        assert second.update_membership("seg", "u1", [("b", True, 1)]) == ["a"]

    # -- several processes --------------------------------------------------------------
    @needs("shared_across_processes")
    def test_processes_see_each_key_new_exactly_once(self, tmp_path: Path) -> None:
        opener = self.process_opener(tmp_path)
        keys = [[f"k{j}" for j in range(i * 150, i * 150 + 600)] for i in range(4)]
        results = run_workers(
            [(hammer_first_seen, (opener, ks, i % 2 == 1, i)) for i, ks in enumerate(keys)]
        )
        counts = Counter(key for new in results for key in new)
        assert set(counts) == {k for ks in keys for k in ks}
        assert set(counts.values()) == {1}

    @needs("shared_across_processes")
    def test_processes_open_fresh_stores_together(self, tmp_path: Path) -> None:
        """Six processes create each of twelve new stores at the same moment."""
        rounds = []
        for i in range(12):
            (tmp_path / f"round{i}").mkdir()
            rounds.append(self.process_opener(tmp_path / f"round{i}"))
        schedule = [(opener, 0.04 * i) for i, opener in enumerate(rounds)]
        results = run_workers([(open_on_schedule, (schedule,)) for _ in range(6)])
        for i in range(len(rounds)):
            assert sum(flags[i] for flags in results) == 1, f"round {i}: {results}"

    @needs("shared_across_processes")
    def test_processes_converge_on_membership(self, tmp_path: Path) -> None:
        opener = self.process_opener(tmp_path)
        rng = random.Random(11)
        changes = random_changes(rng, 400, versions=range(1_000))
        changes += changes[:40]  # duplicates arrive too
        rng.shuffle(changes)
        halves = [changes[0::2], changes[1::2]]
        run_workers([(apply_membership, (opener, half, i)) for i, half in enumerate(halves)])
        expected = MemoryStore().update_membership("seg", "u", changes)
        store = opener()
        try:
            assert store.update_membership("seg", "u", []) == expected
        finally:
            store.close()


# -- helpers shared with the workers ---------------------------------------------------
def random_changes(rng: random.Random, n: int, *, versions: range) -> list[Change]:
    """``n`` changes over 30 members; versions are distinct while the range allows."""
    picked = rng.sample(versions, n) if n <= len(versions) else rng.choices(versions, k=n)
    return [(f"m{rng.randrange(30)}", rng.random() < 0.6, v) for v in picked]


def run_workers(jobs: Sequence[tuple[Callable[..., Any], tuple[Any, ...]]]) -> list[Any]:
    """Run each ``(function, args)`` in its own spawned process; start them together.

    Each function is called as ``function(*args, barrier)`` and its return value is sent
    back; a worker's exception fails the test with the worker's traceback text.
    """
    ctx = multiprocessing.get_context("spawn")
    barrier = ctx.Barrier(len(jobs))
    queue = ctx.Queue()
    procs = [
        ctx.Process(target=_worker_main, args=(queue, function, (*args, barrier)))
        for function, args in jobs
    ]
    for proc in procs:
        proc.start()
    results: list[Any] = []
    try:
        for _ in procs:
            ok, value = queue.get(timeout=MP_TIMEOUT)
            if not ok:
                pytest.fail(f"worker failed:\n{value}")
            results.append(value)
    except Empty:
        pytest.fail("a worker process did not report back in time")
    finally:
        for proc in procs:
            proc.join(timeout=MP_TIMEOUT)
            if proc.is_alive():
                proc.kill()
                proc.join()
        queue.close()
        queue.join_thread()
    return results


def _worker_main(queue: Any, function: Callable[..., Any], args: tuple[Any, ...]) -> None:
    import traceback

    try:
        queue.put((True, function(*args)))
    except BaseException:
        queue.put((False, traceback.format_exc()))


def hammer_first_seen(
    opener: StoreOpener, keys: list[str], batched: bool, seed: int, barrier: Any
) -> list[str]:
    """Record ``keys`` in a shuffled order; return the ones this process saw first."""
    keys = list(keys)
    random.Random(seed).shuffle(keys)
    barrier.wait(timeout=MP_TIMEOUT)
    store = opener()  # after the barrier: creating a fresh store is part of the race
    try:
        many = getattr(store, "first_seen_many", None)
        if batched and many is not None:
            new: list[str] = []
            for start in range(0, len(keys), 20):
                chunk = keys[start : start + 20]
                new += [k for k, flag in zip(chunk, many("mp", chunk), strict=True) if flag]
            return new
        return [k for k in keys if store.first_seen("mp", k)]
    finally:
        store.close()


def open_on_schedule(schedule: list[tuple[StoreOpener, float]], barrier: Any) -> list[bool]:
    """At each scheduled time after the barrier, open a store and record one key in it."""
    barrier.wait(timeout=MP_TIMEOUT)
    start = time.monotonic()
    flags = []
    for opener, offset in schedule:
        time.sleep(max(0.0, start + offset - time.monotonic()))
        store = opener()
        try:
            flags.append(store.first_seen("race", "k"))
        finally:
            store.close()
    return flags


def apply_membership(opener: StoreOpener, changes: list[Change], seed: int, barrier: Any) -> int:
    """Apply ``changes`` in small random chunks; return how many calls were made."""
    rng = random.Random(seed)
    barrier.wait(timeout=MP_TIMEOUT)
    store = opener()
    calls = 0
    try:
        start = 0
        while start < len(changes):
            size = rng.randint(1, 5)
            store.update_membership("seg", "u", changes[start : start + size])
            start += size
            calls += 1
        return calls
    finally:
        store.close()
