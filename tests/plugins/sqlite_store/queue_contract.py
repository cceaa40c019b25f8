"""The ``Queue`` contract, as a test class any queue implementation can inherit.

Subclass ``QueueContract`` in a ``Test*`` class and implement ``make_queue``, and
``make_dedup`` (the state store the queue is normally paired with; dedup checks also run
against a ``MemoryStore``, the "some other store" case) and, for queues shared between
processes, ``process_opener``::

    class TestRedisQueueContract(QueueContract):
        def make_queue(self, location, clock):
            return RedisQueue(url, prefix=str(location), clock=clock)

        def make_dedup(self, location, clock):
            return RedisStore(url, prefix=str(location), clock=clock)

Class flags switch off what a queue does not promise: ``persistent`` (a queue opened again
on the same location sees earlier state) and ``shared_across_processes`` (runs the
multi-process checks, which use the real clock).

The multi-process workers below are module-level so that ``spawn`` children can import
them; ``process_opener`` must therefore return a picklable callable.
"""

from __future__ import annotations

import dataclasses
import multiprocessing
import os
import signal
import time
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, ClassVar, TypeVar

import pytest
from dead_letter_contract import DeadLetterContract
from ordering_contract import OrderingContract, of
from person_drop_contract import PersonDropContract
from store_contract import MP_TIMEOUT, FakeClock, run_workers

from mapwire import Action, MemoryStore, StateStore
from mapwire.contracts.queue import DeadLetter, EnqueueResult, Failure, Queue, QueueEntry

QueueOpener = Callable[[], Queue]


def act(n: int, *keys: str, connection_hint: str = "") -> Action:
    """A small track action numbered ``n``."""
    payload = {"userId": f"u{n}", "name": "Order Completed", "n": n, "hint": connection_hint}
    return Action("customerio", "track", payload, dedup_keys=keys, rule="orders")


def stored(action: Action) -> Action:
    """What a queue gives back for ``action``: everything but the dedup keys."""
    return dataclasses.replace(action, dedup_keys=())


def numbers(entries: list[QueueEntry]) -> list[int]:
    return [e.action.payload["n"] for e in entries]


F = TypeVar("F", bound=Callable[..., Any])


def needs(flag: str) -> Callable[[F], F]:
    """Mark a contract test as applying only to implementations whose ``flag`` is true;
    the others do not collect it at all (see conftest.py), rather than skip it."""

    def mark(test: F) -> F:
        test._needs = flag  # type: ignore[attr-defined]
        return test

    return mark


class QueueContract(DeadLetterContract, OrderingContract, PersonDropContract):
    """Checks every ``Queue`` must pass; see the module docstring (and, for the dead
    letters' kinds and history, ``dead_letter_contract``; for per-person order,
    ``ordering_contract``)."""

    persistent: ClassVar[bool] = True
    shared_across_processes: ClassVar[bool] = True
    #: offers ``enqueue_groups``: several inputs in one call, counted apart
    enqueue_groups: ClassVar[bool] = True

    # -- what a queue's test class provides -------------------------------------------
    def make_queue(self, location: Path, clock: FakeClock) -> Queue:
        """A queue at ``location`` (a fresh folder per test) reading time from ``clock``."""
        raise NotImplementedError

    def make_dedup(self, location: Path, clock: FakeClock) -> StateStore:
        """The state store this queue records dedup keys with atomically."""
        return MemoryStore()

    def process_opener(self, location: Path) -> QueueOpener:
        """A picklable callable opening the queue at ``location`` in another process."""
        raise NotImplementedError

    # -- fixtures -----------------------------------------------------------------------
    @pytest.fixture
    def clock(self) -> FakeClock:
        return FakeClock()

    @pytest.fixture
    def open_queue(self, tmp_path: Path, clock: FakeClock) -> Iterator[QueueOpener]:
        opened: list[Queue] = []

        def open_() -> Queue:
            queue = self.make_queue(tmp_path, clock)
            opened.append(queue)
            return queue

        yield open_
        for queue in opened:
            queue.close()

    @pytest.fixture
    def queue(self, open_queue: QueueOpener) -> Queue:
        return open_queue()

    @pytest.fixture(params=["paired", "memory"])
    def dedup(
        self, request: pytest.FixtureRequest, queue: Queue, tmp_path: Path, clock: FakeClock
    ) -> Iterator[StateStore]:
        store = self.make_dedup(tmp_path, clock) if request.param == "paired" else MemoryStore()
        yield store
        store.close()

    def enqueue_numbered(self, queue: Queue, count: int, connection: str = "c") -> None:
        result = queue.enqueue(connection, [act(n) for n in range(count)])
        assert (result.queued, result.duplicates) == (count, 0)

    # -- enqueue and claim --------------------------------------------------------------
    def test_claim_returns_oldest_first(self, queue: Queue, clock: FakeClock) -> None:
        first = [act(0), act(1, "k1"), act(2)]
        assert queue.enqueue("c", first) == EnqueueResult(3, 0)
        clock.advance(5)
        queue.enqueue("c", [act(3), act(4)])
        entries = queue.claim("c", 10, 30)
        assert numbers(entries) == [0, 1, 2, 3, 4]
        assert [e.action for e in entries[:3]] == [stored(a) for a in first]
        ids = [e.id for e in entries]
        assert ids == sorted(ids) and len(set(ids)) == 5
        assert {e.connection for e in entries} == {"c"}
        assert [e.attempts for e in entries] == [0] * 5
        assert [e.last_error for e in entries] == [""] * 5
        assert [e.enqueued_at for e in entries] == [clock.now - 5] * 3 + [clock.now] * 2

    def test_the_wire_prepared_at_intake_travels_with_the_action_until_dead_lettered(
        self, queue: Queue
    ) -> None:
        wire = b'cio1 v2 truncate 0 \n{"type":"person","name":"\xc3\xa9"}'
        prepared = dataclasses.replace(act(0), checked=True, wire=wire)
        spoof = act(1)  # a payload that looks like a wire inside is still none
        spoof.payload["x"], spoof.rule, spoof.checked = {"k": 1, "w": "no"}, "", True
        queue.enqueue("c", [prepared, spoof])
        first, second = queue.claim("c", 10, 30)
        assert (first.wire, first.action.wire, first.action.checked) == (wire, wire, True)
        assert second.wire is None and second.action == stored(spoof)
        assert first.action == stored(prepared)
        queue.dead_letter([(first, Failure("HTTP 400"))])
        assert queue.requeue_dead_letters(None, None) == 1
        [again] = queue.claim("c", 10, 30)
        assert again.action.payload == prepared.payload
        assert (again.action.wire, again.action.checked) == (None, False), "prepared anew"

    def test_claim_respects_limit(self, queue: Queue) -> None:
        self.enqueue_numbered(queue, 10)
        assert queue.claim("c", 0, 30) == []
        assert numbers(queue.claim("c", 3, 30)) == [0, 1, 2]
        assert numbers(queue.claim("c", 3, 30)) == [3, 4, 5]
        assert numbers(queue.claim("c", 100, 30)) == [6, 7, 8, 9]
        assert queue.claim("c", 100, 30) == []

    def test_connections_are_separate(self, queue: Queue) -> None:
        queue.enqueue("a", [act(1), act(2)])
        queue.enqueue("b", [act(3)])
        assert (queue.depth("a"), queue.depth("b"), queue.depth("z"), queue.depth()) == (2, 1, 0, 3)
        assert numbers(queue.claim("b", 10, 30)) == [3]
        entries = queue.claim("a", 10, 30)
        assert numbers(entries) == [1, 2]
        assert {e.connection for e in entries} == {"a"}

    def test_empty_enqueue_queues_nothing(self, queue: Queue) -> None:
        assert queue.enqueue("c", []) == EnqueueResult(0, 0)
        assert queue.depth() == 0

    # -- leases -------------------------------------------------------------------------
    def test_leased_entries_are_invisible_until_the_lease_runs_out(
        self, queue: Queue, clock: FakeClock
    ) -> None:
        self.enqueue_numbered(queue, 4)
        first = queue.claim("c", 2, 30)
        queue.retry([first[0].id], clock.now, "timeout")
        assert numbers(queue.claim("c", 10, 30)) == [0, 2, 3], "retried: claimable at once"
        clock.advance(29.9)
        assert queue.claim("c", 10, 30) == []
        assert queue.depth("c") == 4, "leased entries still count"
        clock.advance(0.1)
        again = queue.claim("c", 10, 30)
        assert numbers(again) == [0, 1, 2, 3]
        assert [e.attempts for e in again] == [1, 0, 0, 0], "an expired lease counts nothing"
        assert [e.last_error for e in again] == ["timeout", "", "", ""]

    # -- settling -------------------------------------------------------------------------
    def test_ack_deletes(self, queue: Queue, clock: FakeClock) -> None:
        self.enqueue_numbered(queue, 3)
        entries = queue.claim("c", 2, 30)
        queue.ack([e.id for e in entries])
        queue.ack([])
        assert queue.depth("c") == 1
        clock.advance(31)
        assert numbers(queue.claim("c", 10, 30)) == [2]
        queue.ack([entries[0].id])  # already gone: harmless

    def test_retry_counts_an_attempt_and_waits(self, queue: Queue, clock: FakeClock) -> None:
        self.enqueue_numbered(queue, 2)
        entries = queue.claim("c", 10, 60)
        queue.retry([e.id for e in entries], clock.now + 10, "HTTP 503")
        queue.retry([], clock.now, "nothing")
        clock.advance(9.9)
        assert queue.claim("c", 10, 60) == []
        clock.advance(0.1)
        entries = queue.claim("c", 10, 60)
        assert [(e.attempts, e.last_error) for e in entries] == [(1, "HTTP 503")] * 2
        queue.retry([entries[1].id], clock.now + 5, "HTTP 429")
        clock.advance(5)
        again = queue.claim("c", 10, 60)
        assert [(e.action.payload["n"], e.attempts, e.last_error) for e in again] == [
            (1, 2, "HTTP 429")
        ]

    def test_release_counts_no_attempt(self, queue: Queue, clock: FakeClock) -> None:
        self.enqueue_numbered(queue, 3)
        entries = queue.claim("c", 10, 60)
        queue.release([entries[0].id])
        queue.release([e.id for e in entries[1:]], not_before=clock.now + 20)
        queue.release([])
        now = queue.claim("c", 10, 60)
        assert [(e.action.payload["n"], e.attempts) for e in now] == [(0, 0)]
        clock.advance(20)
        later = queue.claim("c", 10, 60)
        assert [(e.action.payload["n"], e.attempts) for e in later] == [(1, 0), (2, 0)]

    def test_retried_entries_keep_their_place(self, queue: Queue, clock: FakeClock) -> None:
        self.enqueue_numbered(queue, 3)
        first = queue.claim("c", 1, 60)
        queue.retry([first[0].id], clock.now + 1, "x")
        clock.advance(1)
        assert numbers(queue.claim("c", 10, 60)) == [0, 1, 2]

    # -- dead letters -----------------------------------------------------------------------
    def test_the_intake_check_mark_survives_the_queue_but_not_a_dead_letter(
        self, queue: Queue
    ) -> None:
        checked = act(0)
        checked.checked = True
        queue.enqueue("c", [checked, act(1)])
        entries = queue.claim("c", 2, 60)
        assert [e.action.checked for e in entries] == [True, False]
        queue.dead_letter([(entries[0], Failure("refused"))])
        assert queue.requeue_dead_letters(None, "c") == 1
        queue.ack([entries[1].id])
        (again,) = queue.claim("c", 2, 60)
        assert again.action.payload["n"] == 0
        assert again.action.checked is False, "a dead letter put back is checked again"

    def test_dead_letter_moves_entries(self, queue: Queue, clock: FakeClock) -> None:
        self.enqueue_numbered(queue, 3)
        enqueued_at = clock.now
        entries = queue.claim("c", 10, 60)
        queue.retry([entries[0].id], clock.now, "HTTP 500")
        entries[0] = queue.claim("c", 1, 60)[0]
        clock.advance(7)
        request = {"method": "POST", "url": "https://track.example/api", "item": {"a": [1, 2]}}
        response = {"status": 400, "body": "bad ✗"}
        queue.dead_letter([(entries[0], Failure("rejected", request, response))])
        queue.dead_letter([(entries[2], Failure("not built"))])
        queue.dead_letter([])
        assert queue.depth("c") == 1
        clock.advance(1000)
        assert numbers(queue.claim("c", 10, 60)) == [1], "dead letters are never claimed"

        newest, oldest = queue.dead_letters()
        assert isinstance(oldest, DeadLetter)
        assert (oldest.action, oldest.connection, oldest.reason) == (
            stored(act(0)),
            "c",
            "rejected",
        )
        assert oldest.attempts == 2, "the retry and the final try"
        assert (oldest.enqueued_at, oldest.failed_at) == (enqueued_at, enqueued_at + 7)
        assert (oldest.request, oldest.response) == (request, response)
        assert (newest.action, newest.reason, newest.attempts) == (stored(act(2)), "not built", 1)
        assert (newest.request, newest.response) == ({}, {})
        assert queue.get_dead_letter(oldest.id) == oldest
        assert queue.get_dead_letter(newest.id) == newest
        assert queue.get_dead_letter(-12345) is None

    def dead_letter_all(self, queue: Queue, connection: str, count: int, reason: str) -> None:
        queue.enqueue(connection, [act(n, connection_hint=connection) for n in range(count)])
        entries = queue.claim(connection, count, 60)
        queue.dead_letter([(e, Failure(f"{reason} {e.action.payload['n']}")) for e in entries])

    def test_dead_letters_filter_and_page(self, queue: Queue, clock: FakeClock) -> None:
        self.dead_letter_all(queue, "a", 3, "a")
        self.dead_letter_all(queue, "b", 2, "b")
        reasons = [d.reason for d in queue.dead_letters()]
        assert reasons == ["b 1", "b 0", "a 2", "a 1", "a 0"]
        assert [d.reason for d in queue.dead_letters("a")] == ["a 2", "a 1", "a 0"]
        assert [d.reason for d in queue.dead_letters("b", limit=1)] == ["b 1"]
        assert [d.reason for d in queue.dead_letters(limit=2, offset=2)] == ["a 2", "a 1"]
        assert queue.dead_letters("nobody") == []
        assert queue.dead_letters(offset=10) == []

    def test_requeue_dead_letters(self, queue: Queue, clock: FakeClock) -> None:
        self.dead_letter_all(queue, "a", 3, "a")
        self.dead_letter_all(queue, "b", 2, "b")
        clock.advance(100)
        by_reason = {d.reason: d.id for d in queue.dead_letters()}
        assert queue.requeue_dead_letters([], None) == 0
        assert queue.requeue_dead_letters([by_reason["a 2"], by_reason["a 0"]], None) == 2
        assert queue.requeue_dead_letters([by_reason["b 0"]], "a") == 0, "filters combine"
        assert [d.reason for d in queue.dead_letters()] == ["b 1", "b 0", "a 1"]
        entries = queue.claim("a", 10, 60)
        assert numbers(entries) == [0, 2], "requeued oldest first"
        assert {(e.attempts, e.enqueued_at, e.last_error) for e in entries} == {(0, clock.now, "")}
        assert queue.requeue_dead_letters(None, "b") == 2
        assert [d.reason for d in queue.dead_letters()] == ["a 1"]
        assert numbers(queue.claim("b", 10, 60)) == [0, 1]
        assert queue.requeue_dead_letters(None, None) == 1
        assert queue.dead_letters() == []
        assert queue.depth() == 5

    def test_purge_dead_letters(self, queue: Queue, clock: FakeClock) -> None:
        self.dead_letter_all(queue, "a", 2, "old a")
        self.dead_letter_all(queue, "b", 2, "old b")
        clock.advance(50)
        self.dead_letter_all(queue, "a", 2, "new a")
        clock.advance(10)
        ids = {d.reason: d.id for d in queue.dead_letters()}
        assert queue.purge_dead_letters([], None, None) == 0
        assert queue.purge_dead_letters([ids["new a 0"]], "b", None) == 0
        assert queue.purge_dead_letters(None, "a", 60) == 0, "not older than 60 s"
        assert queue.purge_dead_letters(None, "a", 59) == 2
        assert queue.purge_dead_letters([ids["new a 0"], ids["old b 1"]], None, None) == 2
        assert sorted(d.reason for d in queue.dead_letters()) == ["new a 1", "old b 0"]
        assert queue.purge_dead_letters(None, None, None) == 2
        assert queue.dead_letters() == []
        assert queue.depth() == 0, "purging never touches the queue"

    # -- dedup --------------------------------------------------------------------------
    def test_dedup_within_one_call(self, queue: Queue, dedup: StateStore) -> None:
        actions = [act(0, "k1"), act(1, "k1"), act(2, "k2"), act(3, "k2", "k3"), act(4)]
        result = queue.enqueue("c", actions, dedup=dedup)
        assert (result.queued, result.duplicates) == (3, 2)
        assert numbers(queue.claim("c", 10, 60)) == [0, 2, 4]
        again = queue.enqueue("c", [act(5, "k3")], dedup=dedup)
        assert (again.queued, again.duplicates) == (0, 1), "a duplicate's keys are recorded"

    def test_dedup_across_calls_and_connections(self, queue: Queue, dedup: StateStore) -> None:
        assert queue.enqueue("a", [act(0, "k1", "k2")], dedup=dedup).queued == 1
        result = queue.enqueue("a", [act(1, "k9", "k2"), act(2, "k3")], dedup=dedup)
        assert (result.queued, result.duplicates) == (1, 1)
        other = queue.enqueue("b", [act(3, "k1"), act(4, "k9")], dedup=dedup)
        assert (other.queued, other.duplicates) == (2, 0), "each connection is a namespace"
        assert [dedup.first_seen("a", k) for k in ("k1", "k2", "k3", "k9", "k4")] == [
            False,
            False,
            False,
            False,
            True,
        ], "keys are recorded in the connection's namespace"
        assert numbers(queue.claim("a", 10, 60)) == [0, 2]
        assert numbers(queue.claim("b", 10, 60)) == [3, 4]

    def test_without_a_store_keys_are_ignored(self, queue: Queue) -> None:
        result = queue.enqueue("c", [act(0, "k"), act(1, "k")])
        assert (result.queued, result.duplicates) == (2, 0)

    def test_all_duplicates(self, queue: Queue, dedup: StateStore) -> None:
        queue.enqueue("c", [act(0, "k")], dedup=dedup)
        result = queue.enqueue("c", [act(1, "k"), act(2, "k")], dedup=dedup, progress=("p", "2"))
        assert (result.queued, result.duplicates) == (0, 2)
        assert queue.depth("c") == 1
        assert queue.progress("p") == "2"

    def test_dedup_ttl(self, queue: Queue, dedup: StateStore, clock: FakeClock) -> None:
        assert queue.enqueue("c", [act(0, "k")], dedup=dedup, dedup_ttl=60).queued == 1
        clock.advance(59)
        assert queue.enqueue("c", [act(1, "k")], dedup=dedup, dedup_ttl=60).queued == 0
        clock.advance(1)
        # An expired key is new again; MemoryStore (dry runs) documents that it keeps
        # keys for the life of the process, so there the key is still a duplicate.
        expected = 0 if isinstance(dedup, MemoryStore) else 1
        assert queue.enqueue("c", [act(2, "k")], dedup=dedup, dedup_ttl=60).queued == expected

    # -- several inputs in one call (``enqueue_groups``, optional) -----------------------
    @needs("enqueue_groups")
    def test_each_group_is_counted_as_if_queued_alone(
        self, queue: Queue, dedup: StateStore
    ) -> None:
        grouped: Any = queue
        queue.enqueue("c", [act(0, "seen-before")], dedup=dedup)
        groups = [
            [act(1, "a"), act(2, "b")],
            [act(3, "seen-before")],  # a redelivery of what an earlier call queued
            [act(4, "a"), act(5, "c")],  # repeats a key of the first group: a duplicate here
            [],
            [act(6)],  # no keys: never a duplicate
        ]
        results = grouped.enqueue_groups("c", groups, dedup=dedup, progress=("file", "9"))
        assert [(r.queued, r.duplicates) for r in results] == [
            (2, 0),
            (0, 1),
            (1, 1),
            (0, 0),
            (1, 0),
        ]
        assert numbers(queue.claim("c", 10, 60)) == [0, 1, 2, 5, 6], "in the groups' order"
        assert queue.progress("file") == "9"

    @needs("enqueue_groups")
    def test_groups_of_duplicates_alone_queue_nothing(
        self, queue: Queue, dedup: StateStore
    ) -> None:
        grouped: Any = queue
        queue.enqueue("c", [act(0, "k")], dedup=dedup)
        results = grouped.enqueue_groups("c", [[act(1, "k")], [act(2, "k")]], dedup=dedup)
        assert [(r.queued, r.duplicates) for r in results] == [(0, 1), (0, 1)]
        assert queue.depth("c") == 1

    @needs("enqueue_groups")
    def test_one_unstorable_action_refuses_every_group(
        self, queue: Queue, dedup: StateStore
    ) -> None:
        """One call, one transaction: nothing of any group is recorded, keys included (the
        caller then queues apart the groups it can)."""
        grouped: Any = queue
        bad = act(2, "b")
        bad.payload["bad"] = {1, 2}
        with pytest.raises(TypeError):
            grouped.enqueue_groups("c", [[act(1, "a")], [bad]], dedup=dedup)
        assert queue.depth("c") == 0
        assert dedup.first_seen("c", "a") is True, "no key was recorded"

    # -- progress and atomicity ----------------------------------------------------------
    def test_progress_is_recorded_with_the_enqueue(self, queue: Queue) -> None:
        assert queue.progress("send:c:file") is None
        queue.enqueue("c", [act(0)], progress=("send:c:file", "n120:3@ab"))
        assert queue.progress("send:c:file") == "n120:3@ab"
        queue.enqueue("c", [], progress=("send:c:file", "done"))
        assert queue.progress("send:c:file") == "done"
        queue.enqueue("c", [act(1)], progress=("other", "1"))
        assert (queue.progress("send:c:file"), queue.progress("other")) == ("done", "1")

    def test_an_action_that_cannot_be_stored_fails_the_whole_call(
        self, queue: Queue, dedup: StateStore
    ) -> None:
        queue.enqueue("c", [act(0)], progress=("p", "before"))
        actions = [act(n, f"k{n}") for n in range(1, 6)]
        actions[3].payload["bad"] = object()
        with pytest.raises((TypeError, ValueError)):
            queue.enqueue("c", actions, dedup=dedup, progress=("p", "after"))
        assert queue.depth("c") == 1
        assert queue.progress("p") == "before"
        assert [dedup.first_seen("c", f"k{n}") for n in range(1, 6)] == [True] * 5

    # -- depth and next_ready_at ------------------------------------------------------------
    def test_depth_and_next_ready_at(self, queue: Queue, clock: FakeClock) -> None:
        assert (queue.depth(), queue.depth("c"), queue.next_ready_at("c")) == (0, 0, None)
        self.enqueue_numbered(queue, 3)
        ready = queue.next_ready_at("c")
        assert ready is not None and ready <= clock.now
        entries = queue.claim("c", 10, 30)
        assert queue.next_ready_at("c") == clock.now + 30
        queue.retry([entries[1].id], clock.now + 10, "x")
        assert queue.next_ready_at("c") == clock.now + 10
        queue.ack([e.id for e in entries])
        assert (queue.depth("c"), queue.next_ready_at("c")) == (0, None)
        assert queue.next_ready_at("other") is None

    # -- data ---------------------------------------------------------------------------
    def test_unicode_and_json_values_round_trip(self, queue: Queue, clock: FakeClock) -> None:
        payload: dict[str, Any] = {
            "name": 'Zoë 😀 北京 \u200b\t\n"quoted" \\ /',
            "nested": {"list": [1, -2, 3.25, 1e-300, 2**62, None, True, False, "", [], {}]},
            "ключ": "значение",
            "nul": "a\x00b",
        }
        action = Action("dést 🚀", "trâck", payload, rule="règle ✓")
        queue.enqueue("connexion ✓", [action])
        (entry,) = queue.claim("connexion ✓", 1, 30)
        assert entry.action == action
        assert entry.connection == "connexion ✓"
        failure = Failure("refusé ✗", {"item": payload}, {"body": "ошибка"})
        queue.dead_letter([(entry, failure)])
        (dead,) = queue.dead_letters("connexion ✓")
        assert (dead.action, dead.reason, dead.request, dead.response) == (
            action,
            "refusé ✗",
            {"item": payload},
            {"body": "ошибка"},
        )

    # -- persistence --------------------------------------------------------------------
    @needs("persistent")
    def test_state_persists_across_reopen(self, open_queue: QueueOpener, clock: FakeClock) -> None:
        first = open_queue()
        self.enqueue_numbered(first, 4)
        first.enqueue("c", [], progress=("p", "v"))
        entries = first.claim("c", 2, 30)
        first.dead_letter([(entries[0], Failure("gone"))])
        first.close()
        second = open_queue()
        assert (second.depth("c"), second.progress("p")) == (3, "v")
        assert [d.reason for d in second.dead_letters()] == ["gone"]
        assert numbers(second.claim("c", 10, 30)) == [2, 3], "the lease survives too"
        clock.advance(30)
        assert numbers(second.claim("c", 10, 30)) == [1, 2, 3]

    # -- several processes --------------------------------------------------------------
    @needs("shared_across_processes")
    def test_processes_claim_each_entry_exactly_once(self, tmp_path: Path) -> None:
        opener = self.process_opener(tmp_path)
        queue = opener()
        try:
            for start in range(0, 3000, 500):
                queue.enqueue("mp", [act(n) for n in range(start, start + 500)])
        finally:
            queue.close()
        results = run_workers([(claim_until_empty, (opener, "mp", 7 + i)) for i in range(3)])
        counts = Counter(n for claimed in results for n in claimed)
        assert set(counts) == set(range(3000))
        assert set(counts.values()) == {1}
        assert all(results), "every process got a share"

    @needs("shared_across_processes")
    def test_lease_of_a_stuck_process_runs_out(self, tmp_path: Path) -> None:
        opener = self.process_opener(tmp_path)
        queue = opener()
        lease = 1.5
        try:
            queue.enqueue("mp", [act(n) for n in range(20)])
            proc, report = start_claimer(opener, lease)
            try:
                claimed_at, held = report.get(timeout=MP_TIMEOUT)
                assert proc.pid is not None
                os.kill(proc.pid, signal.SIGSTOP)  # alive but stuck: its lease must run out
                assert held == list(range(10))
                assert numbers(queue.claim("mp", 100, 60)) == list(range(10, 20))
                time.sleep(max(0.0, claimed_at + lease - time.time()) + 0.05)
                (taken,) = run_workers([(claim_once, (opener, "mp"))])
            finally:
                assert proc.pid is not None
                os.kill(proc.pid, signal.SIGKILL)
                proc.join(MP_TIMEOUT)
        finally:
            queue.close()
        assert taken == [(n, 0) for n in range(10)], "claimable again, no attempt counted"

    @needs("shared_across_processes")
    def test_claims_of_a_killed_process_come_back_at_once_in_order(self, tmp_path: Path) -> None:
        opener = self.process_opener(tmp_path)
        queue = opener()
        try:
            assert queue.claim("mp", 100, 60) == []  # this object has claimed: it will wait
            queue.enqueue("mp", [of(f"p{n % 5}", n) for n in range(10)])
            proc, report = start_claimer(opener, 600)
            try:
                _claimed_at, held = report.get(timeout=MP_TIMEOUT)
            finally:
                assert proc.pid is not None
                os.kill(proc.pid, signal.SIGKILL)
                proc.join(MP_TIMEOUT)
            assert held == list(range(10))
            queue.enqueue("mp", [of(f"p{n % 5}", n) for n in range(10, 15)])
            assert queue.claim("mp", 100, 60) == [], "behind the dead process's leases"
        finally:
            queue.close()
        (taken,) = run_workers([(claim_once, (opener, "mp"))])
        assert [n for n, _ in taken] == list(range(15)), "a new process takes them over now"


def start_claimer(opener: QueueOpener, lease: float) -> tuple[Any, Any]:
    """A spawned process that claims 10 entries of ``mp`` and reports them."""
    ctx = multiprocessing.get_context("spawn")
    report = ctx.Queue()
    proc = ctx.Process(target=claim_and_hang, args=(opener, "mp", 10, lease, report))
    proc.start()
    return proc, report


# -- workers (module-level, for spawn) -------------------------------------------------------
def claim_until_empty(opener: QueueOpener, connection: str, batch: int, barrier: Any) -> list[int]:
    """Claim, "deliver" (a short sleep) and ack batches until the queue is empty; return
    the numbers claimed."""
    queue = opener()
    claimed: list[int] = []
    try:
        barrier.wait(timeout=MP_TIMEOUT)
        while entries := queue.claim(connection, batch, 60):
            claimed += numbers(entries)
            time.sleep(0.001)
            queue.ack([e.id for e in entries])
        return claimed
    finally:
        queue.close()


def claim_and_hang(
    opener: QueueOpener, connection: str, limit: int, lease: float, report: Any
) -> None:
    """Claim ``limit`` entries, report them, then wait to be killed."""
    queue = opener()
    entries = queue.claim(connection, limit, lease)
    report.put((time.time(), numbers(entries)))
    time.sleep(MP_TIMEOUT)


def claim_once(opener: QueueOpener, connection: str, barrier: Any) -> list[tuple[int, int]]:
    """Claim everything ready; return (number, attempts) pairs."""
    barrier.wait(timeout=MP_TIMEOUT)
    queue = opener()
    try:
        return [(e.action.payload["n"], e.attempts) for e in queue.claim(connection, 100, 60)]
    finally:
        queue.close()
