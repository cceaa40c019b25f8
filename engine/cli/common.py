"""What the commands share: reading inputs and reporting spec errors."""

from __future__ import annotations

import sys
from collections.abc import Iterable, Iterator
from typing import IO, Any

import click
import orjson

from ..contracts.errors import Problem, SpecError
from ..runtime.backfill import without_bom

EXIT_PROBLEMS = 1
EXIT_SPEC = 2


def report_spec_error(exc: SpecError) -> None:
    report_problems(exc.problems)


def report_problems(problems: Iterable[Problem], *, err: bool = True) -> None:
    """Each problem on a line of its own (on stderr, or stdout where the problems are
    the command's answer: ``validate``, ``config check``), its suggestion indented."""
    for problem in problems:
        click.echo(str(problem), err=err)
        if problem.suggestion:
            click.echo(f"  suggestion: {problem.suggestion}", err=err)


def each_document(stream: IO[bytes]) -> Iterator[tuple[int, Any | ValueError]]:
    """``read_documents``, with an array of objects taken as that many documents, as
    ``serve`` and ``send`` take it (``map`` and ``explain`` show what they would queue)."""
    for line, doc in read_documents(stream):
        if isinstance(doc, list) and doc and all(isinstance(d, dict) for d in doc):
            for each in doc:
                yield line, each
        else:
            yield line, doc


def read_documents(stream: IO[bytes]) -> Iterator[tuple[int, Any | ValueError]]:
    """(line number, document) from one JSON document or an NDJSON stream.

    Read as bytes, line by line as it arrives (lines end at ``\\n`` or ``\\r\\n`` only, so a
    raw U+2028 inside a string stays in its line), and parsed by orjson. A line that is not
    JSON (or not UTF-8) yields a ``ValueError`` in place of the document, so the caller
    reports it and carries on with the rest.

    The input is one document (numbered 1) when it is a single JSON value, spread over
    lines or not. A line break never falls inside a JSON token, so a value over several
    lines has a first line that is not JSON by itself; when the first line is JSON the
    input is that one document (if no other line has text) or NDJSON, and only a first
    line that is not JSON makes the whole input be read before the first answer.
    """
    loads = orjson.loads
    lines = iter(stream)
    at = 0  # the line number of the first line with text
    for head in lines:
        at += 1
        if at == 1:
            head = without_bom(head)
        if head.strip():
            break
    else:
        return
    try:
        first: Any = loads(head)
    except ValueError:
        rest = [head, *lines]
        try:
            yield 1, loads(b"".join(rest).strip())
            return
        except ValueError:
            pass
        for n, line in enumerate(rest, at):
            try:
                yield n, loads(line)
            except ValueError as exc:
                if line.strip():
                    yield n, ValueError(f"not JSON: {exc}")
        return
    held = at  # the first document waits: alone in the input, it is numbered 1
    for n, line in enumerate(lines, at + 1):
        try:
            doc: Any = loads(line)
        except ValueError as exc:
            if not line.strip():
                continue
            doc = ValueError(f"not JSON: {exc}")
        if held:
            yield held, first
            held = 0
        yield n, doc
    if held:
        yield 1, first


def parse_sets(values: tuple[str, ...]) -> dict[str, Any]:
    from ..language.mapping_settings import parse_setting_text

    out: dict[str, Any] = {}
    for item in values:
        if "=" not in item:
            raise click.BadParameter(f"{item!r}: expected name=value", param_hint="--set")
        name, _, raw = item.partition("=")
        out[name.strip()] = parse_setting_text(raw)
    return out


def open_input(path: str) -> IO[bytes]:
    if path == "-":
        return sys.stdin.buffer
    try:
        return open(path, "rb", buffering=1 << 20)
    except FileNotFoundError:
        raise click.BadParameter(f"no such file: {path}", param_hint="INPUT") from None
    except OSError as exc:
        why = exc.strerror or type(exc).__name__
        raise click.BadParameter(f"cannot read {path}: {why}", param_hint="INPUT") from None
