"""Per-request bookkeeping: the request id, the log line, the HTTP metrics, and the
answer when a bug would otherwise become a bare 500 (``asgi`` calls these around every
request).

The request id is the client's ``X-Request-Id`` when it is a short token (letters, digits,
``._:-``; at most 128 characters), else a new random one; it is echoed in the response's
``X-Request-Id`` and written in every log line about the request. The log line carries the
method, the path (never the query string), the status, the duration and the counts the
endpoint recorded in ``request.state.counts``.
"""

from __future__ import annotations

import itertools
import logging
import os
import re
import time
from typing import Any

import orjson
from prometheus_client import CollectorRegistry, Counter, Histogram
from starlette.types import Scope, Send

from .logs import log_fields

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
        self._children: dict[tuple[str, int], tuple[Any, Any]] = {}

    def observe(self, route: str, status: int, seconds: float) -> None:
        children = self._children.get((route, status))
        if children is None:  # labels() once per route and status: it costs a lock and a join
            children = (self.requests.labels(route, str(status)), self.duration.labels(route))
            self._children[(route, status)] = children
        children[0].inc()
        children[1].observe(seconds)


def request_id_of(scope: Scope) -> str:
    for name, value in scope.get("headers", ()):
        if name == b"x-request-id":
            if _REQUEST_ID.fullmatch(value):
                return str(value.decode("ascii"))
            break
    return _ids.next()


class _RequestIds:
    """New request ids: 16 random hex digits drawn once per process, then a counter (unique
    across the workers of one ``serve``: each draws its own after the fork)."""

    def __init__(self) -> None:
        self._start()
        if hasattr(os, "register_at_fork"):
            os.register_at_fork(after_in_child=self._start)

    def _start(self) -> None:
        self._prefix = os.urandom(8).hex()
        self._count = itertools.count(1)

    def next(self) -> str:
        return f"{self._prefix}{next(self._count):016x}"


_ids = _RequestIds()


def finish(
    metrics: HttpMetrics | None,
    route: str,
    scope: Scope,
    state: dict[str, Any],
    status: int,
    started: float,
) -> None:
    """Count the request under its ``route`` template and write its log line."""
    elapsed = time.perf_counter() - started
    if metrics is not None:
        metrics.observe(route, status, elapsed)
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
    log_fields(logging.WARNING if status >= 500 else logging.INFO, "request", fields)


async def internal_error(send: Send, request_id: str) -> None:
    """500 ``internal``: the answer to a failure nothing else answered."""
    await send(
        {
            "type": "http.response.start",
            "status": 500,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(_INTERNAL)).encode("ascii")),
                (b"x-request-id", request_id.encode("ascii")),
            ],
        }
    )
    await send({"type": "http.response.body", "body": _INTERNAL})
