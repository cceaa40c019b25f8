"""Intake: documents of one input shape -> every connection that reads that shape ->
mapped, deduplicated and durably queued.

``Pipeline.submit`` is what ``send`` and ``serve`` call once they have parsed and
authenticated their input. It returns only after the actions are committed to the queue
(a document whose actions the queue cannot store is left out and named in
``ConnectionReport.refused``, see ``engine.safe_enqueue``),
so the caller may acknowledge the input then; if the queue is past its backlog limit it
raises ``BacklogFull`` (the caller slows down or answers with a retryable status) before
mapping anything.

An item that fails to map (a required field is null, a function got the wrong type ...)
does not stop the others. ``map_documents`` turns each such error into a
``MappingFailure`` (where it failed and why, never a value, plus the source document) and
``keep_failures`` records them as ``mapping`` dead letters, counts them per connection and
rule, and tells ``on_mapping_failure`` (``serve`` logs them). ``send``, ``serve``'s group
committer and ``mapwire dlq replay`` all map through these two methods.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from ..contracts.actions import Action
from ..contracts.destination import Destination
from ..contracts.errors import ItemError, MapwireError
from ..contracts.queue import MappingFailure, Queue
from ..contracts.store import StateStore
from ..language.compiler import compile_plan
from .config import Config, Connection
from .metrics import Metrics
from .safe_enqueue import enqueue_storable

DEPTH_CACHE_SECONDS = 1.0


class BacklogFull(MapwireError):
    """The queue holds more than the configured backlog; try again later."""

    def __init__(self, connection: str, depth: int, limit: int) -> None:
        self.connection = connection
        super().__init__(f"connection {connection!r}: {depth} actions queued (limit {limit})")


@dataclass
class ConnectionReport:
    """What one submit did for one connection."""

    queued: int = 0
    duplicates: int = 0
    skipped: dict[str, int] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)
    #: indexes of the submitted documents whose actions the queue could not store
    refused: list[int] = field(default_factory=list)


@dataclass
class IntakeReport:
    documents: int = 0
    connections: dict[str, ConnectionReport] = field(default_factory=dict)

    @property
    def queued(self) -> int:
        return sum(c.queued for c in self.connections.values())

    @property
    def errors(self) -> list[str]:
        return [e for c in self.connections.values() for e in c.errors]


def failures_of(conn: Connection, doc: Any, errors: Sequence[Exception]) -> list[MappingFailure]:
    """A document's per-item errors as failures to keep (messages carry no values)."""
    out = []
    for e in errors:
        if isinstance(e, ItemError):
            failure = MappingFailure(
                conn.name, conn.plan.name, e.rule, e.field, e.code, e.detail, doc, item=e.index
            )
        else:  # not raised by the engine today; named by its class, never its text
            failure = MappingFailure(
                conn.name, conn.plan.name, "", "", "item_error", type(e).__name__, doc
            )
        out.append(failure)
    return out


def make_runner(plan: Any) -> Callable[..., Any]:
    """How a flow runs on the hot path: its generated code (the interpreter is for explain)."""
    return compile_plan(plan).run


class Pipeline:
    def __init__(
        self,
        config: Config,
        store: StateStore,
        queue: Queue,
        metrics: Metrics | None = None,
        *,
        clock: Callable[[], float] = time.monotonic,
        destinations: Mapping[str, Destination] | None = None,
    ) -> None:
        self.config = config
        #: By name: each action gets its destination's ``ordering_key`` before it is queued.
        self.destinations = destinations or {}
        self.store = store
        self.queue = queue
        self.metrics = metrics or Metrics()
        self.clock = clock
        self._runners = {c.name: make_runner(c.plan) for c in config.connections}
        self._depth: dict[str, tuple[float, int]] = {}
        self.on_queued: Callable[[str], None] | None = None
        self.on_mapping_failure: Callable[[MappingFailure], None] | None = None

    def connections_for(self, source: str, only: str | None = None) -> list[Connection]:
        """Enabled connections whose flow reads ``source`` (or just ``only``)."""
        return [
            c
            for c in self.config.connections
            if c.enabled and source in c.plan.sources and (only is None or c.name == only)
        ]

    def dedup_ttl(self, name: str) -> float:
        """Seconds the dedup keys of connection ``name`` are remembered."""
        return next(c.dedup_ttl for c in self.config.connections if c.name == name)

    def sources(self) -> set[str]:
        return {s for c in self.config.connections if c.enabled for s in c.plan.sources}

    def check_backlog(self, connections: Sequence[Connection]) -> None:
        now = self.clock()
        for conn in connections:
            cached = self._depth.get(conn.name)
            if cached is None or now - cached[0] > DEPTH_CACHE_SECONDS:
                cached = (now, self.queue.depth(conn.name))
                self._depth[conn.name] = cached
                self.metrics.queue_depth.labels(conn.name).set(cached[1])
            if cached[1] >= conn.delivery.max_backlog:
                raise BacklogFull(conn.name, cached[1], conn.delivery.max_backlog)

    def submit(
        self,
        source: str,
        documents: Sequence[Any],
        *,
        only: str | None = None,
        progress: tuple[str, str] | None = None,
    ) -> IntakeReport:
        """Map ``documents`` for every connection reading ``source`` and queue the actions."""
        connections = self.connections_for(source, only)
        self.check_backlog(connections)
        report = IntakeReport(documents=len(documents))
        self.metrics.received.labels(source).inc(len(documents))
        for conn in connections:
            part = ConnectionReport()
            groups, failures = self.map_each(conn, documents, part)
            self.keep_failures(failures)
            queued, part.refused = enqueue_storable(
                self.queue,
                conn.name,
                groups,
                dedup=self.store,
                dedup_ttl=conn.dedup_ttl,
                progress=progress,
            )
            part.queued = queued.queued
            part.duplicates = queued.duplicates
            if queued.duplicates:
                part.skipped["duplicate"] = part.skipped.get("duplicate", 0) + queued.duplicates
            self._account(conn.name, part)
            report.connections[conn.name] = part
            if queued.queued and self.on_queued is not None:
                self.on_queued(conn.name)
        return report

    def map_documents(
        self, conn: Connection, documents: Sequence[Any], part: ConnectionReport
    ) -> tuple[list[Action], list[MappingFailure]]:
        """Map ``documents`` through ``conn``: the actions, and the items that failed
        (also described in ``part.errors``; skips are counted in ``part.skipped``)."""
        groups, failures = self.map_each(conn, documents, part)
        return [a for g in groups for a in g], failures

    def map_each(
        self, conn: Connection, documents: Sequence[Any], part: ConnectionReport
    ) -> tuple[list[list[Action]], list[MappingFailure]]:
        """``map_documents`` with the actions of each document apart."""
        run = self._runners[conn.name]
        namespace = f"{conn.name}:"
        destination = self.destinations.get(conn.plan.destination)
        groups: list[list[Action]] = []
        failures: list[MappingFailure] = []
        for doc in documents:
            result = run(doc, conn.settings, self.store, namespace=namespace)
            if destination is not None:
                for action in result.actions:
                    action.order_key = destination.ordering_key(action.action, action.payload)
            groups.append(list(result.actions))
            for reason, n in result.skipped.items():
                part.skipped[reason] = part.skipped.get(reason, 0) + n
            if result.errors:
                found = failures_of(conn, doc, result.errors)
                failures.extend(found)
                part.errors.extend(f.describe() for f in found)
        return groups, failures

    def keep_failures(self, failures: Sequence[MappingFailure]) -> None:
        """Record items that failed to map as ``mapping`` dead letters (for ``dlq
        replay``), count them per connection and rule, and report each one."""
        if not failures:
            return
        self.queue.record_mapping_failures(failures)
        counts = Counter((f.connection, f.rule) for f in failures)
        for (connection, rule), n in counts.items():
            self.metrics.mapping_failure(connection, rule, n)
        if self.on_mapping_failure is not None:
            for failure in failures:
                self.on_mapping_failure(failure)

    def _account(self, connection: str, part: ConnectionReport) -> None:
        self.metrics.count("mapped", connection, part.queued)
        self.metrics.count("item_errors", connection, len(part.errors))
        for reason, n in part.skipped.items():
            self.metrics.skip(connection, reason, n)
        cached = self._depth.get(connection)
        if cached is not None:
            self._depth[connection] = (cached[0], cached[1] + part.queued)
