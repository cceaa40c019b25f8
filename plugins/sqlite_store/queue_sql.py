"""The SQL behind ``SqliteQueue``: its tables, indexes and statements.

Every statement on a list of ids takes them as one JSON array (``queue_rows.IDS``): one
statement, any count.
"""

from __future__ import annotations

from .queue_rows import IDS

SCHEMA = """
CREATE TABLE IF NOT EXISTS queue (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    connection TEXT NOT NULL,
    action TEXT NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    not_before REAL NOT NULL DEFAULT 0,
    lease_until REAL NOT NULL DEFAULT 0,
    enqueued_at REAL NOT NULL,
    last_error TEXT NOT NULL DEFAULT '',
    order_key TEXT NOT NULL DEFAULT '',
    owner TEXT NOT NULL DEFAULT '',
    wire BLOB
);
CREATE TABLE IF NOT EXISTS dead_letters (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    connection TEXT NOT NULL,
    action TEXT NOT NULL,
    reason TEXT NOT NULL,
    attempts INTEGER NOT NULL,
    enqueued_at REAL NOT NULL,
    failed_at REAL NOT NULL,
    request TEXT NOT NULL,
    response TEXT NOT NULL,
    kind TEXT NOT NULL DEFAULT 'delivery',
    detail TEXT NOT NULL DEFAULT '{}',
    order_key TEXT NOT NULL DEFAULT ''
);
CREATE INDEX IF NOT EXISTS dead_letters_connection ON dead_letters (connection, id);
CREATE TABLE IF NOT EXISTS progress (
    key TEXT PRIMARY KEY,
    value TEXT NOT NULL
) WITHOUT ROWID;
"""

INSERT = """
INSERT INTO queue (connection, action, enqueued_at, order_key, wire) VALUES (?, ?, ?, ?, ?)
"""

#: Created once the columns they cover exist (files from before ``order_key`` get them
#: added, and lose ``queue_ready``, the claim index without it).
INDEXES = (
    "DROP INDEX IF EXISTS queue_ready",
    "CREATE INDEX IF NOT EXISTS queue_claim"
    " ON queue (connection, id, not_before, lease_until, order_key)",
    "CREATE INDEX IF NOT EXISTS queue_order ON queue (connection, order_key, id)",
)

SET_PROGRESS = """
INSERT INTO progress (key, value) VALUES (?, ?)
ON CONFLICT (key) DO UPDATE SET value = excluded.value
"""

# ``queue_claim`` serves claim, depth and next_ready_at from the index alone. Claim reads the
# connection's entries in id order until it has ``limit`` ready ones, stepping over the
# leased or delayed entries before them; depth and next_ready_at read all the connection's
# entries (a fraction of a microsecond each). An entry with an ``order_key`` is ready only
# while no earlier entry of its key is pending (leased, or waiting for a retry):
# ``queue_order`` finds those earlier entries (one person's: a few). Several entries of one
# key may go in one claim (oldest first, to one worker), never in two at once.
CLAIM = """
UPDATE queue SET lease_until = :lease, owner = :owner
WHERE id IN (
    SELECT q.id FROM queue AS q
    WHERE q.connection = :connection AND q.not_before <= :now AND q.lease_until <= :now
        AND (q.order_key = '' OR NOT EXISTS (
            SELECT 1 FROM queue AS p INDEXED BY queue_order
            WHERE p.connection = :connection AND p.order_key = q.order_key AND p.id < q.id
                AND (p.not_before > :now OR p.lease_until > :now)
        ))
    ORDER BY q.id LIMIT :limit
)
RETURNING id, action, attempts, enqueued_at, last_error, wire
"""

# Leased entries of owners that are provably dead (``claim_owner``) are claimable at once.
OWNERS = """
SELECT DISTINCT owner FROM queue WHERE connection = ? AND owner != '' AND lease_until > ?
"""
RECLAIM = """
UPDATE queue SET lease_until = 0, owner = ''
WHERE connection = ? AND lease_until > ? AND owner IN (SELECT value FROM json_each(?))
"""

# Every statement on a list of ids takes them as one JSON array: one statement, any count.
ACK = f"DELETE FROM queue WHERE {IDS}"
RETRY = f"""
UPDATE queue SET attempts = attempts + 1, not_before = ?, last_error = ?, lease_until = 0,
    owner = ''
WHERE {IDS}
"""
RELEASE = f"UPDATE queue SET not_before = ?, lease_until = 0, owner = '' WHERE {IDS}"

#: Columns added after the first release, by table, with what old rows get (old entries
#: have no ordering key: each is ordered with no other, as before; and no ``wire``, the
#: item prepared at intake: they are prepared at delivery, as before).
ADDED_COLUMNS = {
    "dead_letters": {
        "kind": "kind TEXT NOT NULL DEFAULT 'delivery'",
        "detail": "detail TEXT NOT NULL DEFAULT '{}'",
        "order_key": "order_key TEXT NOT NULL DEFAULT ''",
    },
    "queue": {
        "order_key": "order_key TEXT NOT NULL DEFAULT ''",
        "owner": "owner TEXT NOT NULL DEFAULT ''",
        "wire": "wire BLOB",
    },
}

# The failed delivery counts as an attempt: ``attempts`` of a dead letter is every try,
# over its whole history (computed by the caller from the entry's history).
BURY = """
INSERT INTO dead_letters
    (connection, action, reason, attempts, enqueued_at, failed_at, request, response, order_key)
SELECT connection, ?, ?, ?, enqueued_at, ?, ?, ?, order_key FROM queue WHERE id = ?
"""
RECORD = """
INSERT INTO dead_letters (connection, action, reason, attempts, enqueued_at, failed_at,
    request, response, kind, detail)
VALUES (?, ?, ?, ?, ?, ?, '{}', '{}', 'mapping', ?)
"""
DELETE_ONE = "DELETE FROM queue WHERE id = ?"

NEXT_READY = "SELECT min(max(not_before, lease_until)) FROM queue WHERE connection = ?"

DEAD_COLUMNS = (
    "id, connection, action, reason, attempts, enqueued_at, failed_at, request, response, "
    "kind, detail"
)

#: A person's erasure: their entries that no worker holds (``queue_order`` finds them).
DROP_PERSON = """
DELETE FROM queue INDEXED BY queue_order
WHERE connection = ? AND order_key = ? AND lease_until <= ?
"""
DROP_PERSON_DEAD = "DELETE FROM dead_letters WHERE connection = ? AND order_key = ?"
