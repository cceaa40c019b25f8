"""Reading backfill inputs in resumable chunks.

A file is read as one JSON document (or a JSON array of documents), or as NDJSON. Each
chunk carries the position just past it; ``send`` records that position in the same
transaction as the chunk's actions, so after a crash or Ctrl-C a rerun starts exactly
where the last committed chunk ended: nothing skipped, nothing queued twice. Positions
are tied to a fingerprint of the file's start, so a different file at the same path
starts from the beginning.

Positions: ``n<offset>:<line>`` (NDJSON: byte offset and next line number) or
``d<count>`` (a JSON document or array: documents consumed), then ``@<fingerprint>``.

What ``serve`` refuses in a request body is refused here per line (or array element),
with the same limits (``server.max_body_bytes`` per NDJSON line, ``server.max_json_depth``)
and the same depth check: an over-limit line, a line that is not JSON, and one that is not
an object (or an array of objects) is reported by its line number and skipped, so no line
can stop a backfill. Messages name the limit or the JSON type, never a value.
"""

from __future__ import annotations

import hashlib
import io
import itertools
import json
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import orjson

from ..contracts.errors import InputError
from .json_limits import inexact_integer, nesting_exceeds, value_nests_deeper

FINGERPRINT_BYTES = 65536
DONE = "done"
BOM = b"\xef\xbb\xbf"
"""UTF-8's byte order mark, which editors and exports on Windows put before the first
line: not part of the first document, so it is read past (and still counted in offsets)."""


def without_bom(first: bytes) -> bytes:
    """The input's first line (or whole text) without a leading byte order mark."""
    return first[3:] if first.startswith(BOM) else first


@dataclass(frozen=True)
class Limits:
    """The size of one NDJSON line and the nesting depth of one document ``send`` accepts."""

    max_bytes: int = 5_000_000
    max_depth: int = 64


@dataclass
class Chunk:
    documents: list[Any] = field(default_factory=list)
    #: where each document came from, as in ``bad_lines``
    where: list[str] = field(default_factory=list)
    #: (where, why): an NDJSON line number, or ``element N`` of a JSON array
    bad_lines: list[tuple[str, str]] = field(default_factory=list)
    position: str = ""
    bytes_read: int = 0


def fingerprint(path: Path) -> str:
    with path.open("rb") as f:
        return hashlib.sha256(f.read(FINGERPRINT_BYTES)).hexdigest()[:16]


def progress_key(connection: str, path: Path) -> str:
    return f"send:{connection}:{path.resolve()}"


def resume_point(recorded: str | None, fp: str) -> str | None:
    """The recorded position if it belongs to this file's content, else None."""
    if not recorded or "@" not in recorded:
        return None
    position, _, owner = recorded.rpartition("@")
    return position if owner == fp else None


def resume_fits(stream: IO[bytes], position: str | None) -> bool:
    """Whether an NDJSON ``position`` still starts a line of ``stream`` (the byte before
    it a line break) or is its very end (a last line without a line break, all sent): a
    file edited before it since (its first bytes unchanged) would otherwise be resumed
    mid-line, skipping a document."""
    offset = resumed_bytes(position)
    if offset == 0:
        return True
    stream.seek(offset - 1)
    before, after = stream.read(1), stream.read(1)
    stream.seek(0)
    return before == b"\n" or (before != b"" and after == b"")


def describe_resume(position: str, name: str) -> str:
    """Where a resumed read starts, in the input's own unit (1-based)."""
    if position.startswith("n"):
        _, _, line = position[1:].partition(":")
        return f"resuming at line {int(line or 1):,} of {name}"
    if position.startswith("d"):
        return f"resuming at element {int(position[1:]) + 1:,} of the JSON array in {name}"
    return f"resuming {name}"


def resumed_bytes(position: str | None) -> int:
    """Bytes of the input already sent before ``position`` (NDJSON; 0 if unknown)."""
    if position and position.startswith("n"):
        return int(position[1:].partition(":")[0])
    return 0


def read_chunks(
    stream: IO[bytes],
    *,
    resume: str | None = None,
    size: int = 500,
    split: Callable[[Any], list[Any]] | None = None,
    limits: Limits = Limits(),
) -> Iterator[Chunk]:
    """Chunks of up to ``size`` documents after ``resume``; malformed, over-limit and
    non-object lines are reported in ``Chunk.bad_lines`` instead."""
    if resume == DONE:
        return
    data: bytes | None = None
    if resume is None:
        head, ndjson = _sniff(stream)
        if ndjson:  # streamed line by line, never read whole
            yield from _ndjson_chunks(itertools.chain(head, stream), None, size, split, limits)
            return
        data = b"".join(head) + stream.read()
    elif resume.startswith("d"):
        data = stream.read()
    if data is not None:
        whole = _parse_whole(data)
        if whole is not None:
            start = int(resume[1:]) if resume else 0
            yield from _document_chunks(whole, start, size, split, len(data), limits)
            return
        stream = io.BytesIO(data)  # read already (a pipe cannot be read again)
        resume = None
    yield from _ndjson_chunks(stream, resume, size, split, limits)


def _documents_of(
    doc: Any, split: Callable[[Any], list[Any]] | None, limits: Limits | None
) -> list[Any] | str:
    """The documents one parsed line (or element) holds, or why it is refused; ``limits``
    when its depth is still to check (an NDJSON line's was checked before parsing)."""
    if split is not None:
        try:
            parts = split(doc)
        except InputError as exc:
            return str(exc)
    elif isinstance(doc, list):
        parts = doc
    else:
        parts = [doc]
    if not parts or not all(isinstance(p, dict) for p in parts):
        return "not a JSON object"
    if limits is not None and value_nests_deeper(doc, limits.max_depth):
        return f"JSON nests deeper than {limits.max_depth} levels"
    return parts  # an array of objects is as many documents, as serve takes it


def _check_line(text: bytes, limits: Limits) -> str | None:
    """Why a raw NDJSON line is refused before parsing, if it is."""
    if len(text) > limits.max_bytes:
        return f"line is larger than {limits.max_bytes} bytes"
    if nesting_exceeds(text, limits.max_depth):
        return f"JSON nests deeper than {limits.max_depth} levels"
    if inexact_integer(text):
        return "an integer is beyond 64 bits and cannot be carried exactly"
    return None


def _parse_whole(data: bytes) -> Any | None:
    stripped = without_bom(data).strip()
    if not stripped or stripped[:1] not in (b"{", b"["):
        return None
    try:
        return orjson.loads(stripped)
    except ValueError:
        return None


def _document_chunks(
    whole: Any,
    start: int,
    size: int,
    split: Callable[[Any], list[Any]] | None,
    total: int,
    limits: Limits,
) -> Iterator[Chunk]:
    documents = whole if isinstance(whole, list) else [whole]
    count = max(len(documents), 1)
    for i in range(start, len(documents), size):
        end = min(i + size, len(documents))
        chunk = Chunk(position=DONE if end == len(documents) else f"d{end}")
        for n, doc in enumerate(documents[i:end], start=i + 1):
            found = _documents_of(doc, split, limits)
            where = f"element {n}" if isinstance(whole, list) else "1"
            if isinstance(found, str):
                chunk.bad_lines.append((where, found))
            else:
                chunk.documents.extend(found)
                chunk.where.extend([where] * len(found))
        # progress: bytes in proportion to documents, so the shares add up to ``total``
        chunk.bytes_read = total * end // count - total * i // count
        yield chunk


def _sniff(stream: IO[bytes]) -> tuple[list[bytes], bool]:
    """The lines read to tell NDJSON apart, and whether the input is NDJSON: its first line
    with text is JSON by itself and another line with text follows (a JSON value spread
    over lines has a first line that is not JSON alone; a single value has no second).
    Otherwise the caller reads the rest and parses the input whole, as before."""
    head: list[bytes] = []
    found = 0
    for raw in stream:
        head.append(raw)
        text = without_bom(raw) if len(head) == 1 else raw
        if not text.strip():
            continue
        found += 1
        if found == 2:
            return head, True
        try:
            orjson.loads(text)
        except ValueError:
            break
    return head, False


def _ndjson_chunks(
    stream: Iterable[bytes],
    resume: str | None,
    size: int,
    split: Callable[[Any], list[Any]] | None,
    limits: Limits,
) -> Iterator[Chunk]:
    offset, line = 0, 1
    if resume and resume.startswith("n"):
        at, _, next_line = resume[1:].partition(":")
        offset, line = int(at), int(next_line or 1)
    if offset and isinstance(stream, io.IOBase):
        stream.seek(offset)
    chunk = Chunk()
    start = offset
    for raw in stream:
        text = (without_bom(raw) if offset == 0 else raw).strip()
        offset += len(raw)
        if text:
            problem = _check_line(text, limits)
            if problem is None:
                try:
                    found = _documents_of(orjson.loads(text), split, None)
                except json.JSONDecodeError as exc:
                    problem = f"not JSON: {exc.msg} at column {exc.colno}"
                except ValueError as exc:  # e.g. invalid UTF-8
                    problem = f"not JSON: {exc}"
                else:
                    if isinstance(found, str):
                        problem = found
                    else:
                        chunk.documents.extend(found)
                        chunk.where.extend([str(line)] * len(found))
            if problem is not None:
                chunk.bad_lines.append((str(line), problem))
        line += 1
        if len(chunk.documents) >= size:
            chunk.position, chunk.bytes_read = f"n{offset}:{line}", offset - start
            yield chunk
            chunk, start = Chunk(), offset
    chunk.position, chunk.bytes_read = DONE, offset - start
    yield chunk
