"""``mapwire serve`` as a real process while the vendor refuses the credentials: the
connection is paused (``/readyz`` names it, the gauge is 1, one log line), nothing is
dead-lettered, and everything is delivered once the credentials work again; the same
when a deliverer process delivers and the intake processes answer."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from server_helpers import bearer, cio_destination, events_batch, metric_total, write_config
from test_serve_command import _start, _stop

PAUSED = 'mapwire_connection_paused{connection="cio",reason="credentials_refused"}'


def _until(check: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + 30
    while not check():
        assert time.monotonic() < deadline, f"never: {what}"
        time.sleep(0.1)


@pytest.mark.usefixtures("vendor_secrets")
@pytest.mark.parametrize(
    "processes",
    [[], ["--workers", "2", "--deliverers", "1"]],
    ids=["one process", "a deliverer process"],
)
def test_serve_pauses_on_refused_credentials_and_resumes(
    tmp_path: Path, customerio_server: Any, processes: list[str]
) -> None:
    config = write_config(
        tmp_path,
        [
            {
                "name": "cio",
                "flow": "mparticle-events-to-customerio",
                "destination": cio_destination(customerio_server),
            }
        ],
    )
    process, url = _start(["--config", str(config), *processes], tmp_path)
    try:
        customerio_server.fail_next(1000, 401)
        answer = httpx.post(url + "/mparticle/events", json=events_batch("u1", 3), headers=bearer())
        assert answer.status_code == 202, answer.text

        _until(lambda: httpx.get(url + "/readyz").status_code == 503, "/readyz says paused")
        ready = httpx.get(url + "/readyz").json()
        assert ready["status"] == "paused" and "credentials refused" in ready["paused"]["cio"]
        assert f"{PAUSED} 1.0" in httpx.get(url + "/metrics").text

        customerio_server.reset()  # the credentials work again
        _until(lambda: httpx.get(url + "/readyz").status_code == 200, "/readyz ready again")
        _until(
            lambda: len(customerio_server.accepted_items("POST /api/v2/batch")) == 4,
            "everything delivered",
        )
        metrics = httpx.get(url + "/metrics").text
        assert f"{PAUSED} 0.0" in metrics
        assert metric_total(metrics, "mapwire_dead_lettered_actions_total") == 0
    finally:
        stderr = _stop(process)
    events = [json.loads(line) for line in stderr.splitlines() if line.startswith("{")]
    paused = [e for e in events if e.get("event") == "connection_paused"]
    resumed = [e for e in events if e.get("event") == "connection_resumed"]
    assert len(paused) == 1 and paused[0]["connection"] == "cio"
    assert len(resumed) == 1 and resumed[0]["connection"] == "cio"
    assert customerio_server.api_key not in stderr
