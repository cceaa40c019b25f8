"""The playground page in a real headless Chromium: pick a shipped mapping, type an error
into it and see the diagnostic listed at its line, paste a payload and see the requests,
change a setting and see them change."""

from __future__ import annotations

from typing import Any

from playground_process import MAPPINGS, Running
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.support.ui import Select, WebDriverWait

MAPPING = "mparticle-events-to-customerio"
BATCH = (MAPPINGS / "samples" / "mparticle_events_api_batch.json").read_text("utf-8")
LINES = len((MAPPINGS / "mparticle_events_to_customerio.yaml").read_text("utf-8").splitlines())


def by_testid(driver: Any, name: str) -> Any:
    return driver.find_element(By.CSS_SELECTOR, f'[data-testid="{name}"]')


def editor(driver: Any, name: str) -> Any:
    return by_testid(driver, name).find_element(By.CSS_SELECTOR, ".cm-content")


def test_an_error_shows_at_its_line_a_pasted_payload_its_requests_and_settings_apply(
    running: Running, driver: Any
) -> None:
    wait = WebDriverWait(driver, 20)
    driver.get(running.url)
    wait.until(lambda d: d.find_element(By.TAG_NAME, "body").get_attribute("data-ready"))
    Select(by_testid(driver, "mapping-select")).select_by_value(MAPPING)
    wait.until(lambda d: "no problems" in by_testid(d, "diagnostics").text)

    mapping = editor(driver, "mapping-editor")
    mapping.click()
    mapping.send_keys(Keys.CONTROL, Keys.END)  # the empty line after the last one
    mapping.send_keys("unknown_key: 1")
    wait.until(lambda d: f"{LINES + 1}:1 " in by_testid(d, "diagnostics").text)
    assert "unknown_key" in by_testid(driver, "diagnostics").text
    marker = by_testid(driver, "mapping-editor").find_elements(By.CSS_SELECTOR, ".cm-lintRange")
    assert marker, "the problem is also marked in the editor"

    mapping.send_keys(Keys.CONTROL, "z")  # undo the error
    wait.until(lambda d: "no problems" in by_testid(d, "diagnostics").text)

    payload = editor(driver, "input-editor")
    payload.click()
    payload.send_keys(Keys.CONTROL, "a")
    driver.execute_cdp_cmd("Input.insertText", {"text": BATCH})  # as a paste does
    wait.until(
        lambda d: "POST https://track.customer.io/api/v2/batch" in by_testid(d, "requests").text
    )
    requests = by_testid(driver, "requests").text
    assert "authorization: [masked]" in requests
    assert '"cust-1001"' in requests
    assert "identify" in by_testid(driver, "actions").text
    assert "ignored event type: session_start" in by_testid(driver, "skipped").text
    assert "customer_id_value <-" in by_testid(driver, "explain").text

    chooser = driver.find_element(By.CSS_SELECTOR, '[data-setting="user_id_type"]')
    Select(chooser).select_by_visible_text("email")
    wait.until(lambda d: '"cust-1001"' not in by_testid(d, "requests").text)
    assert by_testid(driver, "settings").get_attribute("value") == '{"user_id_type":"email"}'
    assert '"email": "ann.lee@example.com"' in by_testid(driver, "requests").text
