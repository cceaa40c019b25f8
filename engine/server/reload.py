"""Hot reload of the config and the mappings in a running ``serve``: on SIGHUP, and with
``--watch`` when one of the files changes.

A reload reads the config file again and compiles and checks every mapping it names, off
the event loop (``runtime.reload``), while the server goes on answering with what it has.
Only when all of it is valid is it swapped in, as one reference per holder:

* intake: requests that started before the swap are mapped by the plans they started with
  (each request keeps its ``Active``, each queued submission its pipeline); later ones by
  the new plans;
* delivery in this process: the loops whose connection changed (destination settings such
  as a credential, transport, delivery options like a rate limit) finish their request
  and start again with the new settings; a removed connection stops delivering and what
  is queued for it stays queued, as after a restart (``runtime.delivery_loops``);
* the store, the queue and every pending item stay: nothing queued is lost or mapped
  twice.

An invalid new set changes nothing: each problem is logged as ``file:line:col: CODE
message`` in a ``config_reload_failed`` line, and the old set keeps running. Settings a
running process cannot change (the store, the queue, ``server.host``/``port``/
``workers``/``deliverers`` and the HTTP server's limits) keep their running values; a
``config_reload_needs_restart`` warning names them. Plugins are not loaded again.
``mapwire_config_reloads_total{result="ok|failed"}`` counts reloads.

With ``--workers``/``--deliverers`` the supervising process sends SIGHUP on to every child
(each reloads itself) and loads the files too, so a child it starts later begins with the
current set (``ParentReload``); it is also the one that watches the files.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import threading
import time
from collections.abc import Callable
from types import FrameType
from typing import Any

from prometheus_client import Counter

from ..contracts.errors import SpecError
from ..runtime.config import Config
from ..runtime.process import Runtime
from ..runtime.reload import Prepared, load_checked, prepare, watched_files
from .logs import log_event

#: How often ``--watch`` looks at the files; a change is acted on once two looks agree.
WATCH_SECONDS = 1.0

Loader = Callable[[], Config]
_hangups: list[int] = []


def _held(signum: int, frame: FrameType | None) -> None:
    _hangups.append(signum)


def hold_hangups() -> None:
    """Until a reloader takes over, a SIGHUP is remembered instead of ending the process."""
    if hasattr(signal, "SIGHUP") and threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGHUP, _held)


def _held_hangup() -> bool:
    held = bool(_hangups)
    _hangups.clear()
    return held


def log_problems(exc: BaseException, **fields: Any) -> None:
    """A ``config_reload_failed`` line: each problem at ``file:line:col`` (messages never
    quote a secret value), else only the kind of error."""
    if isinstance(exc, SpecError):
        errors = [
            str(p) + (f" (suggestion: {p.suggestion})" if p.suggestion else "")
            for p in exc.problems
        ]
        log_event(
            logging.ERROR,
            "config_reload_failed",
            errors=errors,
            kept="the running config",
            **fields,
        )
    else:
        log_event(
            logging.ERROR,
            "config_reload_failed",
            exc=exc,
            error_type=type(exc).__name__,
            kept="the running config",
            **fields,
        )


def log_needs_restart(settings: tuple[str, ...], **fields: Any) -> None:
    if settings:
        log_event(
            logging.WARNING,
            "config_reload_needs_restart",
            settings=list(settings),
            message="these settings changed but apply only after a restart; "
            "their running values are kept",
            **fields,
        )


class FileWatch:
    """Says when the files of a config changed: size, modification time and inode,
    looked at by ``changed`` (debounced: a change counts once two looks agree)."""

    def __init__(self, config: Config) -> None:
        self.files = watched_files(config)
        self._seen = self._looks()
        self._pending: object = None

    def follow(self, config: Config) -> None:
        """Watch the files of ``config`` (after a reload); a change made to the same files
        while the reload ran is still seen at the next look."""
        files = watched_files(config)
        if files != self.files:
            self.files = files
            self._seen = self._looks()
        self._pending = None

    def _looks(self) -> tuple[tuple[int, int, int] | None, ...]:
        looks: list[tuple[int, int, int] | None] = []
        for path in self.files:
            try:
                st = path.stat()
            except OSError:
                looks.append(None)
            else:
                looks.append((st.st_mtime_ns, st.st_size, st.st_ino))
        return tuple(looks)

    def changed(self) -> bool:
        now = self._looks()
        if now == self._seen:
            self._pending = None
            return False
        if now != self._pending:  # still being written, perhaps: look again first
            self._pending = now
            return False
        self._seen, self._pending = now, None
        return True


class Reloader:
    """Reloads one server or deliverer process; ``on_swap`` tells its owner the new set."""

    def __init__(
        self,
        runtime: Runtime,
        load: Loader,
        *,
        on_swap: Callable[[Prepared], None] | None = None,
        role: str = "server",
    ) -> None:
        self.runtime = runtime
        self.load = load
        self.on_swap = on_swap
        self.role = role
        self.results = Counter(
            "mapwire_config_reloads",
            "Config reloads (SIGHUP or --watch), by result.",
            ["result"],
            registry=runtime.metrics.registry,
        )
        for result in ("ok", "failed"):
            self.results.labels(result)  # both series exist from the start, at 0
        self._task: asyncio.Task[None] | None = None
        self._again: str | None = None
        self._tasks: set[asyncio.Task[None]] = set()

    def request(self, trigger: str) -> None:
        """Reload soon (on the event loop); one asked for during a reload runs after it."""
        if self._task is not None and not self._task.done():
            self._again = trigger
            return
        self._task = asyncio.get_running_loop().create_task(self._run(trigger))

    async def _run(self, trigger: str) -> None:
        while True:
            await self.reload(trigger)
            if self._again is None:
                return
            trigger, self._again = self._again, None

    async def reload(self, trigger: str = "call") -> bool:
        """Load, check and swap in the new set; False (the old set kept) if it is invalid."""
        fields: dict[str, Any] = {"trigger": trigger, "role": self.role, "pid": os.getpid()}
        running = self.runtime.config
        try:
            prepared = await asyncio.to_thread(prepare, running, self.load, self.runtime)
        except Exception as exc:
            self.results.labels("failed").inc()
            log_problems(exc, **fields)
            return False
        assert prepared.pipeline is not None
        log_needs_restart(prepared.needs_restart, **fields)
        self.runtime.adopt(prepared.config, prepared.pipeline)
        if self.on_swap is not None:
            self.on_swap(prepared)
        restarted = await self.runtime.redeliver()
        self.results.labels("ok").inc()
        log_event(
            logging.INFO,
            "config_reloaded",
            connections=[c.name for c in prepared.config.connections],
            delivery_restarted=restarted,
            **fields,
        )
        return True

    def start(self, *, watch: bool) -> None:
        """Reload on SIGHUP (from the main thread only) and, with ``watch``, on file
        changes; a SIGHUP held since the process started is acted on now."""
        loop = asyncio.get_running_loop()
        if hasattr(signal, "SIGHUP") and threading.current_thread() is threading.main_thread():
            loop.add_signal_handler(signal.SIGHUP, self.request, "SIGHUP")
            if _held_hangup():
                self.request("SIGHUP")
        if watch:
            self._tasks.add(loop.create_task(self._watch(), name="mapwire-watch"))

    async def _watch(self) -> None:
        files = FileWatch(self.runtime.config)
        while True:
            await asyncio.sleep(WATCH_SECONDS)
            if await asyncio.to_thread(files.changed):
                self.request("watch")
                while self._task is not None and not self._task.done():
                    await asyncio.sleep(WATCH_SECONDS / 10)
                files.follow(self.runtime.config)

    async def stop(self) -> None:
        """No more reloads; one under way is left to finish (it swaps nothing afterwards
        that the shutdown does not close)."""
        if hasattr(signal, "SIGHUP") and threading.current_thread() is threading.main_thread():
            asyncio.get_running_loop().remove_signal_handler(signal.SIGHUP)
            hold_hangups()
        for task in self._tasks:
            task.cancel()
        if self._task is not None:
            with contextlib.suppress(Exception, asyncio.CancelledError):
                await self._task


class ParentReload:
    """The supervising process's part: it loads the files again (so the children it starts
    later begin with the current set) and, with ``watch``, looks at them every second."""

    def __init__(self, config: Config, load: Loader, *, watch: bool) -> None:
        self.config = config
        self.load = load
        self._watch = FileWatch(config) if watch else None
        self._next_look = time.monotonic() + WATCH_SECONDS

    def due(self) -> bool:
        """Whether the watched files changed (looked at once a second at most)."""
        if self._watch is None or time.monotonic() < self._next_look:
            return False
        self._next_look = time.monotonic() + WATCH_SECONDS
        return self._watch.changed()

    def apply(self, trigger: str) -> None:
        fields: dict[str, Any] = {"trigger": trigger, "role": "supervisor", "pid": os.getpid()}
        try:
            checked = load_checked(self.config, self.load)
        except Exception as exc:
            log_problems(exc, **fields)
        else:
            log_needs_restart(checked.needs_restart, **fields)
            self.config = checked.config
            log_event(logging.INFO, "config_reloaded", **fields)
        if self._watch is not None:
            self._watch.follow(self.config)
