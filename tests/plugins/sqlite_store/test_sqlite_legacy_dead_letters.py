"""A dead letter of the first release (its one failure only in its row: no history in its
action) keeps that failure across ``dlq retry``: it becomes the history the action carries
back, so a later failure adds to it."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from mapwire.contracts.queue import Failure
from plugins.sqlite_store.queue import SqliteQueue

FIRST_RELEASE_DEAD_LETTERS = """
CREATE TABLE dead_letters (
    id INTEGER PRIMARY KEY AUTOINCREMENT, connection TEXT NOT NULL, action TEXT NOT NULL,
    reason TEXT NOT NULL, attempts INTEGER NOT NULL, enqueued_at REAL NOT NULL,
    failed_at REAL NOT NULL, request TEXT NOT NULL, response TEXT NOT NULL
)
"""


def test_a_dead_letter_without_history_keeps_its_failure_across_a_retry(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    with sqlite3.connect(path) as conn:
        conn.execute(FIRST_RELEASE_DEAD_LETTERS)
        conn.execute(
            "INSERT INTO dead_letters (connection, action, reason, attempts, enqueued_at,"
            " failed_at, request, response) VALUES ('c', ?, 'HTTP 400', 3, 1.0, 2.0, '{}', '{}')",
            ('{"d":"d","a":"a","p":{"n":12345678901234567890},"r":"r"}',),
        )
    now = [10.0]
    queue = SqliteQueue(path, clock=lambda: now[0])
    try:
        assert queue.requeue_dead_letters(None, None) == 1
        (entry,) = queue.claim("c", 1, 60)
        assert entry.action.payload == {"n": 12345678901234567890}
        queue.dead_letter([(entry, Failure("HTTP 422"))])
        (letter,) = queue.dead_letters()
    finally:
        queue.close()
    assert [(h.at, h.reason, h.attempts) for h in letter.history] == [
        (2.0, "HTTP 400", 3),
        (10.0, "HTTP 422", 1),
    ]
    assert letter.attempts == 4
