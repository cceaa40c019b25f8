"""Positions in a text as an editor counts them: 0-based lines and characters, ranges
whose end is exclusive; and the extent of the token a 1-based ``line:col`` points at."""

from __future__ import annotations

from dataclasses import dataclass

from ..contracts.errors import Problem


@dataclass(frozen=True)
class Span:
    """A range of one document: 0-based, ``end_*`` exclusive."""

    start_line: int
    start_char: int
    end_line: int
    end_char: int


def token_end(text: str, col: int) -> int:
    """The column just after the token at 1-based ``col`` of a line: a quoted string to
    its closing quote, a name (letters, digits, ``_ $ - .``) to its end, else one
    character."""
    i = col - 1
    if i >= len(text):
        return col + 1
    if text[i] in "'\"":
        close = text.find(text[i], i + 1)
        return (close if close >= 0 else len(text) - 1) + 2
    j = i
    while j < len(text) and (text[j].isalnum() or text[j] in "_$-."):
        j += 1
    while j > i + 1 and text[j - 1] in ".-":
        j -= 1
    return max(j, i + 1) + 1


def problem_span(lines: list[str], problem: Problem) -> Span:
    """Where ``problem`` is in a document of ``lines``: the token at its ``line:col``."""
    line = max(problem.line, 1)
    text = lines[line - 1] if line <= len(lines) else ""
    return Span(line - 1, problem.col - 1, line - 1, token_end(text, problem.col) - 1)
