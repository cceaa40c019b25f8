"""A UTF-8 byte order mark before the first line (what many Windows editors and exports
write) is read past by ``map`` and ``send``: the first document is not lost, and a resumed
``send`` still starts exactly where it stopped (offsets count the mark's bytes)."""

from __future__ import annotations

import io
import json
from typing import Any

import pytest

from mapwire.cli.common import read_documents
from mapwire.runtime.backfill import BOM, read_chunks

DOCS = [{"n": i, "text": "ünïcode"} for i in range(3)]
NDJSON = BOM + b"".join(json.dumps(d).encode() + b"\n" for d in DOCS)


def _all(chunks: Any) -> tuple[list[Any], list[Any]]:
    documents, bad = [], []
    for chunk in chunks:
        documents += chunk.documents
        bad += chunk.bad_lines
    return documents, bad


@pytest.mark.parametrize(
    "data",
    [
        NDJSON,
        BOM + json.dumps(DOCS).encode(),  # a JSON array of documents
        BOM + json.dumps(DOCS, indent=2).encode(),  # the array over many lines
        BOM + b"\n" + NDJSON[3:],  # the mark on a line of its own
    ],
    ids=["ndjson", "array", "indented array", "mark alone"],
)
def test_send_reads_every_document_after_the_mark(data: bytes) -> None:
    assert _all(read_chunks(io.BytesIO(data))) == (DOCS, [])


def test_send_resumes_past_the_mark_at_the_exact_line() -> None:
    [first, *_] = read_chunks(io.BytesIO(NDJSON), size=1)
    assert first.documents == DOCS[:1] and first.where == ["1"]
    rest = list(read_chunks(io.BytesIO(NDJSON), resume=first.position, size=1))
    assert _all(rest) == (DOCS[1:], [])
    assert [w for chunk in rest for w in chunk.where] == ["2", "3"]


@pytest.mark.parametrize(
    "data, expected",
    [
        (NDJSON, [(1, DOCS[0]), (2, DOCS[1]), (3, DOCS[2])]),
        (BOM + json.dumps(DOCS[0], indent=2).encode(), [(1, DOCS[0])]),
        (BOM + b"\n" + NDJSON[3:], [(2, DOCS[0]), (3, DOCS[1]), (4, DOCS[2])]),
    ],
    ids=["ndjson", "one document over lines", "mark alone"],
)
def test_map_reads_every_document_after_the_mark(data: bytes, expected: Any) -> None:
    assert list(read_documents(io.BytesIO(data))) == expected


def test_a_mark_elsewhere_is_still_not_json() -> None:
    """Only the input's very start may carry the mark; inside, it is a line's error."""
    data = NDJSON + BOM + b'{"n": 9}\n'
    found = list(read_documents(io.BytesIO(data)))
    assert [n for n, doc in found if isinstance(doc, ValueError)] == [4]
    documents, bad = _all(read_chunks(io.BytesIO(data)))
    assert documents == DOCS and [line for line, _ in bad] == ["4"]
