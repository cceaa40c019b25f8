"""``mapwire playground``: a local web page to write a mapping and watch what it does."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import click

from ..language.plan import Plan
from ..playground.app import Playground, create_app
from ..playground.workbench import Account
from ..runtime.config import Config
from ..runtime.registry import get_registry
from .config_discovery import find_config, load_config_or_exit


def accounts(config: Config | None) -> Callable[[Plan], Account | None]:
    """The destination settings of the config's connection for a mapping: the one running
    that flow, else one into the same destination; None without a config or a match."""

    def account(plan: Plan) -> Account | None:
        if config is None:
            return None
        by_flow = [c for c in config.connections if c.plan.name == plan.name]
        by_destination = [c for c in config.connections if c.plan.destination == plan.destination]
        for connection in [*by_flow, *by_destination]:
            return f"connection {connection.name!r}", connection.destination
        return None

    return account


@click.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option(
    "--port", type=click.IntRange(0, 65535), default=8090, show_default=True, help="Port."
)
@click.option(
    "--config",
    "config_path",
    type=click.Path(path_type=Path),
    help="Config whose connections' destination settings build the requests shown "
    "(default: $MAPWIRE_CONFIG, else ./mapwire.yaml, else made-up credentials).",
)
@click.option(
    "--save-dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("."),
    show_default=True,
    help="Folder the Save button writes mappings and test cases into (never outside it).",
)
def playground(host: str, port: int, config_path: Path | None, save_dir: Path) -> None:
    """Open a mapping playground in the browser: edit a mapping (diagnostics inline,
    completion of input paths and destination fields), paste an input or pick a sample,
    and see as you type the actions, the exact vendor requests (secrets masked; nothing
    is sent), skipped documents and where each field's value came from.

    It serves only the page and its API (never the receiver); it listens on 127.0.0.1
    unless --host says otherwise.

    \b
    Examples:
      mapwire playground                     then open http://127.0.0.1:8090/
      mapwire playground --config mapwire.yaml --save-dir my_flows --port 9000
    """
    import uvicorn

    config = load_config_or_exit(config_path, "playground") if find_config(config_path) else None
    save_dir.mkdir(parents=True, exist_ok=True)
    app = create_app(Playground(get_registry(), save_dir.resolve(), accounts(config), host=host))
    click.echo(f"mapwire playground on http://{host}:{port}/ (Ctrl-C stops it)", err=True)
    uvicorn.run(app, host=host, port=port, log_level="warning", server_header=False)
