"""Two ``mapwire serve`` processes sharing one Redis queue: a person's newer update never
overtakes an older one that the other process has in flight to a slow vendor."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
from redis_helpers import REDIS_URL, prefix_for

SERVER_TESTS = Path(__file__).resolve().parents[2] / "server"


@pytest.fixture
def serving(monkeypatch: pytest.MonkeyPatch, customerio_server: Any) -> Any:
    """The serve-process helpers of the server tests, with their secrets set."""
    monkeypatch.syspath_prepend(str(SERVER_TESTS))
    import server_helpers
    import test_person_order

    server_helpers.set_secrets(monkeypatch)
    monkeypatch.setenv("TEST_CIO_API_KEY", customerio_server.api_key)
    yield test_person_order
    for name in ("test_order_soak", "test_person_order", "test_serve_command", "server_helpers"):
        sys.modules.pop(name, None)


def redis_store(folder: Path) -> str:
    return f"{REDIS_URL}?prefix={quote(prefix_for(folder), safe='')}"


def test_a_second_worker_waits_for_the_persons_update_in_flight_elsewhere(
    tmp_path: Path, customerio_server: Any, serving: Any
) -> None:
    path = serving.cio_config(tmp_path, customerio_server, timeout_seconds=10)
    config = json.loads(path.read_text())
    config["store"] = redis_store(tmp_path)
    path.write_text(json.dumps(config))
    customerio_server.set_validate(False)
    customerio_server.set_delay(2.0)  # slow on the first request only
    first, url_a = serving._start(["--config", str(path)], tmp_path)
    try:
        second, _url_b = serving._start(["--config", str(path)], tmp_path)
        try:
            serving.post(url_a, serving.plan_update("u1", "pro"))
            serving.until(lambda: customerio_server.arrived >= 1, "pro is in flight")
            customerio_server.set_delay(0)
            serving.post(url_a, serving.plan_update("u1", "free"))
            serving.until(
                lambda: len(serving.plans(customerio_server, "u1")) >= 2, "both delivered"
            )
        finally:
            serving._stop(second)
    finally:
        serving._stop(first)
    assert serving.plans(customerio_server, "u1") == ["pro", "free"]


def test_ordering_soak_on_redis(tmp_path: Path, customerio_server: Any, serving: Any) -> None:
    """The soak of ``test_order_soak`` with the workers sharing a Redis queue."""
    from test_order_soak import soak  # on the path once ``serving`` put it there

    soak(tmp_path, customerio_server, redis_store(tmp_path))
