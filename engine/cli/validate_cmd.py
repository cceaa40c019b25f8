"""``mapwire validate``: every problem in every mapping and test-case file, at once."""

from __future__ import annotations

from pathlib import Path

import click

from ..contracts.errors import Problem, SpecError
from ..language.cases_check import check_cases_file
from ..language.mapping_names import index_mappings
from ..language.plan import Plan
from ..runtime.mapping_files import compile_with_plugins, find_files, shipped_paths
from ..runtime.source_shapes import refusal
from .common import EXIT_PROBLEMS, report_problems
from .diagnostics import as_json


class _Compiled:
    """Each mapping compiled once, whether reached as a file or through a test file."""

    def __init__(self) -> None:
        self.results: dict[Path, Plan | SpecError] = {}

    def __call__(self, path: Path) -> Plan:
        key = path.resolve()
        if key not in self.results:
            try:
                self.results[key] = compile_with_plugins(path)
            except SpecError as exc:
                self.results[key] = exc
        result = self.results[key]
        if isinstance(result, SpecError):
            raise result
        return result


def check_paths(paths: list[Path]) -> tuple[list[Problem], int]:
    """(every problem, how many files were checked) for mapping and test-case files under
    ``paths``; names are checked against the whole search path (shipped mappings and the
    folders plugins register, then ``paths``)."""
    roots = paths or shipped_paths()
    mappings = find_files(roots)
    cases = find_files(roots, cases=True)
    problems = list(index_mappings([*find_files(shipped_paths()), *mappings]).problems)
    compiled = _Compiled()
    for path in mappings:
        try:
            problems.extend(compiled(path).warnings)
        except SpecError as exc:
            problems.extend(exc.problems)
    for path in cases:
        problems.extend(check_cases_file(path, compiled, refusal))
    return problems, len(mappings) + len(cases)


@click.command()
@click.argument("paths", nargs=-1, type=click.Path(exists=True, path_type=Path))
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["text", "json"]),
    default="text",
    show_default=True,
    help="json: an array of {file, line, column, end_line, end_column, code, severity, "
    "message, suggestion} for editors and CI annotations.",
)
@click.option("--strict", is_flag=True, help="Treat warnings as errors (exit 1 on any).")
def validate(paths: tuple[Path, ...], fmt: str, strict: bool) -> None:
    """Check mapping files and their test cases (*.test.yaml), or folders of them, and
    print every problem as path:line:col: CODE message (warnings as
    path:line:col: warning CODE message).

    With no PATH, checks the mappings the installed plugins ship. Two mappings with the
    same name on the search path are an error. Exits 1 if any error is found (or, with
    --strict, any warning).

    \b
    Examples:
      mapwire validate mappings/
      mapwire validate my_flow.yaml my_flow.test.yaml --format json
      mapwire validate --strict my_flows/
    """
    problems, checked = check_paths(list(paths))
    errors = [p for p in problems if p.severity != "warning" or strict]
    if fmt == "json":
        click.echo(as_json(problems))
    else:
        report_problems(problems, err=False)
        bad = len({p.path for p in problems})
        warnings = len(problems) - len([p for p in problems if p.severity != "warning"])
        counted = f" ({warnings} warning(s))" if warnings else ""
        summary = (
            f"{len(problems)} problem(s){counted} in {bad} of {checked} file(s)"
            if problems
            else f"{checked} file(s) OK"
        )
        click.echo(summary, err=True)
    if errors:
        raise SystemExit(EXIT_PROBLEMS)
