"""``read_documents``: one JSON document (over any number of lines) or NDJSON, told apart
without parsing the whole input when its first line is JSON. Held to the rule it
replaces: parse the whole input as one document, else line by line."""

from __future__ import annotations

import io
from typing import Any

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mapwire.cli.common import read_documents


def _reference(data: bytes) -> list[tuple[int, Any]]:
    """The whole input as one document if it parses, else each line (errors as text)."""
    if not data.strip():
        return []
    try:
        return [(1, orjson.loads(data.strip()))]
    except ValueError:
        pass
    out: list[tuple[int, Any]] = []
    for n, line in enumerate(data.split(b"\n"), 1):
        try:
            out.append((n, orjson.loads(line)))
        except ValueError:
            if line.strip():
                out.append((n, "error"))
    return out


def _read(data: bytes) -> list[tuple[int, Any]]:
    return [
        (n, "error" if isinstance(doc, ValueError) else doc)
        for n, doc in read_documents(io.BytesIO(data))
    ]


CASES = [
    b"",
    b"\n \n\r\n",
    b'{"a": 1}',
    b'\n\n{"a": 1}\n\n',  # one document after blank lines is still document 1
    b'{\n  "a": [1,\n 2]\n}\n',  # pretty-printed
    b'\n{\n "a": 1}',
    b'{"a": 1}\n{"b": 2}\n',
    b'{"a": 1}\r\n\r\n{"b": 2}',
    b'{"a": 1}\nnot json\n{"b": 2}\n',
    b'not json\n{"b": 2}\n',
    b"{\n",
    b"1\n2\n",
    b'"x"\n\x0c\n',
    b'\x0c{"a": 1}\x0c\n',
    b'{"a": 1}\n\x0c\n{"b": 2}',
    b'{"a": "\xff"}\n{"b": 2}\n',  # not UTF-8 on one line
    b"[1,\n2]\n[3]\n",
]


@pytest.mark.parametrize("data", CASES)
def test_documents_are_found_as_before(data: bytes) -> None:
    assert _read(data) == _reference(data)


PIECES = [b"{", b"}", b"[", b"]", b",", b":", b'"k"', b"1", b"null", b"\n", b"\r\n", b" "]
pieces = st.sampled_from([*PIECES, b"x", b'{"a": 1}', b"[1, 2]", b"\x0c", b'"\xe2\x80\xa8"'])


@settings(max_examples=400, deadline=None, derandomize=True, database=None)
@given(st.lists(pieces, max_size=12))
def test_any_input_is_read_as_before(parts: list[bytes]) -> None:
    data = b"".join(parts)
    assert _read(data) == _reference(data)


class _Trickle(io.RawIOBase):
    """A stream that hands out its lines one at a time and then fails, like a pipe whose
    writer is still writing: whatever was read before the failure must already be out."""

    def __init__(self, lines: list[bytes]) -> None:
        self.lines = list(lines)

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        if not self.lines:
            raise OSError("the writer is still writing")
        line = self.lines.pop(0)
        buffer[: len(line)] = line
        return len(line)


def test_ndjson_streams_one_document_ahead() -> None:
    """Each document is answered once the next line with text arrives, before the input
    ends (``tail -f | mapwire map``); the first waits for the second, which tells NDJSON
    from one document."""
    stream = io.BufferedReader(_Trickle([b'{"n": 1}\n', b"\n", b'{"n": 2}\n', b'{"n": 3}\n']))
    documents = read_documents(stream)
    assert next(documents) == (1, {"n": 1})
    assert next(documents) == (3, {"n": 2})
    assert next(documents) == (4, {"n": 3})
    with pytest.raises(OSError):
        next(documents)


def _documents(stream: Any) -> list[Any]:
    from mapwire.runtime.backfill import read_chunks

    return [doc for chunk in read_chunks(stream) for doc in chunk.documents]


def test_an_ndjson_line_holding_an_array_of_objects_is_that_many_documents() -> None:
    """As ``serve`` takes an array body: each object a document (was: the array one
    document, which no mapping could read)."""
    data = b'{"a": 1}\n[{"b": 2}, {"c": 3}]\n'
    assert _documents(io.BytesIO(data)) == [{"a": 1}, {"b": 2}, {"c": 3}]


class _Pipe(io.RawIOBase):
    """A stream that cannot seek, as standard input from a pipe."""

    def __init__(self, data: bytes) -> None:
        self._data = io.BytesIO(data)

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return False

    def readinto(self, buffer: Any) -> int:
        chunk = self._data.read(len(buffer))
        buffer[: len(chunk)] = chunk
        return len(chunk)

    def seek(self, *args: Any) -> int:
        raise io.UnsupportedOperation("not seekable")


def test_ndjson_from_a_pipe_is_read_without_seeking() -> None:
    data = b'{"a": 1}\n{"b": 2}\n'
    assert _documents(io.BufferedReader(_Pipe(data))) == [{"a": 1}, {"b": 2}]


def test_a_resume_position_must_still_start_a_line() -> None:
    """A file edited before the recorded position (its first bytes unchanged, so its
    fingerprint too) would be resumed mid-line, skipping a document: refused instead."""
    from mapwire.runtime.backfill import resume_fits

    data = io.BytesIO(b'{"a": 1}\n{"b": 2}\n{"c": 3}\n')
    assert resume_fits(data, "n9:2")  # right after the first line
    assert not resume_fits(data, "n7:2")  # inside it: the file changed
    assert resume_fits(data, None) and resume_fits(data, "n0:1") and resume_fits(data, "d3")
    assert data.tell() == 0
    unended = io.BytesIO(b'{"a": 1}\n{"b": 2}')  # no line break after the last line
    assert resume_fits(unended, "n17:3")  # its very end: everything was sent
    assert not resume_fits(unended, "n16:3") and not resume_fits(unended, "n18:3")


class _LinesOnly(io.BytesIO):
    """An input that may only be read line by line (reading it whole fails the test)."""

    def read(self, size: int | None = -1) -> bytes:
        if size is None or size < 0:
            raise AssertionError("NDJSON read whole")
        return super().read(size)


def test_ndjson_is_streamed_on_a_first_run_not_read_whole() -> None:
    """Only the first two lines with text are needed to tell NDJSON apart: a backfill
    larger than memory is read line by line from its first run on."""
    data = b'{"a": 1}\n\n{"b": 2}\n{"c": 3}\n'
    assert _documents(_LinesOnly(data)) == [{"a": 1}, {"b": 2}, {"c": 3}]
    # a JSON value over several lines is still parsed whole, as before
    assert _documents(io.BytesIO(b'[\n{"a": 1},\n{"b": 2}\n]\n')) == [{"a": 1}, {"b": 2}]
