"""One ``/mparticle/events`` body may mix Events API batches and Webhook output batches:
they are mapped in body order (a person's batches stay in order at the vendor) and each
document's index in the answer is its place in the body."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from server_helpers import RunningServer, bearer, events_batch, sink_flows, write_config


def _batch(user: str, name: str, at_ms: int, dialect: str) -> dict[str, Any]:
    batch = events_batch(user, 1, prefix=name)
    batch["events"][0]["data"]["event_name"] = name
    batch["events"][0]["data"]["timestamp_unixtime_ms"] = at_ms
    if dialect == "webhook":  # the Webhook output's identities are a list
        batch["user_identities"] = [{"identity_type": "customer_id", "identity": user}]
    return batch


def test_a_body_mixing_the_dialects_is_mapped_in_its_own_order(
    tmp_path: Path, serve: Callable[[Path], RunningServer]
) -> None:
    server = serve(write_config(tmp_path, sink_flows()))
    body = [
        _batch("u1", "step1", 1_713_484_800_000, "api"),
        _batch("u1", "step2", 1_713_484_801_000, "webhook"),
        _batch("u1", "step3", 1_713_484_802_000, "api"),
    ]
    with server.client(headers=bearer()) as client:
        answer = client.post("/mparticle/events", content=json.dumps(body))
    assert answer.status_code == 202 and answer.json()["queued"] == 6
    server.wait_delivered()
    names = [
        item["name"]
        for path in sorted((tmp_path / "out").glob("*.ndjson"))
        for line in path.read_text().splitlines()
        for item in json.loads(line)["body"]["batch"]
        if item["action"] == "event"
    ]
    assert names == ["step1", "step2", "step3"]
