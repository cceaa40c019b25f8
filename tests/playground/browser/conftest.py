"""Run the playground's browser test in a real headless Chromium, or explain why not.

Chromium and its driver come from Debian's ``chromium`` and ``chromium-driver`` packages
(``.ci/run`` installs them), Selenium from the test extras. If one is missing, this
folder's tests fail with that reason when ``CI`` is set, and are deselected (not skipped)
otherwise, so a laptop without Chromium still runs everything else; the run's summary then
says so in one line (how many, why, what to do).
"""

from __future__ import annotations

import importlib.util
import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

_HERE = Path(__file__).resolve().parent
CHROMIUM = ("chromium", "chromium-browser", "google-chrome")
_PROBLEM: list[str | None] = []
_NO_BROWSER: list[pytest.Item] = []


def chromium() -> str | None:
    return next((path for name in CHROMIUM if (path := shutil.which(name))), None)


def _problem() -> str | None:
    if not _PROBLEM:
        missing = []
        if chromium() is None:
            missing.append("chromium")
        if shutil.which("chromedriver") is None:
            missing.append("chromedriver")
        if importlib.util.find_spec("selenium") is None:
            missing.append("the selenium package")
        _PROBLEM.append(f"{' and '.join(missing)} not found" if missing else None)
    return _PROBLEM[0]


def _mine(item: pytest.Item) -> bool:
    return Path(str(item.path)).resolve().is_relative_to(_HERE)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Deselect this folder's tests when the browser is missing, outside CI."""
    if os.environ.get("CI") or _problem() is None:
        return
    dropped = [item for item in items if _mine(item)]
    if dropped:
        _NO_BROWSER.extend(dropped)
        config.hook.pytest_deselected(items=dropped)
        gone = {id(item) for item in dropped}
        items[:] = [item for item in items if id(item) not in gone]
        count = len(_NO_BROWSER)  # one line at the end of the run: why, and what to do
        config.mapwire_closing_notes.append(  # type: ignore[attr-defined]
            f"mapwire: {count} browser test{'s' if count != 1 else ''} deselected: "
            f"{_problem()}; install Chromium and its driver (Debian: apt-get install "
            "chromium chromium-driver) and the test extras to run them"
        )


@pytest.fixture(scope="module", autouse=True)
def _browser_available() -> None:
    """In CI, a missing browser fails every test here with the reason (before the
    playground server is started for them)."""
    problem = _problem()
    if problem is not None:
        pytest.fail(f"the browser test needs Chromium: {problem}")


@pytest.fixture
def driver() -> Iterator[Any]:
    """A headless Chromium."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = chromium() or ""
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--window-size=1400,1000"):
        options.add_argument(arg)
    browser = webdriver.Chrome(options=options, service=Service(shutil.which("chromedriver")))
    try:
        yield browser
    finally:
        browser.quit()
