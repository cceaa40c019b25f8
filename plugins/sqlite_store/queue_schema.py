"""Opening a ``SqliteQueue`` file: its tables created, or those of an earlier version
brought up to date, in one transaction.

Columns added since the first release get their defaults (``queue_sql.ADDED_COLUMNS``);
leases held in the ``queue`` row move to ``leases`` (``queue_sql.MOVE_LEASES``); a file
from before lease rows named their person gets them named (``queue_sql.KEY_OLD_HOLDS``).
"""

from __future__ import annotations

import sqlite3

from . import queue_sql as sql
from .database import immediate


def setup_queue_schema(conn: sqlite3.Connection, now: float) -> None:
    """Create the queue's tables and indexes, or upgrade an earlier version's."""
    with immediate(conn):
        for statement in sql.SCHEMA.split(";"):
            if statement.strip():
                conn.execute(statement)
        for table, columns in sql.ADDED_COLUMNS.items():
            have = {row[1] for row in conn.execute(f"PRAGMA table_info({table})")}
            for name, definition in columns.items():
                if name not in have:
                    conn.execute(f"ALTER TABLE {table} ADD COLUMN {definition}")
        old_order = conn.execute(
            "SELECT 1 FROM sqlite_master WHERE type = 'index' AND name = ?",
            (sql.OLD_ORDER_INDEX,),
        ).fetchone()
        for statement in (*sql.INDEXES, *sql.MOVE_LEASES):
            conn.execute(statement)
        if old_order:
            update, holds, drop = sql.KEY_OLD_HOLDS
            conn.execute(update)
            conn.execute(holds, (now,))
            conn.execute(drop)
