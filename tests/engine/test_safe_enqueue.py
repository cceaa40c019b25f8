"""``enqueue_storable``: one unstorable input never blocks the rest, the progress mark goes
with the last call, and nothing of a call outlives it (no reference cycle keeps the
actions alive until the cyclic collector runs)."""

from __future__ import annotations

import gc
from collections.abc import Sequence
from typing import Any

import pytest

from mapwire import Action
from mapwire.contracts.errors import QueueUnavailable
from mapwire.contracts.queue import EnqueueResult
from mapwire.runtime.safe_enqueue import enqueue_storable


class RefusingQueue:
    """Refuses (as a serialiser would) any call holding an action marked ``bad``."""

    def __init__(self) -> None:
        self.calls: list[tuple[list[int], tuple[str, str] | None]] = []

    def enqueue(self, connection: str, actions: Sequence[Action], **options: Any) -> EnqueueResult:
        if any(a.payload.get("bad") for a in actions):
            raise ValueError("cannot serialise")
        self.calls.append(([a.payload["n"] for a in actions], options["progress"]))
        return EnqueueResult(queued=len(actions))


def group(n: int, *, bad: bool = False) -> list[Action]:
    return [Action("d", "track", {"n": n, "bad": bad}), Action("d", "identify", {"n": n})]


def test_refused_groups_are_reported_and_the_rest_queued_with_the_mark_last() -> None:
    queue = RefusingQueue()
    groups = [group(0), group(1, bad=True), group(2), group(3), group(4, bad=True)]

    stored = enqueue_storable(queue, "c", groups, progress=("file", "5"))  # type: ignore[arg-type]

    assert stored.refused == [1, 4]
    assert stored.total.queued == 6
    assert stored.each is None  # this queue counts per call only
    assert queue.calls == [
        ([0, 0], None),
        ([2, 2], None),
        ([3, 3], None),
        ([], ("file", "5")),  # the position moves past the last, refused, input
    ]


def test_a_call_that_is_refused_with_nothing_in_it_is_a_real_error() -> None:
    class Broken(RefusingQueue):
        def enqueue(self, connection: str, actions: Sequence[Action], **options: Any) -> Any:
            raise TypeError("not a serialisation problem")

    with pytest.raises(TypeError):
        enqueue_storable(Broken(), "c", [], progress=("file", "1"))  # type: ignore[arg-type]


@pytest.mark.parametrize("bad", [False, True], ids=["all stored", "one refused"])
def test_nothing_of_a_call_is_left_for_the_cyclic_collector(bad: bool) -> None:
    groups = [group(0), group(1, bad=bad), group(2)]
    gc.collect()
    gc.disable()
    try:
        enqueue_storable(RefusingQueue(), "c", groups)  # type: ignore[arg-type]
        found = gc.collect()
    finally:
        gc.enable()
    assert found == 0


class GroupingQueue(RefusingQueue):
    """Counts per group (``enqueue_groups``); unavailable once ``fail_from`` is reached."""

    def __init__(self, fail_from: int) -> None:
        super().__init__()
        self.fail_from = fail_from

    def enqueue_groups(
        self, connection: str, groups: Sequence[Sequence[Action]], **options: Any
    ) -> list[EnqueueResult]:
        actions = [a for g in groups for a in g]
        if any(a.payload.get("bad") for a in actions):
            raise ValueError("cannot serialise")
        if any(a.payload["n"] >= self.fail_from for a in actions):
            raise QueueUnavailable("database is locked")
        self.enqueue(connection, actions, **options)
        return [EnqueueResult(queued=len(g)) for g in groups]


def test_a_queue_failing_after_some_halves_went_in_says_which_groups_it_left() -> None:
    """Group 1 cannot be stored: the halves go apart; group 0 goes in, then the queue
    fails for group 2. Group 0's actions are queued and reported so; 2 and 3 are not."""
    queue = GroupingQueue(fail_from=2)
    groups = [group(0), group(1, bad=True), group(2), group(3)]
    stored = enqueue_storable(queue, "c", groups)  # type: ignore[arg-type]
    assert (stored.total.queued, stored.refused) == (2, [1])
    assert isinstance(stored.error, QueueUnavailable)
    assert sorted(stored.failed) == [2, 3]
    assert stored.each is not None and stored.each[0] == EnqueueResult(queued=2)


def test_a_queue_failing_before_anything_went_in_fails_the_call() -> None:
    with pytest.raises(QueueUnavailable):
        enqueue_storable(GroupingQueue(fail_from=0), "c", [group(0), group(1)])  # type: ignore[arg-type]
    with pytest.raises(QueueUnavailable, match="locked"):  # an empty group wrote nothing
        enqueue_storable(GroupingQueue(fail_from=2), "c", [[], group(1, bad=True), group(2)])  # type: ignore[arg-type]
