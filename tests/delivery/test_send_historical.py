"""``mapwire send`` into mParticle routes events older than 30 days to the historical
endpoint, per batch, and its summary counts the requests per endpoint."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from click.testing import Result
from delivery_helpers import mp_connection, write_config, write_ndjson

Cli = Callable[..., Result]
pytestmark = pytest.mark.usefixtures("secrets")


def _hook(i: int, at: int, person: str = "p1") -> dict[str, Any]:
    return {
        "event_id": f"01HY{i:022d}",
        "object_type": "email",
        "metric": "sent",
        "timestamp": at,
        "data": {
            "delivery_id": f"d-{i}",
            "identifiers": {"id": person},
            "recipient": "a@b.co",
            "subject": "s",
        },
    }


def test_old_events_go_to_the_historical_endpoint(
    cli: Cli, tmp_path: Path, mparticle_server: Any
) -> None:
    now = int(time.time())
    old = [_hook(i, now - 40 * 86400 + i, f"old-{i}") for i in range(3)]
    recent = [_hook(10 + i, now - 3600 + i, f"new-{i}") for i in range(2)]
    path = write_ndjson(tmp_path / "hooks.ndjson", [old[0], recent[0], old[1], recent[1], old[2]])
    config = write_config(tmp_path, [mp_connection(mparticle_server)])
    result = cli("send", "--config", str(config), "--connection", "mp", str(path))
    assert result.exit_code == 0, result.output
    historical = mparticle_server.accepted_items("POST /v2/bulkevents/historical")
    live = mparticle_server.accepted_items("POST /v2/bulkevents")
    stamps = [e["data"]["timestamp_unixtime_ms"] for b in historical for e in b["events"]]
    assert sorted(stamps) == [h["timestamp"] * 1000 for h in old]
    assert len([e for b in live for e in b["events"]]) == 2
    assert "delivered: 5 in 2 request(s)" in result.stderr
    assert "to /bulkevents: 1 request(s)" in result.stderr
    assert "to /bulkevents/historical: 1 request(s)" in result.stderr
    assert mparticle_server.rejected == []
