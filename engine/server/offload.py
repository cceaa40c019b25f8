"""Heavy bodies in a process of their own, so the serving process never holds them.

Parsing a body of megabytes builds millions of objects in calls that hold the interpreter
lock for hundreds of milliseconds (the parse, then freeing it all), and a thread does not
help: every small request waits behind those calls. A body over ``server.offload_bytes``
is therefore sent, as bytes, to a helper process that does what ``endpoints`` does after
the credentials are checked: parse it (within the depth limit), split it into documents,
map and queue them (in its own transaction, through the same queue), and build the answer.
The serving process only copies the bytes over and relays the small answer; its event
loop keeps answering other requests meanwhile.

The helper is started with the first such body (``spawn``: a fresh interpreter that loads
the server's config file again, with the same plugins) and serves every later one; the
bodies sent to it at once stay within ``server.max_parse_bytes`` (``ParseBudget.turn``).
It opens a tap socket of its own, so ``mapwire tap`` shows what it maps. If it dies, the
request it held is answered 503 ``offload_failed`` (the input may or may
not be queued, as with any 503 on a timeout: the sender retries and the flows' dedup keeps
it once) and the next heavy body starts a new one. If the config file no longer loads
(broken since the server read it), the helper logs why once (``offload_config_invalid``)
and answers heavy bodies 503 with that code, trying the file again at most every
``RETRY_LOAD`` seconds. A config that is not a readable file (built in code) has no
helper: its heavy bodies are parsed in a thread.
"""

from __future__ import annotations

import asyncio
import logging
import multiprocessing
import os
import time
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson

from ..contracts.endpoint import Answering, Endpoint
from ..contracts.errors import BacklogFull, InputError, IntakeUnavailable, MapwireError
from ..runtime.config import Config, load_config
from ..runtime.submissions import IntakeReport, Submission
from .committer import request_error
from .logs import LEVELS, configure_logging, log_event, logger
from .parse_budget import parse_large
from .queueing import parts_for, summary
from .tap import tap_in_thread


def connections_signature(config: Config) -> str:
    """What a request is mapped by, per connection (name, flow, whether it is enabled,
    its mapping's name and settings): the helper refuses a body when the config it loaded
    from the file says otherwise than the serving process's (an edit not yet reloaded), so
    a body is never answered 2xx by a config that would drop it."""
    rows = [
        [c.name, c.flow, c.enabled, c.when_disabled, c.plan.name, c.settings]
        for c in config.connections
    ]
    return orjson.dumps(rows, option=orjson.OPT_SORT_KEYS, default=str).decode()


@dataclass(frozen=True)
class Handled:
    """What the helper did with one body: the answer to send and what was queued."""

    status: int
    body: bytes
    note: str | None
    report: IntakeReport | None
    #: documents received, per source (for this process's metrics)
    received: dict[str, int]


@dataclass(frozen=True)
class _Refused:
    """An error of the ``MapwireError`` tree, as plain data (some of them do not pickle)."""

    kind: str
    message: str
    status: int = 503
    code: str = ""
    retry_after: int = 5
    connection: str = ""

    def error(self) -> MapwireError:
        if self.kind == "input":
            return InputError(self.message, status=self.status, code=self.code)
        if self.kind == "backlog":
            return BacklogFull(self.connection, 0, 0)
        return IntakeUnavailable(self.message, code=self.code, retry_after=self.retry_after)


class Offload:
    """Hands heavy bodies to the helper process (started on first use)."""

    def __init__(self, config: Config) -> None:
        self.threshold = config.server.offload_bytes
        self._config = config
        self._signature = connections_signature(config)
        self._pool: ProcessPoolExecutor | None = None
        self.available = self.threshold > 0 and Path(config.path).is_file()

    def follow(self, config: Config) -> None:
        """Use ``config`` from now on (a reload swapped it in): the helper holding the old
        one finishes the bodies it was given and stops; the next heavy body starts a new
        helper, which reads the config files as they are now."""
        self._config = config
        self._signature = connections_signature(config)
        self.threshold = config.server.offload_bytes
        self.available = self.threshold > 0 and Path(config.path).is_file()
        pool, self._pool = self._pool, None
        if pool is not None:
            pool.shutdown(wait=False)

    def takes(self, size: int) -> bool:
        """Whether a body of ``size`` bytes goes to the helper."""
        return self.available and size > self.threshold

    async def handle(self, endpoint: Endpoint, body: bytes, only: Sequence[str] | None) -> Handled:
        """Parse, split, queue and answer ``body`` in the helper; raise what it refused with.

        ``only`` names the connections the request is for (verified by their own source
        settings), or None for every enabled connection reading the documents' sources."""
        pool = self._executor()
        loop = asyncio.get_running_loop()
        names = None if only is None else tuple(only)
        expected = self._signature
        try:
            outcome = await loop.run_in_executor(
                pool, _handle, endpoint.path, body, names, expected
            )
        except BrokenProcessPool:
            self._discard(pool)
            log_event(logging.ERROR, "offload_failed", reason="the helper process stopped")
            raise IntakeUnavailable(
                "the process handling large bodies stopped; the input may or may not be "
                "queued: send it again",
                code="offload_failed",
                retry_after=1,
            ) from None
        if isinstance(outcome, _Refused):
            raise outcome.error()
        return outcome

    def close(self) -> None:
        """Stop the helper once it has answered what it holds."""
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None

    def _executor(self) -> ProcessPoolExecutor:
        if self._pool is None:
            level = logging.getLevelName(logger.getEffectiveLevel()).lower()
            self._pool = ProcessPoolExecutor(
                1,
                mp_context=multiprocessing.get_context("spawn"),
                initializer=_start,
                initargs=(self._config.path, self._config.base, level),
            )
        return self._pool

    def _discard(self, pool: ProcessPoolExecutor) -> None:
        if self._pool is pool:
            self._pool = None
        pool.shutdown(wait=False, cancel_futures=True)


# -- the helper process -----------------------------------------------------------------
class _Helper:
    def __init__(self, path: str, base: str) -> None:
        from ..runtime.process import Runtime
        from ..runtime.registry import get_registry

        self.config = load_config(path, base=Path(base) if base else None)
        self.signature = connections_signature(self.config)
        self.runtime = Runtime(self.config)
        self.endpoints = {e.path: e for e in get_registry().endpoints().values()}


_helper: _Helper | None = None
#: The config file's location, and when loading it last failed (monotonic seconds).
_files: tuple[str, str] = ("", "")
_failed_at: float | None = None
#: A config file that failed to load is tried again at most this often (seconds).
RETRY_LOAD = 5.0


def _start(path: str, base: str, level: str) -> None:
    global _files
    configure_logging(level if level in LEVELS else "info")
    _files = (path, base)
    _load()


def _load() -> None:
    """Load the config file into ``_helper``; a file broken since the server loaded it is
    logged (once, until it loads again) and ``_helper`` stays None."""
    global _helper, _failed_at
    try:
        helper = _Helper(*_files)
    except MapwireError as exc:
        if _failed_at is None:
            log_event(logging.ERROR, "offload_config_invalid", error=str(exc))
        _failed_at = time.monotonic()
        return
    _helper, _failed_at = helper, None
    tap_in_thread(helper.config, helper.runtime.pipeline)  # mapwire tap sees its bodies
    log_event(logging.INFO, "offload_ready", pid=os.getpid())


def _handle(
    path: str, body: bytes, only: tuple[str, ...] | None, expected: str
) -> Handled | _Refused:
    if _helper is None and _failed_at is not None and time.monotonic() - _failed_at >= RETRY_LOAD:
        _load()  # the file may have been fixed since
    if _helper is None:  # its config file could not be loaded (logged)
        return _Refused(
            "unavailable",
            "the config file cannot be loaded (see the log); fix it, then send again",
            code="offload_config_invalid",
            retry_after=5,
        )
    if _helper.signature != expected:
        log_event(logging.WARNING, "offload_config_differs")
        return _Refused(
            "unavailable",
            "the config file differs from the running config (reload it); send again",
            code="offload_config_differs",
            retry_after=5,
        )
    try:
        return _run(_helper, _helper.endpoints[path], body, only)
    except InputError as exc:
        return _Refused("input", str(exc), exc.status, exc.code)
    except BacklogFull as exc:
        return _Refused("backlog", str(exc), connection=exc.connection)
    except IntakeUnavailable as exc:
        return _Refused("unavailable", str(exc), code=exc.code, retry_after=exc.retry_after)


def _run(helper: _Helper, endpoint: Endpoint, body: bytes, only: Sequence[str] | None) -> Handled:
    pipeline = helper.runtime.pipeline
    parsed = parse_large(body, helper.config.server.max_json_depth)
    found = endpoint.split(parsed)
    report = None
    intake: dict[str, Any] | None = None
    if found is not None:
        [done] = pipeline.submit_many([Submission(parts_for(pipeline, found, only))])
        error = request_error(done)
        if error is not None:
            try:
                raise error
            finally:  # else this frame, the body in it, stays in a cycle with the error
                del error, done
        report = done.report
        intake = summary(report)

    def readers(source: str) -> list[Any]:
        return [conn.settings for conn in pipeline.connections_for(source)]

    reply = endpoint.answer(Answering(parsed, intake, readers))
    received: dict[str, int] = {}
    for documents in found or ():
        received[documents.source] = received.get(documents.source, 0) + len(documents.documents)
    return Handled(reply.status, orjson.dumps(reply.body), reply.note, report, received)
