"""Fixtures every test folder may use: the vendor contract servers (``tests/contract``);
and the run's closing notes: a folder that deselects its tests because a service is
missing (Redis, a browser) says so in one line at the end of the run, also when the run
is spread over several processes (``pytest -n``): each worker hands its notes to the
controller, which prints each once.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).parent / "contract"))
sys.path.insert(0, str(Path(__file__).parent))  # helpers shared across folders

from contract_fixtures import customerio_server, mparticle_server

__all__ = ["customerio_server", "mparticle_server"]

# Vendor requests follow the proxy environment variables, as a deployment behind an egress
# proxy needs; the tests' vendors are servers on loopback, so loopback goes direct whatever
# proxy the machine running them has set (the processes they start inherit this), while
# that proxy still serves what needs it (pip reaching the package index). The proxy tests
# set their own variables.
_LOOPBACK = "127.0.0.1,localhost,::1"
for _name in ("NO_PROXY", "no_proxy"):
    os.environ[_name] = ",".join(filter(None, (os.environ.get(_name, ""), _LOOPBACK)))


def pytest_configure(config: pytest.Config) -> None:
    """``config.mapwire_closing_notes``: lines a folder's conftest wants printed at the end."""
    config.mapwire_closing_notes = []  # type: ignore[attr-defined]


def _notes(config: pytest.Config) -> list[str]:
    notes: list[str] = config.mapwire_closing_notes  # type: ignore[attr-defined]
    return notes


def pytest_sessionfinish(session: pytest.Session) -> None:
    output = getattr(session.config, "workeroutput", None)
    if output is not None:  # a worker of pytest -n: hand the notes to the controller
        output["mapwire_closing_notes"] = list(_notes(session.config))


@pytest.hookimpl(optionalhook=True)
def pytest_testnodedown(node: Any, error: Any) -> None:
    """The controller of pytest -n gathers each worker's notes (each worker collects and
    deselects the same tests, so the same line comes from every one: kept once)."""
    notes = _notes(node.config)
    for line in node.workeroutput.get("mapwire_closing_notes", []):
        if line not in notes:
            notes.append(line)


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    for line in dict.fromkeys(_notes(terminalreporter.config)):
        terminalreporter.write_line(line, yellow=True)
