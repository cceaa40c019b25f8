"""Take the screenshot in docs/playground.png: the installed ``mapwire playground`` on a free
loopback port, a shipped mapping and one of its test cases picked, in headless Chromium.

    python benchmarks/playground_screenshot.py [OUT.png]

Needs Chromium and its driver (Debian: ``apt-get install chromium chromium-driver``) and
``selenium`` (in the test extras).
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import Select, WebDriverWait

ROOT = Path(__file__).resolve().parents[1]
MAPPING = "mparticle-events-to-customerio"
CASE_LABEL = "custom event with user attributes"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def main(out: Path) -> None:
    port = free_port()
    mapwire = Path(sys.executable).with_name("mapwire")
    with tempfile.TemporaryDirectory() as save_dir:
        server = subprocess.Popen(
            [str(mapwire), "playground", "--port", str(port), "--save-dir", save_dir]
        )
        try:
            url = f"http://127.0.0.1:{port}/"
            for _ in range(100):
                try:
                    httpx.get(url, timeout=1)
                    break
                except httpx.TransportError:
                    time.sleep(0.1)
            options = webdriver.ChromeOptions()
            for arg in ("--headless=new", "--no-sandbox", "--window-size=1400,1000"):
                options.add_argument(arg)
            options.binary_location = shutil.which("chromium") or ""
            driver = webdriver.Chrome(
                options=options, service=Service(shutil.which("chromedriver") or "")
            )
            try:
                driver.get(url)
                wait = WebDriverWait(driver, 20)
                wait.until(
                    lambda d: d.find_element(By.TAG_NAME, "body").get_attribute("data-ready")
                )
                Select(driver.find_element(By.ID, "mapping-select")).select_by_value(MAPPING)
                samples = Select(driver.find_element(By.ID, "sample-select"))
                label = next(o.text for o in samples.options if CASE_LABEL in o.text)
                samples.select_by_visible_text(label)
                wait.until(lambda d: "POST " in d.find_element(By.ID, "requests").text)
                driver.save_screenshot(str(out))
            finally:
                driver.quit()
        finally:
            server.terminate()
            server.wait(timeout=10)
    print(f"wrote {out}")


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else ROOT / "docs" / "playground.png")
