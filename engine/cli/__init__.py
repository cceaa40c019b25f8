"""The ``mapwire`` command line: one click group, one module per command family."""

from __future__ import annotations

import click

from ..contracts.errors import PluginError
from ..runtime.registry import build_registry, reset_registry


class _Group(click.Group):
    """Plugin problems (a broken plugin in strict mode, two plugins claiming one name)
    end any command with one clear line, not a traceback."""

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
      mapwire demo post                   post the bundled samples to a running server
      mapwire playground                  try mappings in the browser (127.0.0.1:8090)
    """
    if strict_plugins:
        try:
            reset_registry(build_registry(strict=True))
        except PluginError as exc:
            raise click.ClickException(str(exc)) from exc


def _register_commands() -> None:
    from . import (
        config_cmd,
        connect_cmd,
        deliver_cmd,
        demo_cmd,
        describe_cmd,
        dlq_cmd,
        lsp_cmd,
        mapping_cmds,
        playground_cmd,
        plugins_cmd,
        schema_cmd,
        send_cmd,
        serve_cmd,
        test_cmd,
        validate_cmd,
    )

    main.add_command(validate_cmd.validate)
    main.add_command(mapping_cmds.map_command)
    main.add_command(mapping_cmds.explain)
    main.add_command(test_cmd.test)
    main.add_command(plugins_cmd.plugins)
    main.add_command(playground_cmd.playground)
    main.add_command(config_cmd.config_group)
    main.add_command(send_cmd.send)
    main.add_command(deliver_cmd.deliver)
    main.add_command(dlq_cmd.dlq)
    main.add_command(connect_cmd.connect)
    main.add_command(describe_cmd.describe)
    main.add_command(schema_cmd.schema)
    main.add_command(serve_cmd.serve)
    main.add_command(demo_cmd.demo)
    main.add_command(lsp_cmd.lsp)


_register_commands()
