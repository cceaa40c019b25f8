"""YAML syntax errors point at the wrong line (not the next one PyYAML noticed it on),
with a hint when indentation is the likely cause, whichever YAML parser is installed."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from mapwire.cli import main
from mapwire.language.yaml_errors import syntax_problem

LOADERS = [yaml.SafeLoader, *([yaml.CSafeLoader] if hasattr(yaml, "CSafeLoader") else [])]

CASES = [
    # (text, line, col, message part, hint part)
    ('a: 1\nname: "abc\nb: 2\n', 2, 7, "quoted string is never closed", "closing quote"),
    ("a: 1\nb: [x, y\nc: 2\n", 2, 4, "'[' is never closed", "closing ']'"),
    ("a: 1\nb: {x: 1\nc: 2\n", 2, 4, "'{' is never closed", "closing '}'"),
    ("a: 1\nb\nc: 3\n", 2, 1, "no ':' after its key", "key: value"),
    ("r:\n  - action x\n    fields: {}\n", 2, 5, "no ':' after its key", "key: value"),
    ("r:\n  - a: x\n     f: {}\n", 3, 6, "indented deeper than the key above", "column 5"),
    ("a:\n  b: 1\n c: 2\n", 3, 2, "indentation does not fit", "indentation"),
    ("r:\n  - a: x\n    f:\n      g: 1\n   w: y\n", 5, 4, "indentation", "indentation"),
    ("a: 1\n\tb: 2\n", 2, 1, "tab", "spaces, not tabs"),
    ("a: b: c\n", 1, 5, "not allowed", "quote a value"),
]


@pytest.mark.parametrize("loader", LOADERS, ids=lambda c: c.__name__)
@pytest.mark.parametrize(("text", "line", "col", "message", "hint"), CASES)
def test_syntax_error_points_at_the_wrong_line(
    loader: type, text: str, line: int, col: int, message: str, hint: str
) -> None:
    with pytest.raises(yaml.MarkedYAMLError) as info:
        yaml.compose(text, Loader=loader)
    problem = syntax_problem(info.value, text, "f.yaml")
    assert (problem.line, problem.col, problem.code) == (line, col, "E001"), str(problem)
    assert message in problem.message
    assert problem.suggestion is not None and hint in problem.suggestion


def test_validate_prints_the_indentation_hint() -> None:
    path = Path(__file__).parent / "invalid" / "yaml_under_indented.yaml"
    result = CliRunner().invoke(main, ["validate", str(path)])
    assert result.exit_code == 1
    assert result.stdout.splitlines()[0].startswith(f"{path}:9:4: E001 YAML syntax:")
    assert result.stdout.splitlines()[1] == (
        "  suggestion: check the indentation: keys of one mapping start in the same column, "
        "list items ('- ') line up, and YAML indents with spaces only"
    )
