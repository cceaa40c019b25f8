"""An action that erases its person (Customer.io ``suppress``/``delete``) drops that
person's pending queue entries before it is queued, through the shared intake path."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from server_helpers import write_config

from mapwire.runtime.config import load_config
from mapwire.runtime.process import Runtime

EVENTS = "mparticle.events_api_batch"

#: A person's attributes become an identify; an ``erase`` attribute a suppress instead.
MAPPING = """\
mapwire: 1
name: erase-or-update
source: mparticle.events_api_batch
destination: customerio
rules:
  - name: update
    when: "!(doc.user_attributes.erase)"
    action: identify
    fields:
      identifiers: "{id: doc.user_identities.customer_id}"
      attributes: doc.user_attributes
  - name: erase
    when: "doc.user_attributes.erase"
    action: suppress
    fields:
      identifiers: "{id: doc.user_identities.customer_id}"
"""


@pytest.fixture
def runtime(tmp_path: Path, secrets: None, monkeypatch: pytest.MonkeyPatch) -> Iterator[Runtime]:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "erase.yaml").write_text(MAPPING)
    flow = {
        "name": "people",
        "flow": "erase.yaml",
        "destination": {"site_id": "s", "api_key": "k"},
        "transport": "sink:out",
    }
    running = Runtime(load_config(write_config(tmp_path, [flow])))
    yield running
    running.close()


def _batch(person: str, **attributes: Any) -> dict[str, Any]:
    return {
        "environment": "production",
        "user_identities": {"customer_id": person},
        "user_attributes": attributes,
    }


def test_a_suppress_drops_the_persons_pending_updates_and_only_theirs(runtime: Runtime) -> None:
    pipeline, queue = runtime.pipeline, runtime.queue
    pipeline.submit(EVENTS, [_batch("p1", plan="a"), _batch("p2", plan="b")])
    pipeline.submit(EVENTS, [_batch("p1", plan="c")])
    in_flight = queue.claim("people", 1, 60)  # p1's first update, claimed by a worker
    assert [e.action.payload["attributes"]["plan"] for e in in_flight] == ["a"]
    pipeline.submit(EVENTS, [_batch("p1", erase=True)])
    entries = queue.claim("people", 10, 60)
    left = [(e.action.action, e.action.payload["identifiers"]["id"]) for e in entries]
    assert left == [("identify", "p2")], "p1's waiting update is gone; its suppress waits"
    queue.ack([e.id for e in [*in_flight, *entries]])
    (erasure,) = queue.claim("people", 10, 60)
    assert (erasure.action.action, erasure.action.payload) == (
        "suppress",
        {"identifiers": {"id": "p1"}},
    )
