"""Running the installed ``mapwire`` script as a user would: a subprocess, in a folder of
the test's own, with no ``MAPWIRE_*`` variable leaking in from the test environment."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

SCRIPT = shutil.which("mapwire", path=str(Path(sys.executable).parent)) or "mapwire"


def clean_env(extra: Mapping[str, str] | None = None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MAPWIRE_")}
    return {**env, **(extra or {})}


def mapwire(
    *args: str,
    cwd: Path,
    env: Mapping[str, str] | None = None,
    stdin: str | None = None,
    timeout: float = 60,
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [SCRIPT, *args],
        cwd=cwd,
        env=clean_env(env),
        input=stdin,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def start(*args: str, cwd: Path, env: Mapping[str, str] | None = None) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [SCRIPT, *args],
        cwd=cwd,
        env=clean_env(env),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def sink_config(folder: Path, name: str = "mapwire.yaml", store: str = "state.db") -> Path:
    """A config with one Customer.io events connection delivering into a local sink."""
    config = {
        "mapwire": 1,
        "store": f"sqlite:///{store}",
        "connections": [
            {
                "name": "cio-events",
                "flow": "mparticle-events-to-customerio",
                "destination": {"site_id": "site", "api_key": "key"},
                "transport": "sink:delivered",
            }
        ],
    }
    path = folder / name
    path.write_text(json.dumps(config, indent=2))
    return path


def events_batch(user: str, events: int) -> dict[str, Any]:
    """One Events API batch: one user, ``events`` custom events with unique ids."""
    return {
        "user_identities": {"customer_id": user},
        "events": [
            {
                "event_type": "custom_event",
                "data": {
                    "event_name": "Played",
                    "source_message_id": f"{user}-{e}",
                    "timestamp_unixtime_ms": 1_713_484_800_000 + e,
                },
            }
            for e in range(events)
        ],
    }


def cio_config(folder: Path, server: Any, **delivery: Any) -> Path:
    """A config with one connection, ``cio``, to the Customer.io contract server."""
    config = {
        "mapwire": 1,
        "store": "sqlite:///state.db",
        "delivery": {
            "retry_window_hours": 1,
            "max_backoff_seconds": 1,
            "timeout_seconds": 2,
            "lease_seconds": 4,
            **delivery,
        },
        "connections": [
            {
                "name": "cio",
                "flow": "mparticle-events-to-customerio",
                "destination": {
                    "site_id": server.site_id,
                    "api_key": server.api_key,
                    "base_url": server.origin,
                },
            }
        ],
    }
    path = folder / "mapwire.yaml"
    path.write_text(json.dumps(config, indent=2))
    return path


def write_ndjson(path: Path, docs: list[Any]) -> Path:
    path.write_text("".join(json.dumps(d) + "\n" for d in docs))
    return path


def progress_lines(stderr: str) -> list[str]:
    """The progress lines of ``mapwire send`` (not on a terminal: one per line)."""
    return [line for line in stderr.splitlines() if line.strip()[:1].isdigit() and "docs" in line]
