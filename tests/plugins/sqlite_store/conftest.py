"""Make ``store_contract`` importable, here and in the worker processes it spawns; the
fixtures the SQLite tests share (a fake clock, a fresh file, a queue on it).

Tests run with ``--import-mode=importlib``, so test folders are not on ``sys.path``. The
contract is a plain module rather than a fixture because store test classes inherit from
it, and ``spawn`` children import its workers by module name; a child gets the parent's
``sys.path``, so adding this folder once covers both.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from mapwire.plugins.sqlite_store.queue import SqliteQueue

_HERE = str(Path(__file__).resolve().parent)
if _HERE not in sys.path:
    sys.path.append(_HERE)

from store_contract import FakeClock  # noqa: E402  (importable once the folder is on the path)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def db(tmp_path: Path) -> Path:
    return tmp_path / "state.db"


@pytest.fixture
def queue(db: Path, clock: FakeClock) -> Iterator[SqliteQueue]:
    """A SQLite queue on a fresh file, on the test's clock (a contract class may override)."""
    with SqliteQueue(db, clock=clock) as q:
        yield q


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Leave out contract tests an implementation declares it does not support
    (``@needs("flag")`` with the class's ``flag`` false) instead of skipping them."""
    kept, dropped = [], []
    for item in items:
        flag = getattr(getattr(item, "function", None), "_needs", None)
        cls = getattr(item, "cls", None)
        if flag and cls is not None and not getattr(cls, flag, True):
            dropped.append(item)
        else:
            kept.append(item)
    if dropped:
        config.hook.pytest_deselected(items=dropped)
        items[:] = kept
