"""The routes the installed sources declare (``register_endpoints``), served by one machinery.

For every request, in order: its credentials (``server.auth`` before the body is read, or
the source's ``authenticate`` against each candidate connection's ``source:`` settings
after it), the body within the limits, the parse (off the event loop when large), the
endpoint's ``split`` into documents per source, a 404 for a source no enabled connection
reads, durable queueing through the group committer, and the endpoint's ``answer``. Every
refusal is an ``InputError`` the app turns into a JSON 4xx.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable, Coroutine, Iterable, Mapping, Sequence
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from ..contracts.endpoint import Answering, Endpoint
from ..contracts.errors import InputError
from ..runtime.config import Connection
from .asgi import RouteTable
from .handling import (
    JSONBody,
    RawJSON,
    ServerState,
    intake_headers,
    parse_body,
    read_raw,
    server_state,
    submit,
    submit_heavy,
)
from .logs import log_event
from .queueing import parts_for

Handler = Callable[[Request], Coroutine[Any, Any, Response]]


def add_routes(routes: RouteTable, endpoints: Iterable[Endpoint]) -> None:
    """A route per path of every endpoint."""
    for endpoint in endpoints:
        handler = _handler(endpoint)
        for path in endpoint.paths:
            routes.add(path, handler, endpoint.methods)


def _handler(endpoint: Endpoint) -> Handler:
    """``receive`` for ``endpoint``: a partial, not a coroutine that would only pass the
    request on (one coroutine less per request)."""
    return functools.partial(receive, endpoint=endpoint)


async def receive(request: Request, endpoint: Endpoint) -> Response:
    """Authenticate, read, parse, split, queue and answer one request."""
    state = server_state(request)
    if endpoint.credentials == "source":
        return await _receive_verified(request, state, endpoint)
    if endpoint.credentials == "server":
        try:
            state.auth.check(intake_headers(request).get("authorization"), endpoint.schemes)
        except InputError as refused:
            return await _unauthenticated(request, state, endpoint, refused)
    return await _take(request, state, endpoint, await read_raw(request, state), None)


async def _take(
    request: Request,
    state: ServerState,
    endpoint: Endpoint,
    body: bytes,
    only: Sequence[str] | None,
) -> Response:
    """Parse, split, queue and answer a body whose credentials are checked: for every
    enabled connection reading its documents, or (``only``) for the connections named."""
    if state.offload.takes(len(body)):
        return await _take_heavy(request, state, endpoint, body, only)
    parsed = await parse_body(state, body)
    found = endpoint.split(parsed)
    if found is None:
        return _answer(request, state, endpoint, parsed, None)
    intake = await submit(request, state, parts_for(state.pipeline, found, only))
    return _answer(request, state, endpoint, parsed, intake)


async def _take_heavy(
    request: Request,
    state: ServerState,
    endpoint: Endpoint,
    body: bytes,
    only: Sequence[str] | None,
) -> Response:
    """``_take`` in the helper process (``offload``), so this one never holds the body."""
    handled = await submit_heavy(request, state, endpoint, body, only)
    if handled.note:
        log_event(logging.WARNING, handled.note, request_id=request.state.request_id)
    return RawJSON(handled.body, handled.status)


async def _unauthenticated(
    request: Request, state: ServerState, endpoint: Endpoint, refused: InputError
) -> Response:
    """Only a body the endpoint is ``open_to`` is answered without credentials."""
    if endpoint.open_to is None:
        raise refused
    try:
        limit = min(endpoint.open_body_bytes, state.config.server.max_body_bytes)
        parsed = await parse_body(state, await read_raw(request, state, limit=limit))
        is_open = endpoint.open_to(parsed)
    except InputError:
        raise refused from None
    if not is_open:
        raise refused
    return _answer(request, state, endpoint, parsed, None)


def _candidates(state: ServerState, endpoint: Endpoint, name: str | None) -> list[Connection]:
    """The enabled connections (or the one named) reading any of the endpoint's sources."""
    found: dict[str, Connection] = {}
    for source in endpoint.sources:
        for conn in state.pipeline.connections_for(source, name):
            found.setdefault(conn.name, conn)
    return list(found.values())


async def _receive_verified(request: Request, state: ServerState, endpoint: Endpoint) -> Response:
    """A request each candidate connection verifies with its own ``source:`` settings; it
    goes to the connections whose settings verify it."""
    name = request.path_params.get("connection")
    candidates = _candidates(state, endpoint, name)
    if not candidates:
        what = f"connection {name!r}" if name else "enabled connection"
        reads = " or ".join(endpoint.sources)
        raise InputError(f"no {what} reads {reads}", status=404, code="no_connection")
    body = await read_raw(request, state)
    matched = _verified(state, endpoint, candidates, dict(request.headers.items()), body)
    return await _take(request, state, endpoint, body, [conn.name for conn in matched])


def _verified(
    state: ServerState,
    endpoint: Endpoint,
    candidates: list[Connection],
    headers: Mapping[str, str],
    body: bytes,
) -> list[Connection]:
    """The candidates whose settings verify the request; the most telling refusal if none."""
    sources = state.running.registry.sources()
    matched = []
    refusal: InputError | None = None
    for conn in candidates:
        source = next(s for s in endpoint.sources if s in conn.plan.sources)
        authenticate = sources[source].authenticate
        if authenticate is None:
            matched.append(conn)
            continue
        try:
            authenticate(headers, body, conn.source)
        except InputError as exc:
            if refusal is None or exc.code in endpoint.telling_refusals:
                refusal = exc
        else:
            matched.append(conn)
    if not matched and refusal is not None:
        raise refusal
    return matched


def _answer(
    request: Request,
    state: ServerState,
    endpoint: Endpoint,
    parsed: Any,
    intake: Mapping[str, Any] | None,
) -> Response:
    def readers(source: str) -> list[Mapping[str, Any]]:
        return [conn.settings for conn in state.pipeline.connections_for(source)]

    reply = endpoint.answer(Answering(parsed, intake, readers))
    if reply.note:
        log_event(logging.WARNING, reply.note, request_id=request.state.request_id)
    return JSONBody(reply.body, reply.status)
