"""``mapwire send`` end to end: files -> durable queue -> batched delivery to the contract
servers (real HTTP on loopback) or the local sink, with faults injected."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from click.testing import Result
from delivery_helpers import (
    MAPPINGS,
    batches,
    cio_connection,
    event_ids,
    mp_connection,
    write_config,
    write_ndjson,
)

Cli = Callable[..., Result]
pytestmark = pytest.mark.usefixtures("secrets")


def test_every_shipped_flow_runs_into_the_local_sink(cli: Cli, tmp_path: Path) -> None:
    flows = {
        "mparticle-events-to-customerio": "mparticle_events_api_batch.json",
        "mparticle-firehose-to-customerio": "mparticle_firehose_event_processing.json",
        "mparticle-audiences-to-customerio": "mparticle_audience_membership.json",
        "customerio-activity-to-mparticle": "customerio_reporting_webhook.json",
    }
    connections = [
        {
            "name": f"c{i}",
            "flow": flow,
            "destination": (
                {"api_key": "k", "api_secret": "s"}
                if flow.split("-")[-1] == "mparticle"
                else {"site_id": "s", "api_key": "k"}
            ),
            "transport": f"sink:out/c{i}",
        }
        for i, flow in enumerate(flows)
    ]
    config = write_config(tmp_path, connections)
    for i, sample in enumerate(flows.values()):
        result = cli(
            "send",
            "--config",
            str(config),
            "--connection",
            f"c{i}",
            str(MAPPINGS / "samples" / sample),
        )
        assert result.exit_code == 0, result.output
        files = list((tmp_path / "out" / f"c{i}").glob("*.ndjson"))
        assert files, f"nothing recorded for c{i}"
        record = json.loads(files[0].read_text().splitlines()[0])
        assert record["method"] == "POST"
        assert record["headers"]["authorization"] == "[redacted]"
        assert "delivered: " in result.stderr and "dead-lettered: 0" in result.stderr


def test_backfill_to_customerio_is_batched_and_valid(
    cli: Cli, tmp_path: Path, customerio_server: Any
) -> None:
    docs = batches(100, 9)  # 100 users: 100 identifies + 900 events
    path = write_ndjson(tmp_path / "in.ndjson", docs)
    config = write_config(tmp_path, [cio_connection(customerio_server)])
    result = cli("send", "--config", str(config), "--connection", "cio", str(path))
    assert result.exit_code == 0, result.output
    items = customerio_server.accepted_items("POST /api/v2/batch")
    assert len(items) == 1000
    assert customerio_server.rejected == []  # every item validated against the vendor spec
    batch_requests = [r for r in customerio_server.requests if r.path == "/api/v2/batch"]
    assert len(batch_requests) <= 10  # <= 10 HTTP requests per 1,000 events
    ids = event_ids(customerio_server)
    assert len(ids) == len(set(ids)) == 900
    # An identify comes before that person's events.
    first_seen: dict[str, int] = {}
    for i, item in enumerate(items):
        first_seen.setdefault(item["identifiers"]["id"] + item["action"], i)
    for u in range(100):
        assert first_seen[f"u-{u}identify"] < first_seen[f"u-{u}event"]


def test_message_activity_reaches_mparticle(
    cli: Cli, tmp_path: Path, mparticle_server: Any
) -> None:
    hooks = [
        {
            "event_id": f"01HX{i:022d}",
            "object_type": "email",
            "metric": metric,
            "timestamp": 1_713_484_800 + i,
            "data": {
                "delivery_id": f"d-{i}",
                "identifiers": {"id": f"p{i}"},
                "recipient": "a@b.co",
                "subject": "s",
            },
        }
        for i, metric in enumerate(["sent", "delivered", "opened", "clicked", "opened"] * 4)
    ]
    for hook in hooks:
        if hook["metric"] == "clicked":
            hook["data"].update(href="https://x.example", link_id=1)
    path = write_ndjson(tmp_path / "hooks.ndjson", hooks + hooks[:3])  # 3 redelivered webhooks
    config = write_config(tmp_path, [mp_connection(mparticle_server)])
    result = cli("send", "--config", str(config), "--connection", "mp", str(path))
    assert result.exit_code == 0, result.output
    # the hooks are from 2024: older than 30 days, so on the historical endpoint
    batches_ = mparticle_server.accepted_items("POST /v2/bulkevents/historical")
    names = [e["data"]["event_name"] for b in batches_ for e in b["events"]]
    assert len(names) == 20  # redelivered webhooks are not forwarded twice
    assert "skipped (duplicate): 3" in result.stderr
    assert set(names) == {"email_sent", "email_delivered", "email_opened", "email_clicked"}


def test_customerio_ids_that_are_mpids_reach_mparticle_as_mpids(
    cli: Cli, tmp_path: Path, mparticle_server: Any
) -> None:
    """With ``id_type: mpid`` the batch names its user by ``mpid`` (exactly, beyond 2**53),
    the email beside it when there is one; an id that is no MPID is skipped, not guessed."""
    people = [
        {"id": "7346244611012968789"},
        {"id": "-4263172847210939204", "email": "a@b.co"},
        {"id": "c-42", "email": "c@b.co"},
    ]
    hooks = [
        {
            "event_id": f"01HY{i:022d}",
            "object_type": "email",
            "metric": "sent",
            "timestamp": 1_713_484_800 + i,
            "data": {"delivery_id": f"d-{i}", "identifiers": who, "recipient": "r", "subject": "s"},
        }
        for i, who in enumerate(people)
    ]
    path = write_ndjson(tmp_path / "hooks.ndjson", hooks)
    connection = mp_connection(mparticle_server, settings={"id_type": "mpid"})
    config = write_config(tmp_path, [connection])
    result = cli("send", "--config", str(config), "--connection", "mp", str(path))
    assert result.exit_code == 0, result.output
    assert "skipped (id is not an mParticle ID): 1" in result.stderr
    # accepted: the contract server validated each batch against mParticle's schema
    sent = mparticle_server.accepted_items("POST /v2/bulkevents/historical")
    assert [(b["mpid"], b.get("user_identities")) for b in sent] == [
        (7346244611012968789, None),
        (-4263172847210939204, {"email": "a@b.co"}),
    ]


def test_malformed_lines_are_reported_and_the_rest_delivered(
    cli: Cli, tmp_path: Path, customerio_server: Any
) -> None:
    docs = batches(3, 2)
    lines = [json.dumps(docs[0]), "{oops", json.dumps(docs[1]), "[1,", json.dumps(docs[2])]
    path = tmp_path / "in.ndjson"
    path.write_text("\n".join(lines) + "\n")
    config = write_config(tmp_path, [cio_connection(customerio_server)])
    result = cli("send", "--config", str(config), "--connection", "cio", str(path))
    assert result.exit_code == 1
    assert f"{path}:2: not JSON" in result.stderr and f"{path}:4: not JSON" in result.stderr
    assert len(customerio_server.accepted_items("POST /api/v2/batch")) == 9


def test_429_storm_honours_retry_after(cli: Cli, tmp_path: Path, customerio_server: Any) -> None:
    customerio_server.fail_next(3, 429, retry_after=1)
    path = write_ndjson(tmp_path / "in.ndjson", batches(5, 3))
    config = write_config(tmp_path, [cio_connection(customerio_server)])
    started = time.monotonic()
    result = cli("send", "--config", str(config), "--connection", "cio", str(path))
    assert result.exit_code == 0, result.output
    assert time.monotonic() - started >= 3.0  # three waits of at least Retry-After
    statuses = [r.status for r in customerio_server.requests]
    assert statuses[:3] == [429, 429, 429] and statuses[-1] == 200
    assert len(customerio_server.accepted_items("POST /api/v2/batch")) == 20
    assert "retried: " in result.stderr and "dead-lettered: 0" in result.stderr


def test_destination_down_then_back_drains_the_backlog(
    cli: Cli, tmp_path: Path, customerio_server: Any
) -> None:
    customerio_server.down()
    timer = threading.Timer(2.5, customerio_server.up)
    timer.start()
    try:
        path = write_ndjson(tmp_path / "in.ndjson", batches(20, 4))
        config = write_config(tmp_path, [cio_connection(customerio_server)])
        result = cli("send", "--config", str(config), "--connection", "cio", str(path))
    finally:
        timer.join()
    assert result.exit_code == 0, result.output
    assert len(customerio_server.accepted_items("POST /api/v2/batch")) == 100
    assert len(set(event_ids(customerio_server))) == 80


def test_permanent_failures_are_dead_lettered_shown_and_replayed(
    cli: Cli, tmp_path: Path, customerio_server: Any
) -> None:
    customerio_server.fail_items(lambda item: item.get("identifiers", {}).get("id") == "u-1")
    path = write_ndjson(tmp_path / "in.ndjson", batches(3, 2))
    config = write_config(tmp_path, [cio_connection(customerio_server)])
    result = cli("send", "--config", str(config), "--connection", "cio", str(path))
    assert result.exit_code == 1
    assert "dead-lettered: 3" in result.stderr
    listed = cli("dlq", "list", "--config", str(config), "--format", "json")
    rows = json.loads(listed.stdout)
    assert len(rows) == 3 and all(r["connection"] == "cio" for r in rows)
    shown = json.loads(cli("dlq", "show", "--config", str(config), str(rows[0]["id"])).stdout)
    assert shown["response"]["status"] == 207
    assert shown["request"]["url"].endswith("/api/v2/batch")
    assert shown["payload"]["identifiers"] == {"id": "u-1"}
    assert customerio_server.api_key not in listed.stdout + json.dumps(shown)
    customerio_server.fail_items(None)
    assert "requeued 3" in cli("dlq", "retry", "--config", str(config), "--all").stdout
    again = cli("send", "--config", str(config), "--connection", "cio", str(path))
    assert again.exit_code == 0, again.output
    assert "already sent" in again.stderr
    ids = {i["identifiers"]["id"] for i in customerio_server.accepted_items("POST /api/v2/batch")}
    assert "u-1" in ids
    assert "purged 0" in cli("dlq", "purge", "--config", str(config), "--all").stdout


def test_config_errors_stop_send_with_positions(cli: Cli, tmp_path: Path) -> None:
    config = tmp_path / "bad.yaml"
    config.write_text(
        "mapwire: 1\n"
        "connections:\n"
        "  - name: a\n"
        "    flow: mparticle-events-to-customeri\n"
        "  - name: b\n"
        "    flow: customerio-activity-to-mparticle\n"
        "    settings: {first_time_onyl: true}\n"
        "    destination: {api_key: {env: NOT_SET_ANYWHERE}, api_secret: x, pod: mars}\n"
    )
    result = cli("send", "--config", str(config), "--connection", "a", "-", input="{}")
    assert result.exit_code == 2
    err = result.stderr
    assert f"{config}:4:11: C101 unknown flow 'mparticle-events-to-customeri'" in err
    assert "(did you mean 'mparticle-events-to-customerio'?)" in err
    assert f"{config}:7:16: C103 flow 'customerio-activity-to-mparticle' has no setting" in err
    assert f"{config}:8:28: C201 environment variable NOT_SET_ANYWHERE is not set" in err
    assert f"{config}:8:73: C107 destination 'mparticle': pod: must be one of" in err
    assert len(err.strip().splitlines()) == 4  # every problem once, nothing else
    check = cli("config", "check", str(config))
    assert check.exit_code == 1 and "C101" in check.stdout
