"""A request whose mapped actions the queue cannot store is refused alone (422); the
requests committed with it in the same group are queued and delivered."""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from server_helpers import (
    bearer,
    cio_destination,
    events_batch,
    serve_config,
    write_config,
)


@pytest.mark.usefixtures("vendor_secrets")
def test_an_unstorable_request_is_refused_and_the_others_queued(
    tmp_path: Path, customerio_server: Any
) -> None:
    connection = {
        "name": "cio",
        "flow": "mparticle-events-to-customerio",
        "destination": cio_destination(customerio_server),
    }
    server_options = {"auth": {"bearer_token": {"env": "TEST_INBOUND_TOKEN"}}}
    server_options["max_json_depth"] = 1000  # past the depth check: the queue refuses it
    config = write_config(tmp_path, [connection], server=server_options)
    deep = events_batch("deep", 1)
    value: Any = "x"
    for _ in range(260):
        value = [value]
    deep["events"][0]["data"]["custom_attributes"]["n"] = value
    bodies = [events_batch(f"u{i}", 2) for i in range(6)]
    bodies.insert(3, deep)
    running = serve_config(config)
    try:
        with running.client(headers=bearer()) as client, ThreadPoolExecutor(8) as pool:
            answers = list(
                pool.map(lambda b: client.post("/mparticle/events", content=json.dumps(b)), bodies)
            )
            running.wait_delivered()
    finally:
        running.stop()
    statuses = [a.status_code for a in answers]
    assert statuses == [202, 202, 202, 422, 202, 202, 202], statuses
    assert answers[3].json()["error"]["code"] == "unprocessable"
    users = {i["identifiers"]["id"] for i in customerio_server.accepted_items("POST /api/v2/batch")}
    assert users == {f"u{i}" for i in range(6)}
