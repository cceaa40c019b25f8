"""``/metrics`` for all of ``serve``'s processes at once (``--workers N --deliverers M``).

Each child process keeps its own metrics, as a single ``serve`` does, and publishes them to
a folder the supervisor made for this run: every ``PUBLISH_SECONDS``, and once more as it
stops cleanly, a snapshot of its registry goes to ``<pid>.json`` (written whole, then
renamed into place, so a reader never sees half of one). When the supervisor reaps a
child, it renames that child's file to ``<pid>.stopped.json``.

Whichever intake process answers ``/metrics`` adds up its own live metrics and every
snapshot in the folder:

* counters and histograms: the sum over all processes, the stopped ones included, so a
  total never falls when a process is replaced (a process killed with ``kill -9`` counts
  what it published, at most ``PUBLISH_SECONDS`` old); their ``_created`` time is the
  earliest;
* gauges: the answering process's own value where it has one (the queue depth, read
  at that moment), else the largest among the processes still running (a connection
  paused by any deliverer is paused).

Nothing is shared between the processes but these files: publishing costs one snapshot a
second, never a step per counted event.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import tempfile
import threading
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

import orjson
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.metrics_core import Metric

PUBLISH_SECONDS = 1.0
_FILE = re.compile(r"(\d+)(\.stopped)?\.json")
_SUMMED = frozenset({"counter", "histogram", "summary"})

Labels = tuple[tuple[str, str], ...]


@dataclass(frozen=True)
class Snapshot:
    """What one process published: its families as ``(name, type, help, samples)``, each
    sample ``(name, labels, value)``; ``stopped`` once the process has exited."""

    families: list[tuple[str, str, str, list[tuple[str, dict[str, str], float]]]]
    stopped: bool


def snapshot_of(registry: CollectorRegistry) -> bytes:
    """The JSON snapshot of everything ``registry`` holds now."""
    families = [
        [m.name, m.type, m.documentation, [[s.name, s.labels, s.value] for s in m.samples]]
        for m in registry.collect()
    ]
    return orjson.dumps(families)


class MetricsFolder:
    """The folder of one ``serve`` run where its processes publish their metrics."""

    def __init__(self, path: Path) -> None:
        self.path = path

    @classmethod
    def create(cls) -> MetricsFolder:
        return cls(Path(tempfile.mkdtemp(prefix="mapwire-metrics-")))

    def remove(self) -> None:
        shutil.rmtree(self.path, ignore_errors=True)

    def publish(self, registry: CollectorRegistry, pid: int | None = None) -> None:
        """Write this process's snapshot (whole, then renamed into place)."""
        pid = os.getpid() if pid is None else pid
        partial = self.path / f".{pid}.json.partial"
        partial.write_bytes(snapshot_of(registry))
        os.replace(partial, self.path / f"{pid}.json")

    def retire(self, pid: int) -> None:
        """Process ``pid`` has exited: its counts stay, its gauges no longer count."""
        with contextlib.suppress(FileNotFoundError):
            os.replace(self.path / f"{pid}.json", self.path / f"{pid}.stopped.json")

    def peers(self, own: int | None = None) -> list[Snapshot]:
        """Every process's last snapshot but ``own``'s live one; unreadable files are
        skipped (a file from something else, a disk error)."""
        found = []
        for name in sorted(os.listdir(self.path)):
            match = _FILE.fullmatch(name)
            if match is None or (int(match[1]) == own and not match[2]):
                continue
            snapshot = self._read(name, stopped=bool(match[2]))
            if snapshot is None and not match[2]:  # retired meanwhile: read it there
                snapshot = self._read(f"{match[1]}.stopped.json", stopped=True)
            if snapshot is not None:
                found.append(snapshot)
        return found

    def _read(self, name: str, *, stopped: bool) -> Snapshot | None:
        try:
            families = orjson.loads((self.path / name).read_bytes())
            parsed = [
                (str(n), str(t), str(d), [(str(s), dict(lb), float(v)) for s, lb, v in samples])
                for n, t, d, samples in families
                if all(v is not None for _, _, v in samples)
            ]
        except (OSError, ValueError, TypeError):
            return None
        return Snapshot(parsed, stopped)


def merged(own: Iterable[Metric], peers: Iterable[Snapshot]) -> list[Metric]:
    """``own`` (this process's live metrics) with the ``peers``' snapshots added up (see
    the module docstring)."""
    kinds: dict[str, tuple[str, str]] = {}
    values: dict[str, dict[tuple[str, Labels], float]] = {}
    for metric in own:
        kinds.setdefault(metric.name, (metric.type, metric.documentation))
        family = values.setdefault(metric.name, {})
        for sample in metric.samples:
            family[(sample.name, _labels(sample.labels))] = sample.value
    owned = {name: set(family) for name, family in values.items()}
    for peer in peers:
        for name, kind, documentation, samples in peer.families:
            kind, _ = kinds.setdefault(name, (kind, documentation))
            family = values.setdefault(name, {})
            mine = owned.get(name, set())
            for sample_name, labels, value in samples:
                key = (sample_name, _labels(labels))
                if kind in _SUMMED:
                    family[key] = _added(family.get(key), value, sample_name)
                elif not peer.stopped and key not in mine:
                    family[key] = max(family.get(key, value), value)
    return list(_metrics(kinds, values))


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


def live_gauge(folder: MetricsFolder, name: str) -> dict[Labels, float]:
    """The gauge ``name`` in the other running processes: the largest value per labels."""
    found: dict[Labels, float] = {}
    for peer in folder.peers(os.getpid()):
        if peer.stopped:
            continue
        for family, _, _, samples in peer.families:
            if family == name:
                for sample_name, labels, value in samples:
                    if sample_name == name:
                        key = _labels(labels)
                        found[key] = max(found.get(key, value), value)
    return found


def render_merged(registry: CollectorRegistry, folder: MetricsFolder) -> bytes:
    """The Prometheus text of ``registry`` with every other process's snapshot added."""
    combined = CollectorRegistry(auto_describe=False)
    combined.register(_Collected(merged(registry.collect(), folder.peers(os.getpid()))))
    return generate_latest(combined)


class Publisher:
    """Publishes ``registry()`` to ``folder`` every ``every`` seconds from a thread, and
    once more on ``stop``."""

    def __init__(
        self,
        folder: MetricsFolder,
        registry: Callable[[], CollectorRegistry],
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
        with contextlib.suppress(OSError):  # a full disk must not stop the process
            self.folder.publish(self._registry())

    def stop(self) -> None:
        self._stopped.set()
        if self._thread.is_alive():
            self._thread.join()
        self.publish()

    def _run(self) -> None:
        while not self._stopped.wait(self._every):
            self.publish()
