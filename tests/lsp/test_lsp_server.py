"""``mapwire lsp`` through the installed script, spoken to in real LSP JSON-RPC over stdio:
diagnostics as a mapping is opened and edited, hover, completion, shutdown and exit."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from lsp_client import LspClient

MAPWIRE = Path(sys.executable).parent / "mapwire"

MAPPING = """\
mapwire: 1
name: lsp-probe
source: mparticle.events_api_batch
destination: customerio
settings:
  region: {type: string, default: us, description: where the people live}
rules:
  - name: person
    action: identify
    fields:
      identifiers:
        object:
          id: {expr: doc.user_identities.customer_id, cast: string}
      attributes: doc.user_atributes
"""
TYPO_LINE = 13  # 0-based: `      attributes: doc.user_atributes`


@pytest.fixture
def client(tmp_path: Path) -> Iterator[LspClient]:
    lsp = LspClient([str(MAPWIRE), "lsp"], cwd=tmp_path)
    result = lsp.request(
        "initialize", {"processId": None, "rootUri": tmp_path.as_uri(), "capabilities": {}}
    )
    assert result["capabilities"]["hoverProvider"]
    assert "." in result["capabilities"]["completionProvider"]["triggerCharacters"]
    lsp.notify("initialized", {})
    yield lsp
    if lsp.process.poll() is None:  # a test failed before its shutdown
        lsp.process.kill()
        lsp.process.wait()
    lsp.close()


def open_file(client: LspClient, path: Path, text: str) -> str:
    uri = path.as_uri()
    client.notify(
        "textDocument/didOpen",
        {"textDocument": {"uri": uri, "languageId": "yaml", "version": 1, "text": text}},
    )
    return uri


def position(line: int, character: int) -> dict[str, int]:
    return {"line": line, "character": character}


def test_diagnostics_follow_the_unsaved_text(client: LspClient, tmp_path: Path) -> None:
    path = tmp_path / "probe.yaml"
    path.write_text(MAPPING.replace("user_atributes", "user_attributes"), "utf-8")  # on disk: OK
    uri = open_file(client, path, MAPPING)
    published = client.notification("textDocument/publishDiagnostics", uri)
    [diagnostic] = published["diagnostics"]
    assert diagnostic["code"] == "E501"
    assert diagnostic["severity"] == 1  # error
    assert diagnostic["source"] == "mapwire"
    assert diagnostic["range"] == {
        "start": position(TYPO_LINE, 22),
        "end": position(TYPO_LINE, 36),
    }
    assert "did you mean 'user_attributes'" in diagnostic["message"]
    assert "suggestion: check the spelling" in diagnostic["message"]

    fixed = MAPPING.replace("user_atributes", "user_attributes")
    client.notify(
        "textDocument/didChange",
        {"textDocument": {"uri": uri, "version": 2}, "contentChanges": [{"text": fixed}]},
    )
    published = client.notification("textDocument/publishDiagnostics", uri)
    assert published["diagnostics"] == []
    assert published["version"] == 2

    # Columns are UTF-16 code units by default: the emoji before the typo counts twice.
    astral = MAPPING.replace(
        "attributes: doc.user_atributes", "attributes: \"'🎉' && doc.user_atributes\""
    )
    client.notify(
        "textDocument/didChange",
        {"textDocument": {"uri": uri, "version": 3}, "contentChanges": [{"text": astral}]},
    )
    [diagnostic] = client.notification("textDocument/publishDiagnostics", uri)["diagnostics"]
    characters = astral.splitlines()[TYPO_LINE].index("user_atributes")
    assert diagnostic["range"]["start"] == position(TYPO_LINE, characters + 1)
    assert client.close() == 0


def test_hover_and_completion(client: LspClient, tmp_path: Path) -> None:
    path = tmp_path / "probe.yaml"
    uri = open_file(client, path, MAPPING)
    client.notification("textDocument/publishDiagnostics", uri)
    doc = {"textDocument": {"uri": uri}}

    # On `customer_id` of `doc.user_identities.customer_id` (line 12).
    line = MAPPING.splitlines()[12]
    hovered = client.request(
        "textDocument/hover", {**doc, "position": position(12, line.index("customer_id") + 2)}
    )
    value: str = hovered["contents"]["value"]
    assert value.startswith("`doc.user_identities.customer_id`: string or integer")
    assert hovered["range"]["start"] == position(12, line.index("doc."))

    # On the destination field `attributes`.
    hovered = client.request("textDocument/hover", {**doc, "position": position(TYPO_LINE, 8)})
    assert hovered["contents"]["value"].startswith("`attributes`: object")
    assert "action `identify`" in hovered["contents"]["value"]

    # Just after `doc.` in `doc.user_atributes`: the source document's top-level keys.
    after_dot = MAPPING.splitlines()[TYPO_LINE].index("doc.") + len("doc.")
    completed = client.request(
        "textDocument/completion", {**doc, "position": position(TYPO_LINE, after_dot)}
    )
    labels = {item["label"]: item for item in completed["items"]}
    assert {"user_attributes", "user_identities", "events", "mpid"} <= set(labels)
    assert labels["user_attributes"]["kind"] == 5  # Field
    assert labels["user_attributes"]["detail"].startswith("object")

    # On a key under `fields:`: the payload fields of the `identify` action.
    completed = client.request("textDocument/completion", {**doc, "position": position(10, 8)})
    labels = {item["label"]: item for item in completed["items"]}
    assert {"identifiers", "attributes", "created_at", "unsubscribed"} <= set(labels)
    assert client.close() == 0


def test_a_cases_file_reads_its_mapping_from_the_editor(client: LspClient, tmp_path: Path) -> None:
    in_editor = MAPPING.replace("user_atributes", "user_attributes")
    on_disk = in_editor.replace("settings:\n  region", "settings:\n  area")
    (tmp_path / "probe.yaml").write_text(on_disk, "utf-8")
    open_file(client, tmp_path / "probe.yaml", in_editor)
    cases = """\
mapping: probe.yaml
cases:
  - name: by region
    settings: {region: eu, zone: north}
    input: {}
    expect: {actions: []}
"""
    uri = open_file(client, tmp_path / "probe.test.yaml", cases)
    published: dict[str, Any] = client.notification("textDocument/publishDiagnostics", uri)
    # The editor's mapping declares `region` (the saved one does not); neither has `zone`.
    [unknown] = published["diagnostics"]
    assert unknown["code"] == "E406"
    assert "no setting 'zone'" in unknown["message"]
    assert unknown["range"]["start"] == position(3, 27)
    assert client.close() == 0


def test_without_pygls_the_command_says_what_to_install(tmp_path: Path) -> None:
    hide = "import sys; sys.modules['pygls'] = None; from mapwire.cli import main; main(['lsp'])"
    done = subprocess.run(
        [sys.executable, "-c", hide], capture_output=True, text=True, timeout=60, cwd=tmp_path
    )
    assert done.returncode == 1
    assert "pip install '.[lsp]'" in done.stderr
