"""The erasure part of the ``Queue`` contract (``QueueContract`` inherits it).

``drop_person(connection, order_key)`` deletes, atomically, a person's entries that no
worker holds (new, waiting for a retry, or whose lease ran out); an entry a worker has
claimed is left and settles as usual (it may already be in flight). The person's delivery
dead letters of that connection go too: they hold the person's data, and a ``dlq retry``
of one would re-create the person after the erasure.
"""

from __future__ import annotations

from ordering_contract import numbers, of
from store_contract import FakeClock

from mapwire.contracts.queue import Failure, Queue


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

    def test_drop_person_leaves_a_claim_in_flight_and_takes_retries_and_expired_leases(
        self, queue: Queue, clock: FakeClock
    ) -> None:
        queue.enqueue("c", [of("p", 0), of("p", 1)])
        (leased,) = queue.claim("c", 1, 30)
        assert queue.drop_person("c", "p") == 1, "the unclaimed later entry goes"
        assert queue.depth("c") == 1
        queue.retry([leased.id], clock.now + 10, "HTTP 503")
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
