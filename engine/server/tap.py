"""The serving side of ``mapwire tap``: each intake process streams what it receives and
what it maps to the taps attached to it, over a Unix domain socket.

Where: ``tap_folder(config)`` (``server.tap``: beside a SQLite queue file as
``<file>-tap``, else beside the config file as ``<config>-tap``, or the folder it names;
``false``: no tap). Each intake process listens on ``<folder>/<pid>.sock``; the folder is
made 0700 and the socket 0600, so only the user running ``serve`` may tap it (no HTTP
auth is needed: the filesystem decides). The socket appears only once it listens, and is
removed (the folder too, once empty) when the process stops. With ``--workers N`` the
folder holds N sockets and the client attaches to each; a socket left by a killed process
refuses connections, and the client removes it.

Protocol: the client sends one JSON line ``{"connection", "rule", "redact"}`` (each
optional); the process answers ``{"type": "tapping", "pid"}`` once the tap is attached,
then JSON lines (``tap_records``), or ``{"type": "error", "message"}`` and closes.

Cost: with no tap attached ``Pipeline.on_mapped`` is None (one check per document). With
taps, the committer thread filters each mapped document by connection and rule, copies it
with secrets (and, if asked, personal data) masked, and hands the lines to each tap's
buffer. A buffer holds at most ``MAX_RECORDS`` records and ``MAX_BYTES`` bytes: past that,
records are dropped and counted, and the tap is sent ``{"type": "dropped", "count"}``
before its next records. A tap that reads slowly never slows intake nor grows memory.
At most ``MAX_TAPS`` taps attach to one process.
"""

from __future__ import annotations

import asyncio
import atexit
import contextlib
import logging
import os
import socket
import stat
import threading
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson

from ..runtime.config import Config
from ..runtime.pipeline import Pipeline
from ..runtime.redaction import Redactor
from ..runtime.submissions import Mapped
from .logs import log_event
from .tap_records import Masker, config_secrets, records

MAX_RECORDS = 1000
MAX_BYTES = 16_000_000
MAX_TAPS = 16
HELLO_BYTES = 4096
HELLO_SECONDS = 10.0
SOCKET_SUFFIX = ".sock"
#: How long a process without an event loop waits for its tap socket (``tap_in_thread``).
TAP_START_SECONDS = 5.0
_SQLITE = "sqlite:///"


def tap_folder(config: Config) -> Path | None:
    """The folder of the config's tap sockets; None when ``server.tap`` is false."""
    setting = config.server.tap
    if setting is False:
        return None
    if isinstance(setting, str):
        return Path(setting)
    queue = config.queue
    if queue.startswith(_SQLITE) and ":memory:" not in queue:
        return Path(os.path.abspath(queue[len(_SQLITE) :] + "-tap"))
    return Path(os.path.abspath(config.path + "-tap"))


@dataclass(frozen=True)
class Wanted:
    """What one tap asked for."""

    connection: str | None = None
    rule: str | None = None
    redact: bool = False


def parse_hello(line: bytes) -> Wanted:
    """The client's first line; ValueError if it is not ``{"connection", "rule", "redact"}``."""
    value = orjson.loads(line)
    if not isinstance(value, dict):
        raise ValueError("expected a JSON object")
    connection, rule, redact = value.get("connection"), value.get("rule"), value.get("redact")
    if not all(v is None or isinstance(v, str) for v in (connection, rule)):
        raise ValueError("connection and rule must be strings")
    return Wanted(connection, rule, bool(redact))


class _Tap:
    """One attached tap: its filter and its bounded buffer (filled by the committer
    thread, emptied by the event loop)."""

    def __init__(self, wanted: Wanted, loop: asyncio.AbstractEventLoop) -> None:
        self.wanted = wanted
        self.loop = loop
        self.ready = asyncio.Event()
        self._lock = threading.Lock()
        self._lines: deque[bytes] = deque()
        self._bytes = 0
        self._dropped = 0

    def offer(self, lines: Sequence[bytes]) -> None:
        """Buffer ``lines``, dropping (and counting) those past the bounds; any thread."""
        with self._lock:
            wake = not self._lines
            for line in lines:
                if len(self._lines) >= MAX_RECORDS or self._bytes + len(line) > MAX_BYTES:
                    self._dropped += 1
                    continue
                self._lines.append(line)
                self._bytes += len(line)
            wake = wake and bool(self._lines)
        if wake:
            self.loop.call_soon_threadsafe(self.ready.set)

    def take(self) -> tuple[list[bytes], int]:
        """What is buffered, and how many records were dropped since the last take."""
        with self._lock:
            self.ready.clear()
            lines, dropped = list(self._lines), self._dropped
            self._lines.clear()
            self._bytes = self._dropped = 0
        return lines, dropped


class TapServer:
    """This process's tap socket and the taps attached to it."""

    def __init__(self, folder: Path, pipeline: Pipeline, secrets: Sequence[str]) -> None:
        self.folder = folder
        self.path = folder / f"{os.getpid()}{SOCKET_SUFFIX}"
        self.pipeline = pipeline
        self._secrets = Redactor(secrets)
        self._taps: tuple[_Tap, ...] = ()  # replaced whole: the committer thread reads it
        self._handlers: set[asyncio.Task[Any]] = set()
        self._server: asyncio.AbstractServer | None = None
        self._failed = False

    async def start(self) -> None:
        """Listen on the socket, made visible only once it listens."""
        self.folder.mkdir(mode=0o700, parents=True, exist_ok=True)
        info = self.folder.stat()
        if info.st_uid != os.getuid():
            raise PermissionError("the tap folder belongs to another user")
        if stat.S_IMODE(info.st_mode) != 0o700:
            os.chmod(self.folder, 0o700)
        staging = self.folder / f".{os.getpid()}.new"
        with contextlib.suppress(FileNotFoundError):
            staging.unlink()
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            sock.bind(str(staging))
            os.chmod(staging, 0o600)
            sock.listen(MAX_TAPS)
            os.replace(staging, self.path)
        except BaseException:
            sock.close()
            with contextlib.suppress(OSError):
                staging.unlink()
            raise
        self._server = await asyncio.start_unix_server(self._serve, sock=sock, limit=HELLO_BYTES)

    def follow(self, config: Config, pipeline: Pipeline) -> None:
        """Tap ``pipeline`` from now on (a reload swapped it in), masking ``config``'s
        secrets; the taps attached stay attached."""
        secret_settings = {n: d.secret_settings for n, d in pipeline.destinations.items()}
        self._secrets = Redactor(config_secrets(config, secret_settings))
        old, self.pipeline = self.pipeline, pipeline
        pipeline.on_mapped = old.on_mapped
        old.on_mapped = None

    async def close(self) -> None:
        """Detach every tap, stop listening and remove the socket."""
        self.pipeline.on_mapped = None
        if self._server is not None:
            self._server.close()
        for task in list(self._handlers):
            task.cancel()
        if self._handlers:
            await asyncio.gather(*self._handlers, return_exceptions=True)
        with contextlib.suppress(OSError):
            self.path.unlink()
        with contextlib.suppress(OSError):
            self.folder.rmdir()  # when no other process listens there

    # -- the committer thread's side ------------------------------------------------------
    def publish(
        self,
        mapped: Mapped,
    ) -> None:
        """``Pipeline.on_mapped`` while taps are attached; never raises into intake."""
        try:
            made: dict[tuple[str | None, bool], list[bytes]] = {}
            for tap in self._taps:
                wanted = tap.wanted
                if wanted.connection is not None and wanted.connection != mapped.connection:
                    continue
                key = (wanted.rule, wanted.redact)
                lines = made.get(key)
                if lines is None:
                    mask = Masker(self._secrets, redact=wanted.redact)
                    lines = made[key] = records(mapped, rule=wanted.rule, mask=mask)
                if lines:
                    tap.offer(lines)
        except Exception as exc:  # a tap must never fail a request
            if not self._failed:
                self._failed = True
                log_event(logging.ERROR, "tap_failed", exc=exc)

    # -- the event loop's side ------------------------------------------------------------
    def _attach(self, tap: _Tap) -> None:
        self._taps = (*self._taps, tap)
        self.pipeline.on_mapped = self.publish

    def _detach(self, tap: _Tap) -> None:
        self._taps = tuple(t for t in self._taps if t is not tap)
        if not self._taps:
            self.pipeline.on_mapped = None

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._handlers.add(task)
        try:
            wanted = await self._hello(reader, writer)
            if wanted is not None:
                await self._stream(_Tap(wanted, asyncio.get_running_loop()), reader, writer)
        except (ConnectionError, OSError, asyncio.CancelledError):
            pass
        finally:
            self._handlers.discard(task)
            writer.close()

    async def _hello(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> Wanted | None:
        try:
            async with asyncio.timeout(HELLO_SECONDS):
                line = await reader.readline()
            wanted = parse_hello(line)
        except (TimeoutError, ValueError) as exc:
            reason = "no filter line" if isinstance(exc, TimeoutError) else str(exc)
            await _send(writer, {"type": "error", "message": f"bad filter line: {reason}"})
            return None
        if len(self._taps) >= MAX_TAPS:
            await _send(writer, {"type": "error", "message": f"{MAX_TAPS} taps are attached"})
            return None
        return wanted

    async def _stream(
        self, tap: _Tap, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        """Attach ``tap`` and write its records until the client leaves."""
        self._attach(tap)
        left = asyncio.ensure_future(reader.read(1))  # the client closed (or spoke out of turn)
        ready: asyncio.Future[Any] | None = None
        try:
            await _send(writer, {"type": "tapping", "pid": os.getpid()})
            while True:
                ready = asyncio.ensure_future(tap.ready.wait())
                await asyncio.wait({left, ready}, return_when=asyncio.FIRST_COMPLETED)
                if left.done():
                    return
                lines, dropped = tap.take()
                if dropped:
                    writer.write(orjson.dumps({"type": "dropped", "count": dropped}) + b"\n")
                writer.writelines(lines)
                await writer.drain()
        finally:
            self._detach(tap)
            left.cancel()
            if ready is not None:
                ready.cancel()


async def _send(writer: asyncio.StreamWriter, record: dict[str, Any]) -> None:
    writer.write(orjson.dumps(record) + b"\n")
    await writer.drain()


async def open_tap(config: Config, pipeline: Pipeline) -> TapServer | None:
    """This process's tap, listening; None when ``server.tap`` is false or the socket
    cannot be made (logged: ``serve`` runs on without a tap)."""
    folder = tap_folder(config)
    if folder is None:
        return None
    secret_settings = {n: d.secret_settings for n, d in pipeline.destinations.items()}
    server = TapServer(folder, pipeline, config_secrets(config, secret_settings))
    try:
        await server.start()
    except OSError as exc:
        reason = f"{type(exc).__name__}: {exc.strerror or exc}"
        log_event(logging.WARNING, "tap_unavailable", folder=str(folder), reason=reason)
        return None
    log_event(logging.INFO, "tap_ready", socket=str(server.path))
    return server


def tap_in_thread(config: Config, pipeline: Pipeline) -> None:
    """``open_tap`` for a process without an event loop (the helper that maps heavy
    bodies): the socket is served by a loop in a daemon thread of its own, and removed
    when the process exits normally (a killed one's is removed by ``mapwire tap``)."""
    ready = threading.Event()

    async def serve() -> None:
        tap = await open_tap(config, pipeline)
        ready.set()
        if tap is not None:
            atexit.register(tap.path.unlink, missing_ok=True)
            await asyncio.Event().wait()  # for as long as the process lives

    thread = threading.Thread(target=asyncio.run, args=(serve(),), daemon=True)
    thread.name = "mapwire-tap"
    thread.start()
    ready.wait(TAP_START_SECONDS)
