from __future__ import annotations

import textwrap
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any

import pytest

from mapwire import (
    Action,
    ActionSpec,
    Capabilities,
    Destination,
    OutboundRequest,
    Outcome,
    PreparedItem,
    Source,
    hookimpl,
)
from mapwire.contracts.actions import MapResult
from mapwire.contracts.store import MemoryStore
from mapwire.language.compiler import compile_plan
from mapwire.language.interpreter import Evaluator
from mapwire.language.mapping_settings import resolve_settings
from mapwire.language.plan import Plan
from mapwire.language.planner import compile_text
from mapwire.runtime.registry import Registry, build_registry, reset_registry

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


@pytest.fixture(params=["interpreted", "compiled"])
def run(request: pytest.FixtureRequest) -> Callable[..., MapResult]:
    """Runs a mapping body on a document, with the interpreter and with generated code:
    every language test holds both evaluators to the same result."""

    def _run(body: str, doc: Any, settings: dict[str, Any] | None = None, **kw: Any) -> MapResult:
        plan = compile_body(body, **kw)
        runner = Evaluator(plan) if request.param == "interpreted" else compile_plan(plan)
        return runner.run(doc, resolve_settings(plan, settings), MemoryStore())

    return _run


collect_ignore_glob = ["data/*", "invalid_cases/*"]


@pytest.fixture
def fake_registry() -> Iterator[Registry]:
    """The process registry with the in-process test plugin added, restored afterwards."""
    registry = build_registry(extra_plugins=[("fake", FakePlugin())])
    reset_registry(registry)
    yield registry
    reset_registry(None)


class Recorder(Destination):
    name = "test"
    description = "records actions; sends nothing"
    settings_schema: Mapping[str, Any] = {"type": "object"}
    capabilities = Capabilities(100, 100_000, 10_000, 1000.0)
    actions = {
        "note": ActionSpec(
            "note",
            "a note",
            {
                "type": "object",
                "properties": {"text": {"type": "string"}, "n": {"type": "integer"}},
                "required": ["text"],
                "additionalProperties": False,
            },
        )
    }

    def prepare(
        self, action: Action, settings: Mapping[str, Any], *, key: Any = None
    ) -> PreparedItem:
        return PreparedItem(key, action.payload, 0)

    def build_requests(
        self, items: Sequence[PreparedItem], settings: Mapping[str, Any]
    ) -> list[OutboundRequest]:
        return []

    def classify(self, sent: OutboundRequest, response: Any) -> list[Outcome]:
        return []


class FakePlugin:
    """In-process plugin: the ``test`` destination, ``test.input`` source, ``shout()``."""

    @hookimpl
    def register_destinations(self, register: Any) -> None:
        register(Recorder())

    @hookimpl
    def register_sources(self, register: Any) -> None:
        register(Source("test.input", "test documents", {"type": "object"}))

    @hookimpl
    def register_functions(self, register: Any) -> None:
        register("shout", lambda s: s.upper() + "!", [["string"]])
