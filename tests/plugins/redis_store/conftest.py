"""Run the Redis plugin's tests against a real Redis server, or explain why not.

The server is ``MAPWIRE_TEST_REDIS_URL`` (default ``redis://127.0.0.1:6390/0``). If it
cannot be reached, this folder's tests fail with that reason when ``CI`` is set, and are
deselected (not skipped) otherwise, so a laptop without Redis still runs everything else;
the run's summary then says so in one line (how many, which server, why, what to do).

The store and queue contracts live beside the SQLite plugin's tests; both folders go on
``sys.path`` (tests run with ``--import-mode=importlib``), and spawned worker processes
inherit it.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

_HERE = Path(__file__).resolve().parent
for _folder in (_HERE.parent / "sqlite_store", _HERE):
    if str(_folder) not in sys.path:
        sys.path.append(str(_folder))

from redis_helpers import SESSION, delete_prefix, shown_url, unreachable  # noqa: E402

_PROBLEM: list[str | None] = []
_NO_REDIS: list[pytest.Item] = []
"""The tests deselected because Redis is unreachable (not those a contract flag turns off)."""


def _problem() -> str | None:
    if not _PROBLEM:
        _PROBLEM.append(unreachable())
    return _PROBLEM[0]


def _mine(item: pytest.Item) -> bool:
    return Path(str(item.path)).resolve().is_relative_to(_HERE)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Deselect this folder's tests when Redis is unreachable outside CI, and contract
    tests whose ``@needs`` flag the class turns off."""
    mine = [item for item in items if _mine(item)]
    if not mine:
        return
    problem = _problem()
    dropped = []
    for item in mine:
        flag = getattr(getattr(item, "function", None), "_needs", None)
        cls = getattr(item, "cls", None)
        if flag and cls is not None and not getattr(cls, flag, True):
            dropped.append(item)
        elif problem is not None and not os.environ.get("CI"):
            dropped.append(item)
            _NO_REDIS.append(item)
    if dropped:
        config.hook.pytest_deselected(items=dropped)
        gone = {id(item) for item in dropped}
        items[:] = [item for item in items if id(item) not in gone]
    if _NO_REDIS:  # one line at the end of the run: why they did not run, and what to do
        count = len(_NO_REDIS)
        config.mapwire_closing_notes.append(  # type: ignore[attr-defined]
            f"mapwire: {count} Redis test{'s' if count != 1 else ''} deselected: no Redis at "
            f"{shown_url()} ({_problem()}); start one or set MAPWIRE_TEST_REDIS_URL to run them"
        )


@pytest.fixture(autouse=True)
def _redis_available() -> None:
    """In CI, an unreachable Redis fails every test here with the reason."""
    problem = _problem()
    if problem is not None:
        pytest.fail(f"Redis at MAPWIRE_TEST_REDIS_URL={shown_url()} is unreachable: {problem}")


@pytest.fixture(scope="session", autouse=True)
def _clean_keys() -> Iterator[None]:
    """Delete every key this session wrote (all share one prefix)."""
    yield
    if _problem() is None:
        delete_prefix(f"mwtest:{SESSION}:")
