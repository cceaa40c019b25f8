"""Fixtures for end-to-end delivery tests (helpers live in delivery_helpers.py)."""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from mapwire.cli import main

sys.path.insert(0, str(Path(__file__).parent))


@pytest.fixture
def secrets(monkeypatch: pytest.MonkeyPatch, customerio_server: Any, mparticle_server: Any) -> None:
    monkeypatch.setenv("TEST_CIO_API_KEY", customerio_server.api_key)
    monkeypatch.setenv("TEST_MP_API_SECRET", mparticle_server.api_secret)


@pytest.fixture
def cli(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Callable[..., Result]:
    monkeypatch.chdir(tmp_path)

    def run(*args: str, input: str | None = None) -> Result:
        return CliRunner().invoke(main, list(args), input=input, catch_exceptions=False)

    return run
