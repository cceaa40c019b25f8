"""The per-person order part of the ``Queue`` contract (``QueueContract`` inherits it).

An entry whose action has an ``order_key`` is never handed out while an earlier entry of
the same key (same connection) is pending: leased, or waiting for a retry. Other keys go
on; several entries of one key may go in one claim, oldest first; a dead letter leaves
the queue and unblocks its key.
"""

from __future__ import annotations

from store_contract import FakeClock

from mapwire import Action
from mapwire.contracts.queue import Failure, Queue, QueueEntry


def of(person: str, n: int) -> Action:
    """An identify numbered ``n`` for ``person`` (its ordering key)."""
    payload = {"id": person, "n": n}
    return Action("customerio", "identify", payload, rule="people", order_key=person)


def numbers(entries: list[QueueEntry]) -> list[int]:
    return [e.action.payload["n"] for e in entries]


class OrderingContract:
    """Per-person order; needs the ``queue`` and ``clock`` fixtures of ``QueueContract``."""

    def test_a_persons_later_entry_waits_while_an_earlier_one_is_leased(
        self, queue: Queue, clock: FakeClock
    ) -> None:
        queue.enqueue("c", [of("p", 0), of("q", 1), of("p", 2), of("r", 3)])
        first = queue.claim("c", 1, 30)
        assert numbers(first) == [0]
        assert numbers(queue.claim("c", 10, 30)) == [1, 3], "p's next waits; others go"
        assert queue.claim("c", 10, 30) == []
        queue.ack([e.id for e in first])
        assert numbers(queue.claim("c", 10, 30)) == [2]

    def test_a_persons_new_entries_wait_behind_a_claim_in_flight(
        self, queue: Queue, clock: FakeClock
    ) -> None:
        queue.enqueue("c", [of("p", 0)])
        first = queue.claim("c", 10, 30)
        queue.enqueue("c", [of("p", 1), of("q", 2), of("p", 3)])
        assert numbers(queue.claim("c", 10, 30)) == [2]
        queue.ack([e.id for e in first])
        assert numbers(queue.claim("c", 10, 30)) == [1, 3], "in order, in one claim"

    def test_a_retry_blocks_its_persons_later_entries_until_it_is_delivered(
        self, queue: Queue, clock: FakeClock
    ) -> None:
        queue.enqueue("c", [of("p", 0), of("q", 1), of("p", 2)])
        first = queue.claim("c", 1, 30)
        queue.retry([e.id for e in first], clock.now + 10, "HTTP 503")
        assert numbers(queue.claim("c", 10, 30)) == [1], "p's entry 2 waits for the retry"
        clock.advance(10)
        again = queue.claim("c", 10, 30)
        assert numbers(again) == [0, 2], "the retried one first, then the later one"
        assert [e.attempts for e in again] == [1, 0]

    def test_a_claimed_entry_names_its_person(self, queue: Queue, clock: FakeClock) -> None:
        queue.enqueue("c", [of("p", 0), Action("customerio", "identify", {"n": 1})])
        assert [e.order_key for e in queue.claim("c", 10, 30)] == ["p", ""]

    def test_a_release_until_later_holds_the_persons_later_entries(
        self, queue: Queue, clock: FakeClock
    ) -> None:
        """What delivery does with an item that must wait (``Destination.send_delay``):
        given back untouched until a time, with its person's later entries behind it."""
        queue.enqueue("c", [of("p", 0), of("p", 1), of("p", 2), of("q", 3)])
        first = queue.claim("c", 10, 30)
        assert numbers(first) == [0, 1, 2, 3]
        queue.ack([first[0].id, first[3].id])
        queue.release([first[1].id, first[2].id], not_before=clock.now + 10)
        queue.enqueue("c", [of("p", 4)])
        assert queue.claim("c", 10, 30) == [], "p waits, with what it queues meanwhile"
        clock.advance(10)
        again = queue.claim("c", 10, 30)
        assert numbers(again) == [1, 2, 4] and [e.attempts for e in again] == [0, 0, 0]

    def test_a_later_entry_ready_first_still_waits_for_the_earlier_one(
        self, queue: Queue, clock: FakeClock
    ) -> None:
        queue.enqueue("c", [of("p", 0), of("p", 1)])
        both = queue.claim("c", 10, 30)
        assert numbers(both) == [0, 1]
        queue.retry([both[0].id], clock.now + 10, "HTTP 429")
        queue.release([both[1].id], not_before=clock.now + 5)
        clock.advance(6)
        assert queue.claim("c", 10, 30) == []
        clock.advance(4)
        assert numbers(queue.claim("c", 10, 30)) == [0, 1]

    def test_an_expired_lease_gives_the_persons_entries_back_in_order(
        self, queue: Queue, clock: FakeClock
    ) -> None:
        queue.enqueue("c", [of("p", 0)])
        queue.claim("c", 10, 30)
        queue.enqueue("c", [of("p", 1)])
        assert queue.claim("c", 10, 30) == []
        clock.advance(31)
        assert numbers(queue.claim("c", 10, 30)) == [0, 1]

    def test_a_dead_letter_unblocks_its_person(self, queue: Queue, clock: FakeClock) -> None:
        queue.enqueue("c", [of("p", 0), of("p", 1), of("p", 2)])
        first = queue.claim("c", 1, 30)
        assert queue.claim("c", 10, 30) == []
        queue.dead_letter([(first[0], Failure("refused"))])
        assert numbers(queue.claim("c", 10, 30)) == [1, 2]

    def test_a_requeued_dead_letter_keeps_its_person(self, queue: Queue, clock: FakeClock) -> None:
        queue.enqueue("c", [of("p", 0)])
        queue.dead_letter([(queue.claim("c", 1, 30)[0], Failure("refused"))])
        queue.enqueue("c", [of("p", 1)])
        later = queue.claim("c", 10, 30)
        assert numbers(later) == [1]
        assert queue.requeue_dead_letters(None, "c") == 1
        assert queue.claim("c", 10, 30) == [], "behind the person's entry in flight"
        queue.ack([e.id for e in later])
        assert numbers(queue.claim("c", 10, 30)) == [0]

    def test_persons_are_per_connection(self, queue: Queue, clock: FakeClock) -> None:
        queue.enqueue("a", [of("p", 0)])
        queue.enqueue("b", [of("p", 1)])
        assert numbers(queue.claim("a", 10, 30)) == [0]
        assert numbers(queue.claim("b", 10, 30)) == [1]

    def test_claims_never_hold_one_person_twice_at_once(
        self, queue: Queue, clock: FakeClock
    ) -> None:
        people = ["p", "q", "r"]
        queue.enqueue("c", [of(people[n % 3], n) for n in range(30)])
        held: dict[str, list[QueueEntry]] = {}
        seen: dict[str, list[int]] = {p: [] for p in people}
        for _ in range(40):
            got = queue.claim("c", 4, 30)
            for name in {e.action.payload["id"] for e in got} & set(held):
                raise AssertionError(f"{name} handed out while held")
            for e in got:
                held.setdefault(e.action.payload["id"], []).append(e)
            if held:  # settle the oldest holder's entries, like a worker finishing
                name = next(iter(held))
                done = held.pop(name)
                seen[name] += numbers(done)
                queue.ack([e.id for e in done])
        assert {p: sorted(ns) for p, ns in seen.items()} == seen
        assert sum(len(ns) for ns in seen.values()) == 30

    def test_a_backlog_parked_behind_a_busy_person_never_hides_their_next_entry(
        self, queue: Queue, clock: FakeClock
    ) -> None:
        """More entries wait behind one busy person than a claim could look at one by
        one; other claims read (park) them meanwhile. Once the person's entry in flight
        is delivered, their next ones go out, and the other person's entry went out at
        once."""
        queue.enqueue("c", [of("p", 0)])
        first = queue.claim("c", 1, 300)
        queue.enqueue("c", [of("p", n) for n in range(1, 12_001)])
        queue.enqueue("c", [of("q", 20_000)])
        others: list[int] = []
        for _ in range(15):
            clock.advance(0.1)
            others += numbers(queue.claim("c", 50, 300))
        assert others == [20_000]
        queue.ack([e.id for e in first])
        clock.advance(1)
        assert numbers(queue.claim("c", 5, 300)) == [1, 2, 3, 4, 5]

    def test_retried_people_come_back_through_a_crowd_of_older_parked_entries(
        self, queue: Queue, clock: FakeClock
    ) -> None:
        """3,000 people's first entries fail and wait 30 s; their 12,000 later entries are
        parked meanwhile, all ready before the retries. When the retry time comes, the
        people are free again: a claim hands out their entries, each person's oldest
        first."""
        people = [f"p{i}" for i in range(3_000)]
        queue.enqueue("c", [of(p, i * 10) for i, p in enumerate(people)])
        heads = queue.claim("c", len(people), 60)
        queue.enqueue("c", [of(p, i * 10 + k) for k in range(1, 5) for i, p in enumerate(people)])
        queue.retry([e.id for e in heads], clock.now + 30, "HTTP 503")
        for _ in range(13):
            clock.advance(1)
            assert queue.claim("c", 100, 60) == []
        clock.advance(30)
        got = queue.claim("c", 5, 60)
        assert len(got) == 5
        for person in {e.action.payload["id"] for e in got}:
            theirs = [e for e in got if e.action.payload["id"] == person]
            steps = [e.action.payload["n"] % 10 for e in theirs]
            assert steps == list(range(len(steps))), "each person's oldest first"
            assert theirs[0].attempts == 1
