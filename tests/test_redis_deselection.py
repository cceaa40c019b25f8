"""Without a reachable Redis, the Redis tests are deselected with one line saying so (and
how to run them); in CI they fail with the reason instead. Checked with a real pytest run
of one Redis test against a port where nothing listens."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
ONE_REDIS_TEST = "tests/plugins/redis_store/test_redis_plugin.py::test_hook_make_queue"
PASSWORD = "sentinel-pw-5c1e"
NOWHERE = f"redis://:{PASSWORD}@127.0.0.1:1/0"
"""Port 1 on loopback: nothing listens, so the connection is refused at once."""


def run_pytest(*, ci: bool) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k not in {"CI", "PYTEST_ADDOPTS"}}
    env["MAPWIRE_TEST_REDIS_URL"] = NOWHERE
    if ci:
        env["CI"] = "true"
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-q", ONE_REDIS_TEST],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_without_redis_the_tests_are_deselected_with_one_summary_line() -> None:
    result = run_pytest(ci=False)
    output = result.stdout + result.stderr
    assert result.returncode == 5, output  # nothing ran: the one test was deselected
    lines = [line for line in result.stdout.splitlines() if line.startswith("mapwire:")]
    assert len(lines) == 1, output
    line = lines[0]
    assert line.startswith(
        "mapwire: 1 Redis test deselected: no Redis at redis://:***@127.0.0.1:1/0 ("
    )
    assert "Connection refused" in line
    assert line.endswith("; start one or set MAPWIRE_TEST_REDIS_URL to run them")
    assert "1 deselected" in result.stdout
    assert PASSWORD not in output


def test_in_ci_an_unreachable_redis_fails_the_run() -> None:
    result = run_pytest(ci=True)
    output = result.stdout + result.stderr
    assert result.returncode == 1, output
    assert "1 error" in result.stdout  # the autouse fixture fails the test in setup
    assert "MAPWIRE_TEST_REDIS_URL=redis://:***@127.0.0.1:1/0 is unreachable" in result.stdout
    assert "deselected" not in result.stdout
    assert PASSWORD not in output
