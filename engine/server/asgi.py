"""The ASGI application object: routing, the lifespan protocol, error answers and each
request's bookkeeping, in one layer.

A request goes straight from the HTTP server to its handler: one dictionary lookup for
the route (``RouteTable``), a Starlette ``Request`` for the handler, and the handler's
``Response`` sent as is, with the request id added. Around the handler, in this order:

* the request id (``request_log.request_id_of``), kept in ``request.state.request_id``;
* the errors the handlers raise, each turned into its JSON answer by the function
  registered for its class (``errors``); anything else is logged without its message
  and answered 500 ``internal``;
* the log line and the HTTP metrics (``request_log.finish``).

``GET`` routes answer ``HEAD`` too. A path no route has is 404 ``not_found``; a known
path asked with another method is 405 ``method_not_allowed`` with ``Allow``.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Coroutine, Mapping, Sequence
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from typing import Any

from starlette.datastructures import State
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import Message, Receive, Scope, Send

from .handling import error_body
from .logs import log_event
from .request_log import HttpMetrics, finish, internal_error, request_id_of

Handler = Callable[[Request], Coroutine[Any, Any, Response]]
ErrorAnswer = Callable[[Request, Exception], Coroutine[Any, Any, Response]]
Lifespan = Callable[["ServerApp"], AbstractAsyncContextManager[None]]


@dataclass(frozen=True)
class Route:
    """One path (``template``, as the metrics name it) and its handler per method."""

    template: str
    handlers: Mapping[str, Handler]

    @property
    def allow(self) -> str:
        return ", ".join(sorted(self.handlers))


class RouteTable:
    """Exact paths, and paths ending in one ``{connection}`` segment."""

    def __init__(self) -> None:
        self._exact: dict[str, dict[str, Handler]] = {}
        self._by_connection: dict[str, dict[str, Handler]] = {}
        self._routes: dict[tuple[str, bool], Route] = {}

    def add(self, path: str, handler: Handler, methods: Sequence[str]) -> None:
        """``path`` may end in ``/{connection}``: any one non-empty segment there."""
        prefix, _, last = path.rpartition("/")
        if last == "{connection}":
            table, key, param = self._by_connection, prefix, True
        elif "{" in path:
            raise ValueError(f"unsupported path parameter in {path!r}")
        else:
            table, key, param = self._exact, path, False
        handlers = table.setdefault(key, {})
        for method in methods:
            handlers[method.upper()] = handler
            if method.upper() == "GET":
                handlers.setdefault("HEAD", handler)
        self._routes[(key, param)] = Route(path, handlers)

    def match(self, path: str) -> tuple[Route | None, dict[str, str]]:
        """The route for ``path`` and its path parameters."""
        if path in self._exact:
            return self._routes[(path, False)], {}
        prefix, _, last = path.rpartition("/")
        if last and prefix in self._by_connection:
            return self._routes[(prefix, True)], {"connection": last}
        return None, {}


class ServerApp:
    """An ASGI application: ``routes``, ``errors`` (the answer for each error class, looked
    up along the raised error's class hierarchy) and the ``lifespan`` of the server."""

    def __init__(
        self,
        routes: RouteTable,
        errors: Mapping[type[Exception], ErrorAnswer],
        lifespan: Lifespan,
        metrics: Callable[[], HttpMetrics | None],
    ) -> None:
        self.routes = routes
        self.errors = dict(errors)
        self.lifespan = lifespan
        self.metrics = metrics
        self.state = State()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Answer one HTTP request (here rather than in a method of its own: a coroutine
        less per request), or run the lifespan protocol."""
        if scope["type"] != "http":
            if scope["type"] == "lifespan":
                await self._lifespan(receive, send)
            return
        started = time.perf_counter()
        request_id = request_id_of(scope)
        state: dict[str, Any] = scope.setdefault("state", {})
        state["request_id"] = request_id
        scope["app"] = self
        route, params = self.routes.match(scope["path"])
        scope["path_params"] = params
        request = Request(scope, receive)
        status = 500
        try:
            try:
                response = await self._respond(request, route)
            except Exception as exc:
                _unhandled(exc, scope, request_id)
                await internal_error(send, request_id)
                return
            status = response.status_code
            response.raw_headers.append((b"x-request-id", request_id.encode("ascii")))
            try:
                await response(scope, receive, send)
            except Exception as exc:  # the answer could not be sent: nothing more to say
                _unhandled(exc, scope, request_id)
        finally:
            template = route.template if route is not None else "unmatched"
            finish(self.metrics(), template, scope, state, status, started)

    async def _respond(self, request: Request, route: Route | None) -> Response:
        """The handler's response, or the answer to the error it raised."""
        if route is None:
            return self._refuse(request, 404, "not_found", "Not Found")
        handler = route.handlers.get(request.scope["method"])
        if handler is None:
            return self._refuse(
                request, 405, "method_not_allowed", "Method Not Allowed", {"Allow": route.allow}
            )
        try:
            return await handler(request)
        except Exception as exc:
            answer = self._answer_for(exc)
            if answer is None:
                raise
            return await answer(request, exc)

    def _answer_for(self, exc: Exception) -> ErrorAnswer | None:
        for cls in type(exc).__mro__:
            answer = self.errors.get(cls)
            if answer is not None:
                return answer
        return None

    @staticmethod
    def _refuse(
        request: Request,
        status: int,
        code: str,
        message: str,
        headers: dict[str, str] | None = None,
    ) -> Response:
        request.state.error_code = code
        return error_body(status, code, message, headers)

    async def _lifespan(self, receive: Receive, send: Send) -> None:
        """The ASGI lifespan protocol around ``self.lifespan``."""
        await receive()  # lifespan.startup
        running = self.lifespan(self)
        try:
            await running.__aenter__()
        except BaseException as exc:
            await send({"type": "lifespan.startup.failed", "message": str(exc)})
            raise
        await send({"type": "lifespan.startup.complete"})
        message: Message = await receive()  # lifespan.shutdown
        assert message["type"] == "lifespan.shutdown"
        try:
            await running.__aexit__(None, None, None)
        except BaseException as exc:
            await send({"type": "lifespan.shutdown.failed", "message": str(exc)})
            raise
        await send({"type": "lifespan.shutdown.complete"})


def _unhandled(exc: Exception, scope: Scope, request_id: str) -> None:
    """Log a failure no error answer covers: its type and frames, never its message."""
    log_event(
        logging.ERROR,
        "unhandled_error",
        exc=exc,
        request_id=request_id,
        method=scope["method"],
        path=scope["path"][:200],
    )
