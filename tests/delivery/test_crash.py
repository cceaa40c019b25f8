"""Kill -9 in the middle of a backfill, rerun, and prove every accepted event arrived
exactly once at the vendor (counting Customer.io's own dedup by event id)."""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path
from typing import Any

import pytest
from delivery_helpers import (
    batches,
    cio_connection,
    event_ids,
    run_subprocess,
    write_config,
    write_ndjson,
)

from mapwire.plugins.customerio.requests import MAX_ITEMS_PER_BATCH
from mapwire.runtime.config import DeliveryOptions

pytestmark = pytest.mark.usefixtures("secrets")


def _wait_for(predicate: Any, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError("timed out")
        time.sleep(0.02)


@pytest.mark.parametrize("kill_after_requests", [1, 4])
def test_kill_9_mid_delivery_then_rerun_delivers_everything_once(
    tmp_path: Path, customerio_server: Any, kill_after_requests: int
) -> None:
    users, per_user = 1500, 9
    path = write_ndjson(tmp_path / "in.ndjson", batches(users, per_user))
    # A short lease: the rerun takes over the killed process's claim once it runs out.
    short_lease = {"timeout_seconds": 1, "lease_seconds": 2}
    config = write_config(tmp_path, [cio_connection(customerio_server)], delivery=short_lease)
    env = {"TEST_CIO_API_KEY": customerio_server.api_key}
    args = [
        "send",
        "--config",
        str(config),
        "--connection",
        "cio",
        "--chunk-size",
        "100",
        str(path),
    ]

    customerio_server.set_validate(False)
    customerio_server.set_delay(0.2)  # slow vendor: the kill lands mid-delivery
    first = run_subprocess(args, env=env, cwd=tmp_path)
    try:
        _wait_for(lambda: customerio_server.request_count >= kill_after_requests, 60)
    finally:
        os.kill(first.pid, signal.SIGKILL)
        first.communicate(timeout=30)
    assert first.returncode == -signal.SIGKILL
    delivered_before = len(set(event_ids(customerio_server)))
    assert delivered_before < users * per_user, "the kill came too late to test anything"

    customerio_server.set_delay(0)
    second = run_subprocess(args, env=env, cwd=tmp_path)
    _out, err = second.communicate(timeout=120)
    assert second.returncode == 0, err

    ids = event_ids(customerio_server)
    expected = {f"u-{u}-{e}" for u in range(users) for e in range(per_user)}
    # Every event arrived, and arrived once: re-sent ones (in flight at the kill) were
    # absorbed by Customer.io's dedup on the event id, which mapwire derives
    # deterministically from the source event id.
    assert len(ids) == len(set(ids)) == len(expected)
    identifies = [
        i
        for i in customerio_server.accepted_items("POST /api/v2/batch")
        if i["action"] == "identify"
    ]
    assert {i["identifiers"]["id"] for i in identifies} == {f"u-{u}" for u in range(users)}
    # Nothing was queued twice: the rerun resumed after the last committed chunk, so
    # at most the requests in flight at the kill were re-sent.
    in_flight_max = MAX_ITEMS_PER_BATCH * DeliveryOptions().concurrency  # a claim a lane
    assert len(identifies) <= users + in_flight_max
    assert customerio_server.duplicates_absorbed <= in_flight_max
