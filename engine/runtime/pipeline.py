"""Intake: documents of one input shape -> every connection that reads that shape ->
mapped, deduplicated and durably queued.

``Pipeline.submit_many`` is what ``serve``'s group committer calls with the requests it
gathered (``submit``, what ``send`` calls, is its one-request case). For each request (a
``Submission`` of ``Part``s), in order:

1. the connections that read each part's source, and the backlog check: a connection past
   its backlog refuses that request alone (``BacklogFull``) before anything is mapped;
2. the mapping, through the plans compiled once; a document the mapping, its
   destination's intake checks or its ordering key raise on (a bug the input exposed) is
   held as an ``unprocessable`` failure (below) and the others go on; any other error
   refuses that request alone (``InputError`` 422, the bug as its ``__cause__``);
3. per connection, the items that failed to map are kept as ``mapping`` dead letters
   (``keep_failures``), then the actions are queued through ``enqueue_storable`` (one
   unstorable input cannot block the rest): those of consecutive requests without dedup
   keys in one transaction, a request with dedup keys (or a progress mark) on its own, so
   its duplicates are counted exactly; a request that erases ends the group, and erases
   once its actions are queued (``erasure``: refused, it erases nothing);
4. the accounting: metrics, the queue depth the backlog check reads between its refreshes,
   and ``on_queued`` (the wake-up of in-process deliverers).

It returns one ``Submitted`` per request, once its actions are committed: its
``IntakeReport``, or the error that stopped it (``BacklogFull``, ``InputError``, the
store's ``Unavailable``). An ``atomic`` request (``serve``) whose actions cannot be stored
is refused whole (422); otherwise (``send``) only those documents, named in ``refused``.

An item that fails to map does not stop the others: ``map_each`` makes it a
``MappingFailure`` (where and why, never a value, with the source document) and
``keep_failures`` keeps it as a ``mapping`` dead letter (``dlq replay`` uses both).
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

from ..contracts.actions import Action, MapResult
from ..contracts.destination import Destination
from ..contracts.errors import BacklogFull, InputError, Unavailable
from ..contracts.queue import MappingFailure, Queue
from ..contracts.store import StateStore
from ..language.compiler import compile_plan
from . import erasure
from .config import Config, Connection
from .erasure import Erased
from .intake_check import failures_of, held_back
from .metrics import Metrics
from .safe_enqueue import enqueue_storable, not_queued
from .submissions import (
    ConnectionReport,
    IntakeReport,
    Mapped,
    Part,
    Submission,
    Submitted,
    Work,
    credit,
    groups_of,
    runs_of,
    skips_of,
    unstorable,
)

DEPTH_CACHE_SECONDS = 1.0


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
        #: By name: each action gets its destination's ``ordering_key`` before it is queued,
        #: and ``check_payload`` holds back, at intake, actions delivery would refuse.
        self.destinations: Mapping[str, Destination] = destinations or {}
        self.store = store
        self.queue = queue
        self._keyed_apart = not hasattr(queue, "enqueue_groups")  # else counted per request
        self.metrics = metrics or Metrics()
        self.clock = clock
        # how a flow runs on the hot path: its generated code (the interpreter is for explain)
        self._runners = {c.name: compile_plan(c.plan).run for c in config.connections}
        self._named = {c.name: c for c in config.connections}
        self._erasers = erasure.erasers(config.connections, self._destination_of)
        #: an erasure is made before its request is queued: its queue would drop it too
        self.erase_first = not erasure.keeps_erasures(queue)
        self._depth: dict[str, tuple[float, int]] = {}
        self._accounts: dict[str, tuple[Connection, ...]] = {}
        self._readers: dict[tuple[str, str | None], tuple[Connection, ...]] = {}
        self.on_queued: Callable[[str], None] | None = None
        self.on_mapping_failure: Callable[[MappingFailure], None] | None = None
        #: ``mapwire tap``, while one is attached: each document a connection mapped
        #: (connection, source, document, actions, skips, failures). None costs one check.
        self.on_mapped: Callable[[Mapped], None] | None = None

    def connections_for(self, source: str, only: str | None = None) -> tuple[Connection, ...]:
        """Enabled connections whose flow reads ``source`` (or just ``only``); looked up
        once per pair (a pipeline's config never changes: a reload makes a new pipeline)."""
        found = self._readers.get((source, only))
        if found is None:
            found = self._readers[(source, only)] = tuple(
                c
                for c in self.config.connections
                if c.enabled and source in c.plan.sources and (only is None or c.name == only)
            )
        return found

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
        """Map ``documents`` for every connection reading ``source`` and queue the actions:
        ``submit_many`` for one request whose documents are refused one by one. Raises the
        error that stopped it (``BacklogFull`` first of all)."""
        parts = [Part(source, documents, only)]
        [done] = self.submit_many([Submission(parts, progress, atomic=False)])
        if done.error is not None:
            raise done.error
        return done.report

    def submit_many(self, submissions: Sequence[Submission]) -> list[Submitted]:
        """Map, deduplicate and queue many requests' documents in few transactions; what
        became of each request, in order. A request that erases (or forgets state) ends a
        group: what came before is queued before it, what comes after mapped after it."""
        works: list[Work] = []
        start, failed = 0, None
        for submission in submissions:
            if failed is not None:  # a bug stopped a part: nothing after it may go first
                works.append(Work(submission, Submitted(error=failed)))
                continue
            works.append(self._prepare(submission))
            groups = works[-1].groups
            erasing = self._erasers.intersection(groups)  # usually none: nothing to look at
            if last := erasure.erasing_connections(groups, erasing, self._destination_of):
                works[-1].erasing = last
                failed = self._commit_after(works, start, last)
                start = len(works)
        if failed is None:
            self._commit_after(works, start, set())
        return [w.done for w in works]

    def _destination_of(self, connection: str) -> Destination | None:
        return self.destinations.get(self._named[connection].plan.destination)

    def _commit_after(
        self, works: Sequence[Work], start: int, last: set[str]
    ) -> Unavailable | None:
        """Queue ``works[start:]`` per connection, the ``last`` (those the final request erases
        in) last, so the erasure finds the others' actions. A bug past the first part fails
        only these requests (returned): failing those queued would have them sent again."""
        order: dict[str, Connection] = {}
        for work in works[start:]:
            if work.done.error is None:
                for part in work.submission.parts:
                    for conn in self.connections_for(part.source, part.only):
                        order.setdefault(conn.name, conn)
        try:
            for conn in sorted(order.values(), key=lambda c: c.name in last):
                live = [w for w in works[start:] if w.done.error is None]
                self._keep_failures(conn.name, live)
                self._enqueue(conn, [w for w in live if conn.name in w.groups])
            if last:  # the final request erases, once queued wherever it goes
                self._erase_queued(works[-1])
        except Exception as exc:
            if not start:
                raise
            failed = not_queued(exc)
            for work in works[start:]:
                work.done.error = work.done.error or failed
            return failed
        return None

    def _prepare(self, submission: Submission) -> Work:
        """Backlog check and mapping for one request."""
        work = Work(submission)
        targets = [
            (part, conn)
            for part in submission.parts
            for conn in self.connections_for(part.source, part.only)
        ]
        try:
            self.check_backlog(list({c.name: c for _, c in targets}.values()))
        except BacklogFull as exc:
            work.done.error = exc.with_traceback(None)  # its frames held `work`: a cycle
            return work
        report = work.done.report
        for part in submission.parts:
            report.documents += len(part.documents)
            self.metrics.receive(part.source, len(part.documents))
        try:
            for part, conn in targets:
                counts = report.connections.setdefault(conn.name, ConnectionReport())
                so_far = work.groups.setdefault(conn.name, [])
                groups, failures = self.map_each(
                    conn, part.documents, counts, first=len(so_far), source=part.source
                )
                so_far.extend(groups)
                if failures:
                    work.failures.setdefault(conn.name, []).extend(failures)
        except Exception as exc:  # a bug the input exposed: refuse this request alone
            work.groups.clear()
            work.failures.clear()
            error = InputError(
                "the mapping could not process this input", status=422, code="unprocessable"
            )
            error.__cause__ = exc
            work.done.error = error
        return work

    def _keep_failures(self, connection: str, works: Sequence[Work]) -> None:
        """Record the requests' mapping failures before their actions are queued; a request
        whose failures cannot be recorded is not acknowledged either."""
        for work in works:
            failures = work.failures.get(connection)
            if not failures:
                continue
            try:
                self.keep_failures(failures)
            except Unavailable as exc:
                work.done.error = exc
            except (TypeError, ValueError):  # the queue cannot store the source document
                work.done.error = unstorable()

    def _enqueue(self, conn: Connection, works: Sequence[Work]) -> None:
        """Queue the connection's actions: in runs of requests, one transaction each
        (``runs_of``); with a queue that counts each request's duplicates
        (``enqueue_groups``), requests with dedup keys go together too."""
        queued = 0
        for run in runs_of(works, conn.name, self._keyed_apart):
            queued += self._enqueue_run(conn, run)
        done = [work.part(conn.name) for work in works if work.done.error is None]
        if done:
            self._account(conn.name, done)
        if queued and self.on_queued is not None:
            self.on_queued(conn.name)

    def _enqueue_run(self, conn: Connection, run: list[Work]) -> int:
        """One ``enqueue_storable`` for the run's actions; how many were queued."""
        groups, owners = groups_of(run, conn.name)
        progress = run[0].submission.progress if len(run) == 1 else None
        first = run[0]  # a request that erases is queued alone (``Work.alone``)
        # Erased once queued (else its queue would drop the erasure): its progress mark
        # waits for that in every connection, those it does not erase in too.
        erase_after = bool(first.erasing) and not self.erase_first
        erases = conn.name in first.erasing
        try:
            if erases and not erase_after:
                self.erase(conn, (a for g in groups for a in g))
            stored = enqueue_storable(
                self.queue,
                conn.name,
                groups,
                dedup=self.store,
                dedup_ttl=conn.dedup_ttl,
                progress=None if erase_after else progress,  # recorded once erased
            )
        except Unavailable as exc:
            for work in run:
                work.done.error = exc
            return 0
        credit(conn.name, run, owners, groups, stored)
        if erases and erase_after and first.done.error is None:  # once queued in all of them
            left_out = set(stored.refused)
            kept = [a for i, g in enumerate(groups) if i not in left_out for a in g]
            first.queued_erasures = [*first.queued_erasures, (conn, kept)]
        return stored.total.queued

    def _erase_queued(self, work: Work) -> None:
        """What the erasing request erases, once it went to every connection it goes to: in
        each one that queued its erasure (refused by a later one, the erasure queued there is
        sent all the same, so it is made), then, queued everywhere, its progress mark. Not
        erased (the store failed, a bug), it alone is answered with that failure, and its
        client sends it again."""
        progress = work.submission.progress
        try:
            for conn, actions in work.queued_erasures:
                self.erase(conn, actions)
            if progress is not None and work.done.error is None:  # ``send`` goes past it
                self.queue.enqueue(next(iter(work.groups)), [], progress=progress)
        except Exception as exc:
            work.done.error = work.done.error or not_queued(exc)

    def erase(self, conn: Connection, actions: Iterable[Action]) -> Erased:
        """Once ``actions`` are queued for ``conn``: what those that erase their person or
        carry a ``forget`` remove, in every connection to the same destination account
        (``erasure``), the person's other actions just queued included."""
        destination = self._destination_of(conn.name)
        found = erasure.erasing(actions, destination)
        if not found:
            return Erased()
        peers = self._accounts.get(conn.name)
        if peers is None:
            peers = erasure.same_account(self.config, conn, self.destinations)
            self._accounts[conn.name] = peers
        return erasure.erase_people(self.queue, self.store, peers, found, destination)

    def map_each(
        self,
        conn: Connection,
        documents: Sequence[Any],
        part: ConnectionReport,
        *,
        first: int = 0,
        source: str = "",
    ) -> tuple[list[list[Action]], list[MappingFailure]]:
        """Map ``documents`` through ``conn``: the actions of each document, and the items
        that failed (also described in ``part.errors``; skips counted in ``part.skipped``).
        An action its destination would refuse is held back as a failure
        (``intake_check``); the failures of each document are also listed in ``part.held``
        by its index (counted from ``first``). ``on_mapped`` is told of each document
        (``source``: its shape)."""
        run = self._runners[conn.name]
        namespace = conn.state_namespace
        destinations = self.destinations
        destination = destinations.get(conn.plan.destination)
        tap = self.on_mapped
        groups: list[list[Action]] = []
        failures: list[MappingFailure] = []
        for index, doc in enumerate(documents, first):
            try:
                result = run(doc, conn.settings, self.store, namespace=namespace)
                actions = list(result.actions)
                found = failures_of(conn, doc, result.errors) if result.errors else []
                if destinations:
                    actions, held = held_back(conn, doc, actions, destinations)
                    found.extend(held)
                if destination is not None:
                    for action in actions:
                        action.order_key = destination.ordering_key(action.action, action.payload)
            except Exception as exc:  # a bug this document exposed: it alone is held, whole
                result = MapResult(errors=[exc])
                actions = []
                found = failures_of(conn, doc, result.errors)
            if tap is not None:
                tap(Mapped(conn.name, source, doc, actions, result.skipped, found))
            groups.append(actions)
            for reason, n in result.skipped.items():
                part.skipped[reason] = part.skipped.get(reason, 0) + n
            if found:
                failures.extend(found)
                reasons = [f.describe() for f in found]
                part.errors.extend(reasons)
                part.held[index] = reasons
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

    def account(self, report: IntakeReport, received: Mapping[str, int]) -> None:
        """Count, in this process's metrics, a request another process mapped and queued
        (``received``: its documents per source)."""
        for source, n in received.items():
            self.metrics.receive(source, n)
        for connection, part in report.connections.items():
            self._account(connection, [part])

    def _account(self, connection: str, parts: Sequence[ConnectionReport]) -> None:
        """Count what ``parts`` (one connection's share of requests) did, once each."""
        queued = sum(part.queued for part in parts)
        self.metrics.count("mapped", connection, queued)
        self.metrics.count("item_errors", connection, sum(len(part.errors) for part in parts))
        for reason, n in skips_of(parts).items():
            self.metrics.skip(connection, reason, n)
        cached = self._depth.get(connection)
        if cached is not None:
            self._depth[connection] = (cached[0], cached[1] + queued)
