"""``enqueue_storable``: one unstorable input never blocks the rest, the progress mark goes
with the last call, and nothing of a call outlives it (no reference cycle keeps the
actions alive until the cyclic collector runs)."""

from __future__ import annotations

import gc
from collections.abc import Sequence
from typing import Any

import pytest

from mapwire import Action
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

    total, refused, each = enqueue_storable(queue, "c", groups, progress=("file", "5"))  # type: ignore[arg-type]

    assert refused == [1, 4]
    assert total.queued == 6
    assert each is None  # this queue counts per call only
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
