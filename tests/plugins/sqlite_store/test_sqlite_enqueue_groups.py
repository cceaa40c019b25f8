"""``SqliteQueue.enqueue_groups``: several inputs' actions in one transaction, each input
told exactly what it queued and what it skipped as duplicates, as if queued one call each."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
from queue_contract import act, numbers

from mapwire import EnqueueResult, MemoryStore, StateStore
from mapwire.plugins.sqlite_store.queue import SqliteQueue
from mapwire.plugins.sqlite_store.store import SqliteStore


def counts(results: list[EnqueueResult]) -> list[tuple[int, int]]:
    return [(r.queued, r.duplicates) for r in results]


def table_count(db: Path, table: str) -> int:
    conn = sqlite3.connect(db)
    try:
        (n,) = conn.execute(f"SELECT count(*) FROM {table}").fetchone()
    finally:
        conn.close()
    return int(n)


@pytest.mark.parametrize("where", ["same file", "another file"])
def test_each_group_is_counted_as_if_queued_alone(
    queue: SqliteQueue, db: Path, tmp_path: Path, where: str
) -> None:
    store: StateStore = (
        SqliteStore(db) if where == "same file" else SqliteStore(tmp_path / "other.db")
    )
    queue.enqueue("c", [act(0, "seen-before")], dedup=store)
    groups = [
        [act(1, "a"), act(2, "b")],
        [act(3, "seen-before")],  # a redelivery of what an earlier call queued
        [act(4, "a"), act(5, "c")],  # repeats a key of the first group: a duplicate here
        [],
        [act(6)],  # no keys: never a duplicate
    ]
    results = queue.enqueue_groups("c", groups, dedup=store, progress=("file", "9"))
    assert counts(results) == [(2, 0), (0, 1), (1, 1), (0, 0), (1, 0)]
    assert numbers(queue.claim("c", 10, 60)) == [0, 1, 2, 5, 6], "in the groups' order"
    assert queue.progress("file") == "9"


def test_duplicates_alone_write_nothing(queue: SqliteQueue, db: Path) -> None:
    store = MemoryStore()
    queue.enqueue("c", [act(0, "k")], dedup=store)
    results = queue.enqueue_groups("c", [[act(1, "k")], [act(2, "k")]], dedup=store)
    assert counts(results) == [(0, 1), (0, 1)]
    assert table_count(db, "queue") == 1


def test_one_unstorable_action_refuses_every_group(queue: SqliteQueue, db: Path) -> None:
    """The call is one transaction: nothing of any group is recorded, keys included (the
    caller then queues the groups it can apart)."""
    store = SqliteStore(db)
    bad = act(2, "b")
    bad.payload["bad"] = {1, 2}
    with pytest.raises(TypeError):
        queue.enqueue_groups("c", [[act(1, "a")], [bad]], dedup=store)
    assert (table_count(db, "queue"), table_count(db, "seen")) == (0, 0)
    assert store.first_seen("c", "a") is True


def test_enqueue_is_one_group(queue: SqliteQueue) -> None:
    store = MemoryStore()
    first = queue.enqueue("c", [act(1, "k"), act(2, "k"), act(3)], dedup=store)
    assert (first.queued, first.duplicates) == (2, 1)
