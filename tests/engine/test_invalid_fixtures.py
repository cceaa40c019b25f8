"""Each file in invalid/ lists, in `# expect:` comments, the exact problems it must produce."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from mapwire.engine.compile import load_plan
from mapwire.engine.destination import ActionSpec, Capabilities, Destination
from mapwire.engine.errors import SpecError

FIXTURES = sorted((Path(__file__).parent / "invalid").glob("*.yaml"))
EXPECT = re.compile(r"^# expect: (\d+):(\d+) (E\d+) (.*)$")


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
    destinations = {"customerio": FakeCustomerIO()} if "customerio" in text else None
    with pytest.raises(SpecError) as info:
        load_plan(path, functions={"lower": None}, destinations=destinations)
    got = info.value.problems
    assert len(got) == len(expected), "\n".join(str(p) for p in got)
    for problem, (line, col, code, message) in zip(got, expected, strict=True):
        assert problem.path == str(path)
        where = (problem.line, problem.col, problem.code)
        assert where == (int(line), int(col), code), str(problem)
        assert message in problem.message, str(problem)
