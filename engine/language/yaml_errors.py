"""YAML syntax errors that point at the line that is wrong.

PyYAML notices many mistakes only on a later line (an unclosed quote at the end of the
file, an unclosed ``[`` or a key without ``:`` on the next line). Here the error is moved
back to where the mistake is, and when indentation is the likely cause (a tab, a key
indented more or less than its siblings) the problem carries a hint saying so.
"""

from __future__ import annotations

from typing import Protocol

import yaml

from ..contracts.errors import Problem

SYNTAX = "E001"
_INDENT_HINT = (
    "check the indentation: keys of one mapping start in the same column, list items "
    "('- ') line up, and YAML indents with spaces only"
)
_BLOCK_PROBLEMS = ("did not find expected key", "expected <block end>", "did not find expected '-'")


def _indent(line: str) -> int:
    return len(line) - len(line.lstrip(" "))


def _content(line: str) -> tuple[int, str]:
    """(0-based column, text) of a line's content after its indentation and any '- '."""
    col = _indent(line)
    while line.startswith("- ", col) or line[col:] == "-":
        col += 2
        col += _indent(line[col:])
    return col, line[col:]


def _previous(lines: list[str], index: int) -> int | None:
    """Index of the closest line before ``index`` with content (not blank, not a comment)."""
    for i in range(index - 1, -1, -1):
        stripped = lines[i].strip()
        if stripped and not stripped.startswith("#"):
            return i
    return None


def _has_key(text: str) -> bool:
    return ": " in text or text.rstrip().endswith(":") or text.startswith(("{", "[", '"', "'"))


def syntax_problem(exc: yaml.MarkedYAMLError, text: str, file: str) -> Problem:
    """The problem for a YAML syntax error, at the line that is wrong."""
    lines = text.splitlines()
    mark = exc.problem_mark or exc.context_mark
    line, col = (mark.line, mark.column) if mark else (0, 0)
    what = str(exc.problem or exc)
    context = exc.context or ""
    cm = exc.context_mark

    def at(line0: int, col0: int, message: str, hint: str | None = None) -> Problem:
        return Problem(
            file, line0 + 1, col0 + 1, SYNTAX, f"YAML syntax: {message}", suggestion=hint
        )

    if cm is not None and "quoted scalar" in context:
        return at(
            cm.line,
            cm.column,
            "this quoted string is never closed",
            "add the closing quote on this line",
        )
    if cm is not None and "flow sequence" in context:
        return at(cm.line, cm.column, f"'[' is never closed ({what})", "add the closing ']'")
    if cm is not None and "flow mapping" in context:
        return at(cm.line, cm.column, f"'{{' is never closed ({what})", "add the closing '}'")
    if cm is not None and "simple key" in context and cm.line < line:
        return at(
            cm.line,
            _content(lines[cm.line])[0] if cm.line < len(lines) else cm.column,
            "this line has no ':' after its key",
            "write 'key: value'",
        )
    current = lines[line] if line < len(lines) else ""
    if "tab" in what or "\t" in current[: _indent(current) + 1]:
        message = what if "tab" in what else f"{what} (a tab character)"
        return at(line, col, message, "indent with spaces, not tabs")
    if "mapping values are not allowed" in what:
        return _colon_problem(lines, line, col, what, at)
    if any(what.startswith(p) for p in _BLOCK_PROBLEMS) and col <= _indent(current) + 2:
        return at(line, col, f"{what}: this line's indentation does not fit", _INDENT_HINT)
    return at(line, col, what)


def _colon_problem(lines: list[str], line: int, col: int, what: str, at: _At) -> Problem:
    """``a: b`` read as part of the value above: the line above has no ':' after its key,
    or this line is indented deeper than the key above it, or a value holds ': '."""
    prev = _previous(lines, line)
    start = _content(lines[line])[0]
    if prev is None or start == col or prev == line:
        return at(line, col, what, "quote a value that contains ': '")
    prev_start, prev_content = _content(lines[prev])
    if not _has_key(prev_content):
        return at(
            prev,
            prev_start,
            "this line has no ':' after its key, so the next line is read as part of it",
            "write 'key: value'",
        )
    if start > prev_start:
        return at(
            line,
            start,
            f"this line is indented deeper than the key above it (column {prev_start + 1}), "
            "so YAML reads it as part of that value",
            f"indent it to column {prev_start + 1} like its sibling keys",
        )
    return at(line, col, what, "quote a value that contains ': '")


class _At(Protocol):
    def __call__(self, line0: int, col0: int, message: str, hint: str | None = None) -> Problem: ...
