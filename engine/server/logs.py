"""Structured logs: one JSON object per line on stderr.

Every line has ``time`` (UTC, ISO 8601), ``level`` and ``event``; request lines add
``request_id``, ``method``, ``path``, ``status``, ``duration_ms`` and ``counts``. Fields are
only ever what the server passes explicitly (``log_event``): never headers, bodies, query
strings or configuration values. Records from other libraries (the HTTP server) keep their
message text, and an exception is written as its type (and its cause's) and stack frames,
without its message, because a message may quote the input that caused it.
"""

from __future__ import annotations

import asyncio
import logging
import sys
import time
import traceback
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import IO, Any

import orjson

LOGGER_NAME = "mapwire.server"
#: Loggers whose records are written as JSON lines by ``configure_logging``.
CAPTURED = (LOGGER_NAME, "mapwire.delivery", "uvicorn", "uvicorn.error", "uvicorn.access")
LEVELS = ("debug", "info", "warning", "error")

logger = logging.getLogger(LOGGER_NAME)


def log_event(
    level: int, event: str, /, *, exc: BaseException | None = None, **fields: Any
) -> None:
    """Log one structured event; ``fields`` become keys of the JSON line.

    ``exc`` adds the exception's type, its cause's, and stack frames (never a message).
    """
    log_fields(level, event, fields, exc)


def log_fields(
    level: int, event: str, fields: dict[str, Any], exc: BaseException | None = None
) -> None:
    """``log_event`` with its fields in a dict the caller built (and gives up): the
    server's line for every request is written this way, without packing them again."""
    if not logger.isEnabledFor(level):
        return
    direct = _direct_handlers()
    if direct:  # the usual set-up: the line is written without building a LogRecord
        line: str | None = None
        for handler in direct:
            if level >= handler.level:
                if line is None:
                    line = event_line(time.time(), level, event, fields, exc)
                handler.write_line(line)
        return
    logger.log(level, event, exc_info=exc, extra={"mapwire_fields": fields})


def _direct_handlers() -> list[JsonLineHandler]:
    """The logger's handlers when all are ``JsonLineHandler`` and nothing filters them
    and nothing propagates to other loggers (``configure_logging``'s set-up), else none:
    then the records go through ``logging``."""
    handlers = logger.handlers
    if not handlers or logger.filters or logger.propagate:
        return []
    for handler in handlers:
        if type(handler) is not JsonLineHandler or handler.filters:
            return []
    return handlers  # type: ignore[return-value]


#: The end of a time, for each millisecond of its second: "000Z" to "999Z".
_MILLISECONDS = [f"{ms:03d}Z" for ms in range(1000)]
#: The ``level`` of a line, for the levels the server logs at.
_LEVEL_NAMES = {
    n: logging.getLevelName(n).lower()
    for n in (logging.DEBUG, logging.INFO, logging.WARNING, logging.ERROR, logging.CRITICAL)
}


class _Clock:
    """UTC times to the millisecond; the part to the second is kept for the lines that
    follow in the same second."""

    second: tuple[int, str] = (-1, "")

    def text(self, created: float) -> str:
        whole = int(created)
        second, text = self.second
        if whole != second:
            text = datetime.fromtimestamp(whole, UTC).strftime("%Y-%m-%dT%H:%M:%S.")
            self.second = (whole, text)
        return text + _MILLISECONDS[int((created - whole) * 1000)]


_clock = _Clock()


def event_line(
    created: float,
    level: int,
    event: str,
    fields: dict[str, Any],
    exc: BaseException | None = None,
) -> str:
    """The JSON line of one event (see the module docstring)."""
    line: dict[str, Any] = {
        "time": _clock.text(created),
        "level": _LEVEL_NAMES.get(level) or logging.getLevelName(level).lower(),
        "event": event,
    }
    line.update(fields)
    if exc is not None:
        line["error_type"] = type(exc).__name__
        if exc.__cause__ is not None:  # e.g. the driver's error behind QueueUnavailable
            line["cause_type"] = type(exc.__cause__).__name__
        line["traceback"] = _frames(exc)
    return orjson.dumps(line, default=str).decode()


def _frames(exc: BaseException) -> list[str]:
    """``file:line in function`` for each frame, innermost last; no message, no locals."""
    summary = traceback.extract_tb(exc.__traceback__)
    return [f"{frame.filename}:{frame.lineno} in {frame.name}" for frame in summary]


class JsonLineFormatter(logging.Formatter):
    """Formats a record as one JSON object (see the module docstring)."""

    def format(self, record: logging.LogRecord) -> str:
        exc = record.exc_info[1] if record.exc_info else None
        fields = getattr(record, "mapwire_fields", None)
        if fields is not None:
            return event_line(record.created, record.levelno, str(record.msg), fields, exc)
        source = "http_server" if record.name.startswith("uvicorn") else record.name
        return event_line(
            record.created, record.levelno, source, {"message": record.getMessage()}, exc
        )


#: The most a write of log lines carries (``select.PIPE_BUF`` on Linux): a pipe or socket
#: shared with other processes (``serve``'s children share stderr) takes a write up to this
#: size whole, so no other process's line lands inside one of ours.
ATOMIC_WRITE_BYTES = 4096


class JsonLineHandler(logging.StreamHandler[IO[str]]):
    """A stream handler with the JSON formatter.

    ``write_line`` on a thread running an event loop keeps the line and writes what the
    loop's callbacks logged together when they are done (``loop.call_soon``), in writes of
    at most ``ATOMIC_WRITE_BYTES`` (a longer line alone): under load that is one write for
    a dozen request lines, where each line was a write of its own. Elsewhere, and in
    ``flush`` (which ``logging`` calls at exit, and a child process before it ends), the
    lines kept are written first, then the new one: the order stays the order they were
    logged in. A loop that stopped before its callback ran leaves its lines to the next
    loop that logs, or to ``flush``."""

    def __init__(self, stream: IO[str] | None = None) -> None:
        super().__init__(stream if stream is not None else sys.stderr)
        self.setFormatter(JsonLineFormatter())
        self._kept: list[str] = []
        self._flushing_on: asyncio.AbstractEventLoop | None = None

    def write_line(self, line: str) -> None:
        """Write one formatted line, as ``emit`` would (see the class docstring)."""
        loop = asyncio._get_running_loop()
        with self.lock:  # type: ignore[union-attr]
            self._kept.append(line)
            if loop is None:
                self._write_kept()
            elif self._flushing_on is not loop:  # none due yet, or due on another loop
                self._flushing_on = loop
                loop.call_soon(self.flush)

    def emit(self, record: logging.LogRecord) -> None:
        """A record of another library (the HTTP server's), written as ``write_line``."""
        try:
            line = self.format(record)
        except Exception:
            self.handleError(record)
            return
        self.write_line(line)

    def flush(self) -> None:
        """Write the lines kept, then flush the stream."""
        with self.lock:  # type: ignore[union-attr]
            self._write_kept()

    def _write_kept(self) -> None:
        lines, self._kept, self._flushing_on = self._kept, [], None
        try:
            for chunk in _chunks(lines, self.terminator):
                self.stream.write(chunk)
                super().flush()  # each chunk one write of its own
            super().flush()  # nothing kept: what others wrote to the stream (a no-op else)
        except Exception:  # as logging does: a line that cannot be written is no crash
            pass


def _chunks(lines: list[str], end: str) -> Iterator[str]:
    """``lines``, each ended by ``end``, joined in pieces of at most ``ATOMIC_WRITE_BYTES``
    bytes (a longer line is a piece alone)."""
    piece: list[str] = []
    size = 0
    for line in lines:
        length = (len(line) if line.isascii() else len(line.encode())) + len(end)
        if piece and size + length > ATOMIC_WRITE_BYTES:
            yield end.join(piece) + end
            piece, size = [], 0
        piece.append(line)
        size += length
    if piece:
        yield end.join(piece) + end


def configure_logging(level: str = "info", stream: IO[str] | None = None) -> JsonLineHandler:
    """Send the server's and the HTTP server's records to ``stream`` as JSON lines.

    Replaces any handler an earlier call installed; returns the new handler.
    """
    handler = JsonLineHandler(stream)
    numeric = getattr(logging, level.upper())
    for name in CAPTURED:
        target = logging.getLogger(name)
        for old in [h for h in target.handlers if isinstance(h, JsonLineHandler)]:
            old.flush()  # the lines it kept, before it goes
            target.removeHandler(old)
        target.addHandler(handler)
        target.setLevel(numeric)
        target.propagate = False
    return handler


def flush_logs() -> None:
    """Write every line the handlers keep (before a process ends without ``atexit``)."""
    for name in CAPTURED:
        for handler in logging.getLogger(name).handlers:
            handler.flush()


def reset_logging(handler: logging.Handler) -> None:
    """Remove a handler ``configure_logging`` installed (for tests and embedding), once
    the lines it kept are written."""
    handler.flush()
    for name in CAPTURED:
        logging.getLogger(name).removeHandler(handler)
