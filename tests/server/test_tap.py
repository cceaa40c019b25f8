"""``mapwire tap`` against a real ``mapwire serve``: documents and the actions they become
(with their rules), filters, masking, a tap that never reads (intake goes on, drops are
counted), both intake processes of ``--workers 2``, and the errors when nothing runs."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import pytest
from click.testing import CliRunner
from server_helpers import bearer, events_batch, write_config
from test_serve_command import MAPWIRE
from test_serve_processes import Serve, until

from mapwire.cli import main
from mapwire.runtime.redaction import Redactor
from mapwire.server.tap_records import Masker, is_credential, personal

pytestmark = pytest.mark.usefixtures("secrets")
CIO_KEY = "cio-key-SENTINEL-4f1e77"  # a secret of the config, in a document below
EVENTS = 2
#: per request and connection: the document, the identify and one action per event
PER_DOCUMENT = 2 + EVENTS


def _connections() -> list[dict[str, Any]]:
    cio = {"site_id": "s", "api_key": CIO_KEY}
    flow = "mparticle-events-to-customerio"
    return [
        {"name": "events", "flow": flow, "destination": cio, "transport": "sink:out"},
        {"name": "events-b", "flow": flow, "destination": cio, "transport": "sink:out"},
    ]


#: Runs the command after it with SIGINT at its default, as a terminal starts it: a
#: pytest-xdist worker ignores SIGINT and its children inherit that, so a tap started
#: from one would never see the Ctrl-C its test sends (it passed only on a worker where an
#: earlier test had put Python's handler back).
DEFAULT_SIGINT = [
    sys.executable,
    "-c",
    "import os, signal, sys; signal.signal(signal.SIGINT, signal.SIG_DFL); "
    "os.execv(sys.argv[1], sys.argv[1:])",
]


class Tap:
    """``mapwire tap ARGS`` as a real process, started as from a terminal; its stdout is
    read only once ``read`` is called (a tap that never reads until then)."""

    def __init__(self, args: list[str], folder: Path) -> None:
        self.err = folder / f"tap-{len(list(folder.glob('tap-*.err')))}.err"
        command = [*DEFAULT_SIGINT, str(MAPWIRE), "tap", *args]
        with self.err.open("w") as stderr:
            self.process = subprocess.Popen(
                command, cwd=folder, stdout=subprocess.PIPE, stderr=stderr
            )
        self.lines: list[bytes] = []
        self._lock = threading.Lock()
        self._reader: threading.Thread | None = None
        until(self._attached, "the tap is attached")

    def _attached(self) -> bool:
        assert self.process.poll() is None, self.err.read_text()
        return "mapwire tap: tapping" in self.err.read_text()

    def read(self) -> None:
        def pump() -> None:
            assert self.process.stdout is not None
            for line in self.process.stdout:
                with self._lock:
                    self.lines.append(line)

        self._reader = threading.Thread(target=pump, daemon=True)
        self._reader.start()

    def records(self) -> list[dict[str, Any]]:
        with self._lock:
            return [json.loads(line) for line in self.lines]

    def ended(self) -> int:
        """Its exit code, once it ended by itself (``--limit``) and its output is read."""
        code = self.process.wait(timeout=60)
        assert self._reader is not None
        self._reader.join(timeout=60)
        assert self.process.stdout is not None
        self.process.stdout.close()
        return code

    def interrupt(self) -> int:
        self.process.send_signal(signal.SIGINT)
        return self.ended()


@pytest.fixture
def serve(tmp_path: Path) -> Iterator[Serve]:
    config = write_config(tmp_path, _connections())
    server = Serve(["--config", str(config)], tmp_path)
    yield server
    server.stop()


def _post(url: str, batch: dict[str, Any]) -> None:
    answer = httpx.post(url + "/mparticle/events", json=batch, headers=bearer(), timeout=30)
    assert answer.status_code == 202, answer.text


def test_tap_streams_each_document_and_the_actions_it_became(serve: Serve, tmp_path: Path) -> None:
    tap = Tap(["--limit", str(2 * PER_DOCUMENT)], tmp_path)
    tap.read()
    _post(serve.url, events_batch("ann", EVENTS))
    assert tap.ended() == 0
    records = tap.records()
    assert len(records) == 2 * PER_DOCUMENT
    for name in ("events", "events-b"):
        mine = [r for r in records if r["connection"] == name]
        assert [r["type"] for r in mine] == ["document"] + ["action"] * (1 + EVENTS)
        document = mine[0]
        assert document["source"] == "mparticle.events_api_batch"
        assert document["document"]["user_identities"]["email"] == "ann@example.com"  # shown
        assert [(r["rule"], r["action"]) for r in mine[1:]] == [
            ("identify", "identify"),
            *[("custom event", "event")] * EVENTS,
        ]
        assert {r["destination"] for r in mine[1:]} == {"customerio"}
        assert [r["payload"]["event_id"] for r in mine[2:]] == ["e-ann-0", "e-ann-1"]


def test_tap_filters_by_connection_and_rule_and_reports_skips(serve: Serve, tmp_path: Path) -> None:
    only = Tap(["--connection", "events-b", "--rule", "custom event", "--limit", "3"], tmp_path)
    everything = Tap(["--connection", "events", "--limit", "4"], tmp_path)
    only.read()
    everything.read()
    batch = events_batch("bo", EVENTS)
    batch["events"].append({"event_type": "crash_report", "data": {}})  # skipped, counted
    _post(serve.url, batch)
    assert only.ended() == 0 and everything.ended() == 0
    filtered = only.records()
    assert {r["connection"] for r in filtered} == {"events-b"}
    assert [r["type"] for r in filtered] == ["document", "action", "action"]
    assert {r.get("rule") for r in filtered[1:]} == {"custom event"}
    whole = everything.records()
    assert [r["type"] for r in whole] == ["document", "action", "action", "action"]
    assert {r["connection"] for r in whole} == {"events"}
    more = Tap(["--connection", "events", "--limit", "5", "--format", "pretty"], tmp_path)
    more.read()
    _post(serve.url, batch)
    assert more.ended() == 0
    text = b"".join(more.lines).decode()
    assert "events <- mparticle.events_api_batch: {" in text
    assert "events -> customerio event (rule 'custom event'): {" in text
    assert "events    skipped: " in text  # the crash report


def test_tap_masks_secrets_always_and_personal_data_when_asked(
    serve: Serve, tmp_path: Path
) -> None:
    plain = Tap(["--connection", "events", "--limit", str(PER_DOCUMENT)], tmp_path)
    redacted = Tap(["--connection", "events", "--redact", "--limit", str(PER_DOCUMENT)], tmp_path)
    plain.read()
    redacted.read()
    batch = events_batch("cy", EVENTS)
    batch["events"][0]["data"]["custom_attributes"] = {
        "password": "hunter2-SENTINEL",
        "note": CIO_KEY,
        "colour": "teal",
    }
    _post(serve.url, batch)
    assert plain.ended() == 0 and redacted.ended() == 0
    for tap in (plain, redacted):
        text = b"".join(tap.lines).decode()
        assert "hunter2-SENTINEL" not in text and CIO_KEY not in text
        document, _, event, _ = tap.records()
        attributes = document["document"]["events"][0]["data"]["custom_attributes"]
        assert attributes == {"password": "[masked]", "note": "[masked]", "colour": "teal"}
        assert event["payload"]["data"] == attributes
    document, identify, event, _ = plain.records()
    assert document["document"]["user_identities"]["email"] == "cy@example.com"
    assert identify["payload"]["identifiers"] == {"id": "cy"}
    document, identify, event, _ = redacted.records()
    assert "cy@example.com" not in b"".join(redacted.lines).decode()
    assert document["document"]["user_identities"] == {"customer_id": "***", "email": "***"}
    assert document["document"]["user_attributes"] == {"$FirstName": "***", "plan": "pro"}
    assert identify["payload"]["identifiers"] == {"id": "***"}
    assert identify["payload"]["attributes"]["email"] == "***"
    assert event["payload"]["name"] == "Event_0"  # an event's name is no personal data


def test_a_tap_that_never_reads_does_not_hold_intake_back(serve: Serve, tmp_path: Path) -> None:
    stuck = Tap(["--connection", "events"], tmp_path)  # its stdout is not read (yet)
    users = [f"slow{i}" for i in range(250)]
    padding = {f"attribute_{n}": "x" * 40 for n in range(3)}

    def post(user: str) -> int:
        batch = events_batch(user, 40)
        for event in batch["events"]:
            event["data"]["custom_attributes"].update(padding)
        answer = httpx.post(serve.url + "/mparticle/events", json=batch, headers=bearer())
        return answer.status_code

    with ThreadPoolExecutor(4) as pool:
        statuses = list(pool.map(post, users))
    assert statuses == [202] * len(users)
    stuck.read()  # now it reads: serve tells it how many records it dropped
    until(lambda: any(r["type"] == "dropped" for r in stuck.records()), "the dropped count")
    _post(serve.url, events_batch("last", EVENTS))  # the buffer has room again
    until(
        lambda: any(
            r.get("document", {}).get("user_identities", {}).get("customer_id") == "last"
            for r in stuck.records()
        ),
        "the last document",
    )
    records = stuck.records()
    dropped = [r["count"] for r in records if r["type"] == "dropped"]
    assert len(dropped) == 1 and dropped[0] > 0
    shown = [r for r in records if r["type"] in ("document", "action")]
    # every record of the requests (a document and 41 actions each) is shown or counted
    assert len(shown) - PER_DOCUMENT + dropped[0] == len(users) * 42
    assert stuck.interrupt() == 0


def test_tap_sees_documents_from_every_worker(tmp_path: Path) -> None:
    config = write_config(tmp_path, _connections()[:1])
    serve = Serve(["--config", str(config), "--workers", "2"], tmp_path)
    try:
        workers = serve.children("worker")
        assert len(workers) == 2
        until(lambda: len(list((tmp_path / "state.db-tap").glob("*.sock"))) == 2, "two sockets")
        tap = Tap(["--limit", str(2 * PER_DOCUMENT)], tmp_path)
        assert "tapping 2 intake process(es)" in tap.err.read_text()
        tap.read()
        for user, stopped in zip(("w0", "w1"), workers, strict=True):
            os.kill(stopped, signal.SIGSTOP)  # so the other worker takes the request
            try:
                _post(serve.url, events_batch(user, EVENTS))
            finally:
                os.kill(stopped, signal.SIGCONT)
        assert tap.ended() == 0
        documents = [r["document"] for r in tap.records() if r["type"] == "document"]
        assert sorted(d["user_identities"]["customer_id"] for d in documents) == ["w0", "w1"]
    finally:
        serve.stop()


def test_without_a_running_serve_tap_says_where_it_looked(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = write_config(tmp_path, _connections())
    folder = tmp_path / "state.db-tap"
    folder.mkdir(mode=0o700)
    stale = socket.socket(socket.AF_UNIX)
    stale.bind(str(folder / "4242.sock"))  # left by a killed serve: nothing listens
    stale.close()
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(main, ["tap", "--config", str(config)])
    assert result.exit_code == 1
    assert f"no running `mapwire serve` to tap: no tap socket in {folder}" in result.stderr
    assert not (folder / "4242.sock").exists()  # the stale socket is cleaned up

    off = write_config(tmp_path, _connections(), server={"auth": {"none": True}, "tap": False})
    result = CliRunner().invoke(main, ["tap", "--config", str(off)])
    assert result.exit_code == 1
    assert "server.tap is false" in result.stderr

    named = write_config(tmp_path, _connections(), server={"auth": {"none": True}, "tap": "t"})
    result = CliRunner().invoke(main, ["tap", "--config", str(named)])
    assert result.exit_code == 1
    assert f"no tap socket in {tmp_path / 't'} " in result.stderr

    result = CliRunner().invoke(main, ["tap", "--config", str(config), "--rule", "custom evnt"])
    assert result.exit_code == 2
    assert "no rule named 'custom evnt' (did you mean 'custom event'?)" in result.stderr


@pytest.mark.parametrize(
    ("key", "expected"),
    [
        *[(k, True) for k in ("email", "$FirstName", "last_name", "ip_address", "IPAddress")],
        *[(k, True) for k in ("user_identities", "mpid", "phone_number", "customer_id", "zip")],
        *[(k, False) for k in ("name", "event_name", "plan", "description", "shipping", "zipper")],
    ],
)
def test_which_field_names_look_like_personal_data(key: str, expected: bool) -> None:
    assert personal(key) is expected


@pytest.mark.parametrize(
    ("key", "expected"),
    [
        *[(k, True) for k in ("password", "X-Api-Key", "apiKey", "webhook_signing_key")],
        *[(k, True) for k in ("bearer_token", "Authorization", "client_secret")],
        *[(k, False) for k in ("key", "keyword", "event_name", "session_id", "email")],
    ],
)
def test_which_field_names_look_like_credentials(key: str, expected: bool) -> None:
    assert is_credential(key) is expected


def test_masking_keeps_the_shape_and_hides_whole_subtrees() -> None:
    document = {
        "token": {"nested": "x"},
        "empty_secret": "",
        "note": "has sekret-value-1 inside",
        "user_identities": [{"identity_type": "email", "identity": "a@b.c"}, {"n": 7}],
        "opted_in": True,
        "phone": None,
        "plan": "pro",
    }
    plain = Masker(Redactor(["sekret-value-1"]), redact=False)(document)
    assert plain == {**document, "token": "[masked]", "note": "[masked]"}
    redacted = Masker(Redactor(["sekret-value-1"]), redact=True)(document)
    assert redacted == {
        **plain,
        "user_identities": [{"identity_type": "***", "identity": "***"}, {"n": "***"}],
    }
    assert document["token"] == {"nested": "x"}  # a copy: the queued document is untouched


def test_a_tap_stays_attached_across_a_reload_and_sees_the_new_set(
    serve: Serve, tmp_path: Path
) -> None:
    tap = Tap(["--connection", "events", "--limit", str(2 * PER_DOCUMENT)], tmp_path)
    tap.read()
    _post(serve.url, events_batch("before", EVENTS))
    connections = _connections()
    connections[0]["settings"] = {"user_id_type": "email"}
    write_config(tmp_path, connections)
    serve.process.send_signal(signal.SIGHUP)
    until(lambda: serve.events("config_reloaded"), "the reload is logged")
    _post(serve.url, events_batch("after", EVENTS))
    assert tap.ended() == 0
    actions = [r for r in tap.records() if r["type"] == "action"]
    named = [r["payload"]["identifiers"] for r in actions]
    assert named == [{"id": "before"}] * (1 + EVENTS) + [{"email": "after@example.com"}] * (
        1 + EVENTS
    )


def test_tap_sees_the_heavy_bodies_the_helper_process_maps(serve: Serve, tmp_path: Path) -> None:
    """A body over ``server.offload_bytes`` (1 MB) is mapped by serve's helper process,
    which has a tap socket of its own: the tap attaches to it once it is up."""
    tap = Tap(["--connection", "events", "--rule", "identify"], tmp_path)
    tap.read()
    heavy = 6_500  # events: a batch of about 1.1 MB

    def post_heavy(user: str) -> None:
        body = json.dumps(events_batch(user, heavy))
        assert len(body) > 1_000_000
        answer = httpx.post(
            serve.url + "/mparticle/events", content=body, headers=bearer(), timeout=120
        )
        assert answer.status_code == 202, answer.text

    post_heavy("first")  # starts the helper; the tap may attach to it only afterwards
    until(lambda: "too" in tap.err.read_text(), "the tap attached to the helper")
    post_heavy("heavy")

    def seen() -> list[dict[str, Any]]:
        return [r for r in tap.records() if "heavy" in json.dumps(r.get("payload", ""))]

    until(seen, "the heavy body's identify is tapped")
    assert tap.interrupt() == 0
    records = tap.records()
    action = seen()[-1]
    document = records[records.index(action) - 1]
    assert document["type"] == "document" and len(document["document"]["events"]) == heavy
    assert document["document"]["user_identities"]["customer_id"] == "heavy"
    assert action["rule"] == "identify" and action["payload"]["identifiers"] == {"id": "heavy"}
