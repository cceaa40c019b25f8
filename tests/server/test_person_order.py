"""A person's updates reach the vendor in the order they were accepted, across a
``kill -9`` of ``mapwire serve`` and its restart (SQLite queue, real processes)."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from server_helpers import bearer, cio_destination, events_batch, write_config
from test_serve_command import _start, _stop


def until(check: Callable[[], bool], what: str, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, f"never: {what}"
        time.sleep(0.05)


def plan_update(user: str, plan: str) -> dict[str, Any]:
    """An Events API batch that only sets the user's ``plan`` (one identify)."""
    batch = events_batch(user, 0)
    batch["user_attributes"] = {"plan": plan}
    return batch


def plans(server: Any, user: str) -> list[str]:
    """The ``plan`` of every identify of ``user`` the vendor applied, in order."""
    return [
        item["attributes"]["plan"]
        for item in server.accepted_items("POST /api/v2/batch")
        if item["action"] == "identify" and item["identifiers"] == {"id": user}
    ]


def cio_config(folder: Path, server: Any, **delivery: Any) -> Path:
    connection = {
        "name": "cio",
        "flow": "mparticle-events-to-customerio",
        "destination": cio_destination(server),
    }
    return write_config(folder, [connection], delivery=delivery or None)


def post(url: str, body: dict[str, Any]) -> None:
    answer = httpx.post(url + "/mparticle/events", json=body, headers=bearer(), timeout=10)
    assert answer.status_code == 202, answer.text


def kill(process: subprocess.Popen[str]) -> None:
    os.kill(process.pid, signal.SIGKILL)
    process.communicate(timeout=30)


@pytest.mark.usefixtures("vendor_secrets")
def test_a_restart_after_kill_9_sends_the_killed_claim_before_newer_updates(
    tmp_path: Path, customerio_server: Any
) -> None:
    # The default lease (30 s) would hold the killed process's claim for the whole test.
    config = cio_config(tmp_path, customerio_server, timeout_seconds=5)
    customerio_server.set_validate(False)
    customerio_server.set_delay(1.0)  # the vendor is slow on the first request
    first, url = _start(["--config", str(config)], tmp_path)
    try:
        post(url, plan_update("u1", "pro"))
        until(lambda: customerio_server.arrived >= 1, "pro is in flight")
    finally:
        kill(first)
    # The request on the wire still lands: the vendor applies it, mapwire never hears.
    until(lambda: plans(customerio_server, "u1") == ["pro"], "the in-flight request lands")
    customerio_server.set_delay(0)

    second, url = _start(["--config", str(config)], tmp_path)
    try:
        post(url, plan_update("u1", "free"))
        until(lambda: "free" in plans(customerio_server, "u1"), "free delivered", timeout=20)
    finally:
        _stop(second)
    assert plans(customerio_server, "u1") == ["pro", "pro", "free"], "newest last"
