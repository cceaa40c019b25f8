"""Customer.io reporting webhooks for tests (shared across folders)."""

from __future__ import annotations

from typing import Any


def reporting_webhook(event_id: str, metric: str = "opened", person: str = "p1") -> dict[str, Any]:
    """An email event of ``person``: ``metric`` (``sent``, ``opened``, ...) at a fixed time."""
    return {
        "event_id": event_id,
        "object_type": "email",
        "metric": metric,
        "timestamp": 1_713_484_800,
        "data": {
            "delivery_id": f"d-{event_id}",
            "identifiers": {"id": person},
            "recipient": "a@example.com",
            "subject": "s",
        },
    }
