"""The per-person index of the Redis queue (``queue_index``): a queue written by a version
without it is indexed before its first claim, and nothing waiting in it is lost or
reordered."""

from __future__ import annotations

from pathlib import Path

import pytest
from ordering_contract import numbers, of
from redis_helpers import REDIS_URL, prefix_for
from store_contract import FakeClock

from mapwire import claim_owner_id, claim_owner_is_dead
from mapwire.plugins.redis_store import queue as queue_module
from mapwire.plugins.redis_store.queue import RedisQueue
from mapwire.plugins.redis_store.queue_index import LAYOUT


def _without_index(queue: RedisQueue, connection: str) -> None:
    """Leave only what the previous layout kept: stream, due, tries, keyof, pending."""
    keys = queue.keys
    client = queue._open()
    client.delete(
        keys.loose(connection),
        keys.keyfree(connection),
        keys.keyq(connection),
        keys.keyout(connection),
    )
    client.hdel(keys.layout, connection)


def test_a_queue_without_the_index_is_indexed_before_its_first_claim(tmp_path: Path) -> None:
    clock = FakeClock()
    before = RedisQueue(REDIS_URL, prefix=prefix_for(tmp_path), clock=clock)
    before.enqueue("c", [of("p", 0), of("q", 1)])
    held = before.claim("c", 1, 30)  # p's first entry in flight
    before.enqueue("c", [of("p", 2), of("q", 3)])
    before.claim("c", 1, 30)  # q's first entry in flight too
    assert numbers(before.claim("c", 10, 30)) == [], "p's and q's next ones parked"
    _without_index(before, "c")

    after = RedisQueue(REDIS_URL, prefix=prefix_for(tmp_path), clock=clock)
    assert after.next_ready_at("c") is not None
    assert after.claim("c", 10, 30) == [], "both people still busy"
    after.ack([e.id for e in held])
    p_next = after.claim("c", 10, 30)
    assert numbers(p_next) == [2], "p is free; q still is not"
    after.ack([e.id for e in p_next])
    clock.advance(31)  # q's lease runs out: its entries come back, in order
    assert numbers(after.claim("c", 10, 30)) == [1, 3]
    assert after.depth("c") == 2
    assert after._open().hget(after.keys.layout, "c") == LAYOUT


def test_the_index_is_built_a_page_at_a_time_and_any_process_can_finish_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A large queue is indexed in steps (Redis never held long); a build a process began
    and stopped is finished by the next claim; nothing is handed out before it is done,
    while settling goes on."""
    clock = FakeClock()
    people = [f"p{i}" for i in range(150)]  # 300 pending entries: past one small page
    before = RedisQueue(REDIS_URL, prefix=prefix_for(tmp_path), clock=clock)
    before.enqueue("c", [of(p, i) for i, p in enumerate(people)])
    held = before.claim("c", len(people), 30)
    before.enqueue("c", [of(p, 1000 + i) for i, p in enumerate(people)])
    assert before.claim("c", 1000, 30) == []  # all parked behind the held ones
    _without_index(before, "c")

    starter = RedisQueue(REDIS_URL, prefix=prefix_for(tmp_path), clock=clock)
    keys = [*starter._pending_keys("c"), starter.keys.layout]
    assert starter._rebuild(keys=keys, args=["c", LAYOUT, 10], client=starter._open()) == 0
    assert starter._open().hget(starter.keys.layout, "c").startswith("building:")
    before.ack([e.id for e in held])  # settling goes on during the build
    args = ["mapwire", "w", repr(clock.now), repr(clock.now + 30), 1000, 1000, "c", LAYOUT]
    assert before._claim(keys=keys, args=args) == "unindexed", "nothing before it is complete"

    monkeypatch.setattr(queue_module, "REBUILD_PAGE", 10)
    after = RedisQueue(REDIS_URL, prefix=prefix_for(tmp_path), clock=clock)
    got = after.claim("c", 1000, 30)
    assert numbers(got) == [1000 + i for i in range(len(people))]
    assert after._open().hget(after.keys.layout, "c") == LAYOUT
    after.ack([e.id for e in got])
    client = after._open()
    for name in ("due", "loose", "keyfree", "keyq", "keyout"):  # only the member keeping
        index = getattr(after.keys, name)("c")  # each a skiplist
        assert client.zcard(index) == 1 and client.object("encoding", index) == "skiplist", name
    for name in ("pending", "keyof"):
        index = getattr(after.keys, name)("c")
        assert client.hlen(index) == 1 and client.object("encoding", index) == "hashtable", name


def test_entries_a_process_without_the_index_read_are_indexed_at_the_next_start(
    tmp_path: Path,
) -> None:
    """A rollback: after the index was built, a process of the earlier version read new
    entries (into ``due``, ``keyof`` and ``pending`` only, as it did) and stopped. The next
    process of this version finds the counts differ, builds the index again, and the
    entries go out once their lease has run out."""
    clock = FakeClock()
    now = RedisQueue(REDIS_URL, prefix=prefix_for(tmp_path), clock=clock)
    now.ack([e.id for e in now.claim("c", 10, 30)])
    now.enqueue("c", [of("p", 1), of("q", 2)])
    client, keys = now._open(), now.keys
    read = client.xreadgroup("mapwire", "earlier-version", {keys.stream("c"): ">"})
    for entry_id, fields in read[0][1]:  # what the earlier version's claim wrote
        client.zadd(keys.due("c"), {entry_id: clock.now + 30})
        client.hset(keys.keyof("c"), entry_id, fields["k"])
        client.hincrby(keys.pending("c"), fields["k"], 1)
    clock.advance(31)
    later = RedisQueue(REDIS_URL, prefix=prefix_for(tmp_path), clock=clock)
    assert numbers(later.claim("c", 10, 30)) == [1, 2]


def test_a_running_process_indexes_again_when_the_index_record_is_lost(tmp_path: Path) -> None:
    clock = FakeClock()
    queue = RedisQueue(REDIS_URL, prefix=prefix_for(tmp_path), clock=clock)
    queue.enqueue("c", [of("p", 1)])
    assert numbers(queue.claim("c", 10, 30)) == [1]
    queue.enqueue("c", [of("q", 2)])
    queue._open().delete(queue.keys.layout)
    second = queue.claim("c", 10, 30)
    assert numbers(second) == [2]
    queue.ack([e.id for e in second])
    clock.advance(31)
    assert numbers(queue.claim("c", 10, 30)) == [1], "p's lease ran out: back, indexed"


def test_every_lease_of_a_dead_process_is_freed_at_once(tmp_path: Path) -> None:
    """More leases than one step frees (10,000) come back at the next start, not after
    their lease."""
    clock = FakeClock()
    gone = RedisQueue(REDIS_URL, prefix=prefix_for(tmp_path), clock=clock)
    gone.consumer = claim_owner_id().rsplit("/", 1)[0] + "/a-token-no-process-holds"
    assert claim_owner_is_dead(gone.consumer)
    gone.enqueue("c", [of(f"p{n}", n) for n in range(10_050)])
    assert len(gone.claim("c", 20_000, 300)) == 10_050
    after = RedisQueue(REDIS_URL, prefix=prefix_for(tmp_path), clock=clock)
    assert len(after.claim("c", 20_000, 300)) == 10_050


def test_a_dead_process_leases_of_an_erased_person_are_deleted_not_freed(
    tmp_path: Path,
) -> None:
    clock = FakeClock()
    gone = RedisQueue(REDIS_URL, prefix=prefix_for(tmp_path), clock=clock)
    gone.consumer = claim_owner_id().rsplit("/", 1)[0] + "/a-token-no-process-holds"
    gone.enqueue("c", [of("p", 0), of("q", 1)])
    assert numbers(gone.claim("c", 10, 300)) == [0, 1]
    assert gone.drop_person("c", "p") == 0, "held: marked"
    after = RedisQueue(REDIS_URL, prefix=prefix_for(tmp_path), clock=clock)
    assert numbers(after.claim("c", 10, 300)) == [1], "p's is not sent again"
    assert after.depth("c") == 1
    assert after._open().exists(after.keys.erased("c")) == 0, "no mark outlives its entry"
