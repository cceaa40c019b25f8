"""A queue that fails (here: SQLite refusing every new row) is the store plugin's
``QueueUnavailable``, never a ``sqlite3`` error: ``serve`` answers 503 with ``Retry-After``
and a JSON code, logs why without the input, and takes input again once the queue works."""

from __future__ import annotations

import io
import json
import sqlite3
from collections.abc import Callable
from pathlib import Path

from server_helpers import RunningServer, bearer, events_batch, sink_flows, write_config


def _refuse_rows(db: Path, refuse: bool) -> None:
    conn = sqlite3.connect(db)
    try:
        if refuse:
            conn.execute(
                "CREATE TRIGGER refuse BEFORE INSERT ON queue "
                "BEGIN SELECT RAISE(ABORT, 'the disk is on fire'); END"
            )
        else:
            conn.execute("DROP TRIGGER refuse")
    finally:
        conn.close()


def test_a_failing_queue_is_503_with_retry_after(
    tmp_path: Path, serve: Callable[[Path], RunningServer], logs: io.StringIO
) -> None:
    running = serve(write_config(tmp_path, sink_flows()))
    body = json.dumps(events_batch("secret-user-id", 2))
    _refuse_rows(tmp_path / "state.db", True)
    with running.client(headers=bearer()) as client:
        refused = client.post("/mparticle/events", content=body)
        _refuse_rows(tmp_path / "state.db", False)
        accepted = client.post("/mparticle/events", content=body)
    assert refused.status_code == 503
    assert refused.headers["retry-after"] == "5"
    assert refused.json()["error"]["code"] == "queue_unavailable"
    assert accepted.status_code == 202
    lines = [json.loads(line) for line in logs.getvalue().splitlines()]
    failed = [line for line in lines if line.get("event") == "queue_unavailable"]
    assert failed and failed[0]["error_type"] == "QueueUnavailable"
    assert "secret-user-id" not in logs.getvalue()
