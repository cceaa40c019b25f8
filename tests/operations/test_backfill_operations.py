"""Operating a backfill (``mapwire send``) through the installed script: where a rerun
resumes, a progress line that ends at 100%, a summary that tells queued from delivered,
Ctrl-C, and ``--restart``."""

from __future__ import annotations

import json
import re
import signal
import time
from pathlib import Path
from typing import Any

from operations_helpers import (
    cio_config,
    events_batch,
    mapwire,
    progress_lines,
    start,
    write_ndjson,
)


def _wait_for(predicate: Any, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError("timed out")
        time.sleep(0.02)


def _event_ids(server: Any) -> list[str]:
    return [
        i["id"] for i in server.accepted_items("POST /api/v2/batch") if i.get("action") == "event"
    ]


def test_ctrl_c_prints_a_partial_summary_exits_130_and_the_rerun_resumes(
    tmp_path: Path, customerio_server: Any
) -> None:
    users = 300
    path = write_ndjson(tmp_path / "in.ndjson", [events_batch(f"u{u}", 2) for u in range(users)])
    # A small backlog and a slow vendor: reading waits for delivery, so Ctrl-C lands
    # in the middle of the file.
    cio_config(tmp_path, customerio_server, max_backlog=60)
    customerio_server.set_delay(0.3)
    args = ["send", "--connection", "cio", "--chunk-size", "10", path.name]
    first = start(*args, cwd=tmp_path)
    try:
        _wait_for(lambda: customerio_server.request_count >= 1, 60)
    finally:
        first.send_signal(signal.SIGINT)
        _, err = first.communicate(timeout=60)
    assert first.returncode == 130, err
    assert "summary (interrupted):" in err
    assert "rerun the same command to resume where this run stopped" in err
    assert "Traceback" not in err
    read = int(re.search(r"documents read: (\d+)", err).group(1))  # type: ignore[union-attr]
    assert 0 < read < users, "Ctrl-C came too late to test anything"

    customerio_server.set_delay(0)
    cio_config(tmp_path, customerio_server)  # the default backlog limit again
    second = mapwire(*args, cwd=tmp_path, timeout=120)
    assert second.returncode == 0, second.stderr
    resumed = re.search(r"resuming at line (\d+) of in\.ndjson", second.stderr)
    assert resumed, second.stderr
    assert int(resumed.group(1)) == read + 1  # whole chunks were committed, nothing else
    assert f"documents read: {users - read}" in second.stderr
    assert progress_lines(second.stderr)[-1].startswith("100.0%")
    ids = _event_ids(customerio_server)
    assert len(set(ids)) == len(ids) == users * 2  # everything, once


def test_the_summary_tells_queued_from_delivered_and_already_sent_names_the_state_file(
    tmp_path: Path, customerio_server: Any
) -> None:
    path = write_ndjson(tmp_path / "in.ndjson", [events_batch(f"u{u}", 3) for u in range(5)])
    cio_config(tmp_path, customerio_server)
    customerio_server.down()
    first = mapwire("send", "--connection", "cio", "--no-wait", path.name, cwd=tmp_path)
    assert first.returncode == 0, first.stderr
    assert "queued: 20 new action(s) from this run's input" in first.stderr
    assert re.search(r"delivered: 0 in \d+ request\(s\)\n", first.stderr)
    assert "still queued: 20 (delivered by the next run" in first.stderr

    customerio_server.up()
    second = mapwire("send", "--connection", "cio", path.name, cwd=tmp_path)
    assert second.returncode == 0, second.stderr
    state = (tmp_path / "state.db").resolve()
    assert (
        f"in.ndjson: already sent (its position is recorded in {state}); to send it again "
        "from the start, rerun with --restart" in second.stderr
    )
    assert "queued: 0 new action(s) from this run's input" in second.stderr
    assert re.search(
        r"delivered: 20 in \d+ request\(s\) \(including 20 carried over from earlier runs "
        r"/ retried\)",
        second.stderr,
    ), second.stderr
    assert progress_lines(second.stderr)[-1].startswith("100.0%")
    assert len(_event_ids(customerio_server)) == 15


def test_restart_reads_the_file_again_and_dedup_keys_still_apply(tmp_path: Path) -> None:
    hooks = [
        {
            "event_id": f"01HX{i:022d}",
            "object_type": "email",
            "metric": "sent",
            "timestamp": 1_713_484_800 + i,
            "data": {"delivery_id": f"d-{i}", "identifiers": {"id": f"p{i}"}},
        }
        for i in range(6)
    ]
    path = write_ndjson(tmp_path / "hooks.ndjson", hooks)
    (tmp_path / "mapwire.yaml").write_text(
        json.dumps(
            {
                "mapwire": 1,
                "store": "sqlite:///state.db",
                "connections": [
                    {
                        "name": "activity",
                        "flow": "customerio-activity-to-mparticle",
                        "destination": {"api_key": "k", "api_secret": "s"},
                        "transport": "sink:delivered",
                    }
                ],
            }
        )
    )
    args = ["send", "--connection", "activity", path.name]
    first = mapwire(*args, cwd=tmp_path)
    assert first.returncode == 0, first.stderr
    sink = tmp_path / "delivered" / "s2s.us1.mparticle.com.ndjson"
    recorded = sink.read_text()

    again = mapwire(*args, cwd=tmp_path)
    assert "already sent" in again.stderr and "documents read: 0" in again.stderr

    restarted = mapwire(*args, "--restart", cwd=tmp_path)
    assert restarted.returncode == 0, restarted.stderr
    assert "hooks.ndjson: --restart: reading from the start" in restarted.stderr
    assert "documents read: 6" in restarted.stderr  # the file was read again
    assert "skipped (duplicate): 6" in restarted.stderr  # the dedup keys were kept
    assert "queued: 0 new action(s)" in restarted.stderr
    assert sink.read_text() == recorded  # nothing was sent twice


def test_the_progress_line_ends_at_100_percent(tmp_path: Path) -> None:
    docs = [events_batch(f"u{u}", 1) for u in range(3)]
    path = tmp_path / "batches.json"
    text = json.dumps(docs)
    path.write_text(text + " " * (1 + (-len(text) - 1) % 3) + "\n")  # size not a multiple of 3
    assert path.stat().st_size % 3
    (tmp_path / "mapwire.yaml").write_text(
        json.dumps(
            {
                "mapwire": 1,
                "store": "sqlite:///state.db",
                "connections": [
                    {
                        "name": "cio",
                        "flow": "mparticle-events-to-customerio",
                        "destination": {"site_id": "s", "api_key": "k"},
                        "transport": "sink:delivered",
                    }
                ],
            }
        )
    )
    done = mapwire("send", "--connection", "cio", "--chunk-size", "2", path.name, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert progress_lines(done.stderr)[-1].startswith("100.0%"), done.stderr


def test_resume_points_are_told_in_the_inputs_own_unit() -> None:
    from mapwire.runtime.backfill import describe_resume

    assert describe_resume("n5120:41", "in.ndjson") == "resuming at line 41 of in.ndjson"
    assert describe_resume("d500", "all.json") == (
        "resuming at element 501 of the JSON array in all.json"
    )
