"""Property-based fuzzing of every POST endpoint: malformed JSON, wrong types, huge strings
and deep nesting never get a 5xx, the server keeps serving, and everything a 2xx accepted
is queued or delivered (nothing accepted is lost)."""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from json_places import places
from server_helpers import (
    SAMPLES,
    LogCapture,
    RunningServer,
    bearer,
    metric_total,
    serve_config,
    set_secrets,
    signed,
    sink_flows,
    write_config,
)

from mapwire.server.intake import nesting_exceeds
from mapwire.server.logs import configure_logging, reset_logging

ENDPOINTS = ("/mparticle/events", "/mparticle/firehose", "/customerio/webhook")
FUZZ = settings(
    max_examples=250,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)

scalars = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=20)
)
json_values = st.recursive(
    scalars,
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=25,
)


def _samples() -> list[Any]:
    return [json.loads(p.read_text()) for p in sorted(SAMPLES.glob("*.json"))]


def _replace(doc: Any, path: tuple[Any, ...], new: Any) -> Any:
    if not path:
        return new
    copy = json.loads(json.dumps(doc))
    target = copy
    for step in path[:-1]:
        target = target[step]
    target[path[-1]] = new
    return copy


@st.composite
def mutated_samples(draw: st.DrawFn) -> bytes:
    """A real sample with one value replaced: wrong types, huge strings, deep nesting."""
    doc = draw(st.sampled_from(_samples()))
    path = draw(st.sampled_from(list(places(doc))))
    new = draw(
        json_values
        | st.integers(min_value=1, max_value=3000).map(lambda n: "x" * n * 10)
        | st.integers(min_value=1, max_value=120).map(lambda n: json.loads("[" * n + "]" * n))
    )
    return json.dumps(_replace(doc, path, new)).encode()


bodies = (
    mutated_samples()
    | json_values.map(lambda v: json.dumps(v).encode())
    | st.binary(max_size=300)
    | st.integers(min_value=1, max_value=5000).map(lambda n: b"[" * n + b"]" * (n % 7))
    | st.sampled_from([p.read_bytes() for p in sorted(SAMPLES.glob("*.json"))]).map(
        lambda b: b[: len(b) // 2]
    )
)


@pytest.fixture(scope="module")
def fuzzed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[RunningServer, io.StringIO]]:
    folder = tmp_path_factory.mktemp("fuzz")
    stream = LogCapture()
    handler = configure_logging("info", stream)
    with pytest.MonkeyPatch.context() as patch:
        patch.chdir(folder)
        set_secrets(patch)
        server = serve_config(
            write_config(
                folder,
                sink_flows(),
                server={
                    "auth": {"bearer_token": {"env": "TEST_INBOUND_TOKEN"}},
                    "max_body_bytes": 100_000,
                    "max_json_depth": 32,
                },
            )
        )
        yield server, stream
        server.stop()
    reset_logging(handler)


@pytest.mark.parametrize("path", ENDPOINTS)
def test_fuzzed_posts_never_get_a_5xx(fuzzed: tuple[RunningServer, io.StringIO], path: str) -> None:
    server, stream = fuzzed
    with server.client() as client:

        @FUZZ
        @given(body=bodies, sign=st.booleans())
        def post(body: bytes, sign: bool) -> None:
            headers = signed(body) if path == "/customerio/webhook" and sign else bearer()
            response = client.post(path, content=body, headers=headers)
            assert response.status_code < 500, response.text
            assert response.headers["content-type"] == "application/json"
            if response.status_code >= 400:
                assert set(response.json()["error"]) == {"code", "message"}

        post()
        assert client.get("/healthz").status_code == 200
    assert_nothing_lost(server, stream)


def assert_nothing_lost(server: RunningServer, stream: io.StringIO) -> None:
    """What the 2xx answers queued (per the log) was all delivered or dead-lettered."""
    server.wait_delivered(30)
    with server.client() as client:
        metrics = client.get("/metrics").text
    lines = [json.loads(line) for line in stream.getvalue().splitlines()]
    requests = [line for line in lines if line["event"] == "request" and line["method"] == "POST"]
    assert len(requests) >= 100
    assert all(r["status"] < 500 for r in requests)
    failures = {line["event"] for line in lines if line["level"] == "error"}
    assert not failures, failures  # e.g. a mapping that raised on some input
    queued = sum(r["counts"]["queued"] for r in requests if 200 <= r["status"] < 300)
    assert queued > 0
    assert metric_total(metrics, "mapwire_mapped_actions_total") == queued
    settled = metric_total(metrics, "mapwire_delivered_actions_total") + metric_total(
        metrics, "mapwire_dead_lettered_actions_total"
    )
    assert settled == queued
    assert server.queue.depth() == 0


@settings(max_examples=300, deadline=None, database=None)
@given(value=json_values, limit=st.integers(min_value=1, max_value=6))
def test_the_depth_check_matches_the_parsed_depth(value: Any, limit: int) -> None:
    def depth(v: Any) -> int:
        if isinstance(v, dict):
            return 1 + max((depth(x) for x in v.values()), default=0)
        if isinstance(v, list):
            return 1 + max((depth(x) for x in v), default=0)
        return 0

    body = json.dumps(value).encode()
    assert nesting_exceeds(body, limit) == (depth(value) > limit)
    assert nesting_exceeds(json.dumps(value, indent=2).encode(), limit) == (depth(value) > limit)


def test_the_depth_check_ignores_brackets_and_escapes_in_strings() -> None:
    tricky = ["[[[", "\\", '"', '\\"[', "}}]]", "\\\\"]
    body = json.dumps({"a": tricky, "b": [[["x]"]]]}).encode()
    assert not nesting_exceeds(body, 4)
    assert nesting_exceeds(body, 3)
    assert nesting_exceeds(b"[" * 1_000_000, 64)
    assert not nesting_exceeds(b"[]" * 1_000_000, 64)
