"""``server.http`` and ``server.loop``: which HTTP parser and event loop ``serve`` runs."""

from __future__ import annotations

import importlib.util

import pytest

from mapwire.contracts.errors import MissingDependency
from mapwire.server.runner import http_stack


def test_auto_picks_the_c_parser_and_uvloop_installed_with_mapwire() -> None:
    assert http_stack("auto", "auto") == ("httptools", "uvloop")


def test_the_pure_python_stack_can_be_asked_for_by_name() -> None:
    assert http_stack("h11", "asyncio") == ("h11", "asyncio")
    assert http_stack("httptools", "asyncio") == ("httptools", "asyncio")


def test_auto_falls_back_when_the_fast_packages_are_missing(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util,
        "find_spec",
        lambda name, *a: None if name in ("httptools", "uvloop") else real(name, *a),
    )
    assert http_stack("auto", "auto") == ("h11", "asyncio")
    with pytest.raises(MissingDependency) as missing:
        http_stack("auto", "uvloop")
    assert str(missing.value) == (
        "server.loop is uvloop, which is not installed: pip install uvloop "
        "(or set server.loop to asyncio or auto)"
    )
