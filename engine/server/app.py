"""The ASGI application: routes, health and metrics, error answers, and the lifespan that
opens the runtime, starts the group committer, the tap socket (``tap``) and delivery, and
stops them in order.

=======================================  ==============================================
``POST`` the routes the sources declare  each installed source plugin's endpoints
                                         (``register_endpoints``; ``mapwire plugins``
                                         lists them), served by ``endpoints``
``GET /healthz``                         the process is alive
``GET /readyz``                          store and queue reachable, backlog under limit,
                                         some connection delivering (paused ones named)
``GET /metrics``                         Prometheus text (with ``--workers`` and
                                         ``--deliverers``: of every process, added up
                                         by ``shared_metrics``)
=======================================  ==============================================

Every error is a JSON body ``{"error": {"code", "message"}}``: bad input is a 4xx that
changes nothing; 503 (with ``Retry-After``) means "not now, send it again".

Shutdown (uvicorn stops accepting and lets in-flight requests finish first): the committer
commits what is waiting and stops, the taps are detached, delivery (when this process
delivers: ``create_app``'s ``delivers``) finishes the request it is sending and stops, then
the runtime closes its clients, queue and store. An item claimed but not settled when
delivery is stopped comes back when its lease runs out.

Reload (``reload``, when ``create_app`` is given a loader): SIGHUP, or a file change with
``watch``, replaces ``ServerState.active`` (config, credentials, pipeline) in one swap and
brings this process's delivery loops in line; each request keeps the ``Active`` it started
with.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from prometheus_client.exposition import CONTENT_TYPE_PLAIN_0_0_4
from starlette.requests import Request
from starlette.responses import Response

from ..contracts.errors import BacklogFull, InputError
from ..runtime.config import Config
from ..runtime.interpreter import settle_interpreter
from ..runtime.process import Runtime
from ..runtime.registry import get_registry
from ..runtime.reload import Prepared
from .asgi import RouteTable, ServerApp
from .auth import InboundAuth
from .committer import GroupCommitter, IntakeUnavailable
from .endpoints import add_routes
from .handling import Active, JSONBody, ServerState, error_body, server_state
from .logs import log_event
from .offload import Offload
from .parse_budget import ParseBudget
from .reload import Loader, Reloader
from .request_log import HttpMetrics
from .shared_metrics import MetricsFolder, Publisher, live_gauge, render_merged
from .tap import TapServer, open_tap

DELIVERY_STOP_SECONDS = 15.0
BACKLOG_RETRY_AFTER = 5
_PROBE_NAMESPACE = "mapwire:readyz"


# -- health -----------------------------------------------------------------------------
async def healthz(request: Request) -> Response:
    return JSONBody({"status": "ok"})


def _readiness(state: ServerState) -> tuple[int, dict[str, Any]]:
    if not state.accepting or state.runtime is None or state.committer is None:
        return 503, {"status": "not_ready", "reason": "starting or stopping"}
    if not state.committer.alive:
        return 503, {"status": "not_ready", "reason": "the committer stopped"}
    runtime = state.runtime
    if state.delivery is not None and state.delivery.done() and runtime.delivering():
        return 503, {"status": "not_ready", "reason": "delivery stopped"}
    try:
        runtime.store.first_seen(_PROBE_NAMESPACE, "probe", 60.0)
        runtime.pipeline.check_backlog([c for c in state.config.connections if c.enabled])
    except BacklogFull as exc:
        return 503, {"status": "backlog_full", "connection": exc.connection}
    except Exception as exc:
        log_event(logging.WARNING, "not_ready", error_type=type(exc).__name__)
        return 503, {"status": "not_ready", "reason": "the store or the queue is unavailable"}
    paused = runtime.paused()  # 503 only when no connection is delivering at all
    if state.shared_metrics is not None:  # paused by a deliverer process
        paused = {**paused_elsewhere(state.shared_metrics), **paused}
    if paused and len(paused) >= len(runtime.delivering()):
        return 503, {"status": "paused", "paused": paused}
    return 200, {"status": "ready", **({"paused": paused} if paused else {})}


def paused_elsewhere(shared: MetricsFolder) -> dict[str, str]:
    """The connections another process of ``serve`` has paused (``credentials_pause``)."""
    paused = {}
    for labels, value in live_gauge(shared, "mapwire_connection_paused").items():
        named = dict(labels)
        if value >= 1 and "connection" in named:
            reason = named.get("reason", "paused").replace("_", " ")
            paused[named["connection"]] = f"{reason} (seen by another process of serve)"
    return paused


async def readyz(request: Request) -> Response:
    status, body = await asyncio.to_thread(_readiness, server_state(request))
    return JSONBody(body, status)


def _render_metrics(runtime: Runtime, shared: MetricsFolder | None) -> bytes:
    for conn in runtime.config.connections:
        runtime.metrics.queue_depth.labels(conn.name).set(runtime.queue.depth(conn.name))
    if shared is not None:  # serve's other processes too; the depth is this one's reading
        return render_merged(runtime.metrics.registry, shared, frozenset({"mapwire_queue_depth"}))
    return runtime.metrics.render()


async def metrics(request: Request) -> Response:
    state = server_state(request)
    text = await asyncio.to_thread(_render_metrics, state.running, state.shared_metrics)
    return Response(text, media_type=CONTENT_TYPE_PLAIN_0_0_4)


# -- errors -----------------------------------------------------------------------------
def _note(request: Request, code: str) -> None:
    request.state.error_code = code


async def input_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, InputError)
    _note(request, exc.code)
    headers = None
    if exc.status == 401:
        headers = {"WWW-Authenticate": server_state(request).auth.challenge}
    return error_body(exc.status, exc.code, str(exc), headers)


async def backlog_full(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, BacklogFull)
    _note(request, "backlog_full")
    message = f"connection {exc.connection!r} has too much waiting; try again later"
    headers = {"Retry-After": str(BACKLOG_RETRY_AFTER)}
    return error_body(503, "backlog_full", message, headers)


async def unavailable(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, IntakeUnavailable)
    _note(request, exc.code)
    return error_body(503, exc.code, str(exc), {"Retry-After": str(exc.retry_after)})


# -- lifespan ---------------------------------------------------------------------------
def _delivery_ended(task: asyncio.Task[None]) -> None:
    if not task.cancelled() and task.exception() is not None:
        log_event(logging.ERROR, "delivery_failed", exc=task.exception())


@asynccontextmanager
async def lifespan(app: ServerApp) -> AsyncIterator[None]:
    state: ServerState = app.state.mapwire
    try:
        runtime = Runtime(state.config)
        state.active = Active(state.config, state.auth, runtime.pipeline)
    except Exception as exc:
        # The message may quote a store URL with its password: log the kind only.
        reason = type(exc).__name__
        if isinstance(exc, OSError) and exc.strerror:
            reason += f": {exc.strerror}"
        log_event(logging.ERROR, "startup_failed", exc=exc, reason=reason)
        raise RuntimeError(f"cannot open the store or the queue ({reason})") from None
    state.http_metrics = HttpMetrics(runtime.metrics.registry)
    committer = GroupCommitter(runtime.pipeline)
    committer.start()
    tap = await open_tap(state.config, runtime.pipeline)
    stop = asyncio.Event()
    delivery = None
    if app.state.delivers:  # else deliverer processes of the supervisor deliver
        delivery = asyncio.create_task(runtime.deliver(stop), name="mapwire-delivery")
        delivery.add_done_callback(_delivery_ended)
    state.runtime, state.committer, state.delivery = runtime, committer, delivery
    shared = state.shared_metrics
    publisher = Publisher(shared, runtime.metrics.registry).start() if shared is not None else None
    reloader = _reloader(app, state, runtime, committer, tap)
    if app.state.settle:
        settle_interpreter()
    state.accepting = True
    _announce(state)
    try:
        yield
    finally:
        if reloader is not None:
            await reloader.stop()
        state.accepting = False
        await asyncio.to_thread(committer.close)
        await asyncio.to_thread(state.offload.close)
        if tap is not None:
            await tap.close()
        stop.set()
        runtime.wake_all()  # idle deliverers see the stop at once
        if delivery is not None:
            await stop_delivery(delivery)
        state.parsing.close()
        await runtime.aclose()
        runtime.close()
        if publisher is not None:
            await asyncio.to_thread(publisher.stop)
        state.runtime = state.committer = state.delivery = state.http_metrics = None
        state.active = Active(state.config, state.auth)
        log_event(
            logging.INFO,
            "server_stopped",
            commit_groups=committer.groups,
            submissions=committer.submissions,
        )


def _reloader(
    app: ServerApp,
    state: ServerState,
    runtime: Runtime,
    committer: GroupCommitter,
    tap: TapServer | None,
) -> Reloader | None:
    """Reload on SIGHUP (and with ``watch`` on file changes) when the app was given a
    loader: the new set replaces ``state.active`` whole (see ``reload``)."""
    load: Loader | None = app.state.reload
    if load is None:
        return None

    def swap(prepared: Prepared) -> None:
        assert prepared.pipeline is not None
        config = prepared.config
        committer.adopt(prepared.pipeline)
        state.offload.follow(config)
        if tap is not None:
            tap.follow(config, prepared.pipeline)
        state.active = Active(config, InboundAuth(config.server.auth), prepared.pipeline)

    reloader = Reloader(runtime, load, on_swap=swap)
    reloader.start(watch=app.state.watch)
    return reloader


async def stop_delivery(delivery: asyncio.Task[None]) -> None:
    """Let ``delivery`` (told to stop) finish its request, then cancel it if it is late."""
    try:
        await asyncio.wait_for(asyncio.shield(delivery), DELIVERY_STOP_SECONDS)
    except TimeoutError:
        delivery.cancel()
        log_event(logging.WARNING, "delivery_cancelled", after_seconds=DELIVERY_STOP_SECONDS)
        # its loops' way out acknowledges what they delivered: before the queue closes
        await asyncio.wait({delivery}, timeout=DELIVERY_STOP_SECONDS)
    except Exception:
        pass  # logged by _delivery_ended


def _announce(state: ServerState) -> None:
    config = state.config
    guarded = {
        source
        for endpoint in get_registry().endpoints().values()
        if endpoint.credentials == "server"
        for source in endpoint.sources
    }
    if state.auth.scheme == "unconfigured" and any(
        guarded & set(c.plan.sources) for c in config.connections
    ):
        log_event(
            logging.WARNING,
            "auth_not_configured",
            message="server.auth is not set: the endpoints it guards refuse every request",
        )
    log_event(
        logging.INFO,
        "server_ready",
        config=config.path,
        connections=[c.name for c in config.connections],
        auth=state.auth.scheme,
        max_body_bytes=config.server.max_body_bytes,
        max_json_depth=config.server.max_json_depth,
    )


# -- the application --------------------------------------------------------------------
def create_app(
    config: Config,
    *,
    delivers: bool = True,
    reload: Loader | None = None,
    watch: bool = False,
    settle: bool = False,
    shared_metrics: MetricsFolder | None = None,
) -> ServerApp:
    """The server for ``config``; the runtime is opened when the app starts up. With
    ``delivers`` false the server only takes in (other processes deliver). With
    ``shared_metrics`` it publishes its metrics there and ``/metrics`` adds up those of
    every process publishing there (``serve``'s workers and deliverers). With
    ``reload`` (what reads the config again) it reloads on SIGHUP, and with ``watch``
    when the files change. ``settle``: the app has its process to itself (``mapwire
    serve``), so once started it settles the interpreter (``runtime.interpreter``)."""
    routes = RouteTable()
    routes.add("/healthz", healthz, ["GET"])
    routes.add("/readyz", readyz, ["GET"])
    routes.add("/metrics", metrics, ["GET"])
    add_routes(routes, get_registry().endpoints().values())
    state = ServerState(
        active=Active(config, InboundAuth(config.server.auth)),
        parsing=ParseBudget(config.server.max_parse_bytes),
        offload=Offload(config),
        shared_metrics=shared_metrics,
    )
    app = ServerApp(
        routes,
        errors={
            InputError: input_error,
            BacklogFull: backlog_full,
            IntakeUnavailable: unavailable,
        },
        lifespan=lifespan,
        metrics=lambda: state.http_metrics,
    )
    app.state.mapwire = state
    app.state.delivers = delivers
    app.state.reload = reload
    app.state.watch = watch
    app.state.settle = settle
    return app
