"""``mapwire config check``: every problem in a config file, with line:col."""

from __future__ import annotations

from pathlib import Path

import click

from ..contracts.errors import ConfigError, Problem
from ..runtime.config import load_config, ordered
from .common import EXIT_PROBLEMS, EXIT_SPEC, report_problems
from .config_discovery import find_config, no_config_message


@click.group("config")
def config_group() -> None:
    """Config files: named connections, store and queue location, server options.

    \b
    Examples:
      mapwire config check mapwire.yaml
    """


@config_group.command()
@click.option(
    "--config",
    "config_path",
    type=click.Path(path_type=Path),
    help="Config file (same as FILE).",
)
@click.argument("file", required=False, type=click.Path(path_type=Path))
def check(config_path: Path | None, file: Path | None) -> None:
    """Validate a config file: schema, flows, flow settings, destination settings and
    environment variables. Prints path:line:col: CODE message per problem; exit 1 if any.
    A secret written in the file instead of {env: NAME} is a warning: printed, exit 0.
    Secret values are never printed. Without FILE: $MAPWIRE_CONFIG, else ./mapwire.yaml.

    \b
    Examples:
      mapwire config check mapwire.yaml
      MAPWIRE_CONFIG=prod.yaml mapwire config check
    """
    found = find_config(file or config_path)
    if found is None:
        click.echo(no_config_message("config check"), err=True)
        raise SystemExit(EXIT_SPEC)
    path = found.path
    warnings: list[Problem] = []
    try:
        config = load_config(path, warnings=warnings)
    except ConfigError as exc:
        report_problems(ordered([*exc.problems, *warnings], path), err=False)
        click.echo(f"{len(exc.problems)} problem(s){_and(warnings)}", err=True)
        raise SystemExit(EXIT_PROBLEMS) from exc
    report_problems(warnings, err=False)
    for c in config.connections:
        state = "enabled" if c.enabled else f"disabled ({c.when_disabled})"
        where = f" -> {c.transport}" if c.transport else ""
        click.echo(f"{c.name}: {c.plan.name} -> {c.plan.destination}{where} [{state}]")
    click.echo(f"{path}: OK ({len(config.connections)} connection(s){_and(warnings)})", err=True)


def _and(warnings: list[Problem]) -> str:
    return f", {len(warnings)} warning(s)" if warnings else ""
