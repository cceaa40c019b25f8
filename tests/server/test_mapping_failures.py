"""``mapwire serve`` as a real process: an item that fails to map is logged (where, never
the value), counted per connection and rule, and kept for ``mapwire dlq replay``."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import httpx
import pytest
from server_helpers import bearer, events_batch, metric_total, sink_flows, write_config
from test_serve_command import MAPWIRE, _start, _stop

SECRET = "sentinel-9d2e@example.com"


@pytest.mark.usefixtures("secrets")
def test_serve_logs_counts_and_keeps_items_that_fail_to_map(tmp_path: Path) -> None:
    config = write_config(tmp_path, sink_flows()[:1])
    batch = events_batch("p1", 3)
    batch["events"][1]["data"]["event_name"] = {"secret": SECRET}
    process, url = _start(["--config", str(config)], tmp_path)
    try:
        answer = httpx.post(url + "/mparticle/events", json=batch, headers=bearer(), timeout=10)
        metrics = httpx.get(url + "/metrics", timeout=10).text
    finally:
        stderr = _stop(process)
    assert answer.status_code == 202, answer.text
    assert SECRET not in stderr + answer.text + metrics
    lines = [json.loads(line) for line in stderr.splitlines() if line.startswith("{")]
    (logged,) = [line for line in lines if line.get("event") == "item_failed_to_map"]
    assert logged["level"] == "warning"
    assert (logged["connection"], logged["mapping"]) == ("events", "mparticle-events-to-customerio")
    assert (logged["rule"], logged["item"], logged["field"]) == ("custom event", "event[1]", "")
    assert logged["error"] == "function event_name(): expected string or null, got object"
    failures = 'mapwire_mapping_failures_total{connection="events",rule="custom event"}'
    assert f"{failures} 1.0" in metrics
    assert metric_total(metrics, "mapwire_mapping_failures_total") == 1
    listed = subprocess.run(
        [str(MAPWIRE), "dlq", "list", "--config", str(config), "--format", "json"],
        cwd=tmp_path,
        env=dict(os.environ),
        capture_output=True,
        text=True,
        timeout=60,
    )
    (row,) = json.loads(listed.stdout)
    assert (row["kind"], row["connection"], row["rule"]) == ("mapping", "events", "custom event")
    assert row["code"] == "wrong_type" and SECRET not in listed.stdout
