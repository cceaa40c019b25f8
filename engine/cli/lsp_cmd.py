"""``mapwire lsp``: the language server for mapping files, on stdio."""

from __future__ import annotations

import click

from ..contracts.errors import MissingDependency
from ..lsp.launch import run_stdio


@click.command()
def lsp() -> None:
    """Run the language server for mapping files (*.yaml) and their test cases
    (*.test.yaml) on stdin/stdout, for an editor to start.

    It reports what `mapwire validate` reports as you type (from the unsaved text), shows
    the type and description of an input path or destination field on hover, and completes
    input paths, functions, actions, fields and mapping keys. Needs the lsp extra:
    pip install '.[lsp]' (from a clone; 'mapwire[lsp]' from an index). docs/editors.md
    shows the VS Code and Neovim setup.

    \b
    Examples:
      mapwire lsp                      (an editor starts it; it reads stdin)
      pip install '.[lsp]' && mapwire lsp
    """
    try:
        run_stdio()
    except MissingDependency as exc:
        raise click.ClickException(str(exc)) from exc
