"""Each file in invalid/ lists, in `# expect:` comments, the exact problems it must produce."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from mapwire.contracts.destination import ActionSpec, Capabilities, Destination
from mapwire.contracts.errors import Problem, SpecError
from mapwire.language.planner import load_plan
from mapwire.runtime.registry import get_registry

FIXTURES = sorted((Path(__file__).parent / "invalid").glob("*.yaml"))
EXPECT = re.compile(r"^# expect: (\d+):(\d+) (warning: )?(E\d+) (.*)$")
#: A fixture with this line compiles with the installed plugins' sources, destinations and
#: functions (the static type checks need the real schemas), and may expect warnings.
WITH_PLUGINS = "# checked against the installed plugins"


class FakeCustomerIO(Destination):
    name = "customerio"
    settings_schema: dict[str, Any] = {}
    capabilities = Capabilities(100, 500_000, 32_000, 100.0)
    ident = {"type": "object", "properties": {"id": {}, "email": {}}, "additionalProperties": False}
    actions = {
        "identify": ActionSpec("identify", "", {"type": "object", "properties": {}}),
        "event": ActionSpec(
            "event",
            "",
            {
                "type": "object",
                "properties": {"name": {}, "identifiers": ident, "data": {}},
                "additionalProperties": False,
            },
        ),
    }

    def prepare(self, action: Any, settings: Any, *, key: Any = None) -> Any:
        raise NotImplementedError

    def build_requests(self, items: Any, settings: Any) -> Any:
        raise NotImplementedError

    def classify(self, sent: Any, response: Any) -> Any:
        raise NotImplementedError


def test_there_are_fixtures() -> None:
    assert len(FIXTURES) >= 10


@pytest.mark.parametrize("path", FIXTURES, ids=lambda p: p.stem)
def test_invalid_fixture_reports_exact_positions(path: Path) -> None:
    text = path.read_text("utf-8")
    expected = [m.groups() for line in text.splitlines() if (m := EXPECT.match(line))]
    assert expected, f"{path.name} has no '# expect:' lines"
    if WITH_PLUGINS in text:
        got = _problems_with_plugins(path)
    else:
        destinations = {"customerio": FakeCustomerIO()} if "customerio" in text else None
        with pytest.raises(SpecError) as info:
            load_plan(path, functions={"lower": None}, destinations=destinations)
        got = info.value.problems
    assert len(got) == len(expected), "\n".join(str(p) for p in got)
    for problem, (line, col, warning, code, message) in zip(got, expected, strict=True):
        assert problem.path == str(path)
        where = (problem.line, problem.col, problem.code)
        assert where == (int(line), int(col), code), str(problem)
        assert message in problem.message, str(problem)
        assert problem.severity == ("warning" if warning else "error"), str(problem)


def _problems_with_plugins(path: Path) -> list[Problem]:
    registry = get_registry()
    try:
        plan = load_plan(
            path,
            functions=registry.functions(),
            destinations=registry.destinations(),
            sources=registry.sources(),
        )
    except SpecError as exc:
        return exc.problems
    return list(plan.warnings)
