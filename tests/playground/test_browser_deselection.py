"""Without Chromium, the playground's browser test is deselected with one line saying so
(and how to run it); in CI it fails with the reason instead. Checked with a real pytest run
whose PATH holds only the venv's scripts, so no browser is found."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
BROWSER_TESTS = "tests/playground/browser"


def run_pytest(*, ci: bool) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k not in {"CI", "PYTEST_ADDOPTS"}}
    env["PATH"] = str(Path(sys.executable).parent)
    if ci:
        env["CI"] = "true"
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-q", BROWSER_TESTS],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_without_chromium_the_browser_test_is_deselected_with_one_summary_line() -> None:
    result = run_pytest(ci=False)
    output = result.stdout + result.stderr
    assert result.returncode == 5, output  # nothing ran: the one test was deselected
    lines = [line for line in result.stdout.splitlines() if line.startswith("mapwire:")]
    assert lines == [
        "mapwire: 1 browser test deselected: chromium and chromedriver not found; install "
        "Chromium and its driver (Debian: apt-get install chromium chromium-driver) and the "
        "test extras to run them"
    ], output
    assert "1 deselected" in result.stdout


def test_in_ci_a_missing_chromium_fails_the_run() -> None:
    result = run_pytest(ci=True)
    output = result.stdout + result.stderr
    assert result.returncode == 1, output
    assert "the browser test needs Chromium: chromium and chromedriver not found" in output
    assert "deselected" not in result.stdout
