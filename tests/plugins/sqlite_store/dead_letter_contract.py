"""The dead-letter part of the ``Queue`` contract: kinds and history (mixed into
``QueueContract``, so every queue implementation runs it)."""

from __future__ import annotations

import dataclasses

from store_contract import FakeClock

from mapwire import Action
from mapwire.contracts.queue import FailedAttempt, Failure, MappingFailure, Queue

SOURCE = {"user": {"email": "ann@example.com"}, "events": [{"n": 1}, {"n": "x"}]}


def failure(connection: str = "c", rule: str = "orders", **extra: object) -> MappingFailure:
    fields: dict[str, object] = {
        "connection": connection,
        "mapping": "shop-to-cio",
        "rule": rule,
        "field": "data.total",
        "code": "wrong_type",
        "message": "function abs(): expected number, got string",
        "source": SOURCE,
        "item": "event[1]",
    }
    fields.update(extra)
    return MappingFailure(**fields)  # type: ignore[arg-type]


def track(n: int) -> Action:
    return Action("customerio", "track", {"n": n}, rule="orders")


class DeadLetterContract:
    def test_mapping_failures_are_dead_letters_of_their_own_kind(
        self, queue: Queue, clock: FakeClock
    ) -> None:
        queue.enqueue("c", [track(0)])
        queue.dead_letter([(queue.claim("c", 1, 60)[0], Failure("HTTP 400"))])
        clock.advance(5)
        queue.record_mapping_failures([failure(), failure("d", rule="people")])
        queue.record_mapping_failures([])
        assert queue.depth() == 0, "a mapping failure is never queued"
        d, c, delivery = queue.dead_letters()
        assert [x.kind for x in (d, c, delivery)] == ["mapping", "mapping", "delivery"]
        assert (c.connection, c.mapping, c.rule, c.item, c.field, c.code) == (
            "c",
            "shop-to-cio",
            "orders",
            "event[1]",
            "data.total",
            "wrong_type",
        )
        assert c.reason == "function abs(): expected number, got string"
        assert c.source == SOURCE
        assert (c.attempts, c.failed_at, c.first_failed_at) == (1, clock.now, clock.now)
        assert c.history == [FailedAttempt(clock.now, c.reason, 1)]
        assert delivery.source is None and delivery.rule == "orders"
        assert queue.get_dead_letter(c.id) == c
        assert [x.id for x in queue.dead_letters(kind="mapping")] == [d.id, c.id]
        assert [x.id for x in queue.dead_letters("c", kind="mapping")] == [c.id]
        assert [x.id for x in queue.dead_letters(kind="delivery")] == [delivery.id]
        assert queue.dead_letters(kind="mapping", limit=1, offset=1) == [c]

    def test_requeue_leaves_mapping_failures_and_purge_takes_a_kind(
        self, queue: Queue, clock: FakeClock
    ) -> None:
        queue.record_mapping_failures([failure()])
        queue.enqueue("c", [track(0), track(1)])
        entries = queue.claim("c", 2, 60)
        queue.dead_letter([(e, Failure("HTTP 400")) for e in entries])
        mapping = queue.dead_letters(kind="mapping")[0]
        assert queue.requeue_dead_letters([mapping.id], None) == 0
        assert queue.requeue_dead_letters(None, None) == 2
        assert [d.kind for d in queue.dead_letters()] == ["mapping"]
        assert queue.depth("c") == 2
        queue.dead_letter([(e, Failure("HTTP 400")) for e in queue.claim("c", 2, 60)])
        assert queue.purge_dead_letters(None, None, None, kind="mapping") == 1
        assert {d.kind for d in queue.dead_letters()} == {"delivery"}
        assert queue.purge_dead_letters(None, None, None, kind="delivery") == 2
        assert queue.dead_letters() == []

    def test_history_survives_requeue_and_appends(self, queue: Queue, clock: FakeClock) -> None:
        queue.enqueue("c", [track(7)])
        first_try = queue.claim("c", 1, 60)[0]
        queue.retry([first_try.id], clock.now, "HTTP 500")
        start = clock.now
        queue.dead_letter([(queue.claim("c", 1, 60)[0], Failure("HTTP 400 first"))])
        (dead,) = queue.dead_letters()
        assert dead.attempts == 2
        assert dead.history == [FailedAttempt(start, "HTTP 400 first", 2)]
        clock.advance(100)
        assert queue.requeue_dead_letters(None, None) == 1
        (again,) = queue.claim("c", 1, 60)
        assert again.attempts == 0 and again.history == dead.history
        assert dataclasses.replace(again.action) == Action(
            "customerio", "track", {"n": 7}, rule="orders"
        )
        queue.dead_letter([(again, Failure("HTTP 400 second"))])
        (dead,) = queue.dead_letters()
        assert dead.attempts == 3, "every try, over both rounds"
        assert [h.reason for h in dead.history] == ["HTTP 400 first", "HTTP 400 second"]
        assert (dead.first_failed_at, dead.failed_at) == (start, start + 100)
        assert dead.reason == "HTTP 400 second"

    def test_mapping_failure_history_is_kept(self, queue: Queue, clock: FakeClock) -> None:
        earlier = [FailedAttempt(clock.now - 50, "required field 'id' is null", 1)]
        queue.record_mapping_failures([failure(history=earlier)])
        (dead,) = queue.dead_letters()
        assert dead.attempts == 2
        assert dead.history == [*earlier, FailedAttempt(clock.now, dead.reason, 1)]
        assert dead.first_failed_at == clock.now - 50
