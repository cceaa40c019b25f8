"""Fixtures for the receiver's tests (helpers live in server_helpers.py)."""

from __future__ import annotations

import io
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from server_helpers import LogCapture, RunningServer, serve_config, set_secrets

from mapwire.server.logs import configure_logging, reset_logging


@pytest.fixture
def secrets(monkeypatch: pytest.MonkeyPatch) -> None:
    set_secrets(monkeypatch)


@pytest.fixture
def vendor_secrets(
    monkeypatch: pytest.MonkeyPatch, secrets: None, customerio_server: Any, mparticle_server: Any
) -> None:
    monkeypatch.setenv("TEST_CIO_API_KEY", customerio_server.api_key)
    monkeypatch.setenv("TEST_MP_API_SECRET", mparticle_server.api_secret)


@pytest.fixture
def logs() -> Iterator[io.StringIO]:
    """Everything the server logs during the test, as JSON lines."""
    stream = LogCapture()
    handler = configure_logging("info", stream)
    yield stream
    reset_logging(handler)


@pytest.fixture
def serve(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, secrets: None
) -> Iterator[Callable[[Path], RunningServer]]:
    """Start servers for config files; every one started is stopped after the test."""
    monkeypatch.chdir(tmp_path)
    started: list[RunningServer] = []

    def start(config: Path) -> RunningServer:
        server = serve_config(config)
        started.append(server)
        return server

    yield start
    for server in started:
        server.stop()
