"""``mapwire serve --workers N --deliverers M`` as real processes: several intake processes
on one port and deliverer processes, supervised; SIGTERM drains them all, and a ``kill -9``
of any child loses nothing that was acknowledged."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from itertools import pairwise
from pathlib import Path
from typing import Any

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families
from server_helpers import bearer, cio_destination, event_ids, events_batch, write_config
from test_serve_command import MAPWIRE, _free_port

from mapwire.plugins.customerio.requests import MAX_ITEMS_PER_BATCH
from mapwire.runtime.config import DeliveryOptions

pytestmark = pytest.mark.usefixtures("vendor_secrets")
EVENTS = 5
IN_FLIGHT_MAX = MAX_ITEMS_PER_BATCH * DeliveryOptions().concurrency  # a claim a lane


def until(check: Callable[[], bool], what: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout  # a bound for a loaded machine, not a timing
    while not check():
        assert time.monotonic() < deadline, f"never: {what}"
        time.sleep(0.05)


class Serve:
    """``mapwire serve`` with its JSON log lines in a file, to read while it runs."""

    def __init__(self, args: list[str], folder: Path) -> None:
        self.log = folder / f"serve-{time.monotonic_ns()}.log"
        port = _free_port()
        self.url = f"http://127.0.0.1:{port}"
        with self.log.open("w") as stderr:
            self.process = subprocess.Popen(
                [str(MAPWIRE), "serve", "--port", str(port), *args],
                cwd=folder,
                stdout=subprocess.DEVNULL,
                stderr=stderr,
                text=True,
            )
        until(self._ready, "serve is ready")

    def _ready(self) -> bool:
        assert self.process.poll() is None, self.log.read_text()
        try:
            return httpx.get(self.url + "/readyz", timeout=1).status_code == 200
        except httpx.TransportError:
            return False

    def events(self, name: str) -> list[dict[str, Any]]:
        text = self.log.read_text()
        lines = text[: text.rfind("\n") + 1].splitlines()  # not a line still being written
        found = [json.loads(line) for line in lines if line.startswith("{")]
        return [e for e in found if e["event"] == name]

    def children(self, role: str) -> list[int]:
        """The pids of the running children of ``role``."""
        started = {e["pid"] for e in self.events("child_started") if e["role"] == role}
        exited = {e["pid"] for e in self.events("child_exited")}
        return sorted(started - exited)

    def stop(self) -> int:
        self.process.send_signal(signal.SIGTERM)
        return self.process.wait(timeout=90)


def cio_config(folder: Path, vendor: Any, **extra: Any) -> Path:
    connection = {
        "name": "cio",
        "flow": "mparticle-events-to-customerio",
        "destination": cio_destination(vendor),
    }
    return write_config(folder, [connection], **extra)


class Traffic:
    """Posts one 5-event batch per user from a few threads; remembers what was acknowledged."""

    def __init__(self, url: str, users: list[str]) -> None:
        self.acknowledged: set[str] = set()
        self.answered = 0
        self._lock = threading.Lock()
        self._pool = ThreadPoolExecutor(4)
        self._client = httpx.Client(base_url=url, headers=bearer(), timeout=30)
        self._futures = [self._pool.submit(self._post, user) for user in users]

    def _post(self, user: str) -> None:
        body = json.dumps(events_batch(user, EVENTS))
        try:
            status = self._client.post("/mparticle/events", content=body).status_code
        except httpx.TransportError:
            status = 0  # refused or cut: not acknowledged
        with self._lock:
            self.answered += 1
            if status == 202:
                self.acknowledged.add(user)
        assert status in (0, 202, 503)

    def wait(self) -> set[str]:
        for future in self._futures:
            future.result()
        self._pool.shutdown()
        self._client.close()
        return self.acknowledged


def delivered(server: Any) -> dict[str, set[str]]:
    """The items applied per user: their event ids and "identify"."""
    items: dict[str, set[str]] = {}
    for item in server.accepted_items("POST /api/v2/batch"):
        items.setdefault(item["identifiers"]["id"], set()).add(item.get("id", "identify"))
    return items


def all_delivered(server: Any, users: set[str]) -> bool:
    items = delivered(server)
    return all(len(items.get(user, ())) == EVENTS + 1 for user in users)


def two_workers_and_a_deliverer(folder: Path, vendor: Any) -> Serve:
    """``serve --workers 2 --deliverers 1`` for the Customer.io flow (the vendor accepting
    any payload)."""
    vendor.set_validate(False)
    config = cio_config(folder, vendor)
    return Serve(["--config", str(config), "--workers", "2", "--deliverers", "1"], folder)


def test_two_workers_and_a_deliverer_deliver_everything_and_sigterm_drains_them(
    tmp_path: Path, customerio_server: Any
) -> None:
    serve = two_workers_and_a_deliverer(tmp_path, customerio_server)
    try:
        assert len(serve.children("worker")) == 2 and len(serve.children("deliverer")) == 1
        first = Traffic(serve.url, [f"a{i}" for i in range(60)]).wait()
        assert len(first) == 60
        until(lambda: all_delivered(customerio_server, first), "everything delivered")
        assert len(serve.events("server_ready")) == 2  # one per worker
        traffic = Traffic(serve.url, [f"b{i}" for i in range(200)])
        until(lambda: traffic.answered >= 20, "traffic is flowing")
    finally:
        code = serve.stop()
    assert code == 0, serve.log.read_text()
    second = traffic.wait()
    assert len(serve.events("server_stopped")) == 2
    assert len(serve.events("deliverer_stopped")) == 1
    assert not serve.events("child_exited"), "no child died"
    for pid in {e["pid"] for e in serve.events("child_started")}:
        with pytest.raises(ProcessLookupError):
            os.kill(pid, 0)
    # What was acknowledged before the stop is delivered by the next run, if not by this one.
    again = two_workers_and_a_deliverer(tmp_path, customerio_server)
    try:
        until(lambda: all_delivered(customerio_server, first | second), "the rest delivered")
    finally:
        assert again.stop() == 0
    ids = event_ids(customerio_server)
    assert len(ids) == len(set(ids))
    assert customerio_server.duplicates_absorbed == 0


def metric(serve: Serve, name: str, *, close: bool = False, **labels: str) -> float:
    """The sum of the samples ``name`` (with ``labels``) on ``/metrics`` (with ``close``,
    asked on a connection of its own)."""
    headers = {"Connection": "close"} if close else {}
    text = httpx.get(serve.url + "/metrics", headers=headers, timeout=10).text
    return sum(
        s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
        if s.name == name and all(s.labels.get(k) == v for k, v in labels.items())
    )


def test_metrics_are_those_of_every_process_added_up_and_a_killed_deliverer_s_are_kept(
    tmp_path: Path, customerio_server: Any
) -> None:
    serve = two_workers_and_a_deliverer(tmp_path, customerio_server)
    try:
        assert len(Traffic(serve.url, [f"m{i}" for i in range(40)]).wait()) == 40
        actions = 40 * (EVENTS + 1)
        # Delivery counts come from the deliverer; intake counts from both workers.
        until(
            lambda: metric(serve, "mapwire_delivered_actions_total") == actions,
            "the deliverer's counts on /metrics",
        )
        until(
            lambda: (
                metric(serve, "mapwire_mapped_actions_total") == actions
                and metric(
                    serve, "mapwire_http_requests_total", route="/mparticle/events", status="202"
                )
                == 40
            ),
            "both workers' counts, added up",
        )
        assert metric(serve, "mapwire_queue_depth") == 0
        (deliverer,) = serve.children("deliverer")
        os.kill(deliverer, signal.SIGKILL)
        until(
            lambda: serve.children("deliverer") not in ([], [deliverer]),
            "the deliverer is replaced",
        )
        assert len(Traffic(serve.url, [f"n{i}" for i in range(10)]).wait()) == 10
        until(
            lambda: metric(serve, "mapwire_delivered_actions_total") == actions + 10 * (EVENTS + 1),
            "the killed deliverer's counts kept, its successor's added",
        )
    finally:
        assert serve.stop() == 0, serve.log.read_text()
    children = {e["pid"] for e in serve.events("child_started")}
    left = Path(tempfile.gettempdir()).glob("mapwire-metrics-*/*.json")
    assert not [p for p in left if int(p.name.split(".")[0]) in children], "folder removed"


def test_totals_on_metrics_never_fall_while_both_workers_answer_under_load(
    tmp_path: Path, customerio_server: Any
) -> None:
    serve = two_workers_and_a_deliverer(tmp_path, customerio_server)
    stop = threading.Event()

    def load() -> None:
        with httpx.Client(base_url=serve.url, headers=bearer(), timeout=30) as client:
            for i in range(10_000):
                if stop.is_set():
                    return
                client.post("/mparticle/events", content=json.dumps(events_batch(f"l{i}", 2)))

    def totals() -> tuple[float, ...]:
        # A new connection each time, as a scraper may open: either worker may answer.
        names = ("mapwire_http_requests_total", "mapwire_mapped_actions_total")
        return tuple(metric(serve, name, close=True) for name in names)

    threads = [threading.Thread(target=load) for _ in range(3)]
    for thread in threads:
        thread.start()
    seen = []
    try:
        until(lambda: (seen.append(totals()), len(seen) >= 60)[1], "60 scrapes", timeout=120)
    finally:
        stop.set()
        for thread in threads:
            thread.join()
        assert serve.stop() == 0, serve.log.read_text()
    falls = [(a, b) for a, b in pairwise(seen) if any(y < x for x, y in zip(a, b, strict=True))]
    assert seen[-1][0] > seen[0][0] and not falls, falls


NO_METRICS_FOLDER = """
import tempfile

_mkdtemp = tempfile.mkdtemp


def mkdtemp(*args, **kwargs):
    if str(kwargs.get("prefix", "")).startswith("mapwire-metrics-"):
        raise PermissionError(13, "Permission denied")
    return _mkdtemp(*args, **kwargs)


tempfile.mkdtemp = mkdtemp
"""


def test_serve_runs_without_a_metrics_folder_each_worker_answering_for_itself(
    tmp_path: Path, customerio_server: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    patches = tmp_path / "patches"
    patches.mkdir()
    (patches / "sitecustomize.py").write_text(NO_METRICS_FOLDER)
    monkeypatch.setenv("PYTHONPATH", str(patches))
    serve = two_workers_and_a_deliverer(tmp_path, customerio_server)
    try:
        assert len(Traffic(serve.url, ["x1", "x2"]).wait()) == 2
        until(lambda: all_delivered(customerio_server, {"x1", "x2"}), "delivered")
        assert httpx.get(serve.url + "/metrics").status_code == 200
    finally:
        assert serve.stop() == 0, serve.log.read_text()
    (warning,) = serve.events("shared_metrics_unavailable")
    assert warning["level"] == "warning" and warning["error_type"] == "PermissionError"


def test_kill_9_of_a_worker_and_of_the_deliverer_mid_load_loses_nothing_acknowledged(
    tmp_path: Path, customerio_server: Any
) -> None:
    customerio_server.set_validate(False)
    customerio_server.set_delay(0.2)  # slow vendor: the kill lands with a request in flight
    # A lease far past the test's bounds: only the dead-owner reclaim of the restarted
    # deliverer can hand the killed one's claim on in time.
    config = cio_config(
        tmp_path,
        customerio_server,
        server={
            "auth": {"bearer_token": {"env": "TEST_INBOUND_TOKEN"}},
            "workers": 2,
            "deliverers": 1,
        },
        delivery={"lease_seconds": 600, "timeout_seconds": 5},
    )
    serve = Serve(["--config", str(config)], tmp_path)
    try:
        traffic = Traffic(serve.url, [f"u{i}" for i in range(300)])
        until(lambda: customerio_server.arrived >= 2, "delivery is under way")
        [deliverer] = serve.children("deliverer")
        os.kill(deliverer, signal.SIGKILL)
        until(lambda: traffic.answered >= 100, "more traffic answered")
        worker = serve.children("worker")[0]
        os.kill(worker, signal.SIGKILL)
        acknowledged = traffic.wait()
        killed = {("deliverer", deliverer, "SIGKILL"), ("worker", worker, "SIGKILL")}

        def exited() -> set[tuple[str, int, str]]:
            return {(e["role"], e["pid"], e["signal"]) for e in serve.events("child_exited")}

        until(lambda: exited() >= killed, "both deaths are logged")  # reaped on a tick
        assert exited() == killed
        until(lambda: len(serve.children("worker")) == 2, "the worker restarted")
        until(lambda: len(serve.children("deliverer")) == 1, "the deliverer restarted")
        customerio_server.set_delay(0)
        until(lambda: all_delivered(customerio_server, acknowledged), "all acknowledged delivered")
    finally:
        code = serve.stop()
    assert code == 0, serve.log.read_text()
    assert len(acknowledged) > 100
    ids = event_ids(customerio_server)
    assert len(ids) == len(set(ids))  # re-sent events were absorbed by the vendor's dedup
    assert customerio_server.duplicates_absorbed <= IN_FLIGHT_MAX


def test_a_store_that_cannot_open_stops_every_process_with_exit_3(tmp_path: Path) -> None:
    config = tmp_path / "bad.yaml"
    config.write_text(
        "mapwire: 1\nstore: sqlite:////proc/no-such-dir-SENTINEL/state.db\nconnections:\n"
        "  - name: a\n    flow: mparticle-events-to-customerio\n"
        "    destination: {site_id: s, api_key: k}\n"
    )
    args = ["--workers", "2", "--deliverers", "1", "--port", str(_free_port())]
    done = subprocess.run(
        [str(MAPWIRE), "serve", "--config", str(config), *args],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 3, done.stderr
    assert '"event":"child_never_started"' in done.stderr
    assert '"event":"child_exited"' not in done.stderr  # not restarted in a loop
    assert "SENTINEL" not in done.stderr
