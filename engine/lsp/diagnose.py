"""The problems ``mapwire validate`` reports for one file, computed from its unsaved text.

A mapping file gets its schema, expression, name and type problems (errors and warnings)
and, when another mapping on the search path (the plugins' folders and the file's own
folder) has the same ``name:``, the duplicate-name error. A test-case file
(``*.test.yaml``) gets its own problems; the mapping it names is read from the editor when
it is open there (``open_text``), else from disk.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from ..contracts.errors import Problem, SpecError
from ..language.cases_check import check_cases_text
from ..language.mapping_names import DUPLICATE_NAME, index_mappings, is_cases_file
from ..language.plan import Plan
from ..language.yaml_loader import load
from ..runtime.mapping_files import (
    compile_text_with_plugins,
    find_files,
    shipped_paths,
)
from ..runtime.registry import Registry, get_registry
from ..runtime.source_shapes import refusal
from .positions import Span, problem_span

#: The text of a file as an editor holds it, or None when it is not open.
OpenText = Callable[[Path], "str | None"]


@dataclass(frozen=True)
class Diagnostic:
    """One problem, placed for an editor."""

    span: Span
    code: str
    severity: str  # "error" or "warning"
    message: str
    suggestion: str | None = None


def is_mapping_text(text: str) -> bool:
    """Whether a YAML/JSON text looks like a mapping spec (it has ``mapwire:`` or
    ``rules:`` at its top), so other YAML files in an editor are left alone."""
    value, _, problems = load(text, "")
    if problems:
        return any(line.startswith(("mapwire:", "rules:")) for line in text.splitlines())
    return isinstance(value, dict) and ("mapwire" in value or "rules" in value)


def problems_for(
    text: str,
    path: Path,
    *,
    open_text: OpenText = lambda _: None,
    registry: Registry | None = None,
) -> list[Problem]:
    """Every problem ``mapwire validate`` would report in ``path`` if it held ``text``."""
    reg = registry or get_registry()
    if is_cases_file(path):

        def compile_mapping(mapping: Path) -> Plan:
            buffer = open_text(mapping)
            if buffer is None:
                buffer = mapping.read_text("utf-8")
            return compile_text_with_plugins(buffer, str(mapping), reg)

        return check_cases_text(text, path, compile_mapping, lambda plan: refusal(plan, reg))
    try:
        problems = list(compile_text_with_plugins(text, str(path), reg).warnings)
    except SpecError as exc:
        problems = list(exc.problems)
    return [*_duplicate_name(text, path, reg), *problems]


def _duplicate_name(text: str, path: Path, registry: Registry) -> list[Problem]:
    """E110 when another mapping on the search path claims this text's ``name:``."""
    value, positions, found = load(text, str(path))
    if found or not isinstance(value, dict) or not isinstance(value.get("name"), str):
        return []
    others = [
        p
        for p in find_files([*shipped_paths(registry), path.parent])
        if p.resolve() != path.resolve()
    ]
    first = index_mappings(others).by_name.get(value["name"])
    if first is None:
        return []
    try:
        if first.path.read_text("utf-8") == text:
            return []  # an identical copy is the same mapping
    except (OSError, UnicodeDecodeError):
        return []
    line, col = positions.of(("name",))
    return [
        Problem(
            str(path),
            line,
            col,
            DUPLICATE_NAME,
            f"mapping name {value['name']!r} is also defined in {first.path}:{first.line}",
            suggestion="give one of the two mappings another name, or remove one of the "
            "folders from the search path",
        )
    ]


def diagnose(
    text: str,
    path: Path,
    *,
    open_text: OpenText = lambda _: None,
    registry: Registry | None = None,
) -> list[Diagnostic]:
    """The problems in ``text`` (the file ``path`` as an editor holds it), placed; none for
    a YAML file that is neither a mapping nor a test-case file."""
    if not is_cases_file(path) and not is_mapping_text(text):
        return []
    lines = text.splitlines()
    return [
        Diagnostic(problem_span(lines, p), p.code, p.severity, p.message, p.suggestion or None)
        for p in problems_for(text, path, open_text=open_text, registry=registry)
    ]
