"""What ``SqliteStore`` and its plugin promise beyond the ``StateStore`` contract."""

from __future__ import annotations

import sqlite3
import threading
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pluggy
import pytest
from store_contract import FakeClock

from mapwire import (
    MapwireError,
    MemoryStore,
    StateStore,
    StoreSchemaError,
    StoreUnavailable,
    hookimpl,
)
from mapwire.contracts import hookspecs
from mapwire.plugins import sqlite_store
from mapwire.plugins.sqlite_store.store import (
    SCHEMA_VERSION,
    SqliteStore,
    sqlite_path,
)
from mapwire.runtime.registry import build_registry


@pytest.fixture
def store(db: Path, clock: FakeClock) -> Iterator[SqliteStore]:
    with SqliteStore(db, clock=clock) as s:
        yield s


def row_count(db: Path, table: str = "seen") -> int:
    with sqlite3.connect(db) as conn:
        (n,) = conn.execute(f"SELECT count(*) FROM {table}").fetchone()
    conn.close()
    return int(n)


# -- URLs and the hook -----------------------------------------------------------------
@pytest.mark.parametrize(
    ("url", "path"),
    [
        ("sqlite:///state.db", "state.db"),
        ("sqlite:///var/lib/mapwire/state.db", "var/lib/mapwire/state.db"),
        (
            "sqlite:////var/lib/mapwire/state.db",
            "/var/lib/mapwire/state.db",  # self-contained: parsed, never opened
        ),
        ("sqlite://:memory:", ":memory:"),
        ("sqlite:///:memory:", ":memory:"),
        ("SQLITE:///state.db", "state.db"),
        ("redis://localhost:6379/0", None),
        ("memory://", None),
        ("sqlite3:///x.db", None),
        ("", None),
    ],
)
def test_sqlite_path(url: str, path: str | None) -> None:
    assert sqlite_path(url) == path


@pytest.mark.parametrize("url", ["sqlite://", "sqlite:///", "sqlite:x.db", "sqlite://host/x.db"])
def test_malformed_sqlite_url_is_an_error(url: str) -> None:
    with pytest.raises(MapwireError, match=r"sqlite:////absolute/path\.db"):
        sqlite_path(url)


def plugin_manager(*plugins: object) -> pluggy.PluginManager:
    pm = pluggy.PluginManager("mapwire")
    pm.add_hookspecs(hookspecs)
    for plugin in plugins:
        pm.register(plugin)
    return pm


def test_hook_make_state_store(tmp_path: Path) -> None:
    pm = plugin_manager(sqlite_store)
    url = f"sqlite:///{tmp_path}/a/b/state.db"
    store = pm.hook.make_state_store(url=url, options={"busy_timeout": 0.25})
    try:
        assert isinstance(store, SqliteStore)
        assert (tmp_path / "a" / "b" / "state.db").exists(), "parent folders are created"
        assert store._conn is not None
        assert store._conn.execute("PRAGMA busy_timeout").fetchone() == (250,)
    finally:
        store.close()
    assert pm.hook.make_state_store(url="redis://localhost", options={}) is None


def test_hook_is_a_default_other_plugins_override(tmp_path: Path) -> None:
    sentinel = MemoryStore()

    class Custom:
        @hookimpl
        def make_state_store(self, url: str, options: dict[str, Any]) -> StateStore | None:
            return sentinel

    pm = plugin_manager(sqlite_store, Custom())
    assert pm.hook.make_state_store(url=f"sqlite:///{tmp_path}/x.db", options={}) is sentinel


def test_relative_url_is_relative_to_working_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("MAPWIRE_LOAD_PLUGINS", "sqlite_store")
    store = build_registry(strict=True).make_state_store("sqlite:///data/state.db")
    try:
        assert isinstance(store, SqliteStore)
        assert store.first_seen("ns", "k") is True
    finally:
        store.close()
    assert (tmp_path / "data" / "state.db").is_file()


def test_memory_url_is_private_per_store() -> None:
    with SqliteStore(":memory:") as a, SqliteStore(":memory:") as b:
        assert a.first_seen("ns", "k") is True
        assert b.first_seen("ns", "k") is True
        assert a.first_seen("ns", "k") is False


# -- the file ----------------------------------------------------------------------------
def test_file_uses_wal_and_records_schema_version(store: SqliteStore, db: Path) -> None:
    conn = sqlite3.connect(db)
    try:
        assert conn.execute("PRAGMA journal_mode").fetchone() == ("wal",)
        assert conn.execute("PRAGMA user_version").fetchone() == (SCHEMA_VERSION,)
    finally:
        conn.close()


def test_newer_schema_is_refused(db: Path) -> None:
    conn = sqlite3.connect(db)
    conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    conn.close()
    with pytest.raises(StoreSchemaError, match="newer"):
        SqliteStore(db)


def test_a_version_1_file_gains_the_aliases_table_and_keeps_its_state(db: Path) -> None:
    with SqliteStore(db) as first:
        first.update_membership("aud", "mpid-1", [("a", True, 1)])
    conn = sqlite3.connect(db)  # as version 1 left it: no aliases table
    conn.execute("DROP TABLE aliases")
    conn.execute("PRAGMA user_version = 1")
    conn.commit()
    conn.close()
    with SqliteStore(db) as upgraded:
        assert upgraded.update_membership("aud", "mpid-1", []) == ["a"]
        upgraded.add_aliases("aud", "mpid-1", ["c1"])
        assert upgraded.forget("aud", ["c1"]) == 1
    conn = sqlite3.connect(db)
    try:
        assert conn.execute("PRAGMA user_version").fetchone() == (SCHEMA_VERSION,) == (2,)
    finally:
        conn.close()


def test_reopening_keeps_existing_tables(db: Path) -> None:
    with SqliteStore(db) as first:
        first.first_seen("ns", "k")
    with SqliteStore(db) as second:
        assert second.first_seen("ns", "k") is False


def test_waits_for_another_writer(store: SqliteStore, db: Path) -> None:
    other = sqlite3.connect(db, isolation_level=None, check_same_thread=False)
    other.execute("BEGIN IMMEDIATE")
    timer = threading.Timer(0.2, lambda: other.execute("COMMIT"))
    timer.start()
    try:
        assert store.first_seen("ns", "k") is True
    finally:
        timer.join()
        other.close()


# -- first_seen_many -------------------------------------------------------------------
def test_first_seen_many(store: SqliteStore) -> None:
    assert store.first_seen_many("ns", []) == []
    store.first_seen("ns", "b")
    assert store.first_seen_many("ns", ["a", "b", "a", "c"]) == [True, False, False, True]
    assert store.first_seen_many("other", ["a"]) == [True]
    assert store.first_seen("ns", "c") is False


def test_first_seen_many_ttl(store: SqliteStore, clock: FakeClock) -> None:
    assert store.first_seen_many("ns", ["a", "b"], ttl=5) == [True, True]
    clock.advance(5)
    assert store.first_seen_many("ns", ["a", "c"], ttl=5) == [True, True]
    assert store.first_seen("ns", "b", ttl=5) is True


# -- lazy purge ----------------------------------------------------------------------------
def test_expired_rows_are_purged_in_small_batches(db: Path, clock: FakeClock) -> None:
    with SqliteStore(db, clock=clock, purge_every=1, purge_batch=3) as store:
        store.first_seen_many("ns", [f"k{i}" for i in range(10)], ttl=1)
        store.first_seen("ns", "forever")
        assert row_count(db) == 11
        clock.advance(2)
        store.first_seen("ns", "x")
        assert row_count(db) == 12 - 3
        for i in range(5):
            store.first_seen("ns", f"y{i}")
        assert row_count(db) == 2 + 5, "only expired rows go; the others stay"


def test_purge_reads_the_expiry_index(store: SqliteStore) -> None:
    from mapwire.plugins.sqlite_store.store import _PURGE

    assert store._conn is not None
    plan = " ".join(str(row) for row in store._conn.execute(f"EXPLAIN QUERY PLAN {_PURGE}", (0, 1)))
    assert "INDEX seen_expiry" in plan
    assert "SCAN seen" not in plan


# -- atomicity and threads -----------------------------------------------------------------
def test_failed_membership_update_changes_nothing(store: SqliteStore, db: Path) -> None:
    store.update_membership("seg", "u", [("a", True, 1)])
    bad: Any = [("b", True, 2), (None, True, 3)]
    with pytest.raises(StoreUnavailable) as caught:
        store.update_membership("seg", "u", bad)
    assert isinstance(caught.value.__cause__, sqlite3.IntegrityError)
    assert store.update_membership("seg", "u", []) == ["a"]
    assert store.update_membership("seg", "u", [("c", True, 1)]) == ["a", "c"]


def test_threads_share_one_store(store: SqliteStore) -> None:
    new: list[str] = []

    def work(offset: int) -> None:
        for i in range(offset, offset + 300):
            if store.first_seen("t", f"k{i}"):
                new.append(f"k{i}")

    threads = [threading.Thread(target=work, args=(n * 100,)) for n in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    counts = Counter(new)
    assert len(counts) == 800
    assert set(counts.values()) == {1}


# -- lifecycle -------------------------------------------------------------------------------
def test_closed_store_refuses_work(db: Path) -> None:
    store = SqliteStore(db)
    store.close()
    store.close()
    with pytest.raises(RuntimeError, match="closed"):
        store.first_seen("ns", "k")


def test_store_refuses_to_cross_fork(store: SqliteStore, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(store, "_pid", -1)
    with pytest.raises(RuntimeError, match="fork"):
        store.update_membership("seg", "u", [])
