"""Opening a TCP connection to a host of several addresses, as browsers and httpx do:
the addresses in the resolver's order, the families taken in turn, each attempt started
``STAGGER`` seconds after the one before unless that one failed sooner, the first to
connect kept (RFC 8305, "happy eyeballs"). A host whose first address drops packets (a
broken IPv6 route, say) is then reached by its second within a quarter of a second,
instead of never within the connect timeout. Written here because uvloop's
``create_connection`` takes no ``happy_eyeballs_delay``.
"""

from __future__ import annotations

import asyncio
import functools
import socket
from typing import Any

#: Seconds between the start of one attempt and the next (RFC 8305 recommends 250 ms).
STAGGER = 0.25

Address = tuple[int, Any]  # (family, sockaddr)


async def connect_socket(host: str, port: int) -> socket.socket:
    """A connected non-blocking socket to ``host``:``port``; ``OSError`` (the last
    attempt's) when no address answers, ``ValueError`` for a host name IDNA refuses."""
    found = await resolve(host, port)
    if not found:
        raise OSError("the host has no address")
    return await first_connected(interleaved(found))


async def resolve(host: str, port: int) -> list[Address]:
    """``host``'s addresses for TCP, in the resolver's order."""
    loop = asyncio.get_running_loop()
    found = await loop.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return [(family, address) for family, _, _, _, address in found]


def interleaved(addresses: list[Address]) -> list[Address]:
    """The addresses, one family then the other in turn, each family in the resolver's
    order, starting with the resolver's first (RFC 8305, section 4)."""
    families: dict[int, list[Address]] = {}
    for address in dict.fromkeys(addresses):  # each once, however often it was listed
        families.setdefault(address[0], []).append(address)
    queues = list(families.values())
    out: list[Address] = []
    while any(queues):
        for queue in queues:
            if queue:
                out.append(queue.pop(0))
    return out


async def first_connected(addresses: list[Address]) -> socket.socket:
    """The socket of the first of ``addresses`` to connect (module doc); the others'
    attempts are stopped and their sockets closed."""
    loop = asyncio.get_running_loop()
    pending: set[asyncio.Task[socket.socket]] = set()
    started: list[asyncio.Task[socket.socket]] = []
    failure: OSError | None = None
    winner: socket.socket | None = None
    waiting = list(addresses)
    try:
        while waiting or pending:
            if waiting:
                task = loop.create_task(_attempt(*waiting.pop(0)))
                started.append(task)
                pending.add(task)
            timeout = STAGGER if waiting else None
            done, pending = await asyncio.wait(
                pending, timeout=timeout, return_when=asyncio.FIRST_COMPLETED
            )
            for task in done:
                error = task.exception()
                if error is None:
                    winner = task.result()
                    return winner
                failure = error if isinstance(error, OSError) else OSError(str(error))
        raise failure or OSError("no address to connect to")
    finally:
        for task in started:
            task.cancel()  # no effect on a finished one
            task.add_done_callback(functools.partial(_close_unless, keep=winner))


async def _attempt(family: int, address: Any) -> socket.socket:
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setblocking(False)
        await asyncio.get_running_loop().sock_connect(sock, address)
    except BaseException:
        sock.close()
        raise
    return sock


def _close_unless(task: asyncio.Task[socket.socket], keep: socket.socket | None) -> None:
    """Close the socket of an attempt that connected but was not kept."""
    if task.cancelled() or task.exception() is not None:
        return
    sock = task.result()
    if sock is not keep:
        sock.close()
