"""``mapwire validate``: every problem in every mapping file, at once."""

from __future__ import annotations

import json
from pathlib import Path

import click

from mapwire.engine.cli.common import EXIT_PROBLEMS
from mapwire.engine.errors import Problem, SpecError
from mapwire.engine.mapping_files import compile_with_plugins, find_files, shipped_paths


@click.command()
@click.argument("paths", nargs=-1, type=click.Path(exists=True, path_type=Path))
@click.option(
    "--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True
)
def validate(paths: tuple[Path, ...], fmt: str) -> None:
    """Check mapping files (or folders of them) and print every problem as
    path:line:col: CODE message.

    With no PATH, checks the mappings the installed plugins ship. Exits 1 if any
    problem is found.

    \b
    Examples:
      mapwire validate mappings/
      mapwire validate my_flow.yaml --format json
    """
    files = find_files(list(paths) or shipped_paths())
    problems: list[Problem] = []
    for path in files:
        try:
            problems.extend(compile_with_plugins(path).warnings)
        except SpecError as exc:
            problems.extend(exc.problems)
    if fmt == "json":
        click.echo(
            json.dumps({"files": len(files), "problems": [p.as_dict() for p in problems]}, indent=2)
        )
    else:
        for p in problems:
            click.echo(str(p))
        bad = len({p.path for p in problems})
        summary = (
            f"{len(problems)} problem(s) in {bad} of {len(files)} file(s)"
            if problems
            else f"{len(files)} file(s) OK"
        )
        click.echo(summary, err=True)
    if any(p.severity == "error" for p in problems):
        raise SystemExit(EXIT_PROBLEMS)
