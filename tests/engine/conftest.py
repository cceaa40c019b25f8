from __future__ import annotations

import textwrap
from collections.abc import Callable
from typing import Any

import pytest

from mapwire.engine.actions import MapResult
from mapwire.engine.compile import compile_text
from mapwire.engine.evaluate import Evaluator
from mapwire.engine.plan import Plan
from mapwire.engine.settings import resolve_settings
from mapwire.engine.store import MemoryStore

HEADER = """\
mapwire: 1
name: t
source: test.input
destination: test
"""


def compile_body(body: str, **kwargs: Any) -> Plan:
    return compile_text(HEADER + textwrap.dedent(body), "t.yaml", **kwargs)


@pytest.fixture
def make_plan() -> Callable[..., Plan]:
    return compile_body


@pytest.fixture
def run() -> Callable[..., MapResult]:
    def _run(body: str, doc: Any, settings: dict[str, Any] | None = None, **kw: Any) -> MapResult:
        plan = compile_body(body, **kw)
        return Evaluator(plan).run(doc, resolve_settings(plan, settings), MemoryStore())

    return _run
