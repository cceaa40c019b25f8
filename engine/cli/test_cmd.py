"""``mapwire test``: run the mapping test cases stored next to the mappings."""

from __future__ import annotations

from pathlib import Path

import click

from ..contracts.errors import MapwireError, SpecError
from ..language.cases import check_case, load_cases
from ..runtime.mapping_files import compile_with_plugins, find_files, shipped_paths
from ..runtime.registry import get_registry
from ..runtime.source_shapes import refusal
from .common import EXIT_PROBLEMS


@click.command()
@click.argument("paths", nargs=-1, type=click.Path(exists=True, path_type=Path))
@click.option("-q", "--quiet", is_flag=True, help="Print failures and the summary only.")
def test(paths: tuple[Path, ...], quiet: bool) -> None:
    """Run mapping test cases (*.test.yaml): input, settings, expected actions or errors.

    With no PATH, runs the cases of the mappings the installed plugins ship. Exits 1 on
    any failure. The same files are collected by pytest (the mapwire pytest plugin).

    \b
    Examples:
      mapwire test
      mapwire test mappings/ my_mappings/
    """
    files = find_files(list(paths) or shipped_paths(), cases=True)
    if not files:
        where = ", ".join(map(str, paths)) or "the installed plugins' mappings"
        click.echo(f"no test cases found: no *.test.yaml file in {where}", err=True)
        raise SystemExit(EXIT_PROBLEMS)
    passed = failed = 0
    for path in files:
        try:
            cases_file = load_cases(path)
            plan = compile_with_plugins(cases_file.mapping)
        except (SpecError, OSError) as exc:
            click.echo(f"FAIL {path}: cannot load\n{exc}")
            failed += 1
            continue
        refused, destinations = refusal(plan), get_registry().destinations()
        for case in cases_file.cases:
            try:
                failures = check_case(plan, case, destinations, refused)
            except MapwireError as exc:
                failures = [f"error: {exc}"]
            if failures:
                failed += 1
                click.echo(f"FAIL {path}:{case.line} {case.name}")
                for f in failures:
                    click.echo("  " + f.replace("\n", "\n  "))
            else:
                passed += 1
                if not quiet:
                    click.echo(f"ok   {path}:{case.line} {case.name}")
    click.echo(f"{passed} passed, {failed} failed")
    if failed or not (passed or failed):
        raise SystemExit(EXIT_PROBLEMS)
