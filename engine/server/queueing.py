"""What a request's documents become in the queue, and the answer that says so: the parts
to queue for each connection, and the small JSON summary of what was queued, skipped and
held back. Shared by the serving process and the helper that takes heavy bodies.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ..contracts.endpoint import Documents
from ..contracts.errors import InputError, IntakeUnavailable
from ..runtime.pipeline import Pipeline
from ..runtime.submissions import IntakeReport, Part, skips_of

#: at most this many documents, and reasons per document, in an answer's ``not_delivered``
MAX_HELD_DOCUMENTS = 100
MAX_REASONS = 10


def require_readers(pipeline: Pipeline, source: str, only: str | None = None) -> None:
    """Refuse (404) input that no enabled connection reads."""
    if not pipeline.connections_for(source, only):
        what = f"connection {only!r}" if only else "enabled connection"
        raise InputError(f"no {what} reads {source}", status=404, code="no_connection")


def parts_for(
    pipeline: Pipeline, found: Sequence[Documents], only: Sequence[str] | None
) -> list[Part]:
    """What to queue for a request's documents: for every enabled connection reading their
    source (404 if none does), or, with ``only``, for just those connections (each gets the
    documents of the sources its flow reads)."""
    if only is None:
        for documents in found:
            require_readers(pipeline, documents.source)
        return [Part(d.source, d.documents) for d in found]
    reading = {c.name: c for c in pipeline.config.connections if c.enabled}
    if any(name not in reading for name in only):
        # Verified for a connection the config mapping it no longer runs (a reload between
        # the two): answered 503, so the sender sends it again, never a 2xx that drops it.
        raise IntakeUnavailable(
            "the connection this request was verified for changed meanwhile; send it again",
            code="connection_changed",
            retry_after=5,
        )
    return [
        Part(d.source, d.documents, only=name)
        for name in only
        for d in found
        if d.source in reading[name].plan.sources
    ]


def summary(report: IntakeReport) -> dict[str, Any]:
    """The small JSON answer to an accepted request."""
    answer: dict[str, Any] = {
        "status": "accepted",
        "documents": report.documents,
        "queued": report.queued,
        "skipped": dict(skips_of(report.connections.values())),
        "errors": len(report.errors),
    }
    held = not_delivered(report)
    if held:
        answer["not_delivered"] = held
    return answer


def not_delivered(report: IntakeReport) -> list[dict[str, Any]]:
    """Per document and connection, how many of its items will not be delivered and why
    (kept as ``mapping`` dead letters for replay); reasons never quote a value."""
    return [
        {
            "document": index,
            "connection": name,
            "items": len(reasons),
            "reasons": reasons[:MAX_REASONS],
        }
        for name, part in report.connections.items()
        for index, reasons in sorted(part.held.items())
    ][:MAX_HELD_DOCUMENTS]
