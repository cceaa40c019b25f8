"""Per-request bookkeeping, as plain ASGI middleware: the request id, the log line, the
HTTP metrics, and the last line of defence against a bug becoming a bare 500.

The request id is the client's ``X-Request-Id`` when it is a short token (letters, digits,
``._:-``; at most 128 characters), else a new random one; it is echoed in the response's
``X-Request-Id`` and written in every log line about the request. The log line carries the
method, the path (never the query string), the status, the duration and the counts the
endpoint recorded in ``request.state.counts``.
"""

from __future__ import annotations

import logging
import re
import time
import uuid
from collections.abc import Callable
from typing import Any

import orjson
from prometheus_client import CollectorRegistry, Counter, Histogram
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from .logs import log_event

_REQUEST_ID = re.compile(rb"[A-Za-z0-9._:\-]{1,128}")
_INTERNAL = orjson.dumps(
    {"error": {"code": "internal", "message": "the server failed to handle the request"}}
)


class HttpMetrics:
    """Request counts and latencies by route template and status."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.requests = Counter(
            "mapwire_http_requests",
            "HTTP requests answered.",
            ["route", "status"],
            registry=registry,
        )
        self.duration = Histogram(
            "mapwire_http_request_duration_seconds",
            "Time to answer an HTTP request.",
            ["route"],
            buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5),
            registry=registry,
        )

    def observe(self, route: str, status: int, seconds: float) -> None:
        self.requests.labels(route, str(status)).inc()
        self.duration.labels(route).observe(seconds)


def request_id_of(scope: Scope) -> str:
    for name, value in scope.get("headers", ()):
        if name == b"x-request-id":
            if _REQUEST_ID.fullmatch(value):
                return str(value.decode("ascii"))
            break
    return uuid.uuid4().hex


class RequestLog:
    """Wraps the application; see the module docstring."""

    def __init__(self, app: ASGIApp, metrics: Callable[[], HttpMetrics | None]) -> None:
        self.app = app
        #: The HTTP metrics, once the lifespan has created them.
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        request_id = request_id_of(scope)
        state: dict[str, Any] = scope.setdefault("state", {})
        state["request_id"] = request_id
        sent: dict[str, int] = {}

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                sent["status"] = message["status"]
                headers = list(message.get("headers", ()))
                headers.append((b"x-request-id", request_id.encode("ascii")))
                message["headers"] = headers
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        except Exception as exc:
            log_event(
                logging.ERROR,
                "unhandled_error",
                exc=exc,
                request_id=request_id,
                method=scope["method"],
                path=scope["path"][:200],
            )
            if "status" not in sent:
                await _internal_error(send_with_id)
        finally:
            self._finish(scope, state, sent.get("status", 500), started)

    def _finish(self, scope: Scope, state: dict[str, Any], status: int, started: float) -> None:
        elapsed = time.perf_counter() - started
        route = scope.get("route")
        template = getattr(route, "path", None) or "unmatched"
        metrics = self.metrics()
        if metrics is not None:
            metrics.observe(template, status, elapsed)
        fields: dict[str, Any] = {
            "request_id": state["request_id"],
            "method": scope["method"],
            "path": scope["path"][:200],
            "status": status,
            "duration_ms": round(elapsed * 1000, 2),
        }
        counts = state.get("counts")
        if counts is not None:
            fields["counts"] = counts
        error = state.get("error_code")
        if error is not None:
            fields["error"] = error
        level = logging.WARNING if status >= 500 else logging.INFO
        log_event(level, "request", **fields)


async def _internal_error(send: Send) -> None:
    await send(
        {
            "type": "http.response.start",
            "status": 500,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(_INTERNAL)).encode("ascii")),
            ],
        }
    )
    await send({"type": "http.response.body", "body": _INTERNAL})
