"""The erasure part of the ``Queue`` contract (``QueueContract`` inherits it).

``drop_person(connection, order_key)`` deletes, atomically, a person's entries that no
worker holds (new, waiting for a retry, or whose lease ran out), and marks the ones a
worker has claimed (they may already be in flight): such an entry is removed when it is
acknowledged, and deleted when it is retried, released or dead-lettered (each returns how
many it deleted so), or when its lease runs out: it is never sent again, nor kept as a
dead letter. The person's delivery dead letters of that connection go too: they hold the
person's data, and a ``dlq retry`` of one would re-create the person after the erasure.
``drop_erased(ids)`` takes, among a claim's entries not yet sent, those marked since the
claim. Entries and dead letters whose action the caller keeps (``keep``: the erasing actions)
are left alone, claimed or not: a redelivered erasure request must not delete the first
erasure.
"""

from __future__ import annotations

from ordering_contract import numbers, of
from store_contract import FakeClock

from mapwire.contracts.actions import Action
from mapwire.contracts.queue import Failure, Queue

#: The erasing action names a caller keeps (``drop_person``'s ``keep``).
ERASING = ("delete", "suppress")


def erasure(person: str, n: int) -> Action:
    """A suppress numbered ``n`` of ``person``: an erasure, kept by ``drop_person``."""
    payload = {"id": person, "n": n}
    return Action("customerio", "suppress", payload, rule="erase", order_key=person)


class PersonDropContract:
    """Needs the ``queue`` and ``clock`` fixtures of ``QueueContract``."""

    def test_drop_person_deletes_only_that_persons_waiting_entries(
        self, queue: Queue, clock: FakeClock
    ) -> None:
        queue.enqueue("c", [of("p", 0), of("q", 1), of("p", 2)])
        queue.enqueue("d", [of("p", 3)])
        assert queue.drop_person("c", "p") == 2
        assert queue.depth("c") == 1 and queue.depth("d") == 1
        assert numbers(queue.claim("c", 10, 30)) == [1]
        assert numbers(queue.claim("d", 10, 30)) == [3], "other connections keep theirs"
        assert queue.drop_person("c", "") == 0

    def test_drop_person_keeps_a_claim_in_flight_and_takes_retries_and_expired_leases(
        self, queue: Queue, clock: FakeClock
    ) -> None:
        queue.enqueue("c", [of("p", 0), of("p", 1)])
        (leased,) = queue.claim("c", 1, 30)
        assert queue.drop_person("c", "p") == 1, "the unclaimed later entry goes"
        assert queue.depth("c") == 1, "the claimed one is left to its worker"
        assert queue.retry([leased.id], clock.now + 10, "HTTP 503") == 1, "then it goes"
        queue.enqueue("c", [of("p", 2)])
        (again,) = queue.claim("c", 1, 30)
        assert queue.retry([again.id], clock.now + 10, "HTTP 503") == 0
        assert queue.drop_person("c", "p") == 1, "an entry waiting for a retry goes"
        assert queue.depth("c") == 0
        queue.enqueue("c", [of("p", 4)])
        queue.claim("c", 10, 30)
        clock.advance(31)
        assert queue.drop_person("c", "p") == 1, "a lease that ran out holds nothing"
        assert queue.claim("c", 10, 30) == [] and queue.depth("c") == 0

    def test_after_a_drop_the_persons_new_entries_flow_again(
        self, queue: Queue, clock: FakeClock
    ) -> None:
        queue.enqueue("c", [of("p", 0), of("p", 1)])
        first = queue.claim("c", 1, 30)
        queue.retry([e.id for e in first], clock.now + 100, "HTTP 503")
        queue.drop_person("c", "p")
        queue.enqueue("c", [of("p", 2)])
        assert numbers(queue.claim("c", 10, 30)) == [2], "nothing of p is pending any more"

    def test_drop_person_deletes_that_persons_dead_letters_of_the_connection(
        self, queue: Queue, clock: FakeClock
    ) -> None:
        queue.enqueue("c", [of("p", 0), of("q", 1), of("p", 2)])
        queue.enqueue("d", [of("p", 3)])
        refused = queue.claim("c", 10, 30) + queue.claim("d", 10, 30)
        queue.dead_letter([(e, Failure("HTTP 400")) for e in refused])
        queue.enqueue("c", [of("p", 4)])
        assert queue.drop_person("c", "p") == 3, "two dead letters and one waiting entry"
        left = sorted((d.connection, d.action.payload["n"]) for d in queue.dead_letters())
        assert left == [("c", 1), ("d", 3)]
        assert queue.requeue_dead_letters(None, "c") == 1
        assert numbers(queue.claim("c", 10, 30)) == [1], "only q's comes back"

    def test_a_claimed_entry_of_an_erased_person_is_deleted_when_retried_not_sent_again(
        self, queue: Queue, clock: FakeClock
    ) -> None:
        queue.enqueue("c", [of("p", 0), of("q", 1)])
        in_flight = queue.claim("c", 10, 30)
        assert queue.drop_person("c", "p") == 0, "claimed: marked, not deleted yet"
        queue.enqueue("c", [of("p", 2)])  # the erasure, queued after the drop
        assert queue.retry([e.id for e in in_flight], clock.now + 5, "HTTP 503") == 1
        assert numbers(queue.claim("c", 10, 30)) == [2], "the erasure goes at once"
        clock.advance(5)
        assert numbers(queue.claim("c", 10, 30)) == [1], "q's retry comes back; p's never"
        assert queue.depth("c") == 2

    def test_a_claimed_entry_of_an_erased_person_is_deleted_when_released(
        self, queue: Queue, clock: FakeClock
    ) -> None:
        queue.enqueue("c", [of("p", 0), of("p", 1)])
        first, second = queue.claim("c", 10, 30)
        assert queue.drop_person("c", "p") == 0
        assert queue.release([first.id], not_before=clock.now + 5) == 1
        assert queue.release([second.id]) == 1
        clock.advance(5)
        assert queue.claim("c", 10, 30) == [] and queue.depth("c") == 0
        assert queue.drop_person("c", "p") == 0, "nothing of p was left behind"

    def test_a_claimed_entry_of_an_erased_person_is_never_dead_lettered(
        self, queue: Queue, clock: FakeClock
    ) -> None:
        queue.enqueue("c", [of("p", 0), of("q", 1)])
        p, q = queue.claim("c", 10, 30)
        queue.drop_person("c", "p")
        assert queue.dead_letter([(p, Failure("HTTP 400")), (q, Failure("HTTP 400"))]) == 1
        assert [d.action.payload["n"] for d in queue.dead_letters()] == [1], "only q's is kept"
        assert queue.depth("c") == 0

    def test_an_erased_persons_claim_is_acknowledged_as_usual_and_the_rest_deleted(
        self, queue: Queue, clock: FakeClock
    ) -> None:
        queue.enqueue("c", [of("p", 0), of("p", 1)])
        sent, unsent = queue.claim("c", 10, 30)
        assert queue.drop_person("c", "p") == 0
        queue.ack([sent.id])  # it reached the vendor before the erasure
        assert queue.retry([unsent.id], clock.now + 5, "HTTP 503") == 1
        assert queue.depth("c") == 0
        queue.enqueue("c", [of("p", 2)])
        assert numbers(queue.claim("c", 10, 30)) == [2], "a new entry of p is not marked"

    def test_a_claimed_entry_of_an_erased_person_whose_lease_runs_out_is_deleted(
        self, queue: Queue, clock: FakeClock
    ) -> None:
        queue.enqueue("c", [of("p", 0), of("q", 1)])
        in_flight = queue.claim("c", 10, 30)
        queue.drop_person("c", "p")
        queue.enqueue("c", [of("p", 2)])
        clock.advance(31)  # the worker died: its leases ran out
        assert numbers(queue.claim("c", 10, 30)) == [1, 2], "p's claimed entry never again"
        assert queue.retry([e.id for e in in_flight], clock.now, "late") == 0, "gone already"
        assert queue.depth("c") == 2

    def test_a_mark_reaches_only_that_connection(self, queue: Queue, clock: FakeClock) -> None:
        queue.enqueue("c", [of("p", 0)])
        queue.enqueue("d", [of("p", 1)])
        in_c, in_d = queue.claim("c", 10, 30), queue.claim("d", 10, 30)
        queue.drop_person("c", "p")
        assert queue.retry([e.id for e in in_d], clock.now + 5, "HTTP 503") == 0
        assert queue.retry([e.id for e in in_c], clock.now + 5, "HTTP 503") == 1
        clock.advance(5)
        assert numbers(queue.claim("d", 10, 30)) == [1]

    def test_an_erasure_keeps_the_persons_claimed_erasure_unmarked(
        self, queue: Queue, clock: FakeClock
    ) -> None:
        queue.enqueue("c", [erasure("p", 0), of("p", 1)])
        (first,) = queue.claim("c", 1, 30)
        assert queue.drop_person("c", "p", keep=ERASING) == 1, "only the update goes"
        queue.enqueue("c", [erasure("p", 2)])  # the redelivered erasure
        assert queue.retry([first.id], clock.now + 5, "HTTP 503") == 0, "retried, not deleted"
        clock.advance(5)
        assert numbers(queue.claim("c", 10, 30)) == [0, 2], "the first erasure goes, first"

    def test_an_erasure_keeps_the_persons_erasure_waiting_for_a_retry_and_its_turn(
        self, queue: Queue, clock: FakeClock
    ) -> None:
        queue.enqueue("c", [erasure("p", 0)])
        (first,) = queue.claim("c", 1, 30)
        queue.retry([first.id], clock.now + 5, "HTTP 503")
        queue.enqueue("c", [of("p", 1)])
        assert queue.drop_person("c", "p", keep=ERASING) == 1, "the update only"
        queue.enqueue("c", [erasure("p", 2)])
        assert queue.claim("c", 10, 30) == [], "the later erasure waits behind the first"
        clock.advance(5)
        assert numbers(queue.claim("c", 10, 30)) == [0, 2]

    def test_a_failed_erasure_of_a_person_erased_again_is_dead_lettered_not_deleted(
        self, queue: Queue, clock: FakeClock
    ) -> None:
        queue.enqueue("c", [erasure("p", 0), of("p", 1)])
        first, update = queue.claim("c", 10, 30)
        queue.drop_person("c", "p", keep=ERASING)
        failed = [(first, Failure("HTTP 400")), (update, Failure("HTTP 400"))]
        assert queue.dead_letter(failed) == 1, "the update is deleted"
        kept = [(d.action.action, d.action.payload["n"]) for d in queue.dead_letters()]
        assert kept == [("suppress", 0)], "a failed erasure stays visible"

    def test_an_erasure_keeps_the_dead_letter_of_the_persons_failed_erasure(
        self, queue: Queue, clock: FakeClock
    ) -> None:
        """A redelivered erasure request (a duplicate its dedup key skips) must not take
        away the first erasure's dead letter: ``dlq retry`` is then its only way out."""
        queue.enqueue("c", [erasure("p", 0), of("p", 1)])
        queue.dead_letter([(e, Failure("HTTP 400")) for e in queue.claim("c", 10, 30)])
        assert queue.drop_person("c", "p", keep=ERASING) == 1, "the update's dead letter"
        kept = [(d.action.action, d.action.payload["n"]) for d in queue.dead_letters()]
        assert kept == [("suppress", 0)]

    def test_drop_erased_takes_a_claims_entries_marked_since_the_claim(
        self, queue: Queue, clock: FakeClock
    ) -> None:
        queue.enqueue("c", [of("q", 0), of("p", 1), of("p", 2), of("q", 3)])
        claimed = queue.claim("c", 10, 30)
        ids = [e.id for e in claimed]
        assert queue.drop_erased(ids) == [], "no one erased: nothing taken"
        queue.drop_person("c", "p")
        assert queue.drop_erased([ids[2], ids[3]]) == [ids[2]], "only among those asked"
        assert queue.depth("c") == 3, "p's other entry stays, still marked"
        assert queue.drop_erased(ids) == [ids[1]], "taken when asked"
        assert queue.drop_erased(ids) == [], "taken once"
        assert queue.depth("c") == 2
        queue.ack([ids[0], ids[3]])
        assert queue.depth("c") == 0 and queue.dead_letters() == []
        queue.enqueue("c", [of("p", 4)])
        assert numbers(queue.claim("c", 10, 30)) == [4], "the person's new entry flows"

    def test_without_keep_an_erasure_is_dropped_like_any_entry(
        self, queue: Queue, clock: FakeClock
    ) -> None:
        queue.enqueue("c", [erasure("p", 0)])
        assert queue.drop_person("c", "p") == 1
        assert queue.depth("c") == 0
