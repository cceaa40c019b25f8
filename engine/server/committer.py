"""Group commit: one thread hands what many requests submitted to the pipeline at once.

A request handler calls ``GroupCommitter.submit(parts)`` and awaits the future it gets; the
future resolves only after every action the parts mapped to is committed to the queue (or
with the error that stopped it). The committer thread takes whatever submissions are
waiting, up to ``max_group_documents`` documents or ``max_group_requests`` requests, gives
them to ``Pipeline.submit_many`` (which maps, deduplicates and queues them in few
transactions, see ``engine.runtime.pipeline``) and settles each future with its request's
result. A queue or store that failed becomes ``IntakeUnavailable`` (503 with
``Retry-After``). Submissions arrive while a group is being committed, so the groups grow
with the load and no request waits on a timer.

Each submission carries the pipeline its request started with; a group holds submissions
of one pipeline only, so after a reload the requests begun before it are still mapped by
the plans they started with, and the later ones by the new plans.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import queue
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from ..contracts.errors import (
    BacklogFull,
    InputError,
    IntakeUnavailable,
    MapwireError,
    Unavailable,
)
from ..contracts.queue import MappingFailure
from ..runtime.pipeline import Pipeline
from ..runtime.submissions import IntakeReport, Part, Submission, Submitted
from .logs import log_event

DEFAULT_MAX_PENDING = 2048
DEFAULT_MAX_GROUP_DOCUMENTS = 512
DEFAULT_MAX_GROUP_REQUESTS = 256


__all__ = [
    "GroupCommitter",
    "IntakeUnavailable",
    "Part",
    "log_mapping_failure",
    "request_error",
]


@dataclass(slots=True)
class _Pending:
    parts: Sequence[Part]
    future: asyncio.Future[IntakeReport]
    loop: asyncio.AbstractEventLoop
    pipeline: Pipeline
    error: BaseException | None = None
    report: IntakeReport | None = None


_STOP: Any = object()


class GroupCommitter:
    """The single thread that turns submissions into committed queue entries."""

    def __init__(
        self,
        pipeline: Pipeline,
        *,
        max_pending: int = DEFAULT_MAX_PENDING,
        max_group_documents: int = DEFAULT_MAX_GROUP_DOCUMENTS,
        max_group_requests: int = DEFAULT_MAX_GROUP_REQUESTS,
    ) -> None:
        self.pipeline = pipeline
        self.max_group_documents = max_group_documents
        self.max_group_requests = max_group_requests
        self.max_pending = max_pending
        self.adopt(pipeline)
        # Bounded by a size check before each put (threads submitting at the same moment
        # may pass it together: a few over, never unbounded).
        self._inbox: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self._thread = threading.Thread(target=self._run, name="mapwire-committer", daemon=True)
        self._closed = False
        self.groups = 0
        self.submissions = 0

    # -- the event loop's side ------------------------------------------------------------
    def start(self) -> None:
        self._thread.start()

    def adopt(self, pipeline: Pipeline) -> None:
        """Submissions that name no pipeline go through ``pipeline`` from now on."""
        if pipeline.on_mapping_failure is None:
            pipeline.on_mapping_failure = log_mapping_failure
        self.pipeline = pipeline

    def submit(
        self, parts: Sequence[Part], pipeline: Pipeline | None = None
    ) -> asyncio.Future[IntakeReport]:
        """Queue ``parts`` for the next group; the future resolves once they are committed.
        They are mapped through ``pipeline`` (the one the request started with), else the
        committer's current one."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future[IntakeReport] = loop.create_future()
        if self._closed:
            raise IntakeUnavailable(
                "the server is shutting down", code="shutting_down", retry_after=5
            )
        if self._inbox.qsize() >= self.max_pending:
            raise IntakeUnavailable(
                "too many requests are waiting to be queued", code="busy", retry_after=1
            )
        self._inbox.put(_Pending(parts, future, loop, pipeline or self.pipeline))
        return future

    @property
    def alive(self) -> bool:
        return self._thread.is_alive()

    def close(self, timeout: float | None = None) -> None:
        """Refuse new submissions, commit those already waiting, and stop the thread."""
        if self._closed:
            return
        self._closed = True
        if self._thread.is_alive():
            self._inbox.put(_STOP)
            self._thread.join(timeout)

    # -- the committer thread -------------------------------------------------------------
    def _run(self) -> None:
        stopping = False
        carried: _Pending | None = None  # the first of the next group (another pipeline)
        while not stopping:
            first = carried if carried is not None else self._inbox.get()
            carried = None
            if first is _STOP:
                break
            group = [first]
            documents = sum(len(p.documents) for p in first.parts)
            while documents < self.max_group_documents and len(group) < self.max_group_requests:
                try:
                    more = self._inbox.get_nowait()
                except queue.Empty:
                    break
                if more is _STOP:
                    stopping = True
                    break
                if more.pipeline is not first.pipeline:  # a reload between the two
                    carried = more
                    break
                group.append(more)
                documents += sum(len(p.documents) for p in more.parts)
            try:
                self._commit(group)
            except Exception as exc:  # a bug: fail the group, keep serving
                log_event(logging.ERROR, "commit_failed", exc=exc)
                for pending in group:
                    pending.error = pending.error or IntakeUnavailable(
                        "the request could not be queued", code="queue_unavailable", retry_after=5
                    )
            self._resolve(group)
        self._refuse_leftovers()

    def _refuse_leftovers(self) -> None:
        """Answer anything that slipped in after the stop (a submit racing ``close``)."""
        leftovers = []
        while True:
            try:
                pending = self._inbox.get_nowait()
            except queue.Empty:
                break
            if pending is not _STOP:
                pending.error = IntakeUnavailable(
                    "the server is shutting down", code="shutting_down", retry_after=5
                )
                leftovers.append(pending)
        self._resolve(leftovers)

    def _commit(self, group: list[_Pending]) -> None:
        self.groups += 1
        self.submissions += len(group)
        results = group[0].pipeline.submit_many([Submission(p.parts) for p in group])
        for pending, done in zip(group, results, strict=True):
            pending.report = done.report
            pending.error = request_error(done)

    def _resolve(self, group: list[_Pending]) -> None:
        by_loop: dict[asyncio.AbstractEventLoop, list[_Pending]] = {}
        for pending in group:
            by_loop.setdefault(pending.loop, []).append(pending)
        for loop, pendings in by_loop.items():
            with contextlib.suppress(RuntimeError):  # the loop has closed: nobody is waiting
                loop.call_soon_threadsafe(_settle, pendings)


def log_mapping_failure(failure: MappingFailure) -> None:
    """One JSON log line per item that failed to map: where and why, never a value."""
    log_event(
        logging.WARNING,
        "item_failed_to_map",
        connection=failure.connection,
        mapping=failure.mapping,
        rule=failure.rule,
        item=failure.item,
        field=failure.field,
        code=failure.code,
        error=failure.message,
    )


def request_error(done: Submitted) -> MapwireError | None:
    """The error a request is answered with (logged here), or None if it was queued."""
    error = done.error
    if isinstance(error, Unavailable) and not isinstance(error, IntakeUnavailable | BacklogFull):
        log_event(logging.ERROR, "queue_unavailable", exc=error)
        _forget_frames(error)
        return IntakeUnavailable(
            "the queue is not available", code="queue_unavailable", retry_after=5
        )
    if isinstance(error, InputError) and error.__cause__ is not None:
        log_event(logging.ERROR, "mapping_failed", exc=error.__cause__)
        _forget_frames(error)
    elif isinstance(error, InputError):
        for connection, part in done.report.connections.items():
            if part.refused:
                log_event(logging.ERROR, "enqueue_refused", connection=connection)
    return error


def _forget_frames(error: BaseException) -> None:
    """Drop the tracebacks of a logged error and of the errors behind it: their frames
    hold the requests' work, which holds the error, a cycle only the collector frees (under
    a lasting outage, every group's)."""
    seen: set[int] = set()
    todo: list[BaseException | None] = [error]
    while todo:
        exc = todo.pop()
        if exc is None or id(exc) in seen:
            continue
        seen.add(id(exc))
        exc.__traceback__ = None
        todo += (exc.__cause__, exc.__context__)


def _settle(pendings: list[_Pending]) -> None:
    for pending in pendings:
        if pending.future.done():
            continue
        if pending.error is not None:
            pending.future.set_exception(pending.error)
        elif pending.report is not None:
            pending.future.set_result(pending.report)
