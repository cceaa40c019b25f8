"""``insert_rows``: many rows in few multi-row statements, in order, within SQLite's limit
on bound values; the queue and the dedup keys are written with it."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass, field

import pytest

from mapwire.plugins.sqlite_store.database import ROWS_PER_STATEMENT, insert_rows


@dataclass
class Traced:
    """A connection and the statements it ran."""

    conn: sqlite3.Connection
    statements: list[str] = field(default_factory=list)

    def inserts(self) -> list[str]:
        return [s for s in self.statements if s.startswith("INSERT")]


@pytest.fixture
def traced() -> Iterator[Traced]:
    db = sqlite3.connect(":memory:", isolation_level=None)
    db.execute("CREATE TABLE t (id INTEGER PRIMARY KEY AUTOINCREMENT, k TEXT UNIQUE, n INTEGER)")
    out = Traced(db)
    db.set_trace_callback(out.statements.append)
    try:
        yield out
    finally:
        db.close()


@pytest.mark.parametrize("count", [0, 1, 3, 4, 255, 256, 341, 600])
def test_every_row_lands_in_order(traced: Traced, count: int) -> None:
    conn = traced.conn
    rows = [(f"k{i}", i) for i in range(count)]
    insert_rows(conn, "INSERT INTO t (k, n) VALUES", rows)
    stored = conn.execute("SELECT k, n FROM t ORDER BY id").fetchall()
    assert stored == rows
    expected = 0
    left = count
    for size in ROWS_PER_STATEMENT:
        expected += left // size
        left %= size
    assert len(traced.inserts()) == expected, "the fewest statements of the fixed sizes"


def test_statements_stay_within_the_limit_on_bound_values(traced: Traced) -> None:
    conn = traced.conn
    conn.setlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER, 40)  # room for 20 rows of 2
    rows = [(f"k{i}", i) for i in range(100)]
    insert_rows(conn, "INSERT INTO t (k, n) VALUES", rows)
    assert conn.execute("SELECT k, n FROM t ORDER BY id").fetchall() == rows
    assert max(s.count("('k") for s in traced.inserts()) == 16  # the trace shows values


def test_a_tail_and_its_arguments_follow_every_statement(traced: Traced) -> None:
    conn = traced.conn
    conn.execute("INSERT INTO t (k, n) VALUES ('k1', 0)")
    tail = "ON CONFLICT (k) DO UPDATE SET n = excluded.n + ?"
    rows = [(f"k{i}", i) for i in range(6)]
    insert_rows(conn, "INSERT INTO t (k, n) VALUES", rows, tail=tail, tail_args=(100,))
    stored = dict(conn.execute("SELECT k, n FROM t").fetchall())
    assert stored == {"k0": 0, "k1": 101, "k2": 2, "k3": 3, "k4": 4, "k5": 5}
