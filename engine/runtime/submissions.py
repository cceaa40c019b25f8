"""What intake is given and what it answers: parts, submissions and their reports."""

from __future__ import annotations

from collections import Counter
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from ..contracts.actions import Action
from ..contracts.errors import InputError, MapwireError
from ..contracts.queue import EnqueueResult, MappingFailure
from .config import Connection
from .safe_enqueue import Stored

#: Why a request is refused (422) whose actions the queue cannot store.
UNSTORABLE = "the mapped actions could not be stored"


def unstorable() -> InputError:
    """The refusal (422) of a request whose actions the queue cannot store."""
    return InputError(UNSTORABLE, status=422, code="unprocessable")


@dataclass
class ConnectionReport:
    """What one submit did for one connection."""

    queued: int = 0
    duplicates: int = 0
    skipped: dict[str, int] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)
    #: indexes of the submitted documents whose actions the queue could not store
    #: (counted over the documents of the request's parts this connection reads)
    refused: list[int] = field(default_factory=list)
    #: per document index (counted likewise), why each of its items will not be
    #: delivered: it failed to map, or its destination would refuse it; kept as
    #: ``mapping`` dead letters with the document
    held: dict[int, list[str]] = field(default_factory=dict)

    def add(self, result: EnqueueResult) -> None:
        """Count what the queue queued of this request, and what it skipped as duplicates."""
        self.queued += result.queued
        self.duplicates += result.duplicates
        if result.duplicates:
            self.skipped["duplicate"] = self.skipped.get("duplicate", 0) + result.duplicates


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


@dataclass(frozen=True, slots=True)
class Part:
    """Documents of one input shape, for every connection reading it (or just ``only``)."""

    source: str
    documents: Sequence[Any]
    only: str | None = None


@dataclass(frozen=True, slots=True)
class Submission:
    """One request: its parts, and how it is queued.

    ``progress`` (``send``'s file position) is recorded with the request's actions of each
    connection. ``atomic``: an action that cannot be stored refuses the whole request
    (nothing of it is queued for that connection); otherwise only its document.
    """

    parts: Sequence[Part]
    progress: tuple[str, str] | None = None
    atomic: bool = True


@dataclass(slots=True)
class Submitted:
    """What became of one request: its report, or the error that stopped it."""

    report: IntakeReport = field(default_factory=IntakeReport)
    error: MapwireError | None = None


@dataclass(frozen=True, slots=True)
class Mapped:
    """One document as a connection mapped it, for ``Pipeline.on_mapped`` (``mapwire tap``):
    the actions to queue, the skips counted and the items that failed or were held back."""

    connection: str
    source: str
    document: Any
    actions: Sequence[Action]
    skipped: Mapping[str, int]
    failures: Sequence[MappingFailure]


@dataclass(slots=True)
class Work:
    """One request on its way through ``Pipeline.submit_many`` (the pipeline's own)."""

    submission: Submission
    done: Submitted = field(default_factory=Submitted)
    #: per connection, the actions of each document
    groups: dict[str, list[list[Action]]] = field(default_factory=dict)
    failures: dict[str, list[MappingFailure]] = field(default_factory=dict)
    #: the connections in which one of its actions erases its person or forgets state,
    #: found once when it was mapped: in the others there is nothing to erase
    erasing: Collection[str] = ()
    #: per connection it erases in, once queued there: its stored actions, erased once it
    #: went to every connection (``Pipeline._erase_queued``)
    queued_erasures: Sequence[tuple[Connection, list[Action]]] = ()

    def alone(self, connection: str, keyed_apart: bool) -> bool:
        """Whether its actions go in a transaction of their own: with a progress mark; when
        it erases in ``connection`` (the erasure then finds every earlier request's actions
        queued); and (``keyed_apart``, for a queue that counts duplicates per call only)
        with dedup keys, so that its duplicates are counted exactly."""
        if self.submission.progress is not None or connection in self.erasing:
            return True
        return keyed_apart and any(a.dedup_keys for g in self.groups[connection] for a in g)

    def part(self, connection: str) -> ConnectionReport:
        return self.done.report.connections[connection]


def runs_of(works: Sequence[Work], connection: str, keyed_apart: bool) -> list[list[Work]]:
    """The requests in order, in runs that go in one transaction each: a request with a
    progress mark (or, ``keyed_apart``, with dedup keys) alone, the others together (each
    request looked at once)."""
    runs: list[list[Work]] = []
    last_alone = True
    for work in works:
        alone = work.alone(connection, keyed_apart)
        if alone or last_alone:
            runs.append([work])
        else:
            runs[-1].append(work)
        last_alone = alone
    return runs


def groups_of(
    run: Sequence[Work], connection: str
) -> tuple[list[list[Action]], list[tuple[Work, int | None]]]:
    """The run's actions in ``connection`` as the queue takes them: an atomic request's in
    one group, another's a group per document; and whose each group is (the request, and
    the document when its documents go apart)."""
    groups: list[list[Action]] = []
    owners: list[tuple[Work, int | None]] = []
    for work in run:
        documents = work.groups[connection]
        if work.submission.atomic:
            groups.append([a for g in documents for a in g])
            owners.append((work, None))
        else:
            groups.extend(documents)
            owners.extend((work, i) for i in range(len(documents)))
    return groups, owners


def credit(
    connection: str,
    run: Sequence[Work],
    owners: Sequence[tuple[Work, int | None]],
    groups: Sequence[Sequence[Action]],
    stored: Stored,
) -> None:
    """Tell the requests of ``run`` what the queue did with their actions in
    ``connection``: ``groups[i]`` is of request ``owners[i][0]`` (all its documents, or
    only document ``owners[i][1]`` when its documents go apart), ``stored`` the queue's
    answer. A request whose group was refused whole is refused (422), a refused document
    is named in ``refused``, a group the queue failed to take gets its failure."""
    for index in stored.failed:  # the queue failed once others were queued
        owners[index][0].done.error = stored.error
    for index in stored.refused:
        work, document = owners[index]
        part = work.part(connection)
        if document is None:
            part.refused = list(range(len(work.groups[connection])))
            work.done.error = unstorable()
        else:
            part.refused.append(document)
    if stored.each is not None:  # the queue said what each group queued
        for (work, _), result in zip(owners, stored.each, strict=True):
            if result is not None and work.done.error is None:
                work.part(connection).add(result)
    elif len(run) == 1 and run[0].done.error is None:
        run[0].part(connection).add(stored.total)
    else:  # no dedup keys in a run of several: every storable action was queued
        left_out = set(stored.refused)
        for index, (work, _) in enumerate(owners):
            if index not in left_out and work.done.error is None:
                work.part(connection).queued += len(groups[index])


def skips_of(parts: Iterable[ConnectionReport]) -> Counter[str]:
    """What ``parts`` skipped, per reason, the positive counts (what a sum of Counters
    keeps): one Counter updated in place, where a sum built a new one for every part."""
    total: Counter[str] = Counter()
    for part in parts:
        if part.skipped:
            total.update(part.skipped)
    return +total
