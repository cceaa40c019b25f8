"""``SqliteQueue`` leases, in their own table: what a claim writes, what settling removes,
and files from before the table, whose leases were held in the ``queue`` row."""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path

from ordering_contract import numbers, of
from queue_contract import act
from queue_files import BEFORE_ERASED_MARKS, BEFORE_LEASES, ELSEWHERE, rows
from store_contract import FakeClock

from mapwire import claim_owner_id
from mapwire.contracts.queue import Failure
from mapwire.plugins.sqlite_store.queue import SqliteQueue


def dead_owner() -> str:
    """An owner id of this host that is provably dead (this pid, another token)."""
    host, instance, pid, _ = claim_owner_id().rsplit("/", 3)
    return "/".join((host, instance, pid, "00000000"))


def lease_rows(db: Path) -> list[tuple[object, ...]]:
    return rows(db, "SELECT id, lease_until, owner FROM leases ORDER BY id")


# -- what a claim writes, what settling removes ---------------------------------------------
def test_a_claim_writes_leases_and_leaves_the_queue_row_alone(
    queue: SqliteQueue, db: Path, clock: FakeClock
) -> None:
    queue.enqueue("c", [act(0), act(1)])
    entries = queue.claim("c", 2, 60)
    assert lease_rows(db) == [(e.id, clock.now + 60, queue.owner) for e in entries]
    assert rows(db, "SELECT DISTINCT lease_until, owner FROM queue") == [(0.0, "")]
    assert queue.next_ready_at("c") == clock.now + 60


def test_ack_retry_release_and_dead_letter_leave_no_lease_behind(
    queue: SqliteQueue, db: Path, clock: FakeClock
) -> None:
    queue.enqueue("c", [act(n) for n in range(4)])
    acked, retried, released, buried = queue.claim("c", 4, 60)
    queue.ack([acked.id])
    queue.retry([retried.id], clock.now + 5, "HTTP 503")
    queue.release([released.id])
    queue.dead_letter([(buried, Failure("HTTP 400"))])
    assert lease_rows(db) == []
    assert queue.depth("c") == 2
    clock.advance(5)
    assert numbers(queue.claim("c", 10, 60)) == [1, 2]


def test_a_claims_lease_rows_name_each_entrys_connection_and_person(
    queue: SqliteQueue, db: Path
) -> None:
    queue.enqueue("c", [of("p", 0), act(1), of("q", 2)])
    queue.enqueue("d", [of("p", 3)])
    queue.enqueue("c", [of("r", 4)])
    queue.enqueue("d", [act(5), of("s", 6)])
    assert numbers(queue.claim("d", 10, 60)) == [3, 5, 6], "ids 4, 6 and 7: not one range"
    assert numbers(queue.claim("c", 3, 60)) == [0, 1, 2], "ids 1 to 3: one range"
    named = rows(db, "SELECT id, connection, order_key FROM leases ORDER BY id")
    assert named[:3] == [(1, "c", "p"), (2, "c", ""), (3, "c", "q")]
    assert named[3:] == [(4, "d", "p"), (6, "d", ""), (7, "d", "s")], "nothing leased at 5"
    assert numbers(queue.claim("c", 3, 60)) == [4]


def test_ack_deletes_exactly_its_ids_whether_or_not_they_fill_a_range(
    queue: SqliteQueue, db: Path
) -> None:
    queue.enqueue("c", [act(n) for n in range(8)])
    queue.enqueue("d", [act(8)])
    claimed = queue.claim("c", 8, 60) + queue.claim("d", 1, 60)
    ids = [e.id for e in claimed]
    queue.ack([ids[3], ids[1], ids[2], ids[2]])  # a range, unordered, one id twice
    queue.ack(iter([ids[5], ids[7]]))  # a gap between them: ids[6] stays (any iterable)
    remaining = [row[0] for row in rows(db, "SELECT id FROM queue ORDER BY id")]
    assert remaining == [ids[0], ids[4], ids[6], ids[8]]
    assert [row[0] for row in lease_rows(db)] == remaining
    queue.ack([ids[8], ids[6]])  # a gap, and entries of two connections
    assert [row[0] for row in lease_rows(db)] == [ids[0], ids[4]]
    assert queue.depth("c") == 2 and queue.depth("d") == 0


def test_drop_person_removes_run_out_leases_and_keeps_live_ones(
    queue: SqliteQueue, db: Path, clock: FakeClock
) -> None:
    queue.enqueue("c", [of("p", 0), of("q", 1)])
    p, q = queue.claim("c", 2, 60)
    clock.advance(30)
    queue.release([q.id])
    queue.enqueue("c", [of("q", 2)])
    (again,) = queue.claim("c", 1, 10)  # q's first entry, leased until now + 10
    assert again.id == q.id
    clock.advance(20)  # q's lease ran out; p's holds
    assert queue.drop_person("c", "q") == 2
    assert queue.drop_person("c", "p") == 0, "p's entry is held by a worker"
    assert [row[0] for row in lease_rows(db)] == [p.id]


def test_a_restart_deletes_an_erased_persons_entries_its_dead_owner_had_claimed(
    db: Path, clock: FakeClock
) -> None:
    with SqliteQueue(db, clock=clock) as killed:
        killed.owner = dead_owner()
        killed.enqueue("c", [of("p", 0), of("q", 1)])
        assert numbers(killed.claim("c", 10, 60)) == [0, 1]
        assert killed.drop_person("c", "p") == 0
    with SqliteQueue(db, clock=clock) as restarted:
        assert restarted.reclaim_dead("c") == 1, "q's made claimable; p's deleted, not counted"
        assert numbers(restarted.claim("c", 10, 60)) == [1], "p's is not sent again"
        assert restarted.depth("c") == 1
        assert lease_rows(db) == [(2, clock.now + 60, restarted.owner)]


def test_claim_never_hands_out_an_entry_another_live_owner_leased(
    db: Path, clock: FakeClock
) -> None:
    with SqliteQueue(db, clock=clock) as a, SqliteQueue(db, clock=clock) as b:
        a.owner = ELSEWHERE
        a.enqueue("c", [act(n) for n in range(3)] + [of("p", 3), of("p", 4)])
        held = a.claim("c", 4, 60)
        assert numbers(held) == [0, 1, 2, 3]
        assert b.claim("c", 10, 60) == [], "leased, or behind a leased entry of its person"
        clock.advance(60)
        assert numbers(b.claim("c", 10, 60)) == [0, 1, 2, 3, 4]
        assert {row[2] for row in lease_rows(db)} == {b.owner}


def test_racing_claimers_never_share_an_entry(db: Path) -> None:
    with SqliteQueue(db) as q:
        q.enqueue("c", [act(n) for n in range(400)] + [of(f"p{n % 7}", n) for n in range(400)])
    got: list[list[int]] = []

    def claim_all() -> None:
        mine: list[int] = []
        with SqliteQueue(db) as q:
            while entries := q.claim("c", 7, 60):
                mine.extend(e.id for e in entries)
        got.append(mine)

    threads = [threading.Thread(target=claim_all) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    claimed = [i for mine in got for i in mine]
    assert len(claimed) == len(set(claimed))
    assert set(range(1, 401)) <= set(claimed), "every entry without a person"
    assert len(claimed) >= 400 + 7, "the first entry of each person, at least"


# -- files from before the leases table -----------------------------------------------------
def old_file(path: Path, now: float, dead: str) -> None:
    """A queue written before ``leases``: p's first entry leased by a live owner elsewhere
    (its second waits behind it), q's leased by a dead owner, r's lease ran out."""
    conn = sqlite3.connect(path)
    try:
        conn.executescript(BEFORE_LEASES)
        entries = [("p", 0, now + 60, ELSEWHERE), ("p", 1, 0.0, "")]
        entries += [("q", 2, now + 60, dead), ("r", 3, now - 1, ELSEWHERE)]
        for key, n, lease_until, owner in entries:
            conn.execute(
                "INSERT INTO queue (connection, action, enqueued_at, order_key, lease_until, "
                "owner) VALUES ('c', ?, 1.0, ?, ?, ?)",
                (
                    f'{{"d":"customerio","a":"event","p":{{"n":{n}}},"r":""}}',
                    key,
                    lease_until,
                    owner,
                ),
            )
        conn.commit()
    finally:
        conn.close()


def test_a_file_from_before_leases_keeps_its_live_leases(tmp_path: Path, clock: FakeClock) -> None:
    path = tmp_path / "old.db"
    dead = dead_owner()
    old_file(path, clock.now, dead)
    with SqliteQueue(path, clock=clock) as queue:
        assert rows(path, "SELECT DISTINCT lease_until, owner FROM queue") == [(0.0, "")]
        moved = [(1, clock.now + 60, ELSEWHERE), (3, clock.now + 60, dead)]
        assert lease_rows(path) == [*moved, (4, clock.now - 1, ELSEWHERE)]
        # the dead owner's entry at once, the run-out lease's; the live lease holds p's
        assert numbers(queue.claim("c", 10, 30)) == [2, 3]
    with SqliteQueue(path, clock=clock) as queue:  # opened again: nothing moves back
        assert queue.claim("c", 10, 30) == []
        clock.advance(60)
        assert numbers(queue.claim("c", 10, 30)) == [0, 1, 2, 3]
        assert rows(path, "SELECT DISTINCT lease_until, owner FROM queue") == [(0.0, "")]


def test_opening_drops_leases_of_entries_settled_without_them(db: Path) -> None:
    with SqliteQueue(db) as queue:
        queue.enqueue("c", [act(0), act(1)])
        first, second = queue.claim("c", 2, 60)
    conn = sqlite3.connect(db)
    try:  # settled by code that knows no lease table
        conn.execute("DELETE FROM queue WHERE id = ?", (first.id,))
        conn.commit()
    finally:
        conn.close()
    with SqliteQueue(db):
        assert [row[0] for row in lease_rows(db)] == [second.id]


def test_a_file_from_before_erased_marks_gets_them(tmp_path: Path, clock: FakeClock) -> None:
    path = tmp_path / "old.db"
    conn = sqlite3.connect(path)
    try:
        conn.executescript(BEFORE_ERASED_MARKS)
        action = '{"d":"customerio","a":"identify","p":{"n":0},"r":""}'
        conn.execute(
            "INSERT INTO queue (connection, action, enqueued_at, order_key) VALUES (?, ?, 1, ?)",
            ("c", action, "p"),
        )
        conn.execute("INSERT INTO leases VALUES (1, ?, ?, 'c', 'p')", (clock.now + 60, ELSEWHERE))
        conn.commit()
    finally:
        conn.close()
    with SqliteQueue(path, clock=clock) as queue:
        assert rows(path, "SELECT id, erased FROM leases") == [(1, 0)]
        assert queue.drop_person("c", "p") == 0, "claimed by a live worker elsewhere"
        assert queue.retry([1], clock.now, "HTTP 503") == 1
        assert queue.depth("c") == 0
