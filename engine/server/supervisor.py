"""The ``serve`` process of ``mapwire serve --workers N --deliverers M``: it forks its
children (POSIX), restarts those that die, and drains them all on SIGTERM or SIGINT.

Each child runs one ``Role`` and exits with its code. A child that exits while ``serve`` is
not stopping is logged (``child_exited``) and started again after a backoff that doubles
from ``FIRST_BACKOFF_SECONDS`` up to ``MAX_BACKOFF_SECONDS`` while it keeps dying quickly;
one that ran ``STEADY_SECONDS`` starts the count again. A child of the first generation
that exits with ``EXIT_NEVER_STARTED`` (it could not open the store, say) stops everything:
restarting it would only repeat the failure.

The first SIGTERM or SIGINT is sent on as SIGTERM to every child: intake processes stop
accepting, answer and commit what they hold; deliverers finish their request. ``serve``
waits for them all (any still running after ``STOP_SECONDS`` is killed) and returns. A
second signal is sent on as SIGINT, which makes the children quit at once. Children run
in their own process group, so a Ctrl-C on a terminal reaches them only through ``serve``,
and each one stops by itself if ``serve`` disappears.

SIGHUP (or, with ``--watch``, a change to the files ``Reloading.due`` reports) is sent on
to every running child, each of which reloads itself; ``Reloading.apply`` then loads the
files in ``serve`` too, so that a child started later begins with the current set.
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from types import FrameType
from typing import Any, Protocol

from .logs import flush_logs, log_event

EXIT_NEVER_STARTED = 3
FIRST_BACKOFF_SECONDS = 0.5
MAX_BACKOFF_SECONDS = 30.0
STEADY_SECONDS = 30.0
#: Past this after the stop signal, children still running are killed.
STOP_SECONDS = 60.0
_TICK_SECONDS = 0.05
_PARENT_CHECK_SECONDS = 1.0


@dataclass(frozen=True)
class Role:
    """What one child does: ``run`` returns its exit code."""

    kind: str  # "worker" or "deliverer"
    index: int
    run: Callable[[], int]


@dataclass
class _Slot:
    role: Role
    pid: int = 0
    last_pid: int = 0
    started_at: float = 0.0
    generation: int = 0
    quick_failures: int = 0
    restart_at: float | None = None


class Reloading(Protocol):
    """What ``serve`` does for a reload besides sending SIGHUP on (``reload.ParentReload``)."""

    def due(self) -> bool: ...
    def apply(self, trigger: str) -> None: ...


def supervise(
    roles: list[Role],
    reloading: Reloading | None = None,
    on_exit: Callable[[int], None] | None = None,
) -> bool:
    """Run ``roles`` as children until a signal drains them; False if one never started.
    ``on_exit`` is told the pid of every child that exits."""
    signals: list[int] = []
    hangups: list[int] = []

    def on_signal(signum: int, frame: FrameType | None) -> None:
        signals.append(signum)

    def on_hangup(signum: int, frame: FrameType | None) -> None:
        hangups.append(signum)

    previous = {s: signal.signal(s, on_signal) for s in (signal.SIGTERM, signal.SIGINT)}
    if reloading is not None:
        previous[signal.SIGHUP] = signal.signal(signal.SIGHUP, on_hangup)
    slots = [_Slot(role) for role in roles]
    started = True
    forwarded = 0
    deadline: float | None = None
    try:
        for slot in slots:
            _spawn(slot)
        while True:
            if len(signals) > forwarded:
                if forwarded == 0:
                    deadline = time.monotonic() + STOP_SECONDS
                    log_event(logging.INFO, "stopping", children=_running(slots))
                _send(slots, signal.SIGTERM if forwarded == 0 else signal.SIGINT)
                forwarded = len(signals)
            for slot, code in _reaped(slots):
                if on_exit is not None:
                    on_exit(slot.last_pid)
                if forwarded or not started:
                    continue
                if code == EXIT_NEVER_STARTED and slot.generation == 1:
                    log_event(logging.ERROR, "child_never_started", **_about(slot))
                    started = False
                    signals.append(signal.SIGTERM)
                    continue
                _schedule_restart(slot, code)
            if not forwarded and reloading is not None:
                trigger = "SIGHUP" if hangups else "watch" if reloading.due() else None
                if trigger is not None:
                    hangups.clear()
                    _send(slots, signal.SIGHUP)
                    reloading.apply(trigger)
            now = time.monotonic()
            if not forwarded:
                for slot in slots:
                    if slot.restart_at is not None and slot.restart_at <= now:
                        _spawn(slot)
            elif not _running(slots):
                return started
            elif deadline is not None and now > deadline:
                _send(slots, signal.SIGKILL)
                deadline = None
            time.sleep(_TICK_SECONDS)
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)


def _spawn(slot: _Slot) -> None:
    slot.generation += 1
    slot.restart_at = None
    parent = os.getpid()
    pid = os.fork()
    if pid == 0:  # the child
        code = 1
        try:
            os.setpgid(0, 0)
            for signum in (signal.SIGTERM, signal.SIGINT):
                signal.signal(signum, signal.SIG_DFL)
            _stop_with_parent(parent)
            code = slot.role.run()
        except SystemExit as exc:  # uvicorn exits 3 when the application cannot start
            code = exc.code if isinstance(exc.code, int) else 1
        except BaseException as exc:
            log_event(logging.ERROR, "child_failed", exc=exc, role=slot.role.kind)
        finally:
            flush_logs()  # the lines its event loop kept: the process ends without atexit
            os._exit(code)
    slot.pid = slot.last_pid = pid
    slot.started_at = time.monotonic()
    log_event(logging.INFO, "child_started", **_about(slot))


def _stop_with_parent(parent: int) -> None:
    """SIGTERM this process when ``parent`` (the supervisor) is gone."""

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(_PARENT_CHECK_SECONDS)
        os.kill(os.getpid(), signal.SIGTERM)

    threading.Thread(target=watch, name="mapwire-parent-watch", daemon=True).start()


def _reaped(slots: list[_Slot]) -> list[tuple[_Slot, int]]:
    """The children that exited since the last look, with their exit codes."""
    done = []
    for slot in slots:
        if not slot.pid:
            continue
        pid, status = os.waitpid(slot.pid, os.WNOHANG)
        if pid:
            slot.pid = 0
            done.append((slot, os.waitstatus_to_exitcode(status)))
    return done


def _schedule_restart(slot: _Slot, code: int) -> None:
    lived = time.monotonic() - slot.started_at
    slot.quick_failures = 0 if lived >= STEADY_SECONDS else slot.quick_failures + 1
    delay = min(MAX_BACKOFF_SECONDS, FIRST_BACKOFF_SECONDS * 2 ** max(0, slot.quick_failures - 1))
    slot.restart_at = time.monotonic() + delay
    cause = {"signal": signal.Signals(-code).name} if code < 0 else {"exit_code": code}
    log_event(
        logging.WARNING,
        "child_exited",
        **_about(slot),
        **cause,
        ran_seconds=round(lived, 1),
        restart_in_seconds=delay,
    )


def _send(slots: list[_Slot], signum: int) -> None:
    for slot in slots:
        if slot.pid:
            with contextlib.suppress(ProcessLookupError):
                os.kill(slot.pid, signum)


def _running(slots: list[_Slot]) -> int:
    return sum(1 for slot in slots if slot.pid)


def _about(slot: _Slot) -> dict[str, Any]:
    return {"role": slot.role.kind, "index": slot.role.index, "pid": slot.last_pid}
