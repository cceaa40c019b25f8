"""``mapwire schema``: the JSON Schema of mappings, configs or test cases, generated from
the installed plugins, for editors (yaml-language-server, VS Code) and CI."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click

from ..contracts.errors import SpecError
from ..language.plan import Plan
from ..runtime.editor_schema import cases_schema_for, config_schema_for, mapping_schema_for
from ..runtime.mapping_files import compile_with_plugins, search_path_index
from ..runtime.registry import get_registry


def _flows(extra: tuple[Path, ...]) -> dict[str, Plan]:
    plans: dict[str, Plan] = {}
    for name, path in search_path_index(extra, get_registry()).paths().items():
        try:
            plans[name] = compile_with_plugins(path)
        except SpecError:
            continue  # `mapwire validate` reports it; the schema just does not offer it
    return plans


@click.command()
@click.argument("kind", type=click.Choice(["mapping", "config", "test"]))
@click.option(
    "--mappings",
    "extra",
    multiple=True,
    type=click.Path(exists=True, path_type=Path),
    help="config: also offer the flows in this folder (as a config's `mappings:` does).",
)
def schema(kind: str, extra: tuple[Path, ...]) -> None:
    """Print the JSON Schema of a mapping, a config or a test-case file, generated from
    the installed plugins: destination, source and flow names, each destination's
    actions and each action's fields. Save it and point your editor at it (see
    docs/editors.md).

    \b
    Examples:
      mkdir -p .mapwire && mapwire schema mapping > .mapwire/mapping.schema.json
      mapwire schema config --mappings my_flows/ > .mapwire/config.schema.json
      mapwire schema test > .mapwire/test.schema.json
    """
    registry = get_registry()
    generated: dict[str, Any]
    if kind == "mapping":
        generated = mapping_schema_for(registry)
    elif kind == "config":
        generated = config_schema_for(registry, _flows(extra))
    else:
        generated = cases_schema_for()
    click.echo(json.dumps(generated, indent=2, ensure_ascii=False))
