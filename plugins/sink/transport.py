"""``SinkTransport``: an httpx transport that writes requests to NDJSON and answers 200."""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path
from typing import Any

import httpx

_REDACTED_HEADERS = {"authorization", "cookie", "x-api-key"}


class SinkTransport(httpx.AsyncBaseTransport):
    """Records every request (headers redacted) as one JSON line per request."""

    def __init__(self, directory: str, options: dict[str, Any] | None = None) -> None:
        self.directory = Path(directory)
        self.directory.mkdir(parents=True, exist_ok=True)
        self.status = int((options or {}).get("status", 200))
        self._lock = threading.Lock()

    def file_for(self, request: httpx.Request) -> Path:
        host = request.url.host or "local"
        return self.directory / f"{host}.ndjson"

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        body = await request.aread()
        try:
            parsed: Any = json.loads(body) if body else None
        except ValueError:
            parsed = body.decode("utf-8", "replace")
        record = {
            "time": round(time.time(), 3),
            "method": request.method,
            "url": str(request.url.copy_with(username=None, password=None)),
            "headers": {
                k: ("[redacted]" if k.lower() in _REDACTED_HEADERS else v)
                for k, v in request.headers.items()
            },
            "body": parsed,
        }
        line = json.dumps(record, ensure_ascii=False, separators=(",", ":")) + "\n"
        with self._lock, self.file_for(request).open("a", encoding="utf-8") as out:
            out.write(line)
        return httpx.Response(self.status, json={}, request=request)
