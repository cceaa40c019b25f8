"""The ``mapwire`` command line: one click group, one module per command family.

A command's module is imported when the command runs (or ``--help`` lists them), so that
``mapwire map`` does not pay for the server, the HTTP client or the queue.
"""

from __future__ import annotations

import importlib

import click

from ..contracts.errors import PluginError
from ..runtime.registry import build_registry, reset_registry

#: Command name -> (module in this package, the click command's attribute in it).
COMMANDS: dict[str, tuple[str, str]] = {
    "validate": ("validate_cmd", "validate"),
    "map": ("mapping_cmds", "map_command"),
    "explain": ("mapping_cmds", "explain"),
    "test": ("test_cmd", "test"),
    "plugins": ("plugins_cmd", "plugins"),
    "playground": ("playground_cmd", "playground"),
    "config": ("config_cmd", "config_group"),
    "send": ("send_cmd", "send"),
    "deliver": ("deliver_cmd", "deliver"),
    "dlq": ("dlq_cmd", "dlq"),
    "connect": ("connect_cmd", "connect"),
    "describe": ("describe_cmd", "describe"),
    "schema": ("schema_cmd", "schema"),
    "serve": ("serve_cmd", "serve"),
    "tap": ("tap_cmd", "tap"),
    "demo": ("demo_cmd", "demo"),
    "lsp": ("lsp_cmd", "lsp"),
}


class _Group(click.Group):
    """Commands loaded on first use (``COMMANDS``). Plugin problems (a broken plugin in
    strict mode, two plugins claiming one name) end any command with one clear line, not
    a traceback."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*COMMANDS, *self.commands})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name not in self.commands and cmd_name in COMMANDS:
            module, attribute = COMMANDS[cmd_name]
            command = getattr(importlib.import_module(f".{module}", __name__), attribute)
            self.add_command(command, cmd_name)
        return self.commands.get(cmd_name)

    def invoke(self, ctx: click.Context) -> object:
        try:
            return super().invoke(ctx)
        except PluginError as exc:
            raise click.ClickException(str(exc)) from exc


@click.group(
    cls=_Group,
    context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100},
)
@click.option(
    "--strict-plugins",
    is_flag=True,
    envvar="MAPWIRE_STRICT_PLUGINS",
    help="Fail when a plugin cannot be loaded (default: report it and go on).",
)
@click.version_option(package_name="mapwire")
def main(strict_plugins: bool) -> None:
    """mapwire: move customer data between services with declarative, tested mappings;
    the installed plugins provide the services (mapwire plugins).

    \b
    Quick tour:
      mapwire validate mappings/          check mapping files
      mapwire test                        run the mappings' test cases
      mapwire map --mapping FILE in.json  dry run: print the actions
      mapwire explain --mapping FILE in.json
      mapwire plugins                     what the loaded plugins provide
      mapwire describe destination NAME   actions, fields, types and limits
      mapwire schema mapping              JSON Schema for editors
      mapwire config check mapwire.yaml   check a config file
      mapwire send --config mapwire.yaml --connection NAME batches.ndjson
      mapwire dlq list --config mapwire.yaml
      mapwire serve [--config FILE]       receive webhooks over HTTP and deliver them
      mapwire tap [--connection NAME]     watch live what a running serve receives and maps
      mapwire demo post                   post the bundled samples to a running server
      mapwire playground                  try mappings in the browser (127.0.0.1:8090)
    """
    if strict_plugins:
        try:
            reset_registry(build_registry(strict=True))
        except PluginError as exc:
            raise click.ClickException(str(exc)) from exc
