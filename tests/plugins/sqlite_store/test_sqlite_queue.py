"""``SqliteQueue``: the ``Queue`` contract, and what it promises beyond it (one transaction
with a ``SqliteStore`` on the same file, the hook, the file, threads)."""

from __future__ import annotations

import functools
import io
import json
import os
import random
import sqlite3
import threading
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pluggy
import pytest
from ordering_contract import numbers, of
from queue_contract import QueueContract, QueueOpener, act
from queue_files import BEFORE_ORDERING
from store_contract import FakeClock

from mapwire import (
    Action,
    MemoryStore,
    PluginError,
    QueueUnavailable,
    StateStore,
    StoreUnavailable,
    hookimpl,
)
from mapwire.contracts import hookspecs
from mapwire.contracts.queue import Failure, Queue
from mapwire.plugins import sqlite_store
from mapwire.plugins.sqlite_store.queue import SqliteQueue
from mapwire.plugins.sqlite_store.queue_sql import CLAIM
from mapwire.plugins.sqlite_store.store import SqliteStore
from mapwire.runtime.registry import Registry, build_registry
from mapwire.server.logs import configure_logging, reset_logging


class TestSqliteQueueContract(QueueContract):
    def make_queue(self, location: Path, clock: FakeClock) -> Queue:
        return SqliteQueue(location / "state.db", clock=clock)

    def make_dedup(self, location: Path, clock: FakeClock) -> StateStore:
        return SqliteStore(location / "state.db", clock=clock)

    def process_opener(self, location: Path) -> QueueOpener:
        return functools.partial(SqliteQueue, str(location / "state.db"))


@pytest.fixture
def store(db: Path, clock: FakeClock) -> Iterator[SqliteStore]:
    with SqliteStore(db, clock=clock) as s:
        yield s


def count(db: Path, table: str) -> int:
    conn = sqlite3.connect(db)
    try:
        (n,) = conn.execute(f"SELECT count(*) FROM {table}").fetchone()
    finally:
        conn.close()
    return int(n)


def fail_on_insert(db: Path, n: int) -> None:
    """Make the database refuse the queue row of the action numbered ``n``."""
    conn = sqlite3.connect(db)
    try:
        conn.execute(
            "CREATE TRIGGER refuse BEFORE INSERT ON queue "
            f"WHEN json_extract(NEW.action, '$.p.n') = {n} "
            "BEGIN SELECT RAISE(ABORT, 'refused'); END"
        )
    finally:
        conn.close()


# -- one transaction with the store ---------------------------------------------------------
def test_failure_mid_enqueue_records_nothing(
    queue: SqliteQueue, store: SqliteStore, db: Path
) -> None:
    actions = [act(n, f"k{n}") for n in range(1000)]
    actions[500].payload["bad"] = {1, 2}
    with pytest.raises(TypeError):
        queue.enqueue("c", actions, dedup=store, progress=("p", "1000"))
    assert (count(db, "seen"), count(db, "queue"), count(db, "progress")) == (0, 0, 0)


def test_store_on_the_same_file_shares_the_transaction(
    queue: SqliteQueue, store: SqliteStore, db: Path
) -> None:
    fail_on_insert(db, 500)
    actions = [act(n, f"k{n}") for n in range(1000)]
    with pytest.raises(QueueUnavailable, match="refused") as caught:
        queue.enqueue("c", actions, dedup=store, progress=("p", "1000"))
    assert isinstance(caught.value.__cause__, sqlite3.IntegrityError)
    assert (count(db, "seen"), count(db, "queue"), count(db, "progress")) == (0, 0, 0)
    assert store.first_seen("c", "k1") is True, "the keys were rolled back with the rows"


def locked(db: Path) -> sqlite3.Connection:
    """Another connection holding ``db``'s write lock (``BEGIN IMMEDIATE``) until closed."""
    other = sqlite3.connect(db, isolation_level=None)
    other.execute("BEGIN IMMEDIATE")
    return other


def test_a_refused_enqueue_leaves_no_keys_in_a_store_on_another_file(
    tmp_path: Path, db: Path
) -> None:
    """The input is refused (503 at intake), so its retry must be queued, not skipped."""
    actions = [act(0, "k0"), act(1, "k1", "k2")]
    with SqliteQueue(db, busy_timeout=0.05) as queue, SqliteStore(tmp_path / "o.db") as other:
        holder = locked(db)
        try:
            with pytest.raises(QueueUnavailable, match="locked"):
                queue.enqueue("c", actions, dedup=other, progress=("p", "2"))
        finally:
            holder.close()
        assert count(tmp_path / "o.db", "seen") == 0, "the keys recorded were removed"
        result = queue.enqueue("c", actions, dedup=other, progress=("p", "2"))
        assert (result.queued, result.duplicates, queue.progress("p")) == (2, 0, "2")
        assert numbers_claimed(queue) == [0, 1]


def test_a_refused_enqueue_keeps_the_keys_recorded_before_it(
    queue: SqliteQueue, tmp_path: Path, db: Path
) -> None:
    """Only the keys the failed call recorded go: those seen before are real duplicates."""
    fail_on_insert(db, 3)
    with SqliteStore(tmp_path / "other.db") as other:
        assert queue.enqueue("c", [act(0, "k0"), act(1, "k1")], dedup=other).queued == 2
        again = [act(2, "k0", "k5"), act(3, "k3"), act(4, "k1"), act(5, "k3", "k4")]
        with pytest.raises(QueueUnavailable, match="refused"):
            queue.enqueue("c", again, dedup=other)
        assert [other.first_seen("c", k) for k in ("k0", "k1")] == [False, False]
        assert count(tmp_path / "other.db", "seen") == 2, "k3, k4 and k5 were removed"
        assert other.first_seen_many("c", ["k3", "k4", "k5"]) == [True] * 3


class FirstSeenOnly:
    """A third-party store with ``first_seen`` alone."""

    def __init__(self) -> None:
        self.inner = MemoryStore()

    def first_seen(self, namespace: str, key: str, ttl: float | None = None) -> bool:
        return self.inner.first_seen(namespace, key, ttl)


class ForgetSeenFails(FirstSeenOnly):
    """A third-party store whose ``forget_seen`` cannot reach its storage."""

    def forget_seen(self, namespace: str, keys: list[str]) -> None:
        raise StoreUnavailable("secret-key unreachable")


@pytest.mark.parametrize(
    ("store", "error"),
    [(FirstSeenOnly(), "unsupported"), (ForgetSeenFails(), "StoreUnavailable")],
    ids=["without forget_seen", "forget_seen fails"],
)
def test_keys_a_store_cannot_forget_stay_and_the_error_is_the_queues(
    db: Path, store: FirstSeenOnly, error: str
) -> None:
    """The keys stay (the retry is skipped, as if nothing were undone); the undo's failure
    is logged without a key or a message, and the caller still gets the queue's error."""
    stream = io.StringIO()
    handler = configure_logging("info", stream)
    with SqliteQueue(db, busy_timeout=0.05) as queue:
        holder = locked(db)
        try:
            with pytest.raises(QueueUnavailable, match="locked"):
                queue.enqueue("c", [act(0, "secret-key")], dedup=store)  # type: ignore[arg-type]
        finally:
            holder.close()
            reset_logging(handler)
    (line,) = [json.loads(text) for text in stream.getvalue().splitlines()]
    assert {k: line[k] for k in ("level", "event", "connection", "keys", "error")} == {
        "level": "error",
        "event": "dedup_undo_failed",
        "connection": "c",
        "keys": 1,
        "error": error,
    }
    assert "secret-key" not in stream.getvalue()
    assert store.first_seen("c", "secret-key") is False


def test_same_file_is_recognised_through_any_path(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "real").mkdir()
    (tmp_path / "link").symlink_to(tmp_path / "real")
    monkeypatch.chdir(tmp_path)
    with SqliteQueue("real/state.db") as queue, SqliteStore(tmp_path / "link/state.db") as store:
        assert store.file == queue.file

        def refuse(*args: Any) -> Any:
            raise AssertionError("recorded outside the transaction")

        monkeypatch.setattr(store, "first_seen", refuse)
        monkeypatch.setattr(store, "first_seen_many", refuse)
        assert queue.enqueue("c", [act(0, "k"), act(1, "k")], dedup=store).queued == 1


def test_memory_databases_are_never_the_same_file() -> None:
    with SqliteQueue(":memory:") as queue, SqliteStore(":memory:") as store:
        assert queue.file is None and store.file is None
        assert queue.enqueue("c", [act(0, "k"), act(1, "k")], dedup=store).queued == 1
        assert store.first_seen("c", "k") is False, "recorded through the store itself"
        assert numbers_claimed(queue) == [0]


def test_other_stores_record_per_key() -> None:
    class Minimal:
        def __init__(self) -> None:
            self.inner = MemoryStore()
            self.calls = 0

        def first_seen(self, namespace: str, key: str, ttl: float | None = None) -> bool:
            self.calls += 1
            return self.inner.first_seen(namespace, key, ttl)

        def update_membership(self, namespace: str, key: str, changes: Any) -> list[str]:
            raise NotImplementedError

        def close(self) -> None:
            pass

    minimal = Minimal()
    with SqliteQueue(":memory:") as queue:
        result = queue.enqueue("c", [act(0, "a", "b"), act(1, "b"), act(2)], dedup=minimal)
    assert (result.queued, result.duplicates, minimal.calls) == (2, 1, 3)


@pytest.mark.parametrize("ttl", [None, 5.0, 0.0, -1.0, 1e-9])
def test_batched_keys_match_first_seen_key_by_key(tmp_path: Path, ttl: float | None) -> None:
    """``first_seen_on`` (what enqueue uses) answers as ``first_seen`` one key at a time."""
    clock = FakeClock()
    rng = random.Random(repr(ttl))
    pool = ["k", "K", "", "ключ", "🔑", "a\x00b", *(f"k{i}" for i in range(12))]
    with (
        SqliteStore(tmp_path / "batched.db", clock=clock) as batched,
        SqliteStore(tmp_path / "single.db", clock=clock) as single,
    ):
        for _ in range(60):
            keys = rng.choices(pool, k=rng.randint(0, 8))
            expected = [single.first_seen("ns", key, ttl) for key in keys]
            assert batched.first_seen_many("ns", keys, ttl) == expected, keys
            clock.advance(rng.choice([0, 1, 3]))


def test_many_keys_in_one_call(store: SqliteStore) -> None:
    keys = [f"k{i % 1500}" for i in range(3000)]
    assert store.first_seen_many("ns", keys[:700]) == [True] * 700
    assert store.first_seen_many("ns", keys) == [False] * 700 + [True] * 800 + [False] * 1500


def numbers_claimed(queue: SqliteQueue) -> list[int]:
    return [e.action.payload["n"] for e in queue.claim("c", 1000, 60)]


# -- the file -------------------------------------------------------------------------------
def test_queue_and_store_tables_share_one_file(db: Path) -> None:
    with SqliteQueue(db) as queue:
        queue.enqueue("c", [act(0)])
    with SqliteStore(db) as store, SqliteQueue(db) as queue:
        assert store.first_seen("ns", "k") is True
        assert queue.depth() == 1
    conn = sqlite3.connect(db)
    try:
        assert conn.execute("PRAGMA journal_mode").fetchone() == ("wal",)
        tables = {row[0] for row in conn.execute("SELECT name FROM sqlite_master")}
    finally:
        conn.close()
    assert {"seen", "members", "queue", "dead_letters", "progress"} <= tables


def test_claim_reads_the_ready_index(queue: SqliteQueue) -> None:
    assert queue._conn is not None
    args = {"connection": "c", "now": 0.0, "limit": 10}
    plan = " ".join(str(row) for row in queue._conn.execute(f"EXPLAIN QUERY PLAN {CLAIM}", args))
    assert "SEARCH q USING INDEX queue_claim" in plan
    assert "COVERING INDEX leases_key" in plan, "a person's holds, by index"
    assert "SEARCH l USING INTEGER PRIMARY KEY" in plan, "a lease, by its entry's id"
    assert "SCAN" not in plan and "TEMP B-TREE" not in plan
    code = [row[1] for row in queue._conn.execute(f"EXPLAIN {CLAIM}", args)]
    assert "DeferredSeek" in code, "readiness is tested on the index; rows read once chosen"


def test_ids_are_never_reused(queue: SqliteQueue) -> None:
    queue.enqueue("c", [act(0)])
    (first,) = queue.claim("c", 1, 60)
    queue.ack([first.id])
    queue.enqueue("c", [act(1)])
    (second,) = queue.claim("c", 1, 60)
    assert second.id > first.id
    queue.dead_letter([(second, Failure("x"))])
    (dead,) = queue.dead_letters()
    queue.purge_dead_letters(None, None, None)
    queue.enqueue("c", [act(2)])
    queue.dead_letter([(queue.claim("c", 1, 60)[0], Failure("y"))])
    assert queue.dead_letters()[0].id > dead.id


def test_dead_letter_skips_entries_settled_elsewhere(queue: SqliteQueue) -> None:
    queue.enqueue("c", [act(0), act(1)])
    entries = queue.claim("c", 2, 60)
    queue.ack([entries[0].id])
    queue.dead_letter([(e, Failure("late")) for e in entries])
    assert [d.action.payload["n"] for d in queue.dead_letters()] == [1]


def test_dead_letter_keeps_what_json_cannot_hold(queue: SqliteQueue) -> None:
    queue.enqueue("c", [act(0)])
    (entry,) = queue.claim("c", 1, 60)
    queue.dead_letter([(entry, Failure("x", {"tags": {1, 2}}, {"body": b"r"}))])
    (dead,) = queue.dead_letters()
    assert dead.request == {"tags": "{1, 2}"}
    assert dead.response == {"body": "b'r'"}


def test_waits_for_another_writer(queue: SqliteQueue, db: Path) -> None:
    other = sqlite3.connect(db, isolation_level=None, check_same_thread=False)
    other.execute("BEGIN IMMEDIATE")
    timer = threading.Timer(0.2, lambda: other.execute("COMMIT"))
    timer.start()
    try:
        assert queue.enqueue("c", [act(0)]).queued == 1
    finally:
        timer.join()
        other.close()


# -- threads and lifecycle ------------------------------------------------------------------
def test_threads_share_one_queue(queue: SqliteQueue) -> None:
    queue.enqueue("c", [act(n) for n in range(600)])
    claimed: list[int] = []

    def work() -> None:
        while entries := queue.claim("c", 5, 60):
            claimed.extend(e.action.payload["n"] for e in entries)
            queue.ack([e.id for e in entries])

    threads = [threading.Thread(target=work) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert Counter(claimed) == Counter(range(600))


def test_closed_queue_refuses_work(db: Path) -> None:
    queue = SqliteQueue(db)
    queue.close()
    queue.close()
    with pytest.raises(RuntimeError, match="closed"):
        queue.depth()


def test_queue_refuses_to_cross_fork(queue: SqliteQueue, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(queue, "_pid", -1)
    with pytest.raises(RuntimeError, match="fork"):
        queue.claim("c", 1, 60)


def test_closed_store_refuses_to_record(queue: SqliteQueue, db: Path) -> None:
    store = SqliteStore(db)
    store.close()
    with pytest.raises(RuntimeError, match="closed"):
        queue.enqueue("c", [act(0, "k")], dedup=store)
    assert queue.depth() == 0


# -- the hook and the registry --------------------------------------------------------------
def plugin_manager(*plugins: object) -> pluggy.PluginManager:
    pm = pluggy.PluginManager("mapwire")
    pm.add_hookspecs(hookspecs)
    for plugin in plugins:
        pm.register(plugin)
    return pm


def test_hook_make_queue(tmp_path: Path) -> None:
    pm = plugin_manager(sqlite_store)
    queue = pm.hook.make_queue(url=f"sqlite:///{tmp_path}/a/q.db", options={"busy_timeout": 0.25})
    try:
        assert isinstance(queue, SqliteQueue)
        assert (tmp_path / "a" / "q.db").exists(), "parent folders are created"
        assert queue._conn is not None
        assert queue._conn.execute("PRAGMA busy_timeout").fetchone() == (250,)
    finally:
        queue.close()
    assert pm.hook.make_queue(url="redis://localhost", options={}) is None


def test_registry_opens_queues_by_url(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("MAPWIRE_LOAD_PLUGINS", "sqlite_store")
    registry: Registry = build_registry(strict=True)
    queue = registry.make_queue("sqlite:///data/state.db")
    try:
        assert isinstance(queue, SqliteQueue)
        assert queue.file == os.path.realpath(tmp_path / "data" / "state.db")
    finally:
        queue.close()
    with pytest.raises(PluginError, match="'redis'"):
        registry.make_queue("redis://localhost")


class _WronglyGrouped:
    """A queue plugin whose ``enqueue_groups`` takes other arguments than the contract's."""

    def enqueue_groups(self, connection: str, groups: Any) -> list[Any]:
        return []

    @hookimpl
    def make_queue(self, url: str, options: dict[str, Any]) -> Any:
        return self if url.startswith("wrong:") else None


def test_a_queue_whose_enqueue_groups_breaks_the_contract_is_refused_at_start(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Called with the contract's keywords it would raise ``TypeError``, which intake
    reads as input it cannot store: every request would be refused (422)."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("MAPWIRE_LOAD_PLUGINS", "sqlite_store")
    registry: Registry = build_registry(strict=True)
    registry.pm.register(_WronglyGrouped())
    with pytest.raises(PluginError, match=r"_WronglyGrouped.*dedup_ttl.*progress"):
        registry.make_queue("wrong://here")
    queue = registry.make_queue("sqlite:///data/state.db")  # the built-in one takes them
    queue.close()


_FIRST_RELEASE_DEAD_LETTERS = """
CREATE TABLE dead_letters (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    connection TEXT NOT NULL,
    action TEXT NOT NULL,
    reason TEXT NOT NULL,
    attempts INTEGER NOT NULL,
    enqueued_at REAL NOT NULL,
    failed_at REAL NOT NULL,
    request TEXT NOT NULL,
    response TEXT NOT NULL
)
"""


def test_a_file_from_before_dead_letter_kinds_opens_and_keeps_its_dead_letters(
    tmp_path: Path,
) -> None:
    path = tmp_path / "old.db"
    with sqlite3.connect(path) as conn:
        conn.execute(_FIRST_RELEASE_DEAD_LETTERS)
        conn.execute(
            "INSERT INTO dead_letters (connection, action, reason, attempts, enqueued_at, "
            "failed_at, request, response) VALUES ('c', ?, 'HTTP 400', 3, 1.0, 2.0, '{}', '{}')",
            ('{"d":"customerio","a":"track","p":{"n":1},"r":"orders"}',),
        )
    conn.close()
    queue = SqliteQueue(path, clock=lambda: 10.0)
    try:
        (old,) = queue.dead_letters()
        assert (old.kind, old.attempts, old.history) == ("delivery", 3, [])
        assert old.first_failed_at == old.failed_at == 2.0
        assert old.action.payload == {"n": 1}
        assert queue.requeue_dead_letters(None, None) == 1
        (entry,) = queue.claim("c", 1, 60)
        assert entry.action.payload == {"n": 1}
        # its one failure, kept only in its row, comes back as its history
        queue.dead_letter([(entry, Failure("HTTP 422"))])
        (again,) = queue.dead_letters()
        assert [(h.at, h.reason, h.attempts) for h in again.history] == [
            (2.0, "HTTP 400", 3),
            (10.0, "HTTP 422", 1),
        ]
        assert again.attempts == 4
    finally:
        queue.close()


def test_a_queue_from_before_ordering_keys_opens_and_orders_what_comes_next(
    tmp_path: Path,
) -> None:
    path = tmp_path / "old.db"
    with sqlite3.connect(path) as conn:
        conn.executescript(BEFORE_ORDERING)
        conn.execute(
            "INSERT INTO queue (connection, action, enqueued_at) VALUES ('c', ?, 1.0)",
            ('{"d":"customerio","a":"identify","p":{"id":"p","n":0},"r":"people"}',),
        )
    conn.close()
    queue = SqliteQueue(path)
    try:
        queue.enqueue("c", [of("p", 1), of("p", 2)])
        assert numbers(queue.claim("c", 2, 60)) == [0, 1], "the old entry has no key"
        assert queue.claim("c", 10, 60) == [], "the new ones are ordered"
        assert queue._conn is not None
        indexes = {row[1] for row in queue._conn.execute("PRAGMA index_list(queue)")}
        assert "queue_claim" in indexes and not {"queue_order", "queue_ready"} & indexes
    finally:
        queue.close()


def test_a_queue_from_before_intake_wires_gets_the_column_and_delivers_old_rows(
    tmp_path: Path,
) -> None:
    path = tmp_path / "old.db"
    with sqlite3.connect(path) as conn:
        conn.executescript(BEFORE_ORDERING)
        conn.execute("ALTER TABLE queue ADD COLUMN order_key TEXT NOT NULL DEFAULT ''")
        conn.execute("ALTER TABLE queue ADD COLUMN owner TEXT NOT NULL DEFAULT ''")
        conn.execute(
            "INSERT INTO queue (connection, action, enqueued_at) VALUES ('c', ?, 1.0)",
            ('{"d":"customerio","a":"identify","p":{"id":"p","n":0},"r":"people","k":1}',),
        )
    conn.close()
    queue = SqliteQueue(path)
    try:
        queue.enqueue("c", [Action("customerio", "event", {"n": 1}, checked=True, wire=b"w")])
        old, new = queue.claim("c", 10, 60)
        assert (old.action.payload["n"], old.action.checked, old.action.wire) == (0, True, None)
        assert (new.action.payload["n"], new.action.wire) == (1, b"w")
    finally:
        queue.close()
