"""Earlier formats of the SQLite queue's file, as those versions created them, and a reader
of a file's rows: the tests that open old files build them from these.

The snapshots are frozen on purpose: they describe files already on disk, so they never
follow the current schema (``queue_sql``). Each format is written from the one before it
and what its version added (a version created its ``queue`` table whole, with its own
columns, so the columns are what is shared).
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

#: The ``queue`` table's columns of the first release.
_FIRST_COLUMNS = (
    "id INTEGER PRIMARY KEY AUTOINCREMENT",
    "connection TEXT NOT NULL",
    "action TEXT NOT NULL",
    "attempts INTEGER NOT NULL DEFAULT 0",
    "not_before REAL NOT NULL DEFAULT 0",
    "lease_until REAL NOT NULL DEFAULT 0",
    "enqueued_at REAL NOT NULL",
    "last_error TEXT NOT NULL DEFAULT ''",
)


def _queue_table(columns: tuple[str, ...]) -> str:
    """``CREATE TABLE queue`` with ``columns``, as a version created it in a new file."""
    listed = ",\n    ".join(columns)
    return f"\nCREATE TABLE queue (\n    {listed}\n);\n"


#: Before per-person ordering: no ``order_key``, ``owner`` or ``wire`` column.
BEFORE_ORDERING = (
    _queue_table(_FIRST_COLUMNS)
    + "CREATE INDEX queue_ready ON queue (connection, id, not_before, lease_until);\n"
)

#: Before the ``leases`` table: a lease is held in its entry's row; a person's order is
#: found through the queue's index by person, ``queue_order``.
BEFORE_LEASES = _queue_table(
    (
        *_FIRST_COLUMNS,
        "order_key TEXT NOT NULL DEFAULT ''",
        "owner TEXT NOT NULL DEFAULT ''",
        "wire BLOB",
    )
) + (
    "CREATE INDEX queue_claim ON queue (connection, id, not_before, lease_until, order_key);\n"
    "CREATE INDEX queue_order ON queue (connection, order_key, id);\n"
)

#: Before lease rows named their person: ``leases`` without ``connection`` and
#: ``order_key``, the order still found through ``queue_order``.
ORDERED_BY_INDEX = (
    BEFORE_LEASES
    + """
CREATE TABLE leases (
    id INTEGER PRIMARY KEY,
    lease_until REAL NOT NULL,
    owner TEXT NOT NULL
);
CREATE INDEX queue_old_leases ON queue (id) WHERE lease_until > 0;
"""
)

#: Before erasures reached claimed entries: ``leases`` naming their person, without
#: ``erased``; the person's holds found through ``leases_key``.
BEFORE_ERASED_MARKS = (
    BEFORE_LEASES.replace("CREATE INDEX queue_order ON queue (connection, order_key, id);\n", "")
    + """
CREATE TABLE leases (
    id INTEGER PRIMARY KEY,
    lease_until REAL NOT NULL,
    owner TEXT NOT NULL,
    connection TEXT NOT NULL DEFAULT '',
    order_key TEXT NOT NULL DEFAULT ''
);
CREATE INDEX queue_old_leases ON queue (id) WHERE lease_until > 0;
CREATE INDEX leases_key ON leases (connection, order_key, lease_until);
"""
)

#: An owner on another host: never provably dead, so its leases hold until they run out.
ELSEWHERE = "elsewhere/instance/1/token"


def rows(db: Path, query: str) -> list[tuple[object, ...]]:
    """``query``'s rows, read through a connection of its own."""
    conn = sqlite3.connect(db)
    try:
        return conn.execute(query).fetchall()
    finally:
        conn.close()
