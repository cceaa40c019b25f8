"""``delivery.concurrency``: several requests of one connection in flight at once against a
slow vendor, and still every person's actions in the order they were accepted."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from delivery_helpers import batches, cio_connection, write_config, write_ndjson

pytestmark = pytest.mark.usefixtures("secrets")


def _peak_in_flight(server: Any, stop: threading.Event, peak: list[int]) -> None:
    while not stop.is_set():
        peak[0] = max(peak[0], server.arrived - server.request_count)
        time.sleep(0.002)


@pytest.mark.parametrize("concurrency", [1, 4])
def test_requests_in_flight_at_once_keep_each_persons_order(
    tmp_path: Path, customerio_server: Any, cli: Callable[..., Any], concurrency: int
) -> None:
    users, per_user = 300, 9  # 3,000 actions: six requests of up to 500 items
    path = write_ndjson(tmp_path / "in.ndjson", batches(users, per_user))
    delivery = {"concurrency": concurrency, "batch_wait_ms": 0}
    config = write_config(tmp_path, [cio_connection(customerio_server)], delivery=delivery)
    customerio_server.set_validate(False)
    customerio_server.set_delay(0.25)  # a slow vendor: requests overlap only if sent so
    stop, peak = threading.Event(), [0]
    watcher = threading.Thread(target=_peak_in_flight, args=(customerio_server, stop, peak))
    watcher.start()
    try:
        result = cli("send", "--config", str(config), "--connection", "cio", str(path))
    finally:
        stop.set()
        watcher.join()
    assert result.exit_code == 0, result.output

    if concurrency == 1:
        assert peak[0] == 1
    else:
        assert 2 <= peak[0] <= concurrency
    items = customerio_server.accepted_items("POST /api/v2/batch")
    seen: dict[str, list[str]] = {}
    for item in items:
        person = item["identifiers"]["id"]
        step = "identify" if item["action"] == "identify" else item["attributes"]["n"]
        seen.setdefault(person, []).append(step)
    expected = ["identify", *(str(e) for e in range(per_user))]
    assert len(seen) == users
    assert all(steps == expected for steps in seen.values())
