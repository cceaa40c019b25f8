"""Ordering soak: several ``mapwire serve`` workers share one queue (SQLite here, Redis in
the Redis plugin's tests), a slow vendor,
and a driver that keeps updating people while workers are killed (``kill -9``) and
restarted at random. Every person's updates reach the vendor in the order they were
accepted, so each person's last value is the newest one sent.

A few seconds by default; ``MAPWIRE_ORDER_SOAK_SECONDS`` runs it longer.
"""

from __future__ import annotations

import json
import os
import random
import subprocess
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import pytest
from server_helpers import bearer
from test_person_order import cio_config, kill, plan_update, plans, until
from test_serve_command import _start, _stop

SECONDS = float(os.environ.get("MAPWIRE_ORDER_SOAK_SECONDS", "3"))
WORKERS = 3
DRIVERS = 4
PEOPLE = [f"p{n}" for n in range(8)]


class Workers:
    """The running workers by slot; a killed one is restarted in the background."""

    def __init__(self, config: Path, folder: Path) -> None:
        self.args = ["--config", str(config)]
        self.folder = folder
        self.lock = threading.Lock()
        self.running: dict[int, tuple[subprocess.Popen[str], str]] = {}
        self.restarts: list[threading.Thread] = []
        self.kills = 0
        with ThreadPoolExecutor(WORKERS) as pool:
            started = list(pool.map(lambda _: _start(self.args, folder), range(WORKERS)))
        self.running = dict(enumerate(started))

    def urls(self) -> list[str]:
        with self.lock:
            return [url for _, url in self.running.values()]

    def kill_one(self, rng: random.Random) -> None:
        with self.lock:
            if len(self.running) < 2:
                return
            slot = rng.choice(sorted(self.running))
            process, _ = self.running.pop(slot)
        kill(process)
        self.kills += 1
        thread = threading.Thread(target=self._restart, args=(slot,))
        thread.start()
        self.restarts.append(thread)

    def _restart(self, slot: int) -> None:
        started = _start(self.args, self.folder)
        with self.lock:
            self.running[slot] = started

    def stop(self) -> None:
        for thread in self.restarts:
            thread.join(60)
        for process, _ in self.running.values():
            _stop(process)


def send(urls: list[str], person: str, value: int, rng: random.Random) -> bool:
    """Post one update to a random worker; whether it was accepted."""
    body = plan_update(person, str(value))
    try:
        answer = httpx.post(
            rng.choice(urls) + "/mparticle/events", json=body, headers=bearer(), timeout=5
        )
    except httpx.TransportError:  # the worker was killed: maybe queued, maybe not
        return False
    return answer.status_code == 202


class Driver:
    """Threads that keep updating random people with ever newer values until ``end``."""

    def __init__(self, workers: Workers, seed: int) -> None:
        self.workers = workers
        self.seed = seed
        self.lock = threading.Lock()
        self.value = 0
        self.newest: dict[str, int] = {}
        #: people with an update being posted: one at a time each, so that the order
        #: of acceptance is the order of the values
        self.busy: set[str] = set()

    def run(self, end: float) -> None:
        threads = [
            threading.Thread(target=self._drive, args=(end, random.Random(self.seed + n)))
            for n in range(DRIVERS)
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()

    def _drive(self, end: float, rng: random.Random) -> None:
        while time.monotonic() < end:
            with self.lock:
                free = [p for p in PEOPLE if p not in self.busy]
                if not free:
                    continue
                person = rng.choice(free)
                self.busy.add(person)
                self.value += 1
                value = self.value
            accepted = send(self.workers.urls(), person, value, rng)
            with self.lock:
                if accepted:
                    self.newest[person] = value
                self.busy.discard(person)

    def finish(self, rng: random.Random) -> None:
        """A last value for everyone, accepted for sure (the kills are over)."""
        for person in PEOPLE:
            self.value += 1
            while not send(self.workers.urls(), person, self.value, rng):
                time.sleep(0.05)
            self.newest[person] = self.value


@pytest.mark.usefixtures("vendor_secrets")
def test_every_persons_last_value_is_the_newest_sent(
    tmp_path: Path, customerio_server: Any
) -> None:
    soak(tmp_path, customerio_server)


def soak(folder: Path, customerio_server: Any, store: str | None = None) -> None:
    """Run the soak with the queue in ``store`` (a URL; the config's SQLite file if None)."""
    rng = random.Random(os.getpid())
    config = cio_config(folder, customerio_server, timeout_seconds=2, lease_seconds=2)
    if store is not None:
        document = json.loads(config.read_text())
        document["store"] = store
        config.write_text(json.dumps(document))
    customerio_server.set_validate(False)
    customerio_server.set_delay(0.2)  # slow: kills land while requests are in flight
    workers = Workers(config, folder)
    driver = Driver(workers, rng.randrange(1 << 30))
    try:
        end = time.monotonic() + SECONDS
        killer = threading.Thread(target=driver.run, args=(end,))
        killer.start()
        while time.monotonic() < end:
            time.sleep(rng.uniform(0.3, 0.8))
            workers.kill_one(rng)
        killer.join()
        driver.finish(rng)
        newest = driver.newest

        def settled() -> bool:
            return all(plans(customerio_server, p)[-1:] == [str(newest[p])] for p in PEOPLE)

        until(settled, "every person's newest value delivered", timeout=60)
    finally:
        workers.stop()
    assert workers.kills >= 1
    for person in PEOPLE:
        seen = [int(v) for v in plans(customerio_server, person)]
        assert first_arrivals(seen) == sorted(set(seen)), f"{person}: {seen}"
        assert seen[-1] == newest[person]


def first_arrivals(seen: list[int]) -> list[int]:
    """The values in the order they first arrived. Only what a killed worker had in flight
    may arrive again (re-sent, in order, before anything newer); an older value never
    arrives for the first time after a newer one."""
    return list(dict.fromkeys(seen))
