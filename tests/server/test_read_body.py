"""``read_body``: the whole body within its limit, whatever pieces it arrives in."""

from __future__ import annotations

import asyncio
import tracemalloc
from collections.abc import AsyncIterator, Iterable

import pytest

from mapwire.contracts.errors import InputError
from mapwire.server.intake import read_body


async def _chunks(pieces: Iterable[bytes]) -> AsyncIterator[bytes]:
    for piece in pieces:
        yield piece


def _read(pieces: Iterable[bytes], limit: int = 1_000_000, length: str | None = None) -> bytes:
    headers = {} if length is None else {"content-length": length}
    return asyncio.run(read_body(headers, _chunks(pieces), limit))


def test_one_chunk_is_returned_as_it_came() -> None:
    body = b'{"events": []}'
    assert _read([body]) is body


@pytest.mark.parametrize(
    "pieces",
    [
        [],
        [b""],
        [b"", b"{}", b""],
        [b"{", b'"a"', b":", b"1", b"}"],
        [bytearray(b'{"a"'), memoryview(b":1}")],
    ],
)
def test_pieces_are_joined_in_order(pieces: list[bytes]) -> None:
    assert _read(pieces) == b"".join(bytes(p) for p in pieces)


def test_a_buffer_the_server_reuses_is_copied_as_it_comes() -> None:
    """ASGI servers send ``bytes``; one that refilled a single buffer must still give the
    body that was sent, not the buffer's last contents repeated."""
    buffer = bytearray(5)

    async def refilled() -> AsyncIterator[bytes]:
        for piece in (b'{"a":', b"12345", b"}"):
            buffer[:] = piece.ljust(5)
            yield buffer  # type: ignore[misc]

    body = asyncio.run(read_body({}, refilled(), 100))
    assert body == b'{"a":12345}    '


def test_the_limit_holds_across_pieces() -> None:
    with pytest.raises(InputError) as refused:
        _read([b"x" * 6, b"x" * 5], limit=10)
    assert refused.value.status == 413


def test_a_declared_length_over_the_limit_is_refused_before_reading() -> None:
    with pytest.raises(InputError) as refused:
        _read([b"{}"], limit=10, length="11")
    assert refused.value.status == 413


def test_a_declared_length_of_other_digits_is_not_a_crash() -> None:
    """``"²".isdigit()`` is true but ``int("²")`` fails: such a header is not a length."""
    assert _read([b"{}"], limit=10, length="\u00b2") == b"{}"


def test_many_small_pieces_cost_the_body_size_not_an_object_each() -> None:
    """A client trickling its body a few bytes per packet must not make the server hold
    an object per piece: peak memory stays within a few times the body."""
    count, piece = 200_000, 5  # a 1 MB body

    async def trickled() -> AsyncIterator[bytes]:
        for i in range(count):
            yield bytes([48 + i % 10]) * piece  # a new object each time, as a server's

    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        body = asyncio.run(read_body({}, trickled(), 2 * count * piece))
        peak = tracemalloc.get_traced_memory()[1] - before
    finally:
        tracemalloc.stop()
    assert len(body) == count * piece
    assert peak < 4 * count * piece, f"held {peak} bytes for a {count * piece}-byte body"
