"""``/metrics`` for all of ``serve``'s processes at once (``--workers N --deliverers M``).

Each child process keeps its own metrics, as a single ``serve`` does, and publishes them to
a folder the supervisor made for this run (private to its user): every
``PUBLISH_SECONDS`` when they changed, once more as it stops cleanly, and each time it
answers ``/metrics``, a snapshot of its registry goes to ``<pid>.json`` (written whole,
then renamed into place, so a reader never sees half of one). When the supervisor reaps
a child, it adds that child's counters and histograms to ``stopped.json`` (one file for
every child that has exited, so a long run does not pile up files) and removes its file.

Whichever intake process answers ``/metrics`` publishes its own snapshot first, then adds
up that snapshot and every other file in the folder:

* counters and histograms: the sum over all processes, the exited ones included. Every
  process's file only grows and an answer is made of files alone, so a total never falls
  from one scrape to the next, whichever process answers, and not when a process is
  replaced (one killed with ``kill -9`` counts what it last published, at most
  ``PUBLISH_SECONDS`` old); their ``_created`` time is the earliest;
* gauges: the largest value among the running processes (a connection paused by any of
  them is paused), except those named ``fresh``, which the answering process reads at
  that moment (the queue depth): its own value, where it has one.

A reader and the supervisor's folding take a lock on the folder (``.lock``), so a child's
counts are never seen twice, nor missed, while they move to ``stopped.json``. Nothing else
is shared: publishing costs one snapshot a second, never a step per counted event.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import re
import shutil
import tempfile
import threading
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

import orjson
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.metrics_core import Metric

PUBLISH_SECONDS = 1.0
STOPPED = "stopped.json"
_LIVE = re.compile(r"(\d+)\.json")
_SUMMED = frozenset({"counter", "histogram", "summary"})

Labels = tuple[tuple[str, str], ...]
Sample = tuple[str, dict[str, str], float]
Family = tuple[str, str, str, list[Sample]]


@dataclass(frozen=True)
class Snapshot:
    """What one process published: its families as ``(name, type, help, samples)``, each
    sample ``(name, labels, value)``; ``stopped`` for the exited processes' sum."""

    families: list[Family]
    stopped: bool = False


def snapshot_of(registry: CollectorRegistry) -> bytes:
    """The JSON snapshot of everything ``registry`` holds now."""
    families = [
        [m.name, m.type, m.documentation, [[s.name, s.labels, s.value] for s in m.samples]]
        for m in registry.collect()
    ]
    return orjson.dumps(families)


def parsed(data: bytes, *, stopped: bool = False) -> Snapshot:
    """A snapshot's JSON read back; ``ValueError`` or ``TypeError`` if it is none."""
    families = [
        (str(n), str(t), str(d), [(str(s), dict(lb), float(v)) for s, lb, v in samples])
        for n, t, d, samples in orjson.loads(data)
        if all(v is not None for _, _, v in samples)
    ]
    return Snapshot(families, stopped)


class MetricsFolder:
    """The folder of one ``serve`` run where its processes publish their metrics."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._writing = threading.Lock()  # a publish collects and writes as one step
        self._written: dict[int, bytes] = {}

    @classmethod
    def create(cls) -> MetricsFolder:
        """A new private folder in the temporary folder; ``OSError`` if none can be made."""
        return cls(Path(tempfile.mkdtemp(prefix="mapwire-metrics-")))

    def remove(self) -> None:
        shutil.rmtree(self.path, ignore_errors=True)

    def publish(self, registry: CollectorRegistry, pid: int | None = None) -> Snapshot:
        """Write this process's snapshot (when it changed) and return it. A write that
        fails (a full disk) is skipped: the snapshot is still returned."""
        pid = os.getpid() if pid is None else pid
        with self._writing:
            data = snapshot_of(registry)
            if self._written.get(pid) != data:
                partial = self.path / f".{pid}.json.partial"
                try:
                    partial.write_bytes(data)
                    os.replace(partial, self.path / f"{pid}.json")
                except OSError:
                    pass
                else:
                    self._written[pid] = data
        return parsed(data)

    def retire(self, pid: int) -> None:
        """Process ``pid`` has exited: its counters and histograms join ``stopped.json``,
        its gauges no longer count, its file goes."""
        with contextlib.suppress(OSError), self._locked(fcntl.LOCK_EX):
            mine = self._read(f"{pid}.json")
            if mine is None:
                return
            before = self._read(STOPPED)
            parts = [mine] if before is None else [before, mine]
            partial = self.path / f".{STOPPED}.partial"
            partial.write_bytes(orjson.dumps(_summed(parts)))
            os.replace(partial, self.path / STOPPED)
            (self.path / f"{pid}.json").unlink()

    def peers(self, own: int | None = None, *, stopped: bool = True) -> list[Snapshot]:
        """Every running process's last snapshot but ``own``'s, and (with ``stopped``) the
        exited ones' sum. Unreadable files are skipped (a file from something else), and
        a folder that is gone has none."""
        found = []
        try:
            with self._locked(fcntl.LOCK_SH):
                for name in sorted(os.listdir(self.path)):
                    match = _LIVE.fullmatch(name)
                    if match is not None and int(match[1]) != own:
                        found.append(self._read(name))
                    elif name == STOPPED and stopped:
                        found.append(self._read(name, stopped=True))
        except OSError:
            return []
        return [snapshot for snapshot in found if snapshot is not None]

    @contextlib.contextmanager
    def _locked(self, how: int) -> Iterator[None]:
        with open(self.path / ".lock", "a") as lock:
            fcntl.flock(lock, how)
            yield  # closing the file lets the lock go

    def _read(self, name: str, *, stopped: bool = False) -> Snapshot | None:
        try:
            return parsed((self.path / name).read_bytes(), stopped=stopped)
        except (OSError, ValueError, TypeError):
            return None


def merged(own: Snapshot, peers: Iterable[Snapshot], fresh: frozenset[str]) -> list[Metric]:
    """``own`` (the answering process's snapshot) with the ``peers``' added up (see the
    module docstring)."""
    kinds: dict[str, tuple[str, str]] = {}
    values: dict[str, dict[tuple[str, Labels], float]] = {}
    owned: set[tuple[str, str, Labels]] = set()
    for snapshot in (own, *peers):
        is_own = snapshot is own
        for name, kind, documentation, samples in snapshot.families:
            kind, _ = kinds.setdefault(name, (kind, documentation))
            family = values.setdefault(name, {})
            for sample_name, labels, value in samples:
                key = (sample_name, _labels(labels))
                if kind in _SUMMED:
                    family[key] = _added(family.get(key), value, sample_name)
                elif is_own:
                    family[key] = value
                    owned.add((name, *key))
                elif not snapshot.stopped and not (name in fresh and (name, *key) in owned):
                    family[key] = max(family.get(key, value), value)
    return list(_metrics(kinds, values))


def _summed(parts: Iterable[Snapshot]) -> list[Family]:
    """The counters and histograms of ``parts`` added up; their gauges left out."""
    metrics = merged(Snapshot([]), (Snapshot(_only_summed(p)) for p in parts), frozenset())
    return [
        (m.name, m.type, m.documentation, [(s.name, s.labels, s.value) for s in m.samples])
        for m in metrics
    ]


def _only_summed(snapshot: Snapshot) -> list[Family]:
    return [family for family in snapshot.families if family[1] in _SUMMED]


def _added(current: float | None, value: float, sample_name: str) -> float:
    if current is None:
        return value
    return min(current, value) if sample_name.endswith("_created") else current + value


def _labels(labels: dict[str, str]) -> Labels:
    return tuple(sorted(labels.items()))


def _metrics(
    kinds: dict[str, tuple[str, str]], values: dict[str, dict[tuple[str, Labels], float]]
) -> Iterator[Metric]:
    for name, (kind, documentation) in kinds.items():
        metric = Metric(name, documentation, kind)
        for (sample_name, labels), value in values[name].items():
            metric.add_sample(sample_name, dict(labels), value)
        yield metric


class _Collected:
    """A collector that yields metrics already gathered."""

    def __init__(self, metrics: list[Metric]) -> None:
        self._metrics = metrics

    def collect(self) -> list[Metric]:
        return self._metrics


def render_merged(
    registry: CollectorRegistry, folder: MetricsFolder, fresh: frozenset[str] = frozenset()
) -> bytes:
    """The Prometheus text of every process publishing to ``folder``, this one's
    ``registry`` published first (see the module docstring)."""
    own = folder.publish(registry)
    combined = CollectorRegistry(auto_describe=False)
    combined.register(_Collected(merged(own, folder.peers(os.getpid()), fresh)))
    return generate_latest(combined)


def live_gauge(folder: MetricsFolder, name: str) -> dict[Labels, float]:
    """The gauge ``name`` in the other running processes: the largest value per labels."""
    found: dict[Labels, float] = {}
    for peer in folder.peers(os.getpid(), stopped=False):
        for family, _, _, samples in peer.families:
            if family == name:
                for sample_name, labels, value in samples:
                    if sample_name == name:
                        key = _labels(labels)
                        found[key] = max(found.get(key, value), value)
    return found


class Publisher:
    """Publishes ``registry`` to ``folder`` every ``every`` seconds from a thread, and
    once more on ``stop``."""

    def __init__(
        self,
        folder: MetricsFolder,
        registry: CollectorRegistry,
        every: float = PUBLISH_SECONDS,
    ) -> None:
        self.folder = folder
        self._registry = registry
        self._every = every
        self._stopped = threading.Event()
        self._thread = threading.Thread(target=self._run, name="mapwire-metrics", daemon=True)

    def start(self) -> Publisher:
        self.publish()
        self._thread.start()
        return self

    def publish(self) -> None:
        self.folder.publish(self._registry)

    def stop(self) -> None:
        self._stopped.set()
        if self._thread.is_alive():
            self._thread.join()
        self.publish()

    def _run(self) -> None:
        while not self._stopped.wait(self._every):
            self.publish()
