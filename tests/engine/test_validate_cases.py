"""``validate`` checks test-case files too; ``--strict`` fails on warnings; ``--format json``
gives editors and CI every diagnostic with its span; ``config check`` reports every
invalid file of a listed mapping folder."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from mapwire.cli import main
from mapwire.language.cases_check import check_cases_file
from mapwire.runtime.mapping_files import compile_with_plugins
from mapwire.runtime.registry import Registry

HERE = Path(__file__).parent
CASES = sorted((HERE / "invalid_cases").glob("*.test.yaml"))
EXPECT = re.compile(r"^# expect: (\d+):(\d+) ([EW]\d+) (.*)$")
MAPWIRE = Path(sys.executable).parent / "mapwire"


@pytest.mark.parametrize("path", CASES, ids=lambda p: p.name)
def test_invalid_cases_file_reports_exact_positions(path: Path, fake_registry: Registry) -> None:
    expected = [
        m.groups() for line in path.read_text("utf-8").splitlines() if (m := EXPECT.match(line))
    ]
    got = check_cases_file(path, compile_with_plugins)
    assert [(str(p.line), str(p.col), p.code) for p in got] == [e[:3] for e in expected], got
    for problem, (*_, message) in zip(got, expected, strict=True):
        assert message in problem.message


def test_validate_checks_cases_files_and_prints_warnings(fake_registry: Registry) -> None:
    path = HERE / "invalid_cases" / "cases_errors.test.yaml"
    result = CliRunner().invoke(main, ["validate", str(path)])
    assert result.exit_code == 1
    assert f"{path}:20:16: warning W408 setting 'loud' is given its default value" in (
        result.stdout.splitlines()
    )
    assert f"{path}:14:16: E406 mapping 'notes' has no setting 'lowd'" in result.stdout
    assert "7 problem(s) (1 warning(s)) in 1 of 1 file(s)" in result.stderr


def _only_a_warning(tmp_path: Path) -> Path:
    shutil.copy(HERE / "data" / "notes.yaml", tmp_path / "notes.yaml")
    cases = tmp_path / "notes.test.yaml"
    cases.write_text(
        "mapping: notes.yaml\n"
        "cases:\n"
        "  - name: quiet\n"
        "    settings: {loud: false}\n"
        "    input: {items: [{id: '1', text: hi}]}\n"
        "    expect: {actions: [{action: note, payload: {text: hi}}]}\n"
    )
    return cases


def test_warnings_pass_unless_strict(tmp_path: Path, fake_registry: Registry) -> None:
    cases = _only_a_warning(tmp_path)
    relaxed = CliRunner().invoke(main, ["validate", str(tmp_path)])
    assert relaxed.exit_code == 0, relaxed.output
    assert relaxed.stdout.splitlines() == [
        f"{cases}:4:16: warning W408 setting 'loud' is given its default value",
        "  suggestion: leave 'loud' out, or give it a value other than the default",
    ]
    strict = CliRunner().invoke(main, ["validate", "--strict", str(tmp_path)])
    assert strict.exit_code == 1
    assert strict.stdout == relaxed.stdout


def test_json_diagnostics_for_editors(tmp_path: Path, fake_registry: Registry) -> None:
    cases = _only_a_warning(tmp_path)
    result = CliRunner().invoke(main, ["validate", "--format", "json", str(cases)])
    assert result.exit_code == 0
    assert json.loads(result.stdout) == [
        {
            "file": str(cases),
            "line": 4,
            "column": 16,
            "end_line": 4,
            "end_column": 20,
            "code": "W408",
            "severity": "warning",
            "message": "setting 'loud' is given its default value",
            "suggestion": "leave 'loud' out, or give it a value other than the default",
        }
    ]


def test_validate_reports_a_cases_file_naming_a_missing_mapping_through_the_script() -> None:
    path = HERE / "invalid_cases" / "missing_mapping.test.yaml"
    env = {k: v for k, v in os.environ.items() if not k.startswith("MAPWIRE_")}
    done = subprocess.run(
        [str(MAPWIRE), "validate", "--strict", "--format", "json", str(path)],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
        check=False,
    )
    assert done.returncode == 1
    [row] = json.loads(done.stdout)
    assert (row["line"], row["column"], row["end_column"], row["code"]) == (3, 10, 22, "E405")
    assert row["severity"] == "error"


def test_config_check_reports_every_invalid_file_of_a_mapping_folder(
    tmp_path: Path, fake_registry: Registry
) -> None:
    flows = tmp_path / "flows"
    flows.mkdir()
    notes = (HERE / "data" / "notes.yaml").read_text("utf-8")
    (flows / "good.yaml").write_text(notes)
    (flows / "bad_one.yaml").write_text(
        notes.replace("name: notes", "name: bad-one").replace("item.n", "item.n | lowr(@)")
    )
    (flows / "bad_two.yaml").write_text(
        notes.replace("name: notes", "name: bad-two")
        .replace("action: note", "action: nope")
        .replace("dedup_key: item.id", "dedup_key: itme.id")
    )
    config = tmp_path / "mapwire.yaml"
    config.write_text("mapwire: 1\nmappings: [flows]\nconnections:\n  - {name: n, flow: bad-one}\n")
    result = CliRunner().invoke(main, ["config", "check", str(config)])
    assert result.exit_code == 1
    codes = [
        (Path(line.split(":")[0]).name, line.split(" ")[1]) for line in result.stdout.splitlines()
    ]
    assert codes == [
        ("bad_one.yaml", "E202"),
        ("bad_two.yaml", "E203"),
        ("bad_two.yaml", "E302"),
    ]


def test_map_prints_the_suggestion_of_a_mapping_problem(
    tmp_path: Path, fake_registry: Registry
) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text((HERE / "data" / "notes.yaml").read_text("utf-8").replace("rules:", "\trules:"))
    result = CliRunner().invoke(main, ["map", "--mapping", str(bad), "-"], input="{}")
    assert result.exit_code == 2
    assert result.stderr.splitlines()[1] == "  suggestion: indent with spaces, not tabs"


def test_validate_reports_a_case_input_serve_would_refuse(tmp_path: Path) -> None:
    """E410: an input written in a case that the source's shape check refuses, where it
    is; ``mapwire test`` would report it as the case's error."""
    shipped = HERE.parents[1] / "mappings" / "customerio_activity_to_mparticle.yaml"
    cases = tmp_path / "hooks.test.yaml"
    cases.write_text(
        f"mapping: {shipped}\n"
        "cases:\n"
        "  - name: one good, one refused\n"
        "    inputs:\n"
        "      - {event_id: a, object_type: email, metric: sent, timestamp: 1, data: {}}\n"
        "      - {event_id: b, object_type: email, metric: sent, timestamp: soon, data: {}}\n"
        "    expect: {actions: []}\n",
        "utf-8",
    )
    result = CliRunner().invoke(main, ["validate", str(cases)])
    assert result.exit_code == 1
    assert (
        f"{cases}:6:9: E410 serve would refuse this input: body.timestamp: expected an "
        "integer, got a string" in result.stdout
    ), result.stdout


def test_a_missing_mapping_is_matched_against_the_mappings_beside_it(tmp_path: Path) -> None:
    """The did-you-mean reads the folder as the search path does: ``.yml`` and ``.json``
    mappings too, no test files."""
    (tmp_path / "orders.yml").write_text("name: orders\n", "utf-8")
    (tmp_path / "orders.test.yaml").write_text("mapping: order.yml\ncases: []\n", "utf-8")
    cases = tmp_path / "order.test.yaml"
    cases.write_text("mapping: order.yml\ncases: []\n", "utf-8")
    [problem] = check_cases_file(cases, compile_with_plugins)
    assert problem.code == "E405"
    assert "(did you mean 'orders.yml'?)" in problem.message
