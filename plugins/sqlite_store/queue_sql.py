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
CREATE TABLE IF NOT EXISTS leases (
    id INTEGER PRIMARY KEY,
    lease_until REAL NOT NULL,
    owner TEXT NOT NULL
);
"""

INSERT = """
INSERT INTO queue (connection, action, enqueued_at, order_key, wire) VALUES (?, ?, ?, ?, ?)
"""

#: Created once the columns they cover exist (files from before ``order_key`` get them
#: added, and lose ``queue_ready``, the claim index without it). ``lease_until`` in
#: ``queue_claim`` is always 0 since leases have their own table: it costs next to nothing,
#: and a new definition would rebuild the index of every existing file.
#: ``queue_old_leases`` holds the entries leased in their row (by code from before the
#: ``leases`` table): none once ``MOVE_LEASES`` ran, so that check is free at every open.
INDEXES = (
    "DROP INDEX IF EXISTS queue_ready",
    "CREATE INDEX IF NOT EXISTS queue_claim"
    " ON queue (connection, id, not_before, lease_until, order_key)",
    "CREATE INDEX IF NOT EXISTS queue_order ON queue (connection, order_key, id)",
    "CREATE INDEX IF NOT EXISTS queue_old_leases ON queue (id) WHERE lease_until > 0",
)

SET_PROGRESS = """
INSERT INTO progress (key, value) VALUES (?, ?)
ON CONFLICT (key) DO UPDATE SET value = excluded.value
"""

# Leases live in their own narrow table, ``leases``, one row per leased entry (its id):
# writing a lease there costs a small row, where updating the ``queue`` row rewrote the whole
# record, ``wire`` included, and its index entries. The ``queue`` columns ``lease_until``
# and ``owner`` stay in old files (SQLite cannot drop them cheaply); they are always 0 and
# '' once ``MOVE_LEASES`` ran at open. A lease row whose ``lease_until`` has passed is no
# lease (the worker crashed, or is slow): the next claim replaces it. Settling an entry
# deletes its lease row in the same transaction; ids are never reused, so a lease row can
# never outlive its entry into a newer one.
_LEASED = "SELECT 1 FROM leases AS l WHERE l.id = {0}.id AND l.lease_until > :now"

# ``queue_claim`` serves claim, depth and next_ready_at from the index alone, a lease by its
# id in ``leases`` (a handful of rows). Claim reads the connection's entries in id order until
# it has ``limit`` ready ones, stepping over the leased or delayed entries before them; depth
# and next_ready_at read all the connection's entries. An entry with an ``order_key`` is ready
# only while no earlier entry of its key is pending (leased, or waiting for a retry):
# ``queue_order`` finds those earlier entries (one person's: a few). Several entries of one
# key may go in one claim (oldest first, to one worker), never in two at once. ``CLAIM``
# selects, ``LEASE`` writes the leases of what it selected, in one ``BEGIN IMMEDIATE``
# transaction: concurrent claimers never get the same entry.
CLAIM = f"""
SELECT q.id, q.action, q.attempts, q.enqueued_at, q.last_error, q.wire
FROM queue AS q INDEXED BY queue_claim
WHERE q.connection = :connection AND q.not_before <= :now
    AND NOT EXISTS ({_LEASED.format("q")})
    AND (q.order_key = '' OR NOT EXISTS (
        SELECT 1 FROM queue AS p INDEXED BY queue_order
        WHERE p.connection = :connection AND p.order_key = q.order_key AND p.id < q.id
            AND (p.not_before > :now OR EXISTS ({_LEASED.format("p")}))
    ))
ORDER BY q.id LIMIT :limit
"""
LEASE = """
INSERT OR REPLACE INTO leases (id, lease_until, owner)
SELECT value, :lease, :owner FROM json_each(:ids)
"""

# Leased entries of owners that are provably dead (``claim_owner``) are claimable at once.
# Both read ``leases`` (the leased entries: a few), each lease's entry by its id.
OWNERS = """
SELECT DISTINCT l.owner FROM leases AS l CROSS JOIN queue AS q ON q.id = l.id
WHERE q.connection = ? AND l.owner != '' AND l.lease_until > ?
"""
RECLAIM = """
DELETE FROM leases
WHERE lease_until > ? AND owner IN (SELECT value FROM json_each(?))
    AND EXISTS (SELECT 1 FROM queue AS q WHERE q.id = leases.id AND q.connection = ?)
"""

# Every statement on a list of ids takes them as one JSON array: one statement, any count.
# Each of ``ACK``, ``RETRY`` and ``RELEASE`` goes with ``UNLEASE`` in one transaction.
ACK = f"DELETE FROM queue WHERE {IDS}"
UNLEASE = f"DELETE FROM leases WHERE {IDS}"
RETRY = f"UPDATE queue SET attempts = attempts + 1, not_before = ?, last_error = ? WHERE {IDS}"
RELEASE = f"UPDATE queue SET not_before = ? WHERE {IDS}"

#: Leases held in the ``queue`` row by files from before ``leases``, moved there at open in
#: the schema's transaction; then the lease rows of entries gone (settled by such code).
#: A file used at once by code from before ``leases`` and after is not supported: each
#: would ignore the other's leases.
MOVE_LEASES = (
    "INSERT OR REPLACE INTO leases (id, lease_until, owner)"
    " SELECT id, lease_until, owner FROM queue INDEXED BY queue_old_leases WHERE lease_until > 0",
    "UPDATE queue INDEXED BY queue_old_leases SET lease_until = 0, owner = ''"
    " WHERE lease_until > 0",
    "DELETE FROM leases WHERE NOT EXISTS (SELECT 1 FROM queue AS q WHERE q.id = leases.id)",
)

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

NEXT_READY = """
SELECT min(max(q.not_before, coalesce(l.lease_until, 0)))
FROM queue AS q INDEXED BY queue_claim LEFT JOIN leases AS l ON l.id = q.id
WHERE q.connection = ?
"""

DEAD_COLUMNS = (
    "id, connection, action, reason, attempts, enqueued_at, failed_at, request, response, "
    "kind, detail"
)

#: A person's erasure: their entries that no worker holds (``queue_order`` finds them).
#: ``DROP_PERSON_UNLEASE`` first drops the person's lease rows that ran out, so every lease
#: row left is live; both run in one transaction.
DROP_PERSON_UNLEASE = """
DELETE FROM leases
WHERE lease_until <= :now AND id IN (
    SELECT id FROM queue INDEXED BY queue_order WHERE connection = :connection AND order_key = :key
)
"""
DROP_PERSON = """
DELETE FROM queue INDEXED BY queue_order
WHERE connection = :connection AND order_key = :key
    AND NOT EXISTS (SELECT 1 FROM leases AS l WHERE l.id = queue.id)
"""
DROP_PERSON_DEAD = "DELETE FROM dead_letters WHERE connection = ? AND order_key = ?"
