"""Compiling mapping text as typed in the page, with everything the loaded plugins provide,
and turning its problems into rows the editor can place (line and column, 1-based)."""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

from ..contracts.errors import Problem, SpecError
from ..language.plan import Plan
from ..language.planner import compile_text
from ..runtime.mapping_files import UNKNOWN_FUNCTION, failed_plugins_note
from ..runtime.registry import Registry


@dataclass(frozen=True)
class Compiled:
    """The plan (None when the text has errors) and every problem, warnings included."""

    plan: Plan | None
    problems: list[Problem]


def compile_mapping(text: str, file: str, registry: Registry) -> Compiled:
    """Compile ``text`` as the mapping file ``file``: the checks of ``mapwire validate``.

    An unknown function while a plugin failed to load names that plugin, as ``validate``
    does."""
    try:
        plan = compile_text(
            text,
            file,
            functions=registry.functions(),
            destinations=registry.destinations(),
            sources=registry.sources(),
        )
    except SpecError as exc:
        problems = exc.problems
        if registry.failed:
            note = failed_plugins_note(registry)
            problems = [
                replace(p, message=f"{p.message} — {note}") if p.code == UNKNOWN_FUNCTION else p
                for p in problems
            ]
        return Compiled(None, list(problems))
    return Compiled(plan, list(plan.warnings))


def problem_row(problem: Problem) -> dict[str, Any]:
    """``{line, column, code, severity, message, suggestion, text}``; ``text`` is the line
    the page lists (``line:col CODE message``, ``warning`` before the code of a warning)."""
    word = "warning " if problem.severity == "warning" else ""
    return {
        "line": problem.line,
        "column": problem.col,
        "code": problem.code,
        "severity": problem.severity,
        "message": problem.message,
        "suggestion": problem.suggestion,
        "text": f"{problem.line}:{problem.col} {word}{problem.code} {problem.message}",
    }
