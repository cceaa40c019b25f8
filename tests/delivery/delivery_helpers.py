"""Helpers for end-to-end delivery tests: a config file pointing at the contract servers,
event generators, and a way to run ``mapwire`` as a subprocess."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

MAPPINGS = Path(__file__).resolve().parents[2] / "mappings"


def write_config(
    tmp_path: Path,
    connections: list[dict[str, Any]],
    *,
    delivery: dict[str, Any] | None = None,
) -> Path:
    config = {
        "mapwire": 1,
        "store": "sqlite:///state.db",
        "delivery": {
            "retry_window_hours": 1,
            "max_backoff_seconds": 2,
            # Generous: under a loaded CI machine a validated batch can take over a second,
            # and a timed-out request is resent (a duplicate the vendor stand-in records).
            "timeout_seconds": 10,
            "lease_seconds": 20,
            **(delivery or {}),
        },
        "connections": connections,
    }
    path = tmp_path / "mapwire.yaml"
    path.write_text(json.dumps(config, indent=2))
    return path


def cio_connection(
    server: Any, name: str = "cio", *, settings: dict[str, Any] | None = None, **extra: Any
) -> dict[str, Any]:
    """A connection to the Customer.io stand-in ``server``: the shipped events flow unless
    ``extra`` names another ``flow``; ``settings`` adds to the destination's."""
    return {
        "name": name,
        "flow": "mparticle-events-to-customerio",
        "destination": {
            "site_id": server.site_id,
            "api_key": {"env": "TEST_CIO_API_KEY"},
            "base_url": server.origin,
            **(settings or {}),
        },
        **extra,
    }


def mp_connection(server: Any, name: str = "mp", **extra: Any) -> dict[str, Any]:
    return {
        "name": name,
        "flow": "customerio-activity-to-mparticle",
        "destination": {
            "api_key": server.api_key,
            "api_secret": {"env": "TEST_MP_API_SECRET"},
            "base_url": server.base_url,
        },
        **extra,
    }


def batches(n_users: int, events_per_user: int = 9, *, prefix: str = "u") -> list[dict[str, Any]]:
    """Events API batches: one user each, custom events with unique ids."""
    out = []
    for u in range(n_users):
        events = [
            {
                "event_type": "custom_event",
                "data": {
                    "event_name": f"Event {e % 3}",
                    "source_message_id": f"{prefix}-{u}-{e}",
                    "timestamp_unixtime_ms": 1_713_484_800_000 + u * 1000 + e,
                    "custom_attributes": {"n": str(e)},
                },
            }
            for e in range(events_per_user)
        ]
        out.append(
            {
                "environment": "production",
                "user_identities": {
                    "customer_id": f"{prefix}-{u}",
                    "email": f"{prefix}{u}@example.com",
                },
                "user_attributes": {"$FirstName": "Ann", "plan": "pro"},
                "events": events,
            }
        )
    return out


def write_ndjson(path: Path, docs: list[Any]) -> Path:
    path.write_text("".join(json.dumps(d) + "\n" for d in docs))
    return path


def run_subprocess(
    args: list[str], *, env: dict[str, str], cwd: Path, timeout: float = 120
) -> subprocess.Popen[str]:
    exe = Path(sys.executable).parent / "mapwire"
    return subprocess.Popen(
        [str(exe), *args],
        cwd=cwd,
        env={**os.environ, **env},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def event_ids(server: Any) -> list[str]:
    """Customer.io event/screen/page ids the server accepted (duplicates absorbed)."""
    return [
        item["id"]
        for item in server.accepted_items("POST /api/v2/batch")
        if item.get("action") in ("event", "screen", "page") and "id" in item
    ]
