"""Everything a running mapwire process holds, built from a config: the state store, the
queue, metrics, the intake pipeline, and one deliverer per delivering connection.

``send`` and ``serve`` both build a ``Runtime``; it is the only place that opens stores,
queues and HTTP clients, and it closes them all.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import time
import weakref
from collections.abc import Iterable, Mapping
from typing import Any

import httpx

from ..contracts.destination import Destination
from . import http1
from .config import Config, Connection
from .credentials_pause import REASON as PAUSE_REASON
from .delivery import Deliverer
from .delivery_loops import DeliveryLoops
from .metrics import Metrics
from .pipeline import Pipeline
from .queue_hop import QueueHop
from .registry import Registry, get_registry

#: Seconds a stop waits for the cancelled deliverers to end, and ``Runtime.close`` for
#: their queue calls still running (a queue call waits at most its busy timeout, 5 s by
#: default, per statement).
CLOSE_WAIT_SECONDS = 30.0


def client_for(conn: Connection, registry: Registry, timeout: float) -> httpx.AsyncClient:
    """The client ``conn``'s requests go through: the transport a plugin registered under
    its ``transport:`` name (never proxied), else the deliverers' own (``delivery.http``),
    with a proxy from the environment where one applies (``http1.vendor_client``)."""
    transport = registry.make_transport(conn.transport) if conn.transport else None
    return http1.vendor_client(conn.delivery.http, timeout, transport)


class Runtime:
    def __init__(self, config: Config, registry: Registry | None = None) -> None:
        self.config = config
        self.registry = registry or get_registry()
        self.store = self.registry.make_state_store(config.store)
        self.queue = self.registry.make_queue(config.queue)
        self.metrics = Metrics()
        self.pipeline = self.build_pipeline(config)
        self._clients: list[httpx.AsyncClient] = []
        self._limiters: list[Any] = []
        self._hops: weakref.WeakSet[QueueHop] = weakref.WeakSet()  # the deliverers' threads
        self._wake: dict[str, asyncio.Event] = {}
        self._loops: DeliveryLoops | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    # -- reload -----------------------------------------------------------------------------
    def build_pipeline(self, config: Config) -> Pipeline:
        """An intake pipeline for ``config`` over this process's store, queue and metrics
        (its flows compiled); ``adopt`` puts it in use."""
        pipeline = Pipeline(
            config,
            self.store,
            self.queue,
            self.metrics,
            destinations=self.registry.destinations(),
        )
        pipeline.on_queued = self._notify
        return pipeline

    def adopt(self, config: Config, pipeline: Pipeline) -> None:
        """Use ``config`` and its ``pipeline`` from now on (one reference each; whoever
        holds the old pipeline finishes with it). The store and the queue stay; call
        ``redeliver`` to bring the delivery loops in line."""
        if pipeline.on_mapping_failure is None:
            pipeline.on_mapping_failure = self.pipeline.on_mapping_failure
        self.config, self.pipeline = config, pipeline

    async def redeliver(self) -> list[str]:
        """Restart the delivery loops whose connection changed (see ``delivery_loops``);
        the connections whose loop stopped. Nothing to do when this process delivers not."""
        return await self._loops.update() if self._loops is not None else []

    # -- delivery ---------------------------------------------------------------------------
    def _client(self, conn: Connection) -> httpx.AsyncClient:
        client = client_for(conn, self.registry, conn.delivery.timeout_seconds)
        self._clients.append(client)
        return client

    def deliverer(self, conn: Connection) -> Deliverer:
        destination = self.registry.destinations()[conn.plan.destination]
        rate = conn.delivery.rate_limit or destination.capabilities.requests_per_second
        key = limiter_key(destination, conn.destination)
        limiter = self.registry.make_rate_limiter(self.config.store, key, rate)
        self._limiters.append(limiter)
        deliverer = Deliverer(
            conn.name,
            destination,
            conn.destination,
            self.queue,
            self._client(conn),
            limiter=limiter,
            metrics=self.metrics,
            retry_window_seconds=conn.delivery.retry_window_hours * 3600,
            max_backoff_seconds=conn.delivery.max_backoff_seconds,
            lease_seconds=max(conn.delivery.lease_seconds, conn.delivery.timeout_seconds * 2),
            credentials_hold_seconds=conn.delivery.credentials_hold_minutes * 60,
        )
        self._hops.add(deliverer.hop)  # its queue calls, waited for at close
        return deliverer

    def delivering(self, only: Iterable[str] | None = None) -> list[Connection]:
        names = set(only) if only is not None else None
        return [
            c for c in self.config.connections if c.delivers and (names is None or c.name in names)
        ]

    async def deliver(
        self, stop: asyncio.Event, only: Iterable[str] | None = None, *, idle_poll: float = 1.0
    ) -> None:
        """Run every delivering connection's loop until ``stop`` is set; an idle loop looks
        at the queue again after ``idle_poll`` seconds unless intake in this process wakes
        it sooner. ``redeliver`` changes the loops while they run."""
        self._loop = asyncio.get_running_loop()
        loops = self._loops = DeliveryLoops(self, only, idle_poll=idle_poll)
        try:
            await loops.run(stop)
        finally:
            loops.cancel()
            await loops.cancelled(CLOSE_WAIT_SECONDS)

    @property
    def deliverers(self) -> dict[str, Deliverer]:
        """The running deliverers by connection (while ``deliver`` runs)."""
        return self._loops.deliverers if self._loops is not None else {}

    def wake_event(self, connection: str) -> asyncio.Event:
        return self._wake.setdefault(connection, asyncio.Event())

    async def retire(self, deliverer: Deliverer) -> None:
        """Close what a stopped deliverer used: its HTTP client and its rate limiter (a
        pause it was in ends with it: the new deliverer tries the credentials afresh)."""
        if deliverer.credentials.paused:
            self.metrics.connection_paused.labels(deliverer.connection, PAUSE_REASON).set(0)
        if deliverer.client in self._clients:
            self._clients.remove(deliverer.client)
        await deliverer.client.aclose()
        if deliverer.limiter in self._limiters:
            self._limiters.remove(deliverer.limiter)
            close = getattr(deliverer.limiter, "close", None)
            if close is not None:
                close()

    def paused(self) -> dict[str, str]:
        """Connections whose delivery is paused, and why (no secrets)."""
        return {
            name: d.credentials.describe()
            for name, d in self.deliverers.items()
            if d.credentials.paused
        }

    def wake_all(self) -> None:
        """Wake every idle deliverer (so one that is stopping sees it at once)."""
        for conn in self.delivering():
            self._notify(conn.name)

    def _notify(self, connection: str) -> None:
        """Intake queued work for ``connection``: wake its deliverer (thread-safe)."""
        event = self._wake.get(connection)
        if event is None or self._loop is None:
            return
        if self._loop.is_running():
            self._loop.call_soon_threadsafe(event.set)

    async def aclose(self) -> None:
        for client in self._clients:
            await client.aclose()
        self._clients.clear()

    def close(self) -> None:
        for limiter in self._limiters:
            close = getattr(limiter, "close", None)  # a plugin's limiter may hold a client
            if close is not None:
                close()
        self._limiters.clear()
        deadline = time.monotonic() + CLOSE_WAIT_SECONDS
        for hop in list(self._hops):  # calls the deliverers made finish first, even those
            hop.wait(max(0.0, deadline - time.monotonic()))  # whose awaiters were cancelled
        self.queue.close()
        self.store.close()


def limiter_key(destination: Destination, settings: Mapping[str, Any]) -> str:
    """Names one destination credential for a shared rate limit: a hash of the
    destination's name and its secret settings, so the secrets never leave the process."""
    secrets = {name: str(settings.get(name, "")) for name in sorted(destination.secret_settings)}
    text = json.dumps([destination.name, secrets], sort_keys=True, ensure_ascii=False)
    return hashlib.sha256(text.encode()).hexdigest()[:32]
