"""The playground's JSON API against the installed ``mapwire playground`` on loopback:
diagnostics at their line and column, actions, the vendor's requests built by the
destination plugin with secrets masked, skips, the explain trace linked to mapping lines,
completion, and saving (never outside the save folder)."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import httpx
from playground_process import API_KEY, MAPPINGS, MAPWIRE, SITE_ID, Running

EVENTS_FILE = "mparticle_events_to_customerio.yaml"
EVENTS = (MAPPINGS / EVENTS_FILE).read_text("utf-8")
BATCH = (MAPPINGS / "samples" / "mparticle_events_api_batch.json").read_text("utf-8")
JSON_HEADERS = {"Content-Type": "application/json"}


def run(running: Running, mapping: str, data: str = BATCH, **extra: Any) -> dict[str, Any]:
    body = {"mapping": mapping, "file": EVENTS_FILE, "input": data, "settings": {}, **extra}
    response = httpx.post(f"{running.url}/api/run", json=body, timeout=30)
    assert response.status_code == 200, response.text
    answer: dict[str, Any] = response.json()
    return answer


def line_of(text: str, needle: str) -> tuple[int, int]:
    """1-based (line, column) of the first ``needle`` in ``text``."""
    for n, line in enumerate(text.splitlines(), 1):
        if needle in line:
            return n, line.index(needle) + 1
    raise AssertionError(f"{needle!r} not in the text")


def test_a_typo_is_reported_at_its_line_and_column(running: Running) -> None:
    broken = EVENTS.replace("identifiers: identifiers", "identifiers: identifers", 1)
    line, col = line_of(broken, "identifers")
    answer = run(running, broken)
    assert answer["actions"] == [] and answer["requests"] == []
    [problem] = answer["diagnostics"]
    assert (problem["line"], problem["column"], problem["code"]) == (line, col, "E203")
    assert problem["text"].startswith(f"{line}:{col} E203 unknown name 'identifers'")
    assert "did you mean 'identifiers'" in problem["text"]


def test_a_clean_mapping_gives_actions_and_the_vendor_requests_with_secrets_masked(
    running: Running,
) -> None:
    answer = run(running, EVENTS)
    assert answer["diagnostics"] == []
    assert [a["action"] for a in answer["actions"]][:2] == ["identify", "event"]
    assert answer["actions"][0]["payload"]["identifiers"] == {"id": "cust-1001"}
    assert answer["account"] == "connection 'events-to-cio'"
    [request] = answer["requests"]
    assert request["method"] == "POST"
    assert request["url"] == "https://track.customer.io/api/v2/batch"
    headers = {name.lower(): value for name, value in request["headers"]}
    assert headers["authorization"] == "[masked]"
    assert headers["content-type"] == "application/json"
    assert '"batch": [' in request["body"] and '"cust-1001"' in request["body"]
    assert request["text"].startswith("POST https://track.customer.io/api/v2/batch\n")
    assert request["items"] == list(range(len(answer["actions"])))
    # Neither the key, nor the site id, nor their Basic-auth form appears anywhere.
    import base64

    basic = base64.b64encode(f"{SITE_ID}:{API_KEY}".encode()).decode()
    shown = str(answer)
    assert API_KEY not in shown and basic not in shown


def test_skipped_documents_are_listed_with_their_reasons(running: Running) -> None:
    answer = run(running, EVENTS)
    assert {"document": 1, "reason": "ignored event type: session_start", "count": 1} in [
        {k: s[k] for k in ("document", "reason", "count")} for s in answer["skipped"]
    ]
    nobody = '{"events": [], "user_identities": {}}\n{"bad json'
    answer = run(running, EVENTS, nobody)
    reasons = [s["reason"] for s in answer["skipped"]]
    assert reasons == ["no usable identity (prefer_customer_id)"]
    assert answer["errors"] == ["input line 2: not JSON (unexpected end of data)"]


def test_each_explain_entry_points_at_its_line_in_the_mapping(running: Running) -> None:
    answer = run(running, EVENTS)
    rows = {(r["rule"], r["field"]): r for r in answer["explain"]}
    variable = rows[("variables", "customer_id_value")]
    assert variable["line"] == line_of(EVENTS, "  customer_id_value:")[0]
    assert variable["value"] == '"cust-1001"'
    # A field inside an object of a nested rule: the line of its own key.
    nested = rows[("identify", "identifiers")]
    assert nested["line"] == line_of(EVENTS, "identifiers: identifiers")[0]
    skip = next(r for r in answer["explain"] if r["note"].startswith("skip"))
    assert "ignored event type: session_start" in skip["text"]


def test_settings_change_the_output_and_bad_ones_are_reported(running: Running) -> None:
    answer = run(running, EVENTS, settings={"user_id_type": "email"})
    assert answer["actions"][0]["payload"]["identifiers"] == {"email": "ann.lee@example.com"}
    answer = run(running, EVENTS, settings={"user_id_typ": "email"})
    assert answer["actions"] == []
    assert answer["errors"][0].startswith("settings: E204 unknown setting 'user_id_typ'")


def test_completion_offers_input_paths_actions_and_destination_fields(running: Running) -> None:
    response = httpx.post(f"{running.url}/api/complete", json={"mapping": EVENTS})
    details: dict[str, list[str]] = {}
    for item in response.json()["items"]:
        details.setdefault(item["label"], []).append(item["detail"])
    # Each source's own type for the path: the Events API's object, the webhook's list.
    assert sorted(details["doc.user_identities"]) == [
        "array|null · input (mparticle.webhook_output)",
        "object|null · input (mparticle.events_api_batch)",
    ]
    assert details["identify"] == ["action · customerio"]
    assert "string · identify field" in details["identifiers.id"]


def test_the_catalog_lists_shipped_mappings_samples_and_test_cases(running: Running) -> None:
    catalog = httpx.get(f"{running.url}/api/catalog").json()
    names = [m["name"] for m in catalog["mappings"]]
    assert "mparticle-events-to-customerio" in names
    ids = [s["id"] for s in catalog["samples"]]
    assert "sample:mparticle_events_api_batch.json" in ids
    case = next(s for s in catalog["samples"] if s["id"].startswith("case:"))
    sample = httpx.get(f"{running.url}/api/sample", params={"id": case["id"]}).json()
    assert sample["mapping"] == case["mapping"] and sample["input"].strip()
    text = httpx.get(f"{running.url}/api/mapping", params={"name": names[0]}).json()
    assert text["file"].endswith(".yaml") and "mapwire: 1" in text["text"]
    unknown = {"name": "../x"}  # self-contained: a name the server must refuse, never opened
    assert httpx.get(f"{running.url}/api/mapping", params=unknown).status_code == 404


def save(running: Running, **body: Any) -> httpx.Response:
    return httpx.post(f"{running.url}/api/save", json=body, timeout=30)


def test_save_writes_the_mapping_and_a_case_that_mapwire_test_passes(running: Running) -> None:
    response = save(
        running,
        name="flows/my_events.yaml",
        mapping=EVENTS.replace("name: mparticle-events-to-customerio", "name: my-events"),
        case="the sample batch",
        input=BATCH,
        settings={"user_id_type": "email"},
    )
    assert response.status_code == 200, response.text
    assert response.json()["saved"] == ["flows/my_events.yaml", "flows/my_events.test.yaml"]
    cases = running.save_dir / "flows" / "my_events.test.yaml"
    assert "mapping: my_events.yaml" in cases.read_text()
    again = save(
        running,
        name="flows/my_events.yaml",
        mapping=EVENTS.replace("name: mparticle-events-to-customerio", "name: my-events"),
        case="second case",
        input='{"events": [], "user_identities": {}}',
    )
    assert again.status_code == 200, again.text
    result = subprocess.run(
        [str(MAPWIRE), "test", str(cases)], capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "2 passed" in result.stdout + result.stderr


def test_save_refuses_names_outside_the_save_folder(running: Running, tmp_path: Path) -> None:
    outside = tmp_path / "escape.yaml"
    climbing = ["../escape.yaml", "a/../../escape.yaml"]  # self-contained: refused, never written
    for name in [*climbing, str(outside), "x.txt", ""]:
        response = save(running, name=name, mapping="mapwire: 1\n")
        assert response.status_code == 403, (name, response.text)
    assert not outside.exists()
    assert not (running.save_dir.parent / "escape.yaml").exists()


def test_posts_from_another_origin_or_not_json_are_refused(running: Running) -> None:
    body = '{"name": "x.yaml", "mapping": "mapwire: 1"}'
    foreign = {**JSON_HEADERS, "Origin": "http://evil.example"}
    assert httpx.post(f"{running.url}/api/save", content=body, headers=foreign).status_code == 403
    plain = {"Content-Type": "text/plain"}
    assert httpx.post(f"{running.url}/api/save", content=body, headers=plain).status_code == 415
    assert not (running.save_dir / "x.yaml").exists()


def test_a_request_naming_another_host_is_refused(running: Running) -> None:
    """A web site whose name resolves to 127.0.0.1 (DNS rebinding) gets nothing."""
    rebound = {**JSON_HEADERS, "Host": "evil.example"}
    body = '{"name": "y.yaml", "mapping": "mapwire: 1"}'
    response = httpx.post(f"{running.url}/api/save", content=body, headers=rebound)
    assert response.status_code == 400
    assert httpx.get(f"{running.url}/", headers={"Host": "evil.example"}).status_code == 400
    assert not (running.save_dir / "y.yaml").exists()
    assert httpx.get(f"{running.url}/", headers={"Host": "localhost"}).status_code == 200
