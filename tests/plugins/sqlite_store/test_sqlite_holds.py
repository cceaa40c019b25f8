"""``SqliteQueue`` holds a person in ``leases``: a claim's lease rows and a retry's delay
name the entry's person, the claim looks a person up there (the queue has no index by
person), and files from before, ordered by an index on the queue, are brought over."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from ordering_contract import numbers, of
from queue_contract import act
from queue_files import ELSEWHERE, ORDERED_BY_INDEX, rows
from store_contract import FakeClock

from mapwire.plugins.sqlite_store.queue import SqliteQueue


def holds(db: Path) -> list[tuple[object, ...]]:
    return rows(db, "SELECT id, lease_until, owner, connection, order_key FROM leases ORDER BY id")


def indexes(db: Path, table: str) -> set[str]:
    return {str(row[1]) for row in rows(db, f"PRAGMA index_list({table})")}


def test_the_queue_has_no_index_by_person(queue: SqliteQueue, db: Path) -> None:
    queue.enqueue("c", [of("p", 0)])
    assert indexes(db, "queue") == {"queue_claim", "queue_old_leases"}
    assert "leases_key" in indexes(db, "leases")


def test_a_claim_names_each_entrys_person_in_its_lease(
    queue: SqliteQueue, db: Path, clock: FakeClock
) -> None:
    queue.enqueue("c", [of("p", 0), act(1), of("q", 2)])
    p, keyless, q = queue.claim("c", 3, 60)
    until = clock.now + 60
    assert holds(db) == [
        (p.id, until, queue.owner, "c", "p"),
        (keyless.id, until, queue.owner, "c", ""),
        (q.id, until, queue.owner, "c", "q"),
    ]


def test_a_retry_holds_its_person_until_its_time_without_an_owner(
    queue: SqliteQueue, db: Path, clock: FakeClock
) -> None:
    queue.enqueue("c", [of("p", 0), act(1), of("p", 2)])
    first, keyless, second = queue.claim("c", 3, 60)
    queue.retry([first.id, keyless.id], clock.now + 10, "HTTP 503")
    queue.ack([second.id])
    assert holds(db) == [(first.id, clock.now + 10, "", "c", "p")], "a keyless entry needs none"
    queue.enqueue("c", [of("p", 3)])
    assert queue.claim("c", 10, 60) == []
    clock.advance(10)
    assert numbers(queue.claim("c", 10, 60)) == [0, 1, 3]


def test_a_release_without_a_delay_holds_nothing(
    queue: SqliteQueue, db: Path, clock: FakeClock
) -> None:
    queue.enqueue("c", [of("p", 0), of("p", 1)])
    queue.release([e.id for e in queue.claim("c", 10, 60)])
    assert holds(db) == []
    assert numbers(queue.claim("c", 10, 60)) == [0, 1]


def test_a_hold_is_the_connections_own(queue: SqliteQueue, clock: FakeClock) -> None:
    queue.enqueue("a", [of("p", 0)])
    queue.enqueue("b", [of("p", 1)])
    (held,) = queue.claim("a", 10, 60)
    queue.retry([held.id], clock.now + 30, "HTTP 503")
    assert numbers(queue.claim("b", 10, 60)) == [1], "the same person elsewhere goes on"


def test_drop_person_drops_a_retrys_hold_and_its_entries(
    queue: SqliteQueue, db: Path, clock: FakeClock
) -> None:
    queue.enqueue("c", [of("p", 0), of("p", 1), of("q", 2)])
    p0, p1, q = queue.claim("c", 3, 60)
    queue.retry([p0.id, p1.id], clock.now + 30, "HTTP 503")
    assert queue.drop_person("c", "p") == 2
    assert [row[0] for row in holds(db)] == [q.id], "q's claim is still in flight"
    assert queue.depth("c") == 1


# -- files from before lease rows named their person ----------------------------------------
def ordered_by_index(path: Path, now: float) -> None:
    """A queue of the previous format: p's first entry leased by a live owner elsewhere,
    q's first waiting for a retry, each with a later entry behind it; r's entry free."""
    conn = sqlite3.connect(path)
    try:
        conn.executescript(ORDERED_BY_INDEX)
        entries = [("p", 0, 0.0), ("p", 1, 0.0), ("q", 2, now + 20), ("q", 3, 0.0)]
        entries += [("r", 4, 0.0)]
        for key, n, not_before in entries:
            conn.execute(
                "INSERT INTO queue (connection, action, enqueued_at, order_key, not_before) "
                "VALUES ('c', ?, 1.0, ?, ?)",
                (f'{{"d":"customerio","a":"identify","p":{{"n":{n}}},"r":""}}', key, not_before),
            )
        conn.execute("INSERT INTO leases VALUES (1, ?, ?)", (now + 60, ELSEWHERE))
        conn.commit()
    finally:
        conn.close()


def test_a_file_ordered_by_index_keeps_its_order_when_opened(
    tmp_path: Path, clock: FakeClock
) -> None:
    path = tmp_path / "old.db"
    ordered_by_index(path, clock.now)
    with SqliteQueue(path, clock=clock) as queue:
        assert holds(path) == [
            (1, clock.now + 60, ELSEWHERE, "c", "p"),
            (3, clock.now + 20, "", "c", "q"),
        ]
        assert "queue_order" not in indexes(path, "queue")
        assert numbers(queue.claim("c", 10, 30)) == [4], "p and q wait for their first"
        clock.advance(20)
        assert numbers(queue.claim("c", 10, 30)) == [2, 3]
    with SqliteQueue(path, clock=clock) as queue:  # opened again: nothing is written twice
        clock.advance(40)  # the lease elsewhere ran out; the closed queue's claims are let go
        assert numbers(queue.claim("c", 10, 30)) == [0, 1, 2, 3, 4]
        assert [row[2] for row in holds(path)] == [queue.owner] * 5
