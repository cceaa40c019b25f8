"""``delivery.http``: the lean HTTP/1.1 transport by default, httpx's own on request; both
deliver the same items to the vendor stand-in, and a value neither names is refused."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from delivery_helpers import batches, cio_connection, write_config, write_ndjson

from mapwire.runtime.config import load_config
from mapwire.runtime.http1 import Http1Transport, VendorClient
from mapwire.runtime.process import Runtime

pytestmark = pytest.mark.usefixtures("secrets")


@pytest.mark.parametrize(
    ("choice", "transport"), [(None, Http1Transport), ("httpx", httpx.AsyncHTTPTransport)]
)
def test_each_transport_delivers_the_same_items(
    tmp_path: Path,
    customerio_server: Any,
    cli: Callable[..., Any],
    choice: str | None,
    transport: type,
) -> None:
    path = write_ndjson(tmp_path / "in.ndjson", batches(40, 3))
    delivery = {} if choice is None else {"http": choice}
    config = write_config(tmp_path, [cio_connection(customerio_server)], delivery=delivery)
    runtime = Runtime(load_config(config))
    try:
        [conn] = runtime.config.connections
        client = runtime.deliverer(conn).client
        assert isinstance(client, VendorClient)
        assert type(client._transport) is transport
    finally:
        runtime.close()

    result = cli("send", "--config", str(config), "--connection", "cio", str(path))

    assert result.exit_code == 0, result.output
    items = customerio_server.accepted_items("POST /api/v2/batch")
    assert len(items) == 40 * 4  # each person's identify and three events
    assert customerio_server.rejected == []


def test_an_unknown_transport_is_refused(tmp_path: Path, customerio_server: Any, cli: Any) -> None:
    config = write_config(tmp_path, [cio_connection(customerio_server)], delivery={"http": "h2"})

    result = cli("config", "check", "--config", str(config))

    assert result.exit_code != 0
    assert "http" in result.output and "auto" in result.output
