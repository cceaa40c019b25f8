"""Problems for editors and CI: a JSON array with start and end positions (for people,
``file:line:col: [warning] CODE message`` lines: ``common.report_problems``)."""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path

from ..contracts.errors import Problem
from ..lsp.positions import token_end


def as_json(problems: Iterable[Problem]) -> str:
    """``[{file, line, column, end_line, end_column, code, severity, message,
    suggestion}]``; positions are 1-based and ``end_column`` is exclusive."""
    lines: dict[str, list[str]] = {}
    rows = []
    for p in problems:
        if p.path not in lines:
            try:
                lines[p.path] = Path(p.path).read_text("utf-8").splitlines()
            except (OSError, UnicodeDecodeError):
                lines[p.path] = []
        text = lines[p.path][p.line - 1] if 0 < p.line <= len(lines[p.path]) else ""
        rows.append(
            {
                "file": p.path,
                "line": p.line,
                "column": p.col,
                "end_line": p.line,
                "end_column": token_end(text, p.col),
                "code": p.code,
                "severity": p.severity,
                "message": p.message,
                "suggestion": p.suggestion,
            }
        )
    return json.dumps(rows, indent=2)
