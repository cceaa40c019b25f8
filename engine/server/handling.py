"""What every POST endpoint shares: the server's state, reading the JSON body within the
configured limits, handing documents to the group committer, and the JSON answers.

Errors are raised, not returned: ``InputError`` (a 4xx with its code), ``BacklogFull`` and
``IntakeUnavailable`` (503 with ``Retry-After``); ``app`` turns them into responses.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import orjson
from starlette.requests import ClientDisconnect, Request
from starlette.responses import Response

from ..contracts.endpoint import Endpoint
from ..contracts.errors import InputError
from ..runtime.config import Config
from ..runtime.pipeline import Pipeline
from ..runtime.process import Runtime
from .auth import InboundAuth
from .committer import GroupCommitter, IntakeUnavailable, Part
from .deadlines import Deadlines
from .intake import BODY_TIMEOUT_SECONDS, check_content_type, parse_json, read_body
from .offload import Handled, Offload
from .parse_budget import ParseBudget
from .queueing import require_readers, summary
from .request_log import HttpMetrics
from .shared_metrics import MetricsFolder

#: How long a request waits for its group to commit before it is answered 503.
SUBMIT_TIMEOUT_SECONDS = 30.0


@dataclass(frozen=True)
class Active:
    """The config in force and what the server built from it. A reload replaces it whole
    (one reference), and a request keeps the one it started with (``server_state``)."""

    config: Config
    auth: InboundAuth
    pipeline: Pipeline | None = None


@dataclass
class ServerState:
    """What the running server holds; the lifespan fills it in and empties it."""

    active: Active
    parsing: ParseBudget
    offload: Offload
    runtime: Runtime | None = None
    committer: GroupCommitter | None = None
    delivery: asyncio.Task[None] | None = None
    http_metrics: HttpMetrics | None = None
    accepting: bool = False
    #: the time limits of reading and committing requests (one timer for all of them)
    deadlines: Deadlines = field(default_factory=Deadlines)
    #: where serve's processes publish their metrics (``--workers``/``--deliverers``)
    shared_metrics: MetricsFolder | None = None

    def pinned(self) -> ServerState:
        """A copy of this state: a reload replacing ``active`` here leaves the copy's."""
        copied = object.__new__(ServerState)
        copied.__dict__.update(self.__dict__)
        return copied

    @property
    def config(self) -> Config:
        return self.active.config

    @property
    def auth(self) -> InboundAuth:
        return self.active.auth

    @property
    def running(self) -> Runtime:
        if self.runtime is None:
            raise IntakeUnavailable("the server is not running", code="not_ready", retry_after=5)
        return self.runtime

    @property
    def pipeline(self) -> Pipeline:
        pipeline = self.active.pipeline
        if pipeline is None:
            raise IntakeUnavailable("the server is not running", code="not_ready", retry_after=5)
        return pipeline


_PINNED = "mapwire.state"


def server_state(request: Request) -> ServerState:
    """The server's state as it was when ``request`` started: every later look during the
    request sees the same config, credentials and pipeline, even across a reload."""
    pinned: ServerState | None = request.scope.get(_PINNED)
    if pinned is None:
        pinned = request.scope[_PINNED] = request.app.state.mapwire.pinned()
    return pinned


_HEADERS = "mapwire.intake_headers"
#: The headers intake reads (raw name: the name it is looked up by).
_INTAKE_HEADERS = {
    b"authorization": "authorization",
    b"content-type": "content-type",
    b"content-length": "content-length",
}


def intake_headers(request: Request) -> dict[str, str]:
    """The request's ``Authorization``, ``Content-Type`` and ``Content-Length`` (the first
    of each, as ``request.headers.get`` gives it), found in one pass over its headers and
    kept for the request's later looks: ``request.headers`` scans them all on every look."""
    found: dict[str, str] | None = request.scope.get(_HEADERS)
    if found is None:
        found = request.scope[_HEADERS] = {}
        for name, value in request.scope["headers"]:
            key = _INTAKE_HEADERS.get(name)
            if key is not None and key not in found:
                found[key] = value.decode("latin-1")
    return found


class JSONBody(Response):
    """A JSON response encoded with orjson."""

    media_type = "application/json"

    def render(self, content: Any) -> bytes:
        return orjson.dumps(content)


class RawJSON(Response):
    """A JSON body already encoded."""

    media_type = "application/json"


def error_body(
    status: int, code: str, message: str, headers: dict[str, str] | None = None
) -> JSONBody:
    return JSONBody({"error": {"code": code, "message": message}}, status, headers)


async def read_raw(request: Request, state: ServerState, *, limit: int | None = None) -> bytes:
    """Check the content type and read the body within the limit."""
    headers = intake_headers(request)
    check_content_type(headers.get("content-type"))
    limit = limit or state.config.server.max_body_bytes
    try:
        return await read_body(
            headers,
            request.stream(),
            limit,
            timeout=BODY_TIMEOUT_SECONDS,
            within=state.deadlines.limit,
        )
    except ClientDisconnect:
        raise InputError(
            "the client closed the connection before sending the whole body",
            code="client_disconnected",
        ) from None


async def parse_body(state: ServerState, body: bytes) -> Any:
    """Check the depth and parse; a large body off the event loop, within the parse budget.
    A small body is parsed here, as ``ParseBudget.parse`` would, without its coroutine."""
    if len(body) <= state.parsing.inline_bytes:
        return parse_json(body, state.config.server.max_json_depth)
    return await state.parsing.parse(body, state.config.server.max_json_depth)


def require_connections(state: ServerState, source: str, only: str | None = None) -> None:
    """Refuse (404) input that no enabled connection reads."""
    require_readers(state.pipeline, source, only)


def _accepting(state: ServerState) -> GroupCommitter:
    if state.committer is None or not state.accepting:
        raise IntakeUnavailable(
            "the server is not accepting input", code="not_ready", retry_after=5
        )
    return state.committer


async def submit(request: Request, state: ServerState, parts: Sequence[Part]) -> dict[str, Any]:
    """Queue the parts durably; once they are committed, return the intake summary (the
    answer's, ``queueing.summary``), from which the log line's counts are taken too."""
    future = _accepting(state).submit(parts, state.pipeline)
    try:
        async with state.deadlines.limit(SUBMIT_TIMEOUT_SECONDS):
            report = await future
    except TimeoutError:
        raise IntakeUnavailable(
            "queueing took too long; the input may or may not be queued",
            code="queue_timeout",
            retry_after=5,
        ) from None
    finally:
        # An error raised here holds this frame, which holds the future, which holds the
        # error: a cycle (the request's body and parts in it) only the collector frees.
        del future
    answer = summary(report)
    record_counts(request, answer)
    return answer


async def submit_heavy(
    request: Request,
    state: ServerState,
    endpoint: Endpoint,
    body: bytes,
    only: Sequence[str] | None,
) -> Handled:
    """``body`` parsed, split, queued and answered by the helper process (``offload``), so
    this one never holds it; counted here as if mapped here."""
    _accepting(state)
    async with state.parsing.turn(len(body)):
        handled = await state.offload.handle(endpoint, body, only)
    if handled.report is not None:
        record_counts(request, summary(handled.report))
        state.pipeline.account(handled.report, handled.received)
    return handled


def record_counts(request: Request, answer: Mapping[str, Any]) -> None:
    """Counts for the request's log line, from its intake summary (in the scope's state, as
    ``request.state`` would put them, without building its wrapper)."""
    request.scope.setdefault("state", {})["counts"] = {
        "documents": answer["documents"],
        "queued": answer["queued"],
        "skipped": sum(answer["skipped"].values()),
        "errors": answer["errors"],
    }
