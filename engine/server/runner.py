"""Run the receiver (uvicorn) until SIGTERM or Ctrl-C: in this process, or in worker and
deliverer processes this one supervises (``--workers``/``--deliverers``).

On the first SIGTERM/SIGINT the server stops accepting connections, lets in-flight
requests finish (up to ``GRACEFUL_SECONDS``), then the application's shutdown commits what
is waiting, stops delivery and closes the queue. A second Ctrl-C forces the exit. SIGHUP
(and with ``watch`` a change to the files) reloads the config and the mappings (``reload``).
Supervised, the children publish their metrics to one folder of the run, and the worker
answering ``/metrics`` adds them up (``shared_metrics``).
"""

from __future__ import annotations

import contextlib
import importlib.util
import logging
import socket
from collections.abc import Callable

from ..contracts.errors import MissingDependency
from ..runtime.config import Config
from .logs import configure_logging, log_event

GRACEFUL_SECONDS = 30
SERVER_DEPENDENCIES = ("starlette", "uvicorn")
#: Descriptors the server needs besides its connections: the store, the queue, logs, clients.
FILES_BESIDE_CONNECTIONS = 64


def run_server(
    config: Config,
    host: str | None,
    port: int | None,
    log_level: str,
    *,
    workers: int | None = None,
    deliverers: int | None = None,
    reload: Callable[[], Config] | None = None,
    watch: bool = False,
) -> bool:
    """Serve ``config`` until stopped; False if the server never started.

    ``workers`` intake processes (default ``server.workers``) and ``deliverers`` delivery
    processes (default ``server.deliverers``): with one worker and no deliverer everything
    runs in this process, else this process supervises children (``supervisor``) that share
    one listening socket, bound here. ``reload`` reads the config file again (for SIGHUP
    and ``watch``; without it the files are read once).
    """
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
    from .delivery_process import run_deliverer
    from .reload import ParentReload, hold_hangups
    from .shared_metrics import MetricsFolder
    from .supervisor import EXIT_NEVER_STARTED, Role, supervise

    hold_hangups()
    configure_logging(log_level)
    options = config.server
    workers = options.workers if workers is None else workers
    deliverers = options.deliverers if deliverers is None else deliverers
    raise_open_file_limit(options.max_connections)
    http, loop = http_stack(options.http, options.loop)
    log_event(logging.INFO, "http_stack", http=http, loop=loop)

    def server(
        config: Config,
        delivers: bool,
        watching: bool = False,
        metrics: MetricsFolder | None = None,
    ) -> uvicorn.Server:
        app = create_app(
            config,
            delivers=delivers,
            reload=reload,
            watch=watching,
            settle=True,
            shared_metrics=metrics,
        )
        return uvicorn.Server(
            uvicorn.Config(
                app,
                host=host or options.host,
                port=options.port if port is None else port,
                log_config=None,
                access_log=False,
                server_header=False,
                # Nothing reads a request's client address or scheme, so uvicorn's
                # X-Forwarded-* rewriting would only add a layer and a header scan to
                # every request.
                proxy_headers=False,
                lifespan="on",
                timeout_graceful_shutdown=GRACEFUL_SECONDS,
                http=guarded_protocol(options.header_timeout_seconds, http),
                loop=loop,
                timeout_keep_alive=options.keepalive_timeout_seconds,
                # uvicorn counts the connection being answered: one more serves max_connections.
                limit_concurrency=options.max_connections + 1,
            )
        )

    if workers == 1 and deliverers == 0:
        single = server(config, delivers=True, watching=watch and reload is not None)
        single.run()
        return bool(single.started)
    listening = server(config, delivers=False).config.bind_socket()
    log_event(
        logging.INFO,
        "supervisor_ready",
        address=_address(listening),
        workers=workers,
        deliverers=deliverers,
    )

    # The children start with the set ``serve`` last loaded; each one reloads itself on the
    # SIGHUP ``serve`` sends on, and ``serve`` alone watches the files.
    parent = ParentReload(config, reload, watch=watch) if reload is not None else None

    def current() -> Config:
        return parent.config if parent is not None else config

    # Each child publishes its metrics here; the worker that answers /metrics adds them up.
    metrics: MetricsFolder | None = None
    try:
        metrics = MetricsFolder.create()
    except OSError as exc:
        log_event(
            logging.WARNING,
            "shared_metrics_unavailable",
            error_type=type(exc).__name__,
            message="no temporary folder could be made: each intake process answers "
            "/metrics for itself, and the deliverers' metrics are not served",
        )

    def intake() -> int:
        hold_hangups()
        worker = server(current(), delivers=deliverers == 0, metrics=metrics)
        worker.run(sockets=[listening])
        return 0 if worker.started else EXIT_NEVER_STARTED

    def deliver() -> int:
        return run_deliverer(current(), reload, loop=loop, shared_metrics=metrics)

    roles = [Role("worker", i, intake) for i in range(workers)]
    roles += [Role("deliverer", i, deliver) for i in range(deliverers)]
    try:
        return supervise(roles, parent, on_exit=metrics.retire if metrics else None)
    finally:
        listening.close()
        if metrics is not None:
            metrics.remove()


def http_stack(http: str, loop: str) -> tuple[str, str]:
    """The HTTP parser and the event loop ``server.http`` and ``server.loop`` ask for, with
    ``auto`` resolved to the faster one when it is installed; a missing one asked for by
    name is a ``MissingDependency``."""
    chosen = []
    for setting, value, fast, plain in (
        ("http", http, "httptools", "h11"),
        ("loop", loop, "uvloop", "asyncio"),
    ):
        installed = importlib.util.find_spec(fast) is not None
        if value == fast and not installed:
            raise MissingDependency(
                f"server.{setting} is {fast}, which is not installed: pip install {fast} "
                f"(or set server.{setting} to {plain} or auto)"
            )
        chosen.append(fast if value == fast or (value == "auto" and installed) else plain)
    return chosen[0], chosen[1]


def _address(sock: socket.socket) -> str:
    name = sock.getsockname()
    return f"{name[0]}:{name[1]}" if isinstance(name, tuple) else str(name)


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
