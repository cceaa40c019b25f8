"""The HTTP/1.1 transport of the contract servers: a threaded listener on 127.0.0.1.

Every connection gets its own thread (``ThreadingHTTPServer``) and is kept alive across
requests. The listener reads each request (``Content-Length`` or chunked), hands it to its
owner's ``respond`` and writes the :class:`Reply`, or closes the connection unanswered
when ``respond`` returns None. It tracks open connections so that closing the server can
cut them, which lets every handler thread finish and be joined.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import json
import socket
import socketserver
import sys
import threading
import traceback
from collections.abc import Mapping
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Final, Protocol

HOST: Final = "127.0.0.1"
MAX_BODY_BYTES: Final = 32 * 1024 * 1024
"""Larger bodies are refused with 413 and the connection is closed."""
IDLE_TIMEOUT: Final = 30.0
"""Seconds a kept-alive connection may sit idle before the server closes it."""


@dataclass(frozen=True)
class Request:
    """One parsed HTTP request, as :meth:`VendorServer.handle` sees it."""

    method: str
    path: str
    query: str
    headers: Mapping[str, str]
    """Header names in lower case."""
    body: bytes


@dataclass(frozen=True)
class Reply:
    """One HTTP response."""

    status: int
    body: bytes = b""
    headers: Mapping[str, str] = field(default_factory=dict)

    @classmethod
    def json(cls, status: int, document: Any, headers: Mapping[str, str] | None = None) -> Reply:
        """A response with a JSON body."""
        content = json.dumps(document, separators=(",", ":")).encode("utf-8")
        return cls(status, content, {"Content-Type": "application/json", **(headers or {})})


def basic_credentials(header: str | None) -> tuple[str, str] | None:
    """``(user, password)`` from a Basic ``Authorization`` header; None if absent or malformed."""
    if not header:
        return None
    scheme, _, token = header.strip().partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        decoded = base64.b64decode(token.strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        return None
    user, colon, password = decoded.partition(":")
    return (user, password) if colon else None


class Responder(Protocol):
    """What a :class:`Listener` serves for."""

    def respond(self, request: Request) -> Reply | None:
        """The answer to one request; None to close the connection without one."""
        ...

    def note_error(self, text: str) -> None:
        """Record a failure inside the server."""
        ...


class _BadFraming(Exception):
    """The request's body framing (length or chunks) cannot be read."""


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "contract-server"
    sys_version = ""
    disable_nagle_algorithm = True
    timeout = IDLE_TIMEOUT
    server: Listener

    def do_GET(self) -> None:
        self._serve()

    do_POST = do_PUT = do_DELETE = do_PATCH = do_HEAD = do_OPTIONS = do_GET

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: the server keeps its own records."""

    def _read_body(self) -> bytes:
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            return self._read_chunks()
        length = self.headers.get("Content-Length")
        if length is None:
            return b""
        try:
            size = int(length)
        except ValueError as exc:
            raise _BadFraming from exc
        if not 0 <= size <= MAX_BODY_BYTES:
            raise _BadFraming
        data = self.rfile.read(size)
        if len(data) != size:
            raise ConnectionError("the client closed the connection mid-body")
        return data

    def _read_chunks(self) -> bytes:
        chunks: list[bytes] = []
        total = 0
        while True:
            line = self.rfile.readline(65537)
            try:
                size = int(line.split(b";", 1)[0].strip(), 16)
            except ValueError as exc:
                raise _BadFraming from exc
            if size == 0:
                while self.rfile.readline(65537) not in (b"\r\n", b"\n", b""):
                    pass
                return b"".join(chunks)
            total += size
            if total > MAX_BODY_BYTES:
                raise _BadFraming
            chunks.append(self.rfile.read(size))
            self.rfile.readline(3)

    def _serve(self) -> None:
        try:
            body = self._read_body()
        except _BadFraming:
            self.close_connection = True
            self._write(Reply(413 if self.headers.get("Content-Length") else 400), close=True)
            return
        except (ConnectionError, TimeoutError):
            self.close_connection = True
            return
        path, _, query = self.path.partition("?")
        headers = {name.lower(): value for name, value in self.headers.items()}
        request = Request(self.command, path, query, headers, body)
        reply = self.server.owner.respond(request)
        if reply is None:
            self._drop()
        else:
            self._write(reply)

    def _drop(self) -> None:
        self.close_connection = True
        with contextlib.suppress(OSError):
            self.connection.shutdown(socket.SHUT_RDWR)

    def _write(self, reply: Reply, close: bool = False) -> None:
        try:
            self.send_response(reply.status)
            for name, value in reply.headers.items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(reply.body)))
            if close:
                self.send_header("Connection", "close")
            self.end_headers()
            if reply.body and self.command != "HEAD":
                self.wfile.write(reply.body)
        except OSError:
            self.close_connection = True


class Listener(ThreadingHTTPServer):
    """The listening socket; tracks open connections so they can be closed on shutdown."""

    daemon_threads = False
    block_on_close = True
    request_queue_size = 128

    def __init__(self, address: tuple[str, int], owner: Responder) -> None:
        self.owner = owner
        self._connections: set[socket.socket] = set()
        self._connections_lock = threading.Lock()
        super().__init__(address, _Handler)

    def server_bind(self) -> None:
        """Bind without the reverse DNS lookup ``HTTPServer`` does."""
        socketserver.TCPServer.server_bind(self)
        host, port = self.server_address[:2]
        self.server_name, self.server_port = str(host), int(port)

    def process_request(self, request: Any, client_address: Any) -> None:
        with self._connections_lock:
            self._connections.add(request)
        super().process_request(request, client_address)

    def shutdown_request(self, request: Any) -> None:
        with self._connections_lock:
            self._connections.discard(request)
        super().shutdown_request(request)

    def close_connections(self) -> None:
        """Cut every open connection; their threads see end-of-stream and finish."""
        with self._connections_lock:
            connections = list(self._connections)
        for connection in connections:
            with contextlib.suppress(OSError):
                connection.shutdown(socket.SHUT_RDWR)

    def handle_error(self, request: Any, client_address: Any) -> None:
        """A connection error ends that connection quietly; anything else is recorded."""
        if not isinstance(sys.exc_info()[1], OSError):
            self.owner.note_error(traceback.format_exc())
