"""A connection whose credentials the vendor refuses (401/403) is paused, not drained.

A refused key is usually a brief problem (a key being rotated, a permission changed a
minute ago), and the queued items are not at fault, so delivery gives them back to the
queue untouched and tries the credentials again with exponential backoff: 5 s, doubling,
up to ``delivery.max_backoff_seconds`` (5 min by default). Nothing newer is sent in the
meantime, so a person's actions stay in order. The first response that is not a refusal
resumes the connection. Only when the vendor has kept refusing for
``delivery.credentials_hold_minutes`` (default 60) are the items tried dead-lettered, with
the reason ``credentials refused for N minutes``, each try's alone: the connection stays
paused between tries, so the queue is never drained into the dead letters; the hold is
counted by the running process from its first refusal.

While paused the connection is visible: ``mapwire_connection_paused{connection,reason}``
is 1, ``serve``'s ``/readyz`` names it, and one log line is written when it pauses and
one when it resumes (naming the connection and the vendor's status, never a key).
"""

from __future__ import annotations

import logging
from typing import Any

import httpx

from ..contracts.destination import OutboundRequest, PreparedItem
from ..contracts.queue import Failure, QueueEntry
from .delivery_failures import delivery_failure
from .metrics import Metrics
from .redaction import Redactor

BASE_SECONDS = 5.0
REASON = "credentials_refused"

logger = logging.getLogger("mapwire.delivery")


class CredentialsPause:
    """The credentials state of one connection's deliverer."""

    def __init__(
        self, connection: str, metrics: Metrics, *, hold_seconds: float, max_backoff: float
    ) -> None:
        self.connection = connection
        self.hold_seconds = hold_seconds
        self.max_backoff = max_backoff
        self.since: float | None = None
        self.detail = ""
        self._tries = 0
        self._gauge = metrics.connection_paused

    @property
    def paused(self) -> bool:
        return self.since is not None

    def refused(self, now: float, detail: str) -> tuple[float, bool]:
        """The vendor refused the credentials: when to try again, and whether the hold has
        run out (the caller then dead-letters what it tried; the connection stays paused,
        so the rest of the queue is tried one claim at a time, not drained)."""
        if self.since is None:
            self.since, self._tries = now, 0
            self._gauge.labels(self.connection, REASON).set(1)
            _log("connection_paused", self.connection, detail)
        self.detail = detail
        delay: float = min(self.max_backoff, BASE_SECONDS * 2.0 ** min(self._tries, 20))
        self._tries += 1
        return now + delay, now - self.since >= self.hold_seconds

    def refused_items(
        self,
        now: float,
        detail: str,
        sent: OutboundRequest,
        refused: list[PreparedItem],
        failed: list[tuple[QueueEntry, Failure]],
        response: httpx.Response | None,
        redact: Redactor,
        answer: dict[str, Any],
    ) -> tuple[float, list[Any]]:
        """``refused`` for the items of ``sent`` the vendor refused the credentials for:
        when to try again, and the ids of the items to give back untouched until then; none
        once the hold has run out: they are added to ``failed``, to be dead-lettered."""
        at, give_up = self.refused(now, detail)
        if not give_up:
            return at, [item.key.id for item in refused]
        why = self.dead_letter_reason()
        failed.extend(
            (item.key, delivery_failure(why, sent, item, response, redact, answer))
            for item in refused
        )
        return at, []

    def accepted(self) -> None:
        """A response that is not a refusal: the credentials work again."""
        if self.since is None:
            return
        self.since = None
        self._gauge.labels(self.connection, REASON).set(0)
        _log("connection_resumed", self.connection, "")

    def dead_letter_reason(self) -> str:
        minutes = f"{self.hold_seconds / 60:g}"
        return f"credentials refused for {minutes} minutes; last answer: {self.detail}"

    def describe(self) -> str:
        """Why the connection is paused, fit for ``/readyz`` (no secrets)."""
        return f"credentials refused ({self.detail}); items kept queued"


def _log(event: str, connection: str, detail: str) -> None:
    fields = {"connection": connection, "reason": REASON}
    if detail:
        fields["detail"] = detail
    logger.warning(event, extra={"mapwire_fields": fields})
