"""``mapwire serve``: run the receiver (one process, uvicorn) until SIGTERM or Ctrl-C.

On the first SIGTERM/SIGINT the server stops accepting connections, lets in-flight
requests finish (up to ``GRACEFUL_SECONDS``), then the application's shutdown commits what
is waiting, stops delivery and closes the queue. A second Ctrl-C forces the exit.
"""

from __future__ import annotations

import contextlib
import logging
from pathlib import Path

import click

from mapwire.engine.server.logs import LEVELS, configure_logging, log_event

GRACEFUL_SECONDS = 30
SERVER_DEPENDENCIES = ("starlette", "uvicorn")
EXIT_STARTUP_FAILED = 3
#: Descriptors the server needs besides its connections: the store, the queue, logs, clients.
FILES_BESIDE_CONNECTIONS = 64


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
    "--log-level", type=click.Choice(LEVELS), default="info", show_default=True, help="Log level."
)
def serve(config_path: Path | None, host: str | None, port: int | None, log_level: str) -> None:
    """Receive mParticle and Customer.io traffic over HTTP and deliver it.

    Each request is authenticated, checked, mapped and durably queued before it is
    acknowledged; delivery runs in the same process. Logs are JSON lines on stderr.

    \b
    Endpoints:
      POST /mparticle/events          Events API batches, Webhook output JSON
      POST /mparticle/firehose        Firehose event and audience requests
      POST /customerio/webhook[/NAME] Customer.io reporting webhooks (signed)
      GET  /healthz  /readyz  /metrics

    \b
    Examples:
      mapwire serve          (./mapwire.yaml, else the bundled demo config, port 8080)
      mapwire serve --config mapwire.yaml --host 0.0.0.0 --port 9000
    """
    from mapwire.engine.cli.config_discovery import load_config_or_exit

    try:
        import uvicorn

        from mapwire.engine.server.app import create_app
    except ImportError as exc:
        if (exc.name or "").partition(".")[0] not in SERVER_DEPENDENCIES:
            raise
        raise click.ClickException(
            f"mapwire serve needs the server dependencies ({exc.name} is missing): "
            "pip install 'mapwire[server]'"
        ) from exc
    from mapwire.engine.server.connection_limits import guarded_protocol

    config = load_config_or_exit(config_path, "serve", demo=True)
    configure_logging(log_level)
    options = config.server
    raise_open_file_limit(options.max_connections)
    server = uvicorn.Server(
        uvicorn.Config(
            create_app(config),
            host=host or config.server.host,
            port=config.server.port if port is None else port,
            log_config=None,
            access_log=False,
            server_header=False,
            lifespan="on",
            timeout_graceful_shutdown=GRACEFUL_SECONDS,
            http=guarded_protocol(options.header_timeout_seconds),
            timeout_keep_alive=options.keepalive_timeout_seconds,
            # uvicorn counts the connection being answered: one more serves max_connections.
            limit_concurrency=options.max_connections + 1,
        )
    )
    server.run()
    if not server.started:
        raise SystemExit(EXIT_STARTUP_FAILED)


def raise_open_file_limit(connections: int) -> None:
    """Raise the soft open-file limit to the hard one, and warn if it is still too low for
    ``connections`` connections (each is a file descriptor) and the files the server opens."""
    try:
        import resource
    except ImportError:  # not on POSIX
        return
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft != resource.RLIM_INFINITY and (hard == resource.RLIM_INFINITY or soft < hard):
        with contextlib.suppress(ValueError, OSError):
            resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
            soft = hard
    if soft != resource.RLIM_INFINITY and soft < connections + FILES_BESIDE_CONNECTIONS:
        log_event(
            logging.WARNING,
            "open_file_limit_low",
            open_file_limit=soft,
            max_connections=connections,
            message="raise the open-file limit (ulimit -n, LimitNOFILE=, docker --ulimit "
            "nofile=) or lower server.max_connections",
        )
