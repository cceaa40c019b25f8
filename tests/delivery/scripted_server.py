"""A scripted HTTP/1.1 server on loopback for the deliverers' transport tests: each request's
path picks how it is answered (a canned answer, a handler, or a handler that reads the
body itself), so every way an exchange can go is one path away."""

from __future__ import annotations

import asyncio
import gzip
import socket
import ssl
import struct
import threading
from collections.abc import Awaitable, Callable
from typing import Any, Self

import httpx

Handler = Callable[[asyncio.StreamReader, asyncio.StreamWriter, bytes], Awaitable[bool]]


def _answer(status: str, headers: list[str], body: bytes = b"") -> bytes:
    return (f"HTTP/1.1 {status}\r\n" + "".join(f"{h}\r\n" for h in headers) + "\r\n").encode() + (
        body
    )


async def _plain(_r: asyncio.StreamReader, w: asyncio.StreamWriter, body: bytes) -> bool:
    w.write(_answer("200 OK", [f"Content-Length: {len(body)}", "X-Echo: yes"], body))
    return True


async def _gzip(_r: asyncio.StreamReader, w: asyncio.StreamWriter, _b: bytes) -> bool:
    body = gzip.compress(b'{"ok": true}')
    w.write(_answer("200 OK", ["Content-Encoding: gzip", f"Content-Length: {len(body)}"], body))
    return True


async def _hang_up(_r: asyncio.StreamReader, _w: asyncio.StreamWriter, _b: bytes) -> bool:
    return False  # read the request, close without a word


async def _silent(_r: asyncio.StreamReader, _w: asyncio.StreamWriter, _b: bytes) -> bool:
    await asyncio.sleep(30)
    return False


async def _drip(_r: asyncio.StreamReader, w: asyncio.StreamWriter, _b: bytes) -> bool:
    """Six bytes of body, one each 0.1 s: 0.6 s in all, never 0.3 s without a byte."""
    w.write(_answer("200 OK", ["Content-Length: 6"]))
    for byte in b"drip!!":
        await w.drain()
        await asyncio.sleep(0.1)
        w.write(bytes([byte]))
    return True


async def _late(_r: asyncio.StreamReader, w: asyncio.StreamWriter, _b: bytes) -> bool:
    await asyncio.sleep(0.5)
    w.write(_answer("200 OK", ["Content-Length: 4"], b"late"))
    return True


async def _extra(_r: asyncio.StreamReader, w: asyncio.StreamWriter, _b: bytes) -> bool:
    w.write(_answer("200 OK", ["Content-Length: 2"], b"{}"))
    await w.drain()
    await asyncio.sleep(0.05)
    w.write(_answer("200 OK", ["Content-Length: 5"], b"stale"))  # nobody asked
    return True


async def _two_in_one(_r: asyncio.StreamReader, w: asyncio.StreamWriter, _b: bytes) -> bool:
    """An answer and, in the same segment, a second one nobody asked for."""
    w.write(
        _answer("503 Service Unavailable", ["Content-Length: 0", "Retry-After: 60"])
        + _answer("202 Accepted", ["Content-Length: 2"], b"{}")
    )
    return True


async def _reset(_r: asyncio.StreamReader, w: asyncio.StreamWriter, _b: bytes) -> bool:
    """An answer without a length (it ends when the connection does), cut by a reset."""
    w.write(_answer("200 OK", ["Content-Type: application/json"], b'{"errors": [{"ind'))
    await w.drain()
    await asyncio.sleep(0.1)
    w.get_extra_info("socket").setsockopt(
        socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0)
    )
    w.transport.abort()
    return False


async def _then_silence(_r: asyncio.StreamReader, w: asyncio.StreamWriter, _b: bytes) -> bool:
    w.write(_answer("200 OK", ["Content-Length: 10"], b"x"))
    await asyncio.sleep(30)
    return False


async def _never_reads(r: asyncio.StreamReader, _w: asyncio.StreamWriter, _h: bytes) -> bool:
    """Takes the head and never reads the body: the upload stalls."""
    await asyncio.sleep(30)
    return False


async def _slow_reader(r: asyncio.StreamReader, w: asyncio.StreamWriter, head: bytes) -> bool:
    """Reads the body 1 MB each 0.1 s (40 MB: 4 s in all), answers 0.2 s after."""
    length = int(head.lower().split(b"content-length: ")[1].split(b"\r\n")[0])
    while length:
        length -= len(await r.readexactly(min(length, 1_000_000)))
        await asyncio.sleep(0.1)
    await asyncio.sleep(0.2)
    w.write(_answer("200 OK", ["Content-Length: 4"], b"done"))
    return True


async def _refuses_body(r: asyncio.StreamReader, w: asyncio.StreamWriter, _h: bytes) -> bool:
    """Answers 413 at once, keeping the connection open, and never reads the body."""
    w.write(_answer("413 Content Too Large", ["Content-Length: 0"]))
    await w.drain()
    await asyncio.sleep(30)
    return False


#: Paths whose handler reads the request's body itself (or never does).
OWN_BODY: dict[str, Handler] = {
    "/never-reads": _never_reads,
    "/slow-reader": _slow_reader,
    "/refuses-body": _refuses_body,
}

#: Answers written whole, and whether the connection stays open after them.
CANNED: dict[str, tuple[bytes, bool]] = {
    "/chunked": (
        _answer("202 Accepted", ["Transfer-Encoding: chunked"])
        + b"5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n",
        True,
    ),
    "/until-close": (_answer("200 OK", ["Connection: close"], b"all of it until the end"), False),
    "/close-after": (
        _answer("429 Too Many Requests", ["Content-Length: 0", "Connection: close"]),
        False,
    ),
    "/interim": (
        _answer("100 Continue", []) + _answer("201 Created", ["Content-Length: 2"], b"{}"),
        True,
    ),
    "/no-content": (_answer("204 No Content", []), True),
    "/garbage": (b"SMTP ready\r\n\r\n", False),
    "/cookie": (
        _answer("200 OK", ["Set-Cookie: AWSALB=sticky; Path=/", "Content-Length: 0"]),
        True,
    ),
    "/head": (_answer("200 OK", ["Content-Length: 1000"]), True),  # HEAD: the length, no body
    "/then-close": (_answer("200 OK", ["Content-Length: 2"], b"ok"), False),  # no warning
    "/redirect": (_answer("302 Found", ["Location: /plain", "Content-Length: 5"], b"moved"), True),
    "/bad-gzip": (  # not gzip from its first byte, and long: it fails before it is all read
        _answer("200 OK", ["Content-Encoding: gzip", "Content-Length: 400000"], b"x" * 400_000),
        True,
    ),
    "/wording": (b"HTTP/1.0 429 Slow Down Please\r\nContent-Length: 0\r\n\r\n", False),
    "/trailers": (
        _answer("200 OK", ["Transfer-Encoding: chunked", "Trailer: X-Sum"])
        + b"2\r\nok\r\n0\r\nX-Sum: 2\r\n\r\n",
        True,
    ),
}

HANDLERS: dict[str, Handler] = {
    "/plain": _plain,
    "/gzip": _gzip,
    "/hang-up": _hang_up,
    "/silent": _silent,
    "/drip": _drip,
    "/late": _late,
    "/two-in-one": _two_in_one,
    "/reset": _reset,
    "/then-silence": _then_silence,
    "/extra": _extra,
}


def answer_seen(response: httpx.Response) -> tuple[Any, ...]:
    """What a client sees of an answer: its status, wording, version, headers and body."""
    return (
        response.status_code,
        response.reason_phrase,
        response.http_version,
        sorted(response.headers.multi_items()),
        response.content,
    )


class LoopbackServer:
    """An asyncio server on loopback in a thread of its own, serving each connection with
    ``_serve`` (a subclass's): started on entering, every connection ended on leaving."""

    def __init__(self, tls: ssl.SSLContext | None = None) -> None:
        self.tls = tls
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.server: asyncio.Server | None = None

    def __enter__(self) -> Self:
        self.thread.start()
        started = asyncio.run_coroutine_threadsafe(
            asyncio.start_server(self._serve, "127.0.0.1", 0, ssl=self.tls), self.loop
        )
        self.server = started.result(10)
        self.port = self.server.sockets[0].getsockname()[1]
        return self

    def __exit__(self, *_: object) -> None:
        asyncio.run_coroutine_threadsafe(self._close(), self.loop).result(10)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)
        self.loop.close()

    async def _close(self) -> None:
        assert self.server is not None
        self.server.close()
        tasks = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        await self.server.wait_closed()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        raise NotImplementedError


class ScriptedServer(LoopbackServer):
    """An HTTP/1.1 server on loopback in a thread of its own; each request's path picks
    its handler. ``connections`` counts accepted connections, ``requests`` keeps each
    request's raw bytes."""

    def __init__(self, tls: ssl.SSLContext | None = None, greeting: bytes = b"") -> None:
        super().__init__(tls)
        self.greeting = greeting  # written as each connection opens, before any request
        self.connections = 0
        self.requests: list[bytes] = []

    def url(self, path: str) -> str:
        scheme = "https" if self.tls else "http"
        return f"{scheme}://localhost:{self.port}{path}"

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        writer.write(self.greeting)
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                path = head.split(b" ")[1].split(b"?")[0].decode()
                if path in OWN_BODY:  # it reads the body itself, or not at all
                    keep = await OWN_BODY[path](reader, writer, head)
                    await writer.drain()
                    if not keep:
                        break
                    continue
                body = await _request_body(reader, head)
                self.requests.append(head + body)
                if path in CANNED:
                    answer, keep = CANNED[path]
                    writer.write(answer)
                else:
                    keep = await HANDLERS[path](reader, writer, body)
                await writer.drain()
                if not keep:
                    break
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()


async def _request_body(reader: asyncio.StreamReader, head: bytes) -> bytes:
    """The body after ``head``: its Content-Length's bytes, or its chunks."""
    fields = dict(
        (name.strip().lower(), value.strip())
        for name, _, value in (line.partition(b":") for line in head.split(b"\r\n")[1:])
    )
    if fields.get(b"transfer-encoding") != b"chunked":
        return await reader.readexactly(int(fields.get(b"content-length", b"0")))
    body = b""
    while size := int(await reader.readuntil(b"\r\n"), 16):
        body += (await reader.readexactly(size + 2))[:-2]
    await reader.readuntil(b"\r\n")
    return body
