"""How the JSON log lines reach their stream: what an event loop's callbacks log goes out
together once they are done, in the order logged, in writes a shared pipe takes whole; a
line logged off the loop, a record of another library, the next loop and ``flush_logs``
write the lines kept first."""

from __future__ import annotations

import asyncio
import io
import json
import logging
from collections.abc import Iterator

import pytest

from mapwire.server.logs import (
    ATOMIC_WRITE_BYTES,
    configure_logging,
    event_line,
    flush_logs,
    log_event,
    reset_logging,
)
from mapwire.server.request_log import finish


class CountingStream(io.StringIO):
    """A stream that counts its writes and keeps what each one carried."""

    def __init__(self) -> None:
        super().__init__()
        self.writes = 0
        self.pieces: list[str] = []

    def write(self, text: str) -> int:
        self.writes += 1
        self.pieces.append(text)
        return super().write(text)

    def events(self) -> list[str]:
        return [json.loads(line)["event"] for line in self.getvalue().splitlines()]


@pytest.fixture
def stream() -> Iterator[CountingStream]:
    out = CountingStream()
    handler = configure_logging("info", out)
    yield out
    reset_logging(handler)


def test_a_loops_lines_go_out_in_one_write_after_its_callbacks(stream: CountingStream) -> None:
    seen_during: list[list[str]] = []

    async def handle(n: int) -> None:
        log_event(logging.INFO, f"request_{n}")

    async def main() -> None:
        await asyncio.gather(*(handle(n) for n in range(20)))  # 20 tasks, ready together
        seen_during.append(stream.events())

    asyncio.run(main())
    assert seen_during == [[f"request_{n}" for n in range(20)]]
    assert stream.writes == 1


def test_a_line_off_the_loop_goes_at_once_after_those_kept(stream: CountingStream) -> None:
    async def main() -> None:
        log_event(logging.INFO, "on_the_loop")
        await asyncio.to_thread(log_event, logging.WARNING, "from_a_thread")
        assert stream.events() == ["on_the_loop", "from_a_thread"]

    asyncio.run(main())
    log_event(logging.INFO, "no_loop")
    assert stream.events() == ["on_the_loop", "from_a_thread", "no_loop"]


def test_records_of_other_libraries_keep_their_place(stream: CountingStream) -> None:
    async def main() -> None:
        log_event(logging.INFO, "first")
        logging.getLogger("uvicorn.error").warning("second")
        log_event(logging.INFO, "third")
        await asyncio.sleep(0)

    asyncio.run(main())
    assert stream.events() == ["first", "http_server", "third"]
    assert stream.writes == 1


def test_writes_stay_within_what_a_shared_pipe_takes_whole(stream: CountingStream) -> None:
    async def main() -> None:
        for n in range(100):
            log_event(logging.INFO, "request", n=n, note="é" * 40)  # not ASCII: bytes count
        log_event(logging.INFO, "long", text="x" * (2 * ATOMIC_WRITE_BYTES))
        log_event(logging.INFO, "after")

    asyncio.run(main())
    assert stream.events() == ["request"] * 100 + ["long", "after"]
    assert stream.writes > 4
    for piece in stream.pieces:
        assert piece.endswith("\n")  # whole lines only
        assert len(piece.encode()) <= ATOMIC_WRITE_BYTES or piece.count("\n") == 1


def test_lines_kept_by_a_loop_that_stopped_are_written_by_flush_logs(
    stream: CountingStream,
) -> None:
    loop = asyncio.new_event_loop()
    try:
        loop.run_until_complete(_log_and_stop(loop))
    finally:
        loop.close()  # the callback that would have written the line never runs
    assert stream.events() == []
    flush_logs()
    assert stream.events() == ["last_words"]


async def _log_and_stop(loop: asyncio.AbstractEventLoop) -> None:
    log_event(logging.ERROR, "last_words")
    loop.stop()


def test_the_next_loop_writes_what_a_stopped_loop_kept(stream: CountingStream) -> None:
    loop = asyncio.new_event_loop()
    try:
        loop.run_until_complete(_log_and_stop(loop))
    finally:
        loop.close()

    async def main() -> None:
        log_event(logging.INFO, "next")

    asyncio.run(main())
    assert stream.events() == ["last_words", "next"]


def test_a_handler_writes_what_it_kept_before_it_is_removed() -> None:
    out = CountingStream()
    handler = configure_logging("info", out)
    loop = asyncio.new_event_loop()
    try:
        loop.run_until_complete(_log_and_stop(loop))
    finally:
        loop.close()
    reset_logging(handler)
    assert out.events() == ["last_words"]


@pytest.mark.parametrize(
    ("created", "text"),
    [
        (1_700_000_000.0, "2023-11-14T22:13:20.000Z"),
        (1_700_000_000.0009, "2023-11-14T22:13:20.000Z"),  # cut to the millisecond, not rounded
        (1_700_000_000.5, "2023-11-14T22:13:20.500Z"),
        (1_700_000_000.9999, "2023-11-14T22:13:20.999Z"),
        (1_700_000_001.042, "2023-11-14T22:13:21.042Z"),  # the next second, its own text
    ],
)
def test_a_line_is_stamped_in_utc_to_the_millisecond(created: float, text: str) -> None:
    line = json.loads(event_line(created, logging.INFO, "tick", {"n": 1}))
    assert line == {"time": text, "level": "info", "event": "tick", "n": 1}
    assert list(line) == ["time", "level", "event", "n"]  # the fields follow the three


@pytest.mark.parametrize(
    ("level", "name"),
    [
        (logging.DEBUG, "debug"),
        (logging.WARNING, "warning"),
        (logging.ERROR, "error"),
        (25, "level 25"),
    ],
)
def test_a_line_names_its_level_in_lower_case(level: int, name: str) -> None:
    assert json.loads(event_line(0.0, level, "e", {}))["level"] == name


def test_the_request_line_carries_the_fields_finish_built() -> None:
    """``finish`` hands its dict to ``log_fields``: the line has each of its fields, once."""
    stream = io.StringIO()
    handler = configure_logging("info", stream)
    try:
        state = {"request_id": "r-1", "counts": {"queued": 6}, "error_code": "busy"}
        finish(None, "/x", {"method": "POST", "path": "/x"}, state, 503, 0.0)
    finally:
        reset_logging(handler)
    (line,) = [json.loads(text) for text in stream.getvalue().splitlines()]
    assert line["level"] == "warning" and line["event"] == "request"
    assert {k: line[k] for k in ("request_id", "method", "status", "counts", "error")} == {
        "request_id": "r-1",
        "method": "POST",
        "status": 503,
        "counts": {"queued": 6},
        "error": "busy",
    }
