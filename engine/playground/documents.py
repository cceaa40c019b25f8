"""Reading the input pane: one JSON document, or NDJSON (one document a line)."""

from __future__ import annotations

from typing import Any

import orjson


def read_input(text: str) -> tuple[list[Any], list[str]]:
    """(documents, problems): the whole text as one JSON document when it parses, else each
    non-blank line as one; a line that is not JSON becomes a problem naming the line (never
    its content)."""
    stripped = text.strip()
    if not stripped:
        return [], []
    try:
        return [orjson.loads(stripped)], []
    except ValueError:
        pass
    docs: list[Any] = []
    problems: list[str] = []
    for n, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        try:
            docs.append(orjson.loads(line))
        except ValueError as exc:
            problems.append(f"input line {n}: not JSON ({str(exc).split(':')[0]})")
    return docs, problems
