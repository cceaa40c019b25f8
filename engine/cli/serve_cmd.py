"""``mapwire serve``: receive traffic over HTTP and deliver it, in one process or in
supervised intake and delivery processes."""

from __future__ import annotations

from pathlib import Path

import click

from ..contracts.errors import MissingDependency
from ..server.logs import LEVELS
from ..server.runner import run_server
from .config_discovery import config_loader, load_config_or_exit

EXIT_STARTUP_FAILED = 3


@click.command()
@click.option(
    "--config",
    "config_path",
    type=click.Path(path_type=Path),
    help="Config file (default: $MAPWIRE_CONFIG, else ./mapwire.yaml, else the bundled "
    "demo, delivering into ./mapwire-data/delivered).",
)
@click.option("--host", help="Address to listen on (default: server.host, else 127.0.0.1).")
@click.option(
    "--port", type=click.IntRange(0, 65535), help="Port (default: server.port, else 8080)."
)
@click.option(
    "--workers",
    type=click.IntRange(min=1),
    help="Intake processes sharing the port (default: server.workers, else 1).",
)
@click.option(
    "--deliverers",
    type=click.IntRange(min=0),
    help="Delivery processes (default: server.deliverers, else 0: intake delivers).",
)
@click.option(
    "--watch",
    is_flag=True,
    help="Reload when the config file or a mapping it uses changes (as on SIGHUP).",
)
@click.option(
    "--log-level", type=click.Choice(LEVELS), default="info", show_default=True, help="Log level."
)
def serve(
    config_path: Path | None,
    host: str | None,
    port: int | None,
    workers: int | None,
    deliverers: int | None,
    watch: bool,
    log_level: str,
) -> None:
    """Receive traffic over HTTP and deliver it.

    Each request is authenticated, checked, mapped and durably queued before it is
    acknowledged. By default one process takes in and delivers; with --workers N
    and --deliverers M this process supervises N intake processes on one port and M
    delivery processes, restarts any that dies, and drains them all on SIGTERM or
    Ctrl-C. Logs are JSON lines on stderr.

    SIGHUP (and with --watch a change to the files) reloads the config and the
    mappings without a restart: the new set is checked first and, if anything is
    invalid, the old one keeps running and each problem is logged as
    file:line:col. Requests under way finish with the set they started with;
    nothing queued is lost. The store, the queue and server.host, port, workers,
    deliverers and connection limits need a restart.

    \b
    Endpoints:
      POST the routes the installed sources declare (mapwire plugins lists them)
      GET  /healthz  /readyz  /metrics

    \b
    Examples:
      mapwire serve          (./mapwire.yaml, else the bundled demo config, port 8080)
      mapwire serve --config mapwire.yaml --host 0.0.0.0 --port 9000
      mapwire serve --config mapwire.yaml --workers 2 --deliverers 1
      mapwire serve --config mapwire.yaml --watch
      kill -HUP <pid of serve>     (reload after editing the files)
    """
    config = load_config_or_exit(config_path, "serve", demo=True, delivers=True)
    try:
        started = run_server(
            config,
            host,
            port,
            log_level,
            workers=workers,
            deliverers=deliverers,
            reload=config_loader(config_path),
            watch=watch,
        )
    except MissingDependency as exc:
        raise click.ClickException(str(exc)) from exc
    if not started:
        raise SystemExit(EXIT_STARTUP_FAILED)
