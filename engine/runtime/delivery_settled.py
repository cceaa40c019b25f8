"""What a deliverer's step settled (``Settled``), and when an item to be retried may go
again (``backoff``): the counts a step reports and the one timing rule of its retries."""

from __future__ import annotations

import random
from dataclasses import dataclass

BASE_BACKOFF_SECONDS = 1.0


def backoff(attempts: int, retry_after: float | None, max_backoff: float) -> float:
    """Exponential backoff with full jitter, never sooner than the vendor's Retry-After."""
    ceiling = min(max_backoff, BASE_BACKOFF_SECONDS * (2 ** min(attempts, 20)))
    delay = random.uniform(ceiling / 2, ceiling)
    if retry_after is not None:
        delay = max(retry_after, min(delay, retry_after + 1.0))
    return delay


@dataclass
class Settled:
    delivered: int = 0
    retried: int = 0
    dead_lettered: int = 0
    requests: int = 0
    held: int = 0
    """Entries given back to wait after their person's earlier ones (``send_delay``)."""
    claimed: int = 0
    """Entries the step's claim took (``claim_limit`` of them: a backlog)."""
    erased: int = 0
    """Entries retried, released or dead-lettered that the queue deleted instead, their
    person erased while claimed (``Queue.drop_person``): counted here only."""
