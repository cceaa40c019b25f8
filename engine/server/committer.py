"""Group commit: one thread maps and queues what many requests submitted, in few transactions.

A request handler calls ``GroupCommitter.submit(parts)`` and awaits the future it gets; the
future resolves only after every action the parts mapped to is committed to the queue (or
with the error that stopped it). The committer thread takes whatever submissions are
waiting, up to ``max_group_documents``, and commits them as a group:

1. per submission, the connections that read each part's source, and the backlog check
   (``BacklogFull`` fails that submission only);
2. per submission and connection, the mapping (``Pipeline.map_documents``), with counts
   kept per submission; a mapping that raises (a bug the input exposed) fails that
   submission only, before anything of it is queued; items that failed to map are kept
   as ``mapping`` dead letters (``Pipeline.keep_failures``) before the actions are queued;
3. per connection, one ``enqueue`` (one transaction) for the actions of consecutive
   submissions that carry no dedup keys, whose report is therefore exact per submission;
   a submission whose actions carry dedup keys is enqueued on its own, so its duplicates
   are counted exactly (Customer.io webhooks: one small event each).

This is ``Pipeline.submit`` for many requests at once: the same connections, backlog check,
mapping, dedup, metrics and wake-up of the deliverers. Submissions arrive while a group is
being committed, so the groups grow with the load and no request waits on a timer.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import queue
import sqlite3
import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from ..contracts.actions import Action
from ..contracts.errors import InputError, MapwireError
from ..contracts.queue import MappingFailure
from ..runtime.config import Connection
from ..runtime.pipeline import (
    BacklogFull,
    ConnectionReport,
    IntakeReport,
    Pipeline,
)
from ..runtime.safe_enqueue import enqueue_storable
from .logs import log_event

DEFAULT_MAX_PENDING = 2048
DEFAULT_MAX_GROUP_DOCUMENTS = 512
DEFAULT_MAX_GROUP_REQUESTS = 256


class IntakeUnavailable(MapwireError):
    """The request was not queued for a server-side reason; the sender should retry."""

    def __init__(self, message: str, *, code: str, retry_after: int) -> None:
        self.code = code
        self.retry_after = retry_after
        super().__init__(message)


@dataclass(frozen=True, slots=True)
class Part:
    """Documents of one input shape, for every connection reading it (or just ``only``)."""

    source: str
    documents: Sequence[Any]
    only: str | None = None


@dataclass(slots=True)
class _Pending:
    parts: Sequence[Part]
    future: asyncio.Future[IntakeReport]
    loop: asyncio.AbstractEventLoop
    report: IntakeReport = field(default_factory=IntakeReport)
    actions: dict[str, list[Action]] = field(default_factory=dict)
    failures: dict[str, list[MappingFailure]] = field(default_factory=dict)
    error: BaseException | None = None

    def keyed(self, connection: str) -> bool:
        return any(a.dedup_keys for a in self.actions.get(connection, ()))


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
        if pipeline.on_mapping_failure is None:
            pipeline.on_mapping_failure = log_mapping_failure
        self._inbox: queue.Queue[Any] = queue.Queue(maxsize=max_pending)
        self._thread = threading.Thread(target=self._run, name="mapwire-committer", daemon=True)
        self._closed = False
        self.groups = 0
        self.submissions = 0

    # -- the event loop's side ------------------------------------------------------------
    def start(self) -> None:
        self._thread.start()

    def submit(self, parts: Sequence[Part]) -> asyncio.Future[IntakeReport]:
        """Queue ``parts`` for the next group; the future resolves once they are committed."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future[IntakeReport] = loop.create_future()
        if self._closed:
            raise IntakeUnavailable(
                "the server is shutting down", code="shutting_down", retry_after=5
            )
        try:
            self._inbox.put_nowait(_Pending(parts, future, loop))
        except queue.Full:
            raise IntakeUnavailable(
                "too many requests are waiting to be queued", code="busy", retry_after=1
            ) from None
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
        while not stopping:
            first = self._inbox.get()
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
        order: dict[str, Connection] = {}
        for pending in group:
            for conn in self._prepare(pending):
                order.setdefault(conn.name, conn)
        for name in order:
            self._keep_failures(name, [p for p in group if p.error is None])
            self._enqueue(name, [p for p in group if p.error is None and name in p.actions])

    def _prepare(self, pending: _Pending) -> list[Connection]:
        """Backlog check and mapping for one submission; the connections it feeds."""
        targets: list[tuple[Part, Connection]] = []
        for part in pending.parts:
            targets.extend((part, c) for c in self.pipeline.connections_for(part.source, part.only))
        connections = list({c.name: c for _, c in targets}.values())
        try:
            self.pipeline.check_backlog(connections)
        except BacklogFull as exc:
            pending.error = exc
            return []
        metrics = self.pipeline.metrics
        report = pending.report
        try:
            for part in pending.parts:
                report.documents += len(part.documents)
                metrics.received.labels(part.source).inc(len(part.documents))
            for part, conn in targets:
                self._map(part, conn, pending)
        except Exception as exc:
            log_event(logging.ERROR, "mapping_failed", exc=exc)
            pending.actions.clear()
            pending.error = InputError(
                "the mapping could not process this input", status=422, code="unprocessable"
            )
            return []
        return connections

    def _map(self, part: Part, conn: Connection, pending: _Pending) -> None:
        part_report = pending.report.connections.setdefault(conn.name, ConnectionReport())
        actions, failures = self.pipeline.map_documents(conn, part.documents, part_report)
        pending.actions.setdefault(conn.name, []).extend(actions)
        if failures:
            pending.failures.setdefault(conn.name, []).extend(failures)

    def _keep_failures(self, connection: str, pendings: list[_Pending]) -> None:
        """Record the submissions' mapping failures before their actions are queued; a
        submission whose failures cannot be recorded is not acknowledged either."""
        for pending in pendings:
            failures = pending.failures.get(connection)
            if not failures or pending.error is not None:
                continue
            try:
                self.pipeline.keep_failures(failures)
            except (sqlite3.Error, OSError, MapwireError, TypeError, ValueError) as exc:
                log_event(logging.ERROR, "queue_unavailable", exc=exc)
                pending.error = IntakeUnavailable(
                    "the queue is not available", code="queue_unavailable", retry_after=5
                )

    def _enqueue(self, connection: str, pendings: list[_Pending]) -> None:
        """Queue the connection's actions: runs of keyless submissions together."""
        runs: list[list[_Pending]] = []
        for pending in pendings:
            if pending.keyed(connection) or not runs or runs[-1][0].keyed(connection):
                runs.append([pending])
            else:
                runs[-1].append(pending)
        queued_any = False
        for run in runs:
            queued_any |= self._enqueue_run(connection, run)
        for pending in pendings:
            if pending.error is None:
                # The pipeline's own bookkeeping: metrics, and the queue depth the backlog
                # check reads between its refreshes.
                self.pipeline._account(connection, pending.report.connections[connection])
        if queued_any and self.pipeline.on_queued is not None:
            self.pipeline.on_queued(connection)

    def _enqueue_run(self, connection: str, run: list[_Pending]) -> bool:
        try:  # a submission whose actions cannot be stored is found and refused alone
            result, refused = enqueue_storable(
                self.pipeline.queue,
                connection,
                [p.actions[connection] for p in run],
                dedup=self.pipeline.store,
                dedup_ttl=self.pipeline.dedup_ttl(connection),
            )
        except (sqlite3.Error, OSError, MapwireError) as exc:
            log_event(logging.ERROR, "queue_unavailable", exc=exc)
            for pending in run:
                pending.error = IntakeUnavailable(
                    "the queue is not available", code="queue_unavailable", retry_after=5
                )
            return False
        for index in refused:
            log_event(logging.ERROR, "enqueue_refused", connection=connection)
            run[index].error = InputError(
                "the mapped actions could not be stored", status=422, code="unprocessable"
            )
        if len(run) == 1 and not refused:
            part = run[0].report.connections[connection]
            part.queued, part.duplicates = result.queued, result.duplicates
            if result.duplicates:
                part.skipped["duplicate"] = part.skipped.get("duplicate", 0) + result.duplicates
        else:  # no dedup keys in a run of several: every storable action was queued
            for i, pending in enumerate(run):
                if i not in refused:
                    pending.report.connections[connection].queued = len(pending.actions[connection])
        return result.queued > 0

    def _resolve(self, group: list[_Pending]) -> None:
        by_loop: dict[asyncio.AbstractEventLoop, list[_Pending]] = {}
        for pending in group:
            pending.actions.clear()
            pending.failures.clear()
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


def _settle(pendings: list[_Pending]) -> None:
    for pending in pendings:
        if pending.future.done():
            continue
        if pending.error is not None:
            pending.future.set_exception(pending.error)
        else:
            pending.future.set_result(pending.report)
