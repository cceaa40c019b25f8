"""The installed ``mapwire playground`` as a real process on a free loopback port, with a
config whose Customer.io connection holds a sentinel API key (so a test can prove it is
never shown) and a save folder of its own."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx

MAPWIRE = Path(sys.executable).parent / "mapwire"
API_KEY = "cio-api-key-SENTINEL-4b7e19"
SITE_ID = "site-SENTINEL-77"
MAPPINGS = Path(__file__).resolve().parents[2] / "mappings"


@dataclass(frozen=True)
class Running:
    url: str
    save_dir: Path


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def write_config(folder: Path) -> Path:
    config = {
        "mapwire": 1,
        "store": "sqlite:///state.db",
        "connections": [
            {
                "name": "events-to-cio",
                "flow": "mparticle-events-to-customerio",
                "destination": {"site_id": SITE_ID, "api_key": API_KEY},
            }
        ],
    }
    path = folder / "mapwire.yaml"
    path.write_text(json.dumps(config))
    return path


@contextmanager
def playground(folder: Path) -> Iterator[Running]:
    """Start the playground (config and save folder under ``folder``), stop it after."""
    save_dir = folder / "saved"
    port = free_port()
    process = subprocess.Popen(
        [
            str(MAPWIRE),
            "playground",
            "--port",
            str(port),
            "--config",
            str(write_config(folder)),
            "--save-dir",
            str(save_dir),
        ],
        cwd=folder,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                httpx.get(f"{url}/api/catalog", timeout=2)
                break
            except httpx.TransportError:
                if process.poll() is not None or time.monotonic() > deadline:
                    out = process.stdout.read() if process.stdout else ""
                    raise RuntimeError(f"mapwire playground did not start: {out}") from None
                time.sleep(0.1)
        yield Running(url, save_dir)
    finally:
        process.terminate()
        process.communicate(timeout=15)
