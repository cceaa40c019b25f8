"""The ``StateStore`` contract, run against every store this repository ships."""

from __future__ import annotations

import functools
from pathlib import Path

from forget_contract import ForgetContract
from store_contract import FakeClock, StateStoreContract, StoreOpener

from mapwire import MemoryStore, StateStore
from mapwire.plugins.sqlite_store.store import SqliteStore


class TestMemoryStoreContract(StateStoreContract, ForgetContract):
    supports_ttl = False
    persistent = False
    shared_across_processes = False

    def make_store(self, location: Path, clock: FakeClock) -> StateStore:
        return MemoryStore()


class TestSqliteStoreContract(StateStoreContract, ForgetContract):
    def make_store(self, location: Path, clock: FakeClock) -> StateStore:
        return SqliteStore(location / "state.db", clock=clock)

    def process_opener(self, location: Path) -> StoreOpener:
        return functools.partial(SqliteStore, str(location / "state.db"))

    def kept_dedup_keys(self, store: StateStore, namespace: str) -> int:
        assert isinstance(store, SqliteStore)
        with store._connection() as conn:
            (rows,) = conn.execute(
                "SELECT COUNT(*) FROM seen WHERE ns = ?", (namespace,)
            ).fetchone()
        return int(rows)
