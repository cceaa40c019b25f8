"""A deliverer process of ``mapwire serve --deliverers M``: the delivery loops of
``mapwire deliver`` (``Runtime.deliver``), run until SIGTERM or SIGINT instead of until the
queue is empty.

On the first signal every connection's loop finishes the request it is sending and stops
(cancelled if that takes longer than ``DELIVERY_STOP_SECONDS``); a second signal cancels at
once. What was claimed and not settled comes back to the queue: at once for the process
that replaces a killed one (dead-owner reclaim), else when its lease runs out.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal

from ..runtime.config import Config
from ..runtime.interpreter import settle_interpreter
from ..runtime.process import Runtime
from .app import stop_delivery
from .logs import log_event
from .reload import Loader, Reloader, hold_hangups
from .shared_metrics import MetricsFolder, Publisher
from .supervisor import EXIT_NEVER_STARTED

#: How often an idle deliverer looks at the shared queue: intake runs in other processes
#: and cannot wake it.
IDLE_POLL_SECONDS = 0.1


def run_deliverer(
    config: Config,
    reload: Loader | None = None,
    *,
    loop: str = "asyncio",
    shared_metrics: MetricsFolder | None = None,
) -> int:
    """Deliver ``config``'s connections until signalled (and with ``reload``, reload on
    SIGHUP: the loops whose connection changed start again), on the event ``loop`` the
    intake processes run (``uvloop`` or ``asyncio``), publishing the metrics to
    ``shared_metrics`` (the intake processes serve them); the process's exit code."""
    hold_hangups()
    try:
        runtime = Runtime(config)
    except Exception as exc:
        # The message may quote a store URL with its password: log the kind only.
        log_event(logging.ERROR, "startup_failed", exc=exc, reason=type(exc).__name__)
        return EXIT_NEVER_STARTED
    settle_interpreter()  # this process delivers and nothing else
    registry = runtime.metrics.registry
    publisher = Publisher(shared_metrics, registry).start() if shared_metrics else None
    try:
        if loop == "uvloop":
            import uvloop

            uvloop.run(_deliver_until_signalled(runtime, reload))
        else:
            asyncio.run(_deliver_until_signalled(runtime, reload))
    finally:
        runtime.close()
        if publisher is not None:
            publisher.stop()
    snapshot = {c.name: runtime.metrics.snapshot(c.name) for c in runtime.delivering()}
    log_event(
        logging.INFO,
        "deliverer_stopped",
        delivered={name: snap["delivered"] for name, snap in snapshot.items()},
        dead_lettered={name: snap["dead_lettered"] for name, snap in snapshot.items()},
    )
    return 0


async def _deliver_until_signalled(runtime: Runtime, reload: Loader | None) -> None:
    stop = asyncio.Event()
    delivery = asyncio.create_task(runtime.deliver(stop, idle_poll=IDLE_POLL_SECONDS))
    loop = asyncio.get_running_loop()
    reloader = Reloader(runtime, reload, role="deliverer") if reload is not None else None

    def on_signal() -> None:
        if stop.is_set():
            delivery.cancel()  # the second signal: now
        stop.set()
        runtime.wake_all()

    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, on_signal)
    log_event(logging.INFO, "deliverer_ready", connections=[c.name for c in runtime.delivering()])
    if reloader is not None:
        reloader.start(watch=False)  # the supervisor watches the files
    waiting = asyncio.create_task(stop.wait())
    try:
        await asyncio.wait({delivery, waiting}, return_when=asyncio.FIRST_COMPLETED)
        if delivery.done() and not stop.is_set():
            delivery.result()  # raises its error: the supervisor starts another process
            await waiting  # no delivering connection: idle until told to stop
        with contextlib.suppress(asyncio.CancelledError):  # cancelled by a second signal
            await stop_delivery(delivery)
    finally:
        waiting.cancel()
        if reloader is not None:
            await reloader.stop()
        await runtime.aclose()
