"""The language server's analysis as plain functions (no protocol, no pygls): validate's
problems from unsaved text, hover and completion, and reading the cursor's place in
half-typed YAML."""

from __future__ import annotations

import json
from pathlib import Path

from mapwire.cli.diagnostics import as_json
from mapwire.cli.validate_cmd import check_paths
from mapwire.lsp.completion import complete
from mapwire.lsp.context import locate
from mapwire.lsp.diagnose import diagnose
from mapwire.lsp.hover import hover

HEAD = """\
mapwire: 1
name: analysis-probe
source: mparticle.events_api_batch
destination: customerio
settings:
  region: {type: string, default: us, description: where the people live}
"""
BROKEN = (
    HEAD
    + """\
rules:
  - name: person
    action: identify
    colour: blue
    fields:
      identifiers:
        object:
          id: doc.user_identities.customer_id
      attributes: doc.user_atributes
  - name: events
    for_each: {event: doc.events}
    action: event
    fields:
      identifiers: {object: {id: "shout(doc.mpid)"}}
      name: "event.data.event_name ||"
"""
)


def lines_of(text: str) -> list[str]:
    return text.splitlines()


def at(text: str, needle: str, offset: int = 0) -> tuple[int, int]:
    """(line, character) of ``needle``'s first occurrence, plus ``offset``."""
    for number, line in enumerate(text.splitlines()):
        if needle in line:
            return number, line.index(needle) + offset
    raise AssertionError(f"{needle!r} not in the text")


def test_diagnostics_are_what_validate_reports_for_the_saved_file(tmp_path: Path) -> None:
    path = tmp_path / "probe.yaml"
    path.write_text(BROKEN, "utf-8")
    problems, _ = check_paths([path])
    expected = [
        (
            r["line"] - 1,
            r["column"] - 1,
            r["end_column"] - 1,
            r["code"],
            r["severity"],
            r["message"],
        )
        for r in json.loads(as_json(problems))
    ]
    path.write_text("mapwire: 1\n", "utf-8")  # the analysis reads the text, not the file
    found = [
        (d.span.start_line, d.span.start_char, d.span.end_char, d.code, d.severity, d.message)
        for d in diagnose(BROKEN, path)
    ]
    assert found == expected
    suggestions = [r["suggestion"] or None for r in json.loads(as_json(problems))]
    assert [d.suggestion for d in diagnose(BROKEN, path)] == suggestions
    assert {"E101", "E201", "E202"} <= {row[3] for row in found}


def test_type_problems_and_their_warnings_come_from_the_text(tmp_path: Path) -> None:
    text = BROKEN.split("  - name: events")[0].replace("    colour: blue\n", "")
    found = {(d.code, d.severity) for d in diagnose(text, tmp_path / "probe.yaml")}
    assert found == {("E501", "error"), ("E511", "warning")}
    text = text.replace("user_atributes", "user_attributes")
    found = {(d.code, d.severity) for d in diagnose(text, tmp_path / "probe.yaml")}
    assert found == {("E511", "warning")}


def test_a_name_another_mapping_on_the_search_path_has_is_reported(tmp_path: Path) -> None:
    (tmp_path / "other.yaml").write_text(HEAD.replace("analysis-probe", "taken") + "rules: []\n")
    text = HEAD.replace("analysis-probe", "taken") + "rules:\n  - {name: x, skip: ignored}\n"
    [duplicate] = diagnose(text, tmp_path / "probe.yaml")
    assert duplicate.code == "E110"
    assert (duplicate.span.start_line, duplicate.span.start_char) == (1, 6)
    assert "other.yaml" in duplicate.message


def test_other_yaml_is_left_alone(tmp_path: Path) -> None:
    assert diagnose("server: {port: 8080}\n", tmp_path / "compose.yaml") == []


def test_hover_on_input_paths_settings_fields_and_actions() -> None:
    text = BROKEN.split("  - name: events")[0]
    shown = hover(text, *at(text, "customer_id", 3))
    assert shown is not None
    assert shown.markdown.startswith("`doc.user_identities.customer_id`: string or integer")
    assert "mParticle accepts a string" in shown.markdown  # the schema's description

    with_setting = text.replace("doc.user_identities.customer_id", "settings.region")
    shown = hover(with_setting, *at(with_setting, "region: {", 2))
    assert shown is None  # not an expression: the settings block itself
    shown = hover(with_setting, *at(with_setting, "settings.region", 10))
    assert shown is not None
    assert shown.markdown == "`settings.region`: setting of type string\n\nwhere the people live"

    shown = hover(text, *at(text, "identifiers:", 2))
    assert shown is not None
    assert shown.markdown.startswith("`identifiers`: object (required)")

    shown = hover(text, *at(text, "identify", 2))
    assert shown is not None
    assert shown.markdown.startswith("`identify`: action of customerio")
    assert "`unsubscribed`" in shown.markdown

    assert hover(text, *at(text, "name: person", 2)) is None


def test_completion_of_input_paths_through_projections() -> None:
    text = HEAD + "rules:\n  - name: x\n    for_each: {e: doc.events[*].}\n"
    labels = {c.label: c for c in complete(text, *at(text, "[*].", 4))}
    assert set(labels) >= {"event_type", "data"}
    assert labels["event_type"].kind == "field"


def test_completion_of_names_functions_and_settings() -> None:
    text = HEAD + 'variables:\n  who: doc.mpid\nrules:\n  - name: x\n    when: ""\n'
    line, char = at(text, 'when: "', len('when: "'))
    found = {c.label: c for c in complete(text, line, char)}
    assert {"doc", "settings", "who", "length", "snake_case"} <= set(found)
    assert found["snake_case"].kind == "function"
    assert found["snake_case"].detail == "snake_case(string|null) -> string|null"
    assert found["length"].kind == "function"

    text = text.replace('when: ""', 'when: "settings."')
    labels = [c.label for c in complete(text, *at(text, "settings.", len("settings.")))]
    assert labels == ["region"]


def test_completion_of_keys_actions_and_fields() -> None:
    text = HEAD + "rules:\n  - name: x\n    action: \n    fields:\n      \n"
    actions = {c.label for c in complete(text, *at(text, "action: ", len("action: ")))}
    assert {"identify", "event", "add_device"} <= actions

    rule_keys = {c.label for c in complete(text, *at(text, "name: x", 0))}
    assert {"for_each", "when", "action", "fields", "rules"} <= rule_keys

    text = text.replace("action: \n", "action: event\n")
    fields_line = text.splitlines().index("    fields:") + 1
    fields = {c.label: c for c in complete(text, fields_line, 6)}
    assert {"identifiers", "name", "data", "timestamp"} <= set(fields)
    assert fields["name"].detail == "string (required)"

    top = {c.label for c in complete(text + "\n", len(text.splitlines()), 0)}
    assert top == {"mapwire", "name", "description", "source", "destination", "settings"} | {
        "variables",
        "rules",
    }


def test_the_cursor_is_placed_from_indentation_in_half_typed_yaml() -> None:
    text = HEAD + "rules:\n  - name: x\n    action: event\n    fields:\n      na\n"
    cursor = locate(text, len(text.splitlines()) - 1, 8)
    assert cursor.path == ("rules", "-", "fields")
    assert cursor.on_key
    assert not cursor.in_expression()

    text = HEAD + "rules:\n  - name: x\n    fields:\n      name: >-\n        doc.mp\n"
    cursor = locate(text, len(text.splitlines()) - 1, 12)
    assert cursor.path == ("rules", "-", "fields", "name")
    assert cursor.in_expression()


def test_loop_names_and_variables_stand_for_the_input_paths_they_bind() -> None:
    text = (
        HEAD
        + """\
rules:
  - name: events
    for_each: {event: doc.events}
    variables:
      data: event.data
    action: event
    fields:
      name: data.
      timestamp: event.data.timestamp_unixtime_ms
"""
    )
    labels = {c.label for c in complete(text, *at(text, "name: data.", len("name: data.")))}
    assert {"event_name", "custom_attributes", "timestamp_unixtime_ms"} <= labels

    shown = hover(text, *at(text, "timestamp_unixtime_ms", 2))
    assert shown is not None
    assert shown.markdown.startswith("`event.data.timestamp_unixtime_ms`: integer or null")
    assert "milliseconds" in shown.markdown

    names = {c.label: c for c in complete(text, *at(text, "name: data", len("name: ")))}
    assert names["event"].detail == "loop name"
    assert names["data"].detail == "variable"


def test_object_fields_inside_the_payload_hover_and_complete() -> None:
    text = (
        HEAD
        + """\
rules:
  - name: person
    action: identify
    fields:
      identifiers:
        object:
          id: doc.mpid
"""
        + " " * 10  # a new line, indented by the editor
    )
    shown = hover(text, *at(text, "id: doc.mpid", 0))
    assert shown is not None
    assert shown.markdown.startswith("`identifiers.id`: ")
    assert "action `identify`" in shown.markdown
    labels = {c.label for c in complete(text, len(text.splitlines()) - 1, 10)}
    assert {"id", "email", "cio_id"} <= labels


def test_half_typed_yaml_gets_the_syntax_error_validate_reports(tmp_path: Path) -> None:
    text = HEAD + "rules:\n  - name: x\n    action: [event\n"
    path = tmp_path / "probe.yaml"
    path.write_text(text, "utf-8")
    problems, _ = check_paths([path])
    [syntax] = diagnose(text, path)
    assert syntax.code.startswith("E00")
    assert [(syntax.span.start_line + 1, syntax.span.start_char + 1, syntax.code)] == [
        (p.line, p.col, p.code) for p in problems
    ]
