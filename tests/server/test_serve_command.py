"""``mapwire serve`` as a real process: the bundled demo with ``mapwire demo post``, and a
SIGTERM in the middle of traffic that loses nothing it acknowledged."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import pytest
from click.testing import CliRunner
from server_helpers import (
    INBOUND_TOKEN,
    bearer,
    cio_destination,
    events_batch,
    sink_flows,
    write_config,
)

from mapwire.cli import main

MAPWIRE = Path(sys.executable).parent / "mapwire"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _start(args: list[str], cwd: Path) -> tuple[subprocess.Popen[str], str]:
    port = _free_port()
    process = subprocess.Popen(
        [str(MAPWIRE), "serve", "--port", str(port), *args],
        cwd=cwd,
        env=dict(os.environ),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60  # a bound for a loaded machine, not a timing
    last = "no answer"
    while time.monotonic() < deadline and process.poll() is None:
        try:
            answer = httpx.get(url + "/readyz", timeout=1)
        except httpx.TransportError as exc:
            last = type(exc).__name__
            time.sleep(0.05)
            continue
        if answer.status_code == 200:
            return process, url
        last = answer.text
        time.sleep(0.05)
    process.kill()
    stderr = process.communicate()[1]
    raise AssertionError(
        f"serve did not become ready ({last}; exit {process.returncode}):\n{stderr}"
    )


def _stop(process: subprocess.Popen[str]) -> str:
    process.send_signal(signal.SIGTERM)
    _, stderr = process.communicate(timeout=30)
    return stderr


def test_the_bundled_demo_and_demo_post(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    process, url = _start([], tmp_path)
    try:
        monkeypatch.chdir(tmp_path)
        result = CliRunner().invoke(main, ["demo", "post", "--url", url], catch_exceptions=False)
    finally:
        stderr = _stop(process)
    assert result.exit_code == 0, result.output
    assert (
        "customerio_reporting_webhook.json -> POST /customerio/webhook: 202 queued 1"
        in result.output
    )
    assert (
        "mparticle_firehose_event_processing.json -> POST /mparticle/firehose: 200" in result.output
    )
    assert "requests recorded by this run: 4" in result.output
    assert "track.customer.io/api/v2/batch" in result.output
    assert "s2s.us1.mparticle.com/v2/bulkevents" in result.output
    assert (tmp_path / "mapwire-data" / "delivered" / "track.customer.io.ndjson").exists()
    assert (
        "no config given (--config, MAPWIRE_CONFIG, ./mapwire.yaml): running the bundled demo"
        in (stderr)
    )
    events = [json.loads(line)["event"] for line in stderr.splitlines() if line.startswith("{")]
    assert "server_ready" in events and "server_stopped" in events


def test_sigterm_during_traffic_loses_nothing_acknowledged(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TEST_INBOUND_TOKEN", INBOUND_TOKEN)
    monkeypatch.setenv("TEST_CIO_SIGNING_KEY", "unused")
    config = write_config(tmp_path, sink_flows()[:1])
    process, url = _start(["--config", str(config)], tmp_path)
    bodies = [json.dumps(events_batch(f"t{i}", 5)).encode() for i in range(300)]

    client = httpx.Client(base_url=url, headers=bearer(), timeout=30)

    answered: list[int] = []

    def post(body: bytes) -> int:
        try:
            status = client.post("/mparticle/events", content=body).status_code
        except httpx.TransportError:
            status = 0  # refused or cut: not acknowledged
        answered.append(status)
        return status

    with client, ThreadPoolExecutor(8) as pool:
        futures = [pool.submit(post, body) for body in bodies]
        deadline = time.monotonic() + 15
        while len(answered) < 20 and time.monotonic() < deadline:
            time.sleep(0.01)
        stderr = _stop(process)  # mid-traffic: some requests in flight, most not yet sent
        statuses = [f.result() for f in futures]
    assert process.returncode in (0, -signal.SIGTERM), stderr
    assert '"event":"server_stopped"' in stderr
    accepted = {f"t{i}" for i, s in enumerate(statuses) if s == 202}
    assert accepted and set(statuses) <= {0, 202, 503}
    # Whatever was acknowledged is delivered by the next run, if not by this one.
    process, url = _start(["--config", str(config)], tmp_path)
    deadline = time.monotonic() + 60  # a bound for a loaded machine, not a timing
    events: dict[str, set[str]] = {}
    while time.monotonic() < deadline:
        time.sleep(0.1)
        events = {}
        for path in (tmp_path / "out").glob("*.ndjson"):
            for line in path.read_text().splitlines():
                for item in json.loads(line)["body"]["batch"]:
                    ids = events.setdefault(item["identifiers"]["id"], set())
                    ids.add(item.get("id", "identify"))
        if all(len(events.get(user, ())) == 6 for user in accepted):
            break
    _stop(process)
    assert all(len(events.get(user, ())) == 6 for user in accepted)  # identify + 5 events


def test_a_store_that_cannot_open_fails_startup_without_quoting_it(tmp_path: Path) -> None:
    secret_path = "/proc/no-such-dir-SENTINEL/state.db"  # self-contained: must fail to open
    config = tmp_path / "bad.yaml"
    config.write_text(
        f"mapwire: 1\nstore: sqlite:///{secret_path}\nconnections:\n"
        "  - name: a\n    flow: mparticle-events-to-customerio\n"
        "    destination: {site_id: s, api_key: k}\n"
    )
    done = subprocess.run(
        [str(MAPWIRE), "serve", "--config", str(config), "--port", str(_free_port())],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert done.returncode == 3
    assert '"event":"startup_failed"' in done.stderr
    assert "SENTINEL" not in done.stderr


@pytest.mark.usefixtures("vendor_secrets")
def test_what_the_destination_would_refuse_is_held_at_intake_and_reported(
    tmp_path: Path, customerio_server: Any
) -> None:
    """A person id over Customer.io's 150 bytes: the answer says which document will not be
    delivered and why (no value), the document is kept as a ``mapping`` dead letter for
    replay, and the rest of the traffic is delivered."""
    connection = {
        "name": "cio",
        "flow": "mparticle-events-to-customerio",
        "destination": cio_destination(customerio_server),
    }
    config = write_config(tmp_path, [connection])
    long_id = "x" * 151
    process, url = _start(["--config", str(config)], tmp_path)
    try:
        with httpx.Client(base_url=url, headers=bearer(), timeout=15) as client:
            held = client.post("/mparticle/events", content=json.dumps(events_batch(long_id, 2)))
            fine = client.post("/mparticle/events", content=json.dumps(events_batch("ok", 2)))
            deadline = time.monotonic() + 15
            while len(customerio_server.accepted_items("POST /api/v2/batch")) < 3:
                assert time.monotonic() < deadline, "the good request was not delivered"
                time.sleep(0.05)
    finally:
        _stop(process)
    assert held.status_code == 202 and fine.status_code == 202
    answer = held.json()
    assert answer["queued"] == 0 and answer["errors"] == 3
    [entry] = answer["not_delivered"]
    assert (entry["document"], entry["connection"], entry["items"]) == (0, "cio", 3)
    assert all("undeliverable" in r and "identifiers.id" in r for r in entry["reasons"])
    assert long_id not in held.text
    assert "not_delivered" not in fine.json()
    listed = subprocess.run(
        [str(MAPWIRE), "dlq", "list", "--config", str(config), "--format", "json"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=True,
    )
    letters = json.loads(listed.stdout)
    assert {(d["kind"], d["code"]) for d in letters} == {("mapping", "undeliverable")}
    assert len(letters) == 3 and all(long_id not in d["reason"] for d in letters)
    users = {i["identifiers"]["id"] for i in customerio_server.accepted_items("POST /api/v2/batch")}
    assert users == {"ok"}
