"""The command line, through click's runner and (once) through the installed script."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import click
import pytest
from click.testing import CliRunner
from customerio_webhooks import reporting_webhook

from mapwire.cli import main, mapping_cmds
from mapwire.language import cases
from mapwire.runtime.registry import Registry

from .conftest import compile_body

DATA = Path(__file__).parent / "data"
INVALID = Path(__file__).parent / "invalid"
NOTES = str(DATA / "notes.yaml")


@pytest.fixture
def cli(fake_registry: Registry) -> CliRunner:
    return CliRunner()


def test_every_command_has_help_with_examples(cli: CliRunner) -> None:
    """Every command and subcommand, as the README promises."""

    def walk(command: click.Command, path: list[str]) -> Iterator[list[str]]:
        if path:
            yield path
        if isinstance(command, click.Group):
            context = click.Context(command)
            for name in command.list_commands(context):
                sub = command.get_command(context, name)
                assert sub is not None, name
                yield from walk(sub, [*path, name])

    paths = list(walk(main, []))
    assert ["dlq", "purge"] in paths and ["lsp"] in paths
    for path in paths:
        result = cli.invoke(main, [*path, "--help"])
        assert result.exit_code == 0, result.output
        assert "Example" in result.output, " ".join(path)


def test_validate_clean_file(cli: CliRunner) -> None:
    result = cli.invoke(main, ["validate", NOTES])
    assert result.exit_code == 0
    assert result.stdout == ""
    assert "1 file(s) OK" in result.stderr


def test_validate_folder_reports_every_problem_with_positions(cli: CliRunner) -> None:
    result = cli.invoke(main, ["validate", str(INVALID)])
    assert result.exit_code == 1
    lines = result.stdout.splitlines()
    assert f"{INVALID / 'expression_errors.yaml'}:16:14: E202 unknown function lowr()" in "\n".join(
        lines
    )
    files = {line.split(":", 1)[0] for line in lines if not line.startswith("  suggestion: ")}
    assert len(files) == len(list(INVALID.glob("*.yaml")))


def test_validate_json_format(cli: CliRunner) -> None:
    result = cli.invoke(
        main, ["validate", "--format", "json", str(INVALID / "duplicate_keys.yaml")]
    )
    assert result.exit_code == 1
    assert json.loads(result.stdout) == [
        {
            "file": str(INVALID / "duplicate_keys.yaml"),
            "line": 10,
            "column": 7,
            "end_line": 10,
            "end_column": 8,
            "code": "E003",
            "severity": "error",
            "message": "duplicate key 'f' (first defined at line 9)",
            "suggestion": None,
        }
    ]


def test_map_json_document(cli: CliRunner) -> None:
    doc = {"items": [{"id": "1", "text": "hi", "n": 2}]}
    result = cli.invoke(main, ["map", "--mapping", NOTES, "-"], input=json.dumps(doc))
    assert result.exit_code == 0, result.output
    assert [json.loads(line) for line in result.stdout.splitlines()] == [
        {"destination": "test", "action": "note", "payload": {"text": "hi", "n": 2}}
    ]


def test_map_ndjson_with_bad_line_and_item_error(cli: CliRunner, tmp_path: Path) -> None:
    lines = [
        json.dumps({"items": [{"id": "1", "text": "a"}]}),
        "{not json",
        json.dumps({"items": [{"id": "2"}, {"id": "3", "text": "c"}]}),
        json.dumps({"items": [{"id": "1", "text": "a"}]}),  # duplicate of line 1
    ]
    path = tmp_path / "in.ndjson"
    path.write_text("\n".join(lines) + "\n")
    result = cli.invoke(main, ["map", "--mapping", NOTES, str(path)])
    assert result.exit_code == 1
    assert [json.loads(x)["payload"]["text"] for x in result.stdout.splitlines()] == ["a", "c"]
    assert "input line 2: not JSON" in result.stderr
    assert "input line 3: notes:item[0]:text[1]: required field 'text[1]' is null" in result.stderr
    assert "skipped (duplicate: 1)" in result.stderr


def test_map_reports_a_document_the_mapping_fails_on_and_goes_on(
    cli: CliRunner, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An error the engine does not expect (a plugin's bug, say) fails that document
    alone, named by its line and the error's type, never its message."""
    real = mapping_cmds.compile_plan

    def failing_on_boom(plan: Any) -> Any:
        compiled = real(plan)
        function = compiled.function

        def run(doc: Any, *args: Any) -> Any:
            if doc.get("boom"):
                raise TypeError("a message quoting secret@example.com")
            return function(doc, *args)

        compiled.function = run
        return compiled

    monkeypatch.setattr(mapping_cmds, "compile_plan", failing_on_boom)
    lines = [
        {"items": [{"id": "1", "text": "a"}]},
        {"boom": 1},
        {"items": [{"id": "2", "text": "b"}]},
    ]
    text = "\n".join(json.dumps(line) for line in lines) + "\n"
    result = cli.invoke(main, ["map", "--mapping", NOTES, "-"], input=text)
    assert result.exit_code == 1
    assert [json.loads(x)["payload"]["text"] for x in result.stdout.splitlines()] == ["a", "b"]
    assert "input line 2: the mapping could not process this document (TypeError)" in (
        result.stderr
    )
    assert "secret" not in result.stderr


def test_map_bad_setting_is_exit_2(cli: CliRunner) -> None:
    result = cli.invoke(main, ["map", "--mapping", NOTES, "--set", "lod=true", "-"], input="{}")
    assert result.exit_code == 2
    assert "unknown setting 'lod' (did you mean 'loud'?)" in result.stderr


def test_map_invalid_mapping_is_exit_2(cli: CliRunner) -> None:
    path = str(INVALID / "expression_errors.yaml")
    result = cli.invoke(main, ["map", "--mapping", path, "-"], input="{}")
    assert result.exit_code == 2
    assert "E202" in result.stderr


def test_mapping_by_unknown_name(cli: CliRunner) -> None:
    result = cli.invoke(main, ["map", "--mapping", "no-such-mapping", "-"], input="{}")
    assert result.exit_code == 2
    assert "no mapping file or shipped mapping named 'no-such-mapping'" in result.output


def test_explain_names_rule_expression_and_fallback(cli: CliRunner) -> None:
    doc = {"items": [{"id": "1", "text": "hi"}, {"id": "2"}]}
    result = cli.invoke(main, ["explain", "--mapping", NOTES, "-"], input=json.dumps(doc))
    assert result.exit_code == 0, result.output
    out = result.output
    assert "-- rule notes [item[0]]" in out
    assert "text <- first of" in out and "fallback 1 used" in out
    assert "n <- item.n = null  # null: field omitted" in out
    assert "error: notes:item[1]:text[1]: required field 'text[1]' is null" in out


def test_test_command_passes_and_reports_diff_on_failure(cli: CliRunner, tmp_path: Path) -> None:
    result = cli.invoke(main, ["test", str(DATA)])
    assert result.exit_code == 0, result.output
    assert "4 passed, 0 failed" in result.output
    shutil.copy(DATA / "notes.yaml", tmp_path / "notes.yaml")
    (tmp_path / "notes.test.yaml").write_text(
        "cases:\n"
        "  - name: wrong expectation\n"
        "    input: {items: [{id: '1', text: hi}]}\n"
        "    expect:\n"
        "      actions: [{action: note, payload: {text: ho}}]\n"
    )
    result = cli.invoke(main, ["test", str(tmp_path)])
    assert result.exit_code == 1
    assert "FAIL" in result.output and "wrong expectation" in result.output
    assert '-      "text": "ho"' in result.output and '+      "text": "hi"' in result.output


def test_plugins_lists_in_process_plugin(cli: CliRunner) -> None:
    result = cli.invoke(main, ["plugins", "--format", "json"])
    assert result.exit_code == 0
    rows = {row["name"]: row for row in json.loads(result.stdout)["plugins"]}
    assert rows["fake"]["provides"] == {
        "destinations": ["test"],
        "sources": ["test.input"],
        "functions": ["shout"],
    }


def test_installed_console_script_runs_in_a_subprocess() -> None:
    script = Path(sys.executable).parent / "mapwire"
    assert script.exists(), "the console script is installed with the package"
    env = {k: v for k, v in os.environ.items() if not k.startswith("MAPWIRE_")}
    done = subprocess.run(
        [str(script), "validate", str(INVALID / "duplicate_keys.yaml")],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
        check=False,
    )
    assert done.returncode == 1
    assert done.stdout.strip() == (
        f"{INVALID / 'duplicate_keys.yaml'}:10:7: E003 duplicate key 'f' (first defined at line 9)"
    )
    assert "1 problem(s) in 1 of 1 file(s)" in done.stderr


def test_a_case_whose_input_the_mapping_raises_on_fails_with_its_error(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """``mapwire test``: a bug a case's input exposes is that case's error (named by the
    error's type), not a crash of the whole run."""
    plan = compile_body("rules:\n  - {name: n, action: note, fields: {text: doc.text}}\n")
    real = cases.compile_plan

    def failing(plan: Any) -> Any:
        compiled = real(plan)

        def run(doc: Any, *args: Any, **kwargs: Any) -> Any:
            raise ZeroDivisionError("a message quoting secret@example.com")

        compiled.run = run  # type: ignore[method-assign]
        return compiled

    monkeypatch.setattr(cases, "compile_plan", failing)
    case = cases.Case("boom", [{"n": 1}], {}, {"actions": []}, 1)
    assert cases.check_case(plan, case) == [
        "errors differ:\n  expected: []\n  actual:   "
        '["the mapping could not process this document (ZeroDivisionError)"]'
    ]


def test_map_and_explain_take_an_array_of_batches_as_that_many_documents(
    tmp_path: Path,
) -> None:
    """As serve and send take such a body: each batch a document (was: the array one
    document, skipped as having no identity)."""

    def batch(user: str) -> dict[str, Any]:
        event = {"event_name": "Played", "source_message_id": f"{user}-0"}
        return {
            "user_identities": {"customer_id": user},
            "events": [{"event_type": "custom_event", "data": event}],
        }

    path = tmp_path / "batches.json"
    path.write_text(json.dumps([batch("a2"), batch("a3")]))
    mapped = CliRunner().invoke(
        main, ["map", "--mapping", "mparticle-events-to-customerio", str(path)]
    )
    assert mapped.exit_code == 0, mapped.output
    users = [
        json.loads(line)["payload"]["identifiers"]["id"] for line in mapped.stdout.splitlines()
    ]
    assert users == ["a2", "a2", "a3", "a3"]
    explained = CliRunner().invoke(
        main, ["explain", "--mapping", "mparticle-events-to-customerio", str(path)]
    )
    assert explained.exit_code == 0 and explained.output.count("action") >= 4


def test_explain_exits_1_on_input_it_cannot_read(tmp_path: Path) -> None:
    path = tmp_path / "bad.ndjson"
    path.write_text("not json\n")
    result = CliRunner().invoke(
        main, ["explain", "--mapping", "mparticle-events-to-customerio", str(path)]
    )
    assert result.exit_code == 1 and "input line 1: " in result.output


def test_dlq_retry_exits_1_when_a_given_dead_letter_is_not_there(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    config = tmp_path / "mapwire.yaml"
    config.write_text(json.dumps({"mapwire": 1, "store": "sqlite:///state.db", "connections": []}))
    result = CliRunner().invoke(main, ["dlq", "retry", "--config", str(config), "999"])
    assert result.exit_code == 1, result.output
    assert "requeued 0 dead letter(s)" in result.output
    assert "not found" in result.output


def run_cases(cli: CliRunner, folder: Path, mapping: Path | str, cases: str) -> Any:
    """``mapwire test`` on a test file of ``mapping`` with ``cases`` (YAML list items)."""
    path = folder / "cases.test.yaml"
    path.write_text(f"mapping: {mapping}\ncases:\n{cases}", "utf-8")
    return cli.invoke(main, ["test", str(path)])


def test_map_and_test_refuse_what_serve_and_send_refuse(cli: CliRunner, tmp_path: Path) -> None:
    """A document its source's shape check refuses (a webhook whose timestamp is not an
    integer) is refused by ``map`` and by a test case too, not mapped into errors that
    production never sees; the other documents go on."""
    good = reporting_webhook("01HX0000000000000000000E01", "sent")
    bad = {**reporting_webhook("01HX0000000000000000000E02", "sent"), "timestamp": "soon"}
    text = "\n".join(json.dumps(d) for d in (bad, good)) + "\n"
    mapping = "customerio-activity-to-mparticle"
    result = cli.invoke(main, ["map", "--mapping", mapping, "-"], input=text)
    assert result.exit_code == 1
    assert [json.loads(x)["payload"]["event_name"] for x in result.stdout.splitlines()] == [
        "email_sent"
    ]
    assert (
        "input line 1: refused, as serve refuses it: body.timestamp: expected an "
        "integer, got a string" in result.stderr
    ), result.stderr

    shipped = Path(__file__).parents[2] / "mappings" / "customerio_activity_to_mparticle.yaml"
    case = f"""  - name: refused
    inputs: {json.dumps([bad])}
    expect: {{actions: [], errors: ['input refused: body.timestamp']}}
"""
    result = run_cases(cli, tmp_path, shipped, case)
    assert result.exit_code == 0, result.output
    assert "1 passed, 0 failed" in result.output


def test_test_without_cases_says_so_and_map_names_documents_no_rule_matched(
    cli: CliRunner, tmp_path: Path
) -> None:
    result = cli.invoke(main, ["test", str(tmp_path)])
    assert result.exit_code == 1
    assert f"no test cases found: no *.test.yaml file in {tmp_path}" in result.stderr
    docs = [{"items": [{"id": "1", "text": "a"}]}, {"other": 1}, {"items": []}]
    text = "\n".join(json.dumps(d) for d in docs) + "\n"
    result = cli.invoke(main, ["map", "--mapping", NOTES, "-"], input=text)
    assert result.exit_code == 0, result.output
    assert "2 document(s) produced nothing (input line 2, 3): no rule matched" in result.stderr


def test_test_names_a_misspelled_case_key_with_a_suggestion(cli: CliRunner, tmp_path: Path) -> None:
    case = "  - {name: x, input: {items: []}, expct: {actions: []}, expect: {actoins: []}}\n"
    result = run_cases(cli, tmp_path, NOTES, case)
    assert result.exit_code == 1
    assert "E403 unknown case key 'expct' (did you mean 'expect'?)" in result.output
    assert "E403 unknown expect key 'actoins' (did you mean 'actions'?)" in result.output


def test_a_bad_set_option_is_reported_without_a_made_up_position(cli: CliRunner) -> None:
    result = cli.invoke(main, ["map", "--mapping", NOTES, "--set", "lowd=true", "-"], input="{}")
    assert result.exit_code == 2
    assert "--set: E204 unknown setting 'lowd' (did you mean 'loud'?)" in result.stderr


def test_explain_traces_a_document_serve_would_refuse_and_says_so(cli: CliRunner) -> None:
    doc = {"event_id": "x", "object_type": "email", "metric": "sent", "timestamp": "soon"}
    result = cli.invoke(
        main,
        ["explain", "--mapping", "customerio-activity-to-mparticle", "-"],
        input=json.dumps({**doc, "data": {}}),
    )
    assert result.exit_code == 1
    assert "== input line 1: 0 action(s)" in result.stdout
    assert (
        "input line 1: serve would refuse it: body.timestamp: expected an integer, got a string"
        in result.stderr
    )
