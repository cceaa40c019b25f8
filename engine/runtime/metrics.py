"""Counters for what the pipeline does, exposed in Prometheus format by ``serve``.

One ``Metrics`` object per process (never the client library's global registry, so tests
and embedded uses stay isolated). Every counter is labelled by connection; the hot paths
increment once per batch, not per event. ``snapshot()`` gives plain numbers for the
``send`` summary and the tests.
"""

from __future__ import annotations

from bisect import bisect_left
from collections import defaultdict
from collections.abc import Sequence
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        self.received = Counter(
            "mapwire_received_documents", "Input documents received.", ["source"], registry=r
        )
        self.mapped = Counter(
            "mapwire_mapped_actions", "Actions produced and queued.", ["connection"], registry=r
        )
        self.skipped = Counter(
            "mapwire_skipped_items",
            "Items skipped on purpose.",
            ["connection", "reason"],
            registry=r,
        )
        self.item_errors = Counter(
            "mapwire_item_errors", "Items that failed to map.", ["connection"], registry=r
        )
        self.mapping_failures = Counter(
            "mapwire_mapping_failures",
            "Items that failed to map, kept for mapwire dlq replay.",
            ["connection", "rule"],
            registry=r,
        )
        self.delivered = Counter(
            "mapwire_delivered_actions",
            "Actions the destination accepted.",
            ["connection"],
            registry=r,
        )
        self.retried = Counter(
            "mapwire_retried_actions",
            "Actions scheduled for another attempt.",
            ["connection"],
            registry=r,
        )
        self.held = Counter(
            "mapwire_held_actions",
            "Actions held back a while after their person's earlier ones (send_delay).",
            ["connection"],
            registry=r,
        )
        self.dead_lettered = Counter(
            "mapwire_dead_lettered_actions",
            "Actions that failed for good.",
            ["connection"],
            registry=r,
        )
        self.erased = Counter(
            "mapwire_erased_claimed_actions",
            "Claimed actions deleted when settled, instead of retried, held or dead-lettered:"
            " their person was erased meanwhile (not those of a worker that died).",
            ["connection"],
            registry=r,
        )
        self.repaired = Counter(
            "mapwire_repaired_fields",
            "Fields a destination repaired (cut, left out, unit corrected) in delivered items.",
            ["connection", "reason"],
            registry=r,
        )
        self.requests = Counter(
            "mapwire_destination_requests",
            "HTTP requests sent.",
            ["connection", "status"],
            registry=r,
        )
        self.queue_depth = Gauge(
            "mapwire_queue_depth", "Actions waiting in the queue.", ["connection"], registry=r
        )
        self.connection_paused = Gauge(
            "mapwire_connection_paused",
            "1 while delivery for a connection is paused (reason: credentials_refused).",
            ["connection", "reason"],
            registry=r,
        )
        self.latency = Histogram(
            "mapwire_delivery_latency_seconds",
            "Time from queueing to delivery.",
            ["connection"],
            buckets=(0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 3600),
            registry=r,
        )
        self._counts: dict[str, float] = defaultdict(float)
        self._skips: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
        self._repairs: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
        self._endpoints: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
        self._children: dict[tuple[str, ...], Any] = {}

    def _child(self, metric: str, *labels: str) -> Any:
        """``labels(...)`` of the metric named ``metric``, looked up once per label values:
        the lookup takes a lock and a join, and intake and delivery count per request."""
        key = (metric, *labels)
        child = self._children.get(key)
        if child is None:
            child = self._children[key] = getattr(self, metric).labels(*labels)
        return child

    def receive(self, source: str, n: int) -> None:
        """Count ``n`` input documents of ``source``."""
        self._child("received", source).inc(n)

    def count(self, what: str, connection: str, n: float = 1) -> None:
        """Increment one of the per-connection counters by ``n``."""
        if n:
            self._child(what, connection).inc(n)
            self._counts[f"{what}:{connection}"] += n

    def skip(self, connection: str, reason: str, n: int = 1) -> None:
        self._child("skipped", connection, reason).inc(n)
        self._skips[connection][reason] += n

    def repair(self, connection: str, reasons: dict[str, int]) -> None:
        """Count repaired fields by reason."""
        for reason, n in reasons.items():
            self._child("repaired", connection, reason).inc(n)
            self._repairs[connection][reason] += n

    def mapping_failure(self, connection: str, rule: str, n: int = 1) -> None:
        self._child("mapping_failures", connection, rule).inc(n)

    def request(self, connection: str, status: str, endpoint: str = "") -> None:
        self._child("requests", connection, status).inc()
        self._counts[f"requests:{connection}"] += 1
        if endpoint:
            self._endpoints[connection][endpoint] += 1

    def snapshot(self, connection: str) -> dict[str, Any]:
        keys = ("mapped", "item_errors", "delivered", "retried", "dead_lettered", "requests")
        out: dict[str, Any] = {k: int(self._counts[f"{k}:{connection}"]) for k in keys}
        out["skipped"] = dict(self._skips[connection])
        out["repaired"] = dict(self._repairs[connection])
        out["endpoints"] = dict(self._endpoints[connection])
        return out

    def render(self) -> bytes:
        return generate_latest(self.registry)


def observe_all(histogram: Any, values: Sequence[float]) -> None:
    """``histogram.observe(v)`` for every value, as one update per bucket touched when it
    is prometheus_client's own histogram (the same counts and sum); one by one otherwise."""
    bounds = getattr(histogram, "_upper_bounds", None)
    own = type(histogram).observe is Histogram.observe
    private = hasattr(histogram, "_buckets") and hasattr(histogram, "_sum")
    if not own or bounds is None or not private or len(values) < 2:
        for value in values:
            histogram.observe(value)
        return
    counts: dict[int, int] = {}
    for value in values:  # observe counts a value in the first bucket whose bound >= it
        index = bisect_left(bounds, value)
        counts[index] = counts.get(index, 0) + 1
    histogram._sum.inc(sum(values))
    for index, n in counts.items():
        histogram._buckets[index].inc(n)
