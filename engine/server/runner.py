"""Run the receiver (one process, uvicorn) until SIGTERM or Ctrl-C.

On the first SIGTERM/SIGINT the server stops accepting connections, lets in-flight
requests finish (up to ``GRACEFUL_SECONDS``), then the application's shutdown commits what
is waiting, stops delivery and closes the queue. A second Ctrl-C forces the exit.
"""

from __future__ import annotations

import contextlib
import logging

from ..contracts.errors import MissingDependency
from ..runtime.config import Config
from .logs import configure_logging, log_event

GRACEFUL_SECONDS = 30
SERVER_DEPENDENCIES = ("starlette", "uvicorn")
#: Descriptors the server needs besides its connections: the store, the queue, logs, clients.
FILES_BESIDE_CONNECTIONS = 64


def run_server(config: Config, host: str | None, port: int | None, log_level: str) -> bool:
    """Serve ``config`` until stopped; False if the server never started."""
    try:
        import uvicorn

        from .app import create_app
    except ImportError as exc:
        if (exc.name or "").partition(".")[0] not in SERVER_DEPENDENCIES:
            raise
        raise MissingDependency(
            f"mapwire serve needs the server dependencies ({exc.name} is missing): "
            "pip install 'mapwire[server]'"
        ) from exc
    from .connection_limits import guarded_protocol

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
    return bool(server.started)


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
