"""Reading backfill inputs in resumable chunks.

A file is read as one JSON document (or a JSON array of documents), or as NDJSON. Each
chunk carries the position just past it; ``send`` records that position in the same
transaction as the chunk's actions, so after a crash or Ctrl-C a rerun starts exactly
where the last committed chunk ended: nothing skipped, nothing queued twice. Positions
are tied to a fingerprint of the file's start, so a different file at the same path
starts from the beginning.

Positions: ``n<offset>:<line>`` (NDJSON: byte offset and next line number) or
``d<count>`` (a JSON document or array: documents consumed), then ``@<fingerprint>``.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import orjson

FINGERPRINT_BYTES = 65536
DONE = "done"


@dataclass
class Chunk:
    documents: list[Any] = field(default_factory=list)
    bad_lines: list[tuple[int, str]] = field(default_factory=list)
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
) -> Iterator[Chunk]:
    """Chunks of up to ``size`` documents after ``resume``; malformed lines are reported."""
    if resume == DONE:
        return
    if resume is None or resume.startswith("d"):
        data = stream.read()
        whole = _parse_whole(data)
        if whole is not None:
            start = int(resume[1:]) if resume else 0
            yield from _document_chunks(whole, start, size, split, len(data))
            return
        stream.seek(0)
        resume = None
    yield from _ndjson_chunks(stream, resume, size, split)


def _parse_whole(data: bytes) -> Any | None:
    stripped = data.strip()
    if not stripped or stripped[:1] not in (b"{", b"["):
        return None
    try:
        return orjson.loads(stripped)
    except ValueError:
        return None


def _document_chunks(
    whole: Any, start: int, size: int, split: Callable[[Any], list[Any]] | None, total: int
) -> Iterator[Chunk]:
    documents = whole if isinstance(whole, list) else [whole]
    count = max(len(documents), 1)
    for i in range(start, len(documents), size):
        part = documents[i : i + size]
        if split is not None:
            part = [d for doc in part for d in split(doc)]
        end = min(i + size, len(documents))
        # progress: bytes in proportion to documents, so the shares add up to ``total``
        share = total * end // count - total * i // count
        yield Chunk(part, [], DONE if end == len(documents) else f"d{end}", share)


def _ndjson_chunks(
    stream: IO[bytes], resume: str | None, size: int, split: Callable[[Any], list[Any]] | None
) -> Iterator[Chunk]:
    offset, line = 0, 1
    if resume and resume.startswith("n"):
        at, _, next_line = resume[1:].partition(":")
        offset, line = int(at), int(next_line or 1)
    stream.seek(offset)
    chunk = Chunk()
    start = offset
    for raw in stream:
        offset += len(raw)
        text = raw.strip()
        if text:
            try:
                doc = orjson.loads(text)
            except json.JSONDecodeError as exc:
                chunk.bad_lines.append((line, f"not JSON: {exc.msg} at column {exc.colno}"))
            except ValueError as exc:  # e.g. invalid UTF-8
                chunk.bad_lines.append((line, f"not JSON: {exc}"))
            else:
                chunk.documents.extend(split(doc) if split is not None else [doc])
        line += 1
        if len(chunk.documents) >= size:
            chunk.position, chunk.bytes_read = f"n{offset}:{line}", offset - start
            yield chunk
            chunk, start = Chunk(), offset
    chunk.position, chunk.bytes_read = DONE, offset - start
    yield chunk
