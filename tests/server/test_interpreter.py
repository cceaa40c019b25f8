"""A process that serves settles its interpreter once started (``runtime.interpreter``); a
server embedded in another process (these tests' own) leaves the interpreter alone."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from server_helpers import RunningServer, set_secrets, sink_flows, write_config

import mapwire.server.app as app_module
from mapwire.runtime.config import load_config
from mapwire.runtime.interpreter import SWITCH_INTERVAL, YOUNG_THRESHOLD

SETTLED = textwrap.dedent(
    """
    import gc, sys, weakref
    from mapwire.runtime.interpreter import settle_interpreter

    class Node:
        pass

    before = gc.get_threshold()
    settle_interpreter()
    print(gc.get_freeze_count() > 1000, gc.get_threshold()[0], gc.get_threshold()[1:] == before[1:])
    print(sys.getswitchinterval())
    a, b = Node(), Node()
    a.other, b.other = b, a  # a cycle made after start-up: still collected
    gone = weakref.ref(a)
    del a, b
    gc.collect()
    print(gone() is None)
    """
)


def test_settling_freezes_start_up_and_lengthens_the_collector_and_lock_intervals() -> None:
    out = subprocess.run(
        [sys.executable, "-c", SETTLED], capture_output=True, text=True, check=True
    ).stdout.split()
    assert out == ["True", str(YOUNG_THRESHOLD), "True", str(SWITCH_INTERVAL), "True"]


@pytest.mark.parametrize("settle", [False, True])
def test_the_server_settles_only_when_it_has_the_process(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, settle: bool
) -> None:
    set_secrets(monkeypatch)
    calls: list[str] = []
    monkeypatch.setattr(app_module, "settle_interpreter", lambda: calls.append("settled"))
    running = RunningServer(load_config(write_config(tmp_path, sink_flows())))
    if settle:  # as ``mapwire serve`` makes it (runner: ``create_app(..., settle=True)``)
        running.app.state.settle = True
    running.start()
    try:
        with running.client() as client:
            assert client.get("/healthz").status_code == 200
    finally:
        running.stop()
    assert calls == (["settled"] if settle else [])
