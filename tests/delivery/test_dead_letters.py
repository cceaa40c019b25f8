"""Dead letters through the installed ``mapwire`` script: items that fail to map are kept
and replayed after the mapping is fixed, delivery dead letters keep their history across
``dlq retry``, ``mapwire deliver`` drains the queue, and ``dlq purge`` asks first. No
input value ever reaches an error, a log line or a dead letter's reason."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from delivery_helpers import MAPPINGS, batches, cio_connection, write_config, write_ndjson

from mapwire.cli import main

pytestmark = pytest.mark.usefixtures("secrets")
MAPWIRE = Path(sys.executable).parent / "mapwire"
SECRET = "sentinel-4f1c@example.com"
CUSTOM_EVENT_NAME = '{expr: "event_name(data.event_name)", required: true}'
# The shipped flow skips blank names before they reach the field; the copy under test
# lets them through, so a missing name is a mapping failure (the mistake to fix later).
NAMED_EVENTS_ONLY = "when: \"type == 'custom_event' && event_name(data.event_name)\""


def mapwire(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(MAPWIRE), *args],
        cwd=cwd,
        env=dict(os.environ),
        capture_output=True,
        text=True,
        timeout=120,
        stdin=subprocess.DEVNULL,
    )


def own_flow_config(tmp_path: Path, server: Any) -> Path:
    """A config whose connection runs a copy of the events flow, to be fixed later."""
    flows = tmp_path / "my_flows"
    flows.mkdir()
    text = (MAPPINGS / "mparticle_events_to_customerio.yaml").read_text()
    assert CUSTOM_EVENT_NAME in text and NAMED_EVENTS_ONLY in text
    text = text.replace(NAMED_EVENTS_ONLY, "when: \"type == 'custom_event'\"", 1)
    text = text.replace("name: mparticle-events-to-customerio", "name: my-events", 1)
    (flows / "my_events.yaml").write_text(text)
    config = write_config(tmp_path, [cio_connection(server, flow="my-events")])
    data = json.loads(config.read_text())
    data["mappings"] = ["my_flows"]
    config.write_text(json.dumps(data))
    return config


def fix_the_mapping(tmp_path: Path) -> None:
    path = tmp_path / "my_flows" / "my_events.yaml"
    fixed = "{expr: \"event_name(data.event_name) || 'unnamed'\", required: true}"
    path.write_text(path.read_text().replace(CUSTOM_EVENT_NAME, fixed, 1))


def dead_letters(config: Path) -> list[dict[str, Any]]:
    """``dlq list`` in this process (a subprocess per check would make the tests slow)."""
    listed = CliRunner().invoke(main, ["dlq", "list", "--config", str(config), "--format", "json"])
    assert listed.exit_code == 0, listed.output
    rows: list[dict[str, Any]] = json.loads(listed.stdout)
    return rows


def send_in_process(config: Path, path: Path) -> None:
    """Fill the dead letters for a test that is about something else."""
    args = ["send", "--config", str(config), "--connection", "cio", str(path)]
    CliRunner().invoke(main, args, catch_exceptions=False)


def retry_all(tmp_path: Path, config: Path) -> str:
    return mapwire(tmp_path, "dlq", "retry", "--config", str(config), "--all").stdout


def test_an_item_that_fails_to_map_is_kept_and_replayed_after_the_fix(
    tmp_path: Path, customerio_server: Any
) -> None:
    docs = batches(2, 2)
    del docs[0]["events"][1]["data"]["event_name"]  # u-0's second event: required, null
    config = own_flow_config(tmp_path, customerio_server)
    path = write_ndjson(tmp_path / "in.ndjson", docs)

    sent = mapwire(tmp_path, "send", "--config", str(config), "--connection", "cio", str(path))
    assert sent.returncode == 1, sent.stderr
    assert (
        "in.ndjson: connection 'cio', mapping 'my-events', rule 'custom event', "
        "item event[1], field 'name': required_null: required field 'name' is null"
    ) in sent.stderr
    assert "items that failed to map: 1" in sent.stderr
    assert len(customerio_server.accepted_items("POST /api/v2/batch")) == 5

    (row,) = dead_letters(config)
    assert (row["kind"], row["connection"], row["mapping"]) == ("mapping", "cio", "my-events")
    assert (row["rule"], row["item"], row["field"]) == ("custom event", "event[1]", "name")
    assert row["code"] == "required_null" and row["attempts"] == 1
    text = mapwire(tmp_path, "dlq", "list", "--config", str(config)).stdout
    assert "\tmapping\tcio\trule custom event event[1] field name\tattempts=1\t" in text
    shown = mapwire(tmp_path, "dlq", "show", "--config", str(config), str(row["id"]))
    details = json.loads(shown.stdout)
    assert details["source"] == docs[0]
    assert details["replay"].startswith("mapwire dlq replay")

    retried = mapwire(tmp_path, "dlq", "retry", "--config", str(config), str(row["id"]))
    assert "requeued 0" in retried.stdout and "mapwire dlq replay" in retried.stderr

    # Replaying the unfixed mapping fails again, and the history grows.
    again = mapwire(tmp_path, "dlq", "replay", "--config", str(config), "--all")
    assert again.returncode == 1 and "1 failed again" in again.stdout
    (row,) = dead_letters(config)
    assert row["attempts"] == 2 and row["first_failed_at"] <= row["failed_at"]

    fix_the_mapping(tmp_path)
    replayed = mapwire(tmp_path, "dlq", "replay", "--config", str(config), "--all")
    assert replayed.returncode == 0, replayed.stderr
    assert "replayed 1 mapping failure(s): queued 2 action(s)" in replayed.stdout
    assert dead_letters(config) == []

    delivered = mapwire(tmp_path, "deliver", "--config", str(config))
    assert delivered.returncode == 0, delivered.stderr
    assert "cio: delivered 2 in 1 request(s)" in delivered.stderr
    assert "still queued 0" in delivered.stderr
    events = {
        item["id"]: item
        for item in customerio_server.accepted_items("POST /api/v2/batch")
        if item["action"] == "event"
    }
    assert len(events) == 4, "the event delivered before is absorbed by its id"
    assert sorted(e["name"] for e in events.values()).count("unnamed") == 1


def test_delivery_dead_letters_keep_their_history_across_retry(
    tmp_path: Path, customerio_server: Any
) -> None:
    customerio_server.fail_items(lambda item: item.get("identifiers", {}).get("id") == "u-1")
    config = write_config(tmp_path, [cio_connection(customerio_server)])
    send_in_process(config, write_ndjson(tmp_path / "in.ndjson", batches(2, 2)))
    assert len(dead_letters(config)) == 3

    assert (
        "requeued 3" in mapwire(tmp_path, "dlq", "retry", "--config", str(config), "--all").stdout
    )
    failed = mapwire(tmp_path, "deliver", "--config", str(config), "--connection", "cio")
    assert failed.returncode == 1
    assert "dead-lettered 3, still queued 0" in failed.stderr
    rows = dead_letters(config)
    assert len(rows) == 3 and {r["attempts"] for r in rows} == {2}
    shown = mapwire(tmp_path, "dlq", "show", "--config", str(config), str(rows[0]["id"]))
    details = json.loads(shown.stdout)
    assert len(details["history"]) == 2
    assert details["history"][0]["failed_at"] == details["first_failed_at"]
    assert details["history"][1]["failed_at"] == details["failed_at"]
    assert "dlq retry" in details["replay"]
    refused = mapwire(tmp_path, "dlq", "replay", "--config", str(config), str(rows[0]["id"]))
    assert refused.returncode == 1
    assert "cannot be mapped again" in refused.stderr

    customerio_server.fail_items(None)
    assert (
        "requeued 3" in mapwire(tmp_path, "dlq", "retry", "--config", str(config), "--all").stdout
    )
    drained = mapwire(tmp_path, "deliver", "--config", str(config), "--timeout", "60")
    assert drained.returncode == 0, drained.stderr
    assert "cio: delivered 3" in drained.stderr
    ids = {i["identifiers"]["id"] for i in customerio_server.accepted_items("POST /api/v2/batch")}
    assert "u-1" in ids
    assert dead_letters(config) == []


def test_purge_asks_first_and_dry_run_only_prints(tmp_path: Path, customerio_server: Any) -> None:
    customerio_server.fail_items(lambda item: True)
    config = write_config(tmp_path, [cio_connection(customerio_server)])
    send_in_process(config, write_ndjson(tmp_path / "in.ndjson", batches(1, 1)))
    assert len(dead_letters(config)) == 2
    purge = ["dlq", "purge", "--config", str(config), "--all"]

    refused = mapwire(tmp_path, *purge)
    assert refused.returncode == 2 and "pass --yes" in refused.stderr
    dry = mapwire(tmp_path, *purge, "--dry-run")
    assert dry.returncode == 0 and "would purge 2 dead letter(s)" in dry.stdout
    kept = mapwire(tmp_path, *purge, "--yes", "--older-than", "1d")
    assert "purged 0" in kept.stdout
    assert len(dead_letters(config)) == 2
    gone = mapwire(tmp_path, *purge, "--yes", "--older-than", "0s")
    assert "purged 2" in gone.stdout
    assert dead_letters(config) == []


def test_purge_on_a_terminal_asks_for_confirmation(tmp_path: Path, customerio_server: Any) -> None:
    customerio_server.fail_items(lambda item: True)
    config = write_config(tmp_path, [cio_connection(customerio_server)])
    send_in_process(config, write_ndjson(tmp_path / "in.ndjson", batches(1, 1)))
    primary, secondary = os.openpty()
    try:
        for answer, left in (("n\n", 2), ("y\n", 0)):
            os.write(primary, answer.encode())
            done = subprocess.run(
                [str(MAPWIRE), "dlq", "purge", "--config", str(config), "--all"],
                cwd=tmp_path,
                stdin=secondary,
                capture_output=True,
                text=True,
                timeout=60,
            )
            assert "purge 2 dead letter(s) for good? [y/N]" in done.stdout
            assert len(dead_letters(config)) == left
    finally:
        os.close(primary)
        os.close(secondary)


def test_purge_deletes_only_what_it_listed(tmp_path: Path, customerio_server: Any) -> None:
    """Letters that fail while the confirmation waits are not purged with the listed ones."""
    customerio_server.fail_items(lambda item: True)
    config = write_config(tmp_path, [cio_connection(customerio_server)])
    send_in_process(config, write_ndjson(tmp_path / "a.ndjson", batches(1, 1)))
    listed = {r["id"] for r in dead_letters(config)}
    assert len(listed) == 2
    primary, secondary = os.openpty()
    try:
        purge = subprocess.Popen(
            [str(MAPWIRE), "dlq", "purge", "--config", str(config), "--all"],
            cwd=tmp_path,
            stdin=secondary,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        assert purge.stdout is not None
        shown = b""
        while b"for good?" not in shown:
            chunk = os.read(purge.stdout.fileno(), 1024)
            assert chunk, "the purge ended before asking"
            shown += chunk
        assert b"purge 2 dead letter(s)" in shown
        send_in_process(config, write_ndjson(tmp_path / "b.ndjson", batches(1, 1, prefix="v")))
        assert len(dead_letters(config)) == 4
        os.write(primary, b"y\n")
        out, _ = purge.communicate(timeout=60)
        assert b"purged 2 dead letter(s)" in out
        left = {r["id"] for r in dead_letters(config)}
        assert len(left) == 2 and not left & listed
    finally:
        os.close(primary)
        os.close(secondary)


def test_no_input_value_reaches_errors_logs_or_reasons(
    tmp_path: Path, customerio_server: Any
) -> None:
    docs = batches(1, 2)
    docs[0]["events"][0]["data"]["event_name"] = {"secret": SECRET}  # wrong type
    docs[0]["events"][1]["data"]["timestamp_unixtime_ms"] = {"secret": SECRET}
    docs[0]["user_attributes"]["plan"] = SECRET * 50  # over the vendor's limit: refused
    connection = cio_connection(customerio_server)
    connection["destination"]["oversize"] = "dead_letter"  # refuse, rather than truncate
    config = write_config(tmp_path, [connection])
    path = write_ndjson(tmp_path / "in.ndjson", docs)
    assert SECRET in path.read_text()
    sent = mapwire(tmp_path, "send", "--config", str(config), "--connection", "cio", str(path))
    assert sent.returncode == 1
    assert "function event_name(): expected string or null, got object" in sent.stderr
    rows = dead_letters(config)
    # The name is a mapping failure; the timestamp is refused by the destination's payload
    # check, held at intake with its document (code undeliverable); the oversized attribute
    # is refused at delivery, by the connection's oversize policy.
    assert sorted((r["kind"], r["code"]) for r in rows) == [
        ("delivery", None),
        ("mapping", "undeliverable"),
        ("mapping", "wrong_type"),
    ]
    assert "dead-lettered: 1" in sent.stderr
    text = mapwire(tmp_path, "dlq", "list", "--config", str(config)).stdout
    replayed = mapwire(tmp_path, "dlq", "replay", "--config", str(config), "--all")
    assert replayed.returncode == 1
    shown = [
        json.loads(CliRunner().invoke(main, ["dlq", "show", "--config", str(config), r]).stdout)
        for r in (str(row["id"]) for row in dead_letters(config))
    ]
    reasons = json.dumps([(s["reason"], s["history"]) for s in shown])
    for output in (sent.stdout, sent.stderr, text, json.dumps(rows), replayed.stdout):
        assert SECRET not in output and "secret" not in output
    assert SECRET not in replayed.stderr + reasons
    mapping = [s for s in shown if s["kind"] == "mapping"]
    assert all(s["source"] == docs[0] for s in mapping), "the kept document, for replay"


def test_deliver_gives_up_waiting_after_its_timeout(tmp_path: Path, customerio_server: Any) -> None:
    config = write_config(tmp_path, [cio_connection(customerio_server)])
    path = write_ndjson(tmp_path / "in.ndjson", batches(1, 1))
    customerio_server.fail_next(100, 503, retry_after=30)
    args = ["send", "--config", str(config), "--connection", "cio", "--no-wait", str(path)]
    CliRunner().invoke(main, args, catch_exceptions=False)
    waited = mapwire(tmp_path, "deliver", "--config", str(config), "--timeout", "1")
    assert waited.returncode == 1, waited.stderr
    assert "dead-lettered 0, still queued 2" in waited.stderr
    assert "gave up waiting after 1s" in waited.stderr
