"""A small Language Server Protocol client over a subprocess's stdio: Content-Length
framed JSON-RPC, requests matched to responses by id, notifications kept in order."""

from __future__ import annotations

import json
import queue
import subprocess
import threading
from pathlib import Path
from typing import IO, Any

WAIT_SECONDS = 30


def read_message(stream: IO[bytes]) -> dict[str, Any] | None:
    """One framed message, or None at the end of the stream."""
    length = None
    while True:
        line = stream.readline()
        if not line:
            return None
        if line in (b"\r\n", b"\n"):
            break
        name, _, value = line.decode("ascii").partition(":")
        if name.strip().lower() == "content-length":
            length = int(value.strip())
    assert length is not None, "a message without Content-Length"
    message: dict[str, Any] = json.loads(stream.read(length))
    return message


class LspClient:
    """Talks to ``command`` (a language server on stdio)."""

    def __init__(self, command: list[str], cwd: Path) -> None:
        self.process = subprocess.Popen(
            command,
            cwd=cwd,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        self.next_id = 0
        self.pending: list[dict[str, Any]] = []
        self.messages: queue.Queue[dict[str, Any] | None] = queue.Queue()
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        while (message := read_message(self.process.stdout)) is not None:
            self.messages.put(message)
        self.messages.put(None)

    def send(self, message: dict[str, Any]) -> None:
        body = json.dumps({"jsonrpc": "2.0", **message}).encode()
        assert self.process.stdin is not None
        self.process.stdin.write(b"Content-Length: %d\r\n\r\n" % len(body) + body)
        self.process.stdin.flush()

    def notify(self, method: str, params: dict[str, Any] | None = None) -> None:
        self.send({"method": method, **({"params": params} if params is not None else {})})

    def request(self, method: str, params: dict[str, Any] | None = None) -> Any:
        """Send a request and return its result (server requests are answered with null,
        notifications that arrive meanwhile are kept for ``notification``)."""
        self.next_id += 1
        ident = self.next_id
        self.send({"id": ident, "method": method, "params": params})
        while True:
            message = self._next()
            if message.get("id") == ident and "method" not in message:
                assert "error" not in message, message["error"]
                return message.get("result")
            self._keep(message)

    def notification(self, method: str, where: str | None = None) -> dict[str, Any]:
        """The params of the next notification ``method`` (about document ``where``)."""
        for i, kept in enumerate(self.pending):
            if kept["method"] == method and where in (None, kept["params"].get("uri")):
                del self.pending[i]
                return dict(kept["params"])
        while True:
            message = self._next()
            if message.get("method") == method and where in (None, message["params"].get("uri")):
                return dict(message["params"])
            self._keep(message)

    def _keep(self, message: dict[str, Any]) -> None:
        if "id" in message and "method" in message:  # a request from the server
            self.send({"id": message["id"], "result": None})
        elif "method" in message:
            self.pending.append(message)

    def _next(self) -> dict[str, Any]:
        try:
            message = self.messages.get(timeout=WAIT_SECONDS)
        except queue.Empty:
            raise AssertionError(f"no message from the server in {WAIT_SECONDS}s") from None
        if message is None:
            assert self.process.stderr is not None
            raise AssertionError("the server closed: " + self.process.stderr.read().decode())
        return message

    def close(self) -> int:
        """shutdown, exit, and the server's exit code (once it has exited)."""
        if self.process.poll() is None:
            self.request("shutdown")
            self.notify("exit")
        code = self.process.wait(timeout=WAIT_SECONDS)
        self.reader.join(timeout=WAIT_SECONDS)
        for stream in (self.process.stdin, self.process.stdout, self.process.stderr):
            if stream is not None:
                stream.close()
        return code
