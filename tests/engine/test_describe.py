"""``mapwire describe``: destinations, sources, flows and functions, as text and JSON."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from click.testing import CliRunner

from mapwire.cli import main
from mapwire.language.schema_tree import field_rows
from mapwire.runtime.registry import Registry

MAPWIRE = Path(sys.executable).parent / "mapwire"
NOTES = str(Path(__file__).parent / "data" / "notes.yaml")


def _script(*args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MAPWIRE_")}
    return subprocess.run(
        [str(MAPWIRE), "describe", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
        check=False,
    )


def test_destination_through_the_installed_script() -> None:
    done = _script("destination", "customerio")
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0].startswith("destination customerio (plugin customerio): ")
    assert lines[1].startswith("limits: 500 items per request, 499999 bytes per request")
    assert '  region: string; one of "us", "eu"' in "\n".join(lines)
    assert "  api_key: string; required; secret; minLength 1" in "\n".join(lines)
    assert (
        "    identifiers: object; required; minProperties 1, maxProperties 1"
        in lines[lines.index("actions:") + 2]
    )


def test_one_action_as_json(fake_registry: Registry) -> None:
    result = CliRunner().invoke(
        main, ["describe", "destination", "test", "note", "--format", "json"]
    )
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["plugin"] == "fake"
    assert data["limits"]["max_items_per_request"] == 100
    assert data["actions"] == [
        {
            "name": "note",
            "description": "a note",
            "fields": [
                {
                    "path": "text",
                    "type": "string",
                    "required": True,
                    "description": "",
                    "enum": None,
                    "limits": {},
                },
                {
                    "path": "n",
                    "type": "integer",
                    "required": False,
                    "description": "",
                    "enum": None,
                    "limits": {},
                },
            ],
        }
    ]


def test_unknown_names_suggest_the_known_ones(fake_registry: Registry) -> None:
    result = CliRunner().invoke(main, ["describe", "destination", "customerioo"])
    assert result.exit_code == 2
    assert "unknown destination 'customerioo' (did you mean 'customerio'?)" in result.output
    result = CliRunner().invoke(main, ["describe", "destination", "test", "nope"])
    assert "unknown 'test' action 'nope' (did you mean 'note'?); known: note" in result.output


def test_source_tree_resolves_refs_and_shows_enums_through_the_script() -> None:
    done = _script("source", "mparticle.firehose_event_processing", "--format", "json")
    assert done.returncode == 0, done.stderr
    rows = {row["path"]: row for row in json.loads(done.stdout)["fields"]}
    # fields reached only through $ref into $defs, inside arrays
    nested = [p for p in rows if p.startswith("events[].")]
    assert nested, sorted(rows)
    assert any(row["enum"] for row in rows.values())


def test_schema_tree_follows_refs_arrays_and_alternatives() -> None:
    schema = {
        "type": "object",
        "required": ["kind"],
        "properties": {
            "kind": {"enum": ["a", "b"]},
            "items": {"type": "array", "items": {"$ref": "#/$defs/item"}},
            "self": {"$ref": "#"},
        },
        "$defs": {
            "item": {
                "oneOf": [
                    {"properties": {"x": {"type": "string", "maxLength": 3}}},
                    {"properties": {"x": {"type": "integer"}, "y": {"type": "null"}}},
                ]
            }
        },
    }
    rows = {r.path: r for r in field_rows(schema)}
    assert rows["kind"].required and rows["kind"].enum == ["a", "b"]
    assert rows["kind"].type == "string"
    assert rows["items"].type == "array of object"
    assert rows["items[].x"].type == "string|integer"
    assert rows["items[].x"].limits == {"maxLength": 3}
    assert "items[].y" in rows


def test_flow_settings_defaults_and_rules(fake_registry: Registry) -> None:
    result = CliRunner().invoke(main, ["describe", "flow", NOTES])
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines()[1:] == [
        "from test.input to test",
        "settings:",
        "  loud: boolean, default false  -- shout the text",
        "rules:",
        "  notes: -> note (text, n)",
        "    for each item in doc.items",
    ]
    data = json.loads(
        CliRunner().invoke(main, ["describe", "flow", NOTES, "--format", "json"]).stdout
    )
    assert data["settings"][0] == {
        "name": "loud",
        "type": "boolean",
        "default": False,
        "enum": None,
        "items": None,
        "description": "shout the text",
    }


def test_shipped_flow_by_name_through_the_script() -> None:
    done = _script("flow", "customerio-activity-to-mparticle", "--format", "json")
    assert done.returncode == 0, done.stderr
    data = json.loads(done.stdout)
    assert data["destination"] == "mparticle"
    names = {s["name"]: s for s in data["settings"]}
    assert names["first_time_only"]["default"] is True


def test_functions_name_their_plugin_and_return_type(fake_registry: Registry) -> None:
    result = CliRunner().invoke(main, ["describe", "functions"])
    assert result.exit_code == 0
    lines = result.stdout.splitlines()
    assert "shout(string) -> any  [fake]" in lines
    assert "concat(any...) -> string|null  [standard]" in lines
    assert "join(string, array-string) -> string  [jmespath (builtin)]" in lines
    assert "avg(array-number) -> number|null  [jmespath (builtin)]" in lines
    assert "sort(array-string|array-number) -> any  [jmespath (builtin)]" in lines
    rows = json.loads(
        CliRunner().invoke(main, ["describe", "functions", "--format", "json"]).stdout
    )
    assert {"name": "shout", "arguments": ["string"], "returns": "any", "plugin": "fake"} in rows


def test_a_declared_return_type_is_shown() -> None:
    from types import SimpleNamespace

    from mapwire.runtime.describe import _returns

    assert _returns(SimpleNamespace(returns=["string", "null"])) == "string|null"
    assert _returns(SimpleNamespace(returns="number")) == "number"
    assert _returns(SimpleNamespace()) == "any"


def test_new_commands_have_help_with_examples() -> None:
    for args in (
        ["describe"],
        ["describe", "destination"],
        ["describe", "source"],
        ["describe", "flow"],
        ["describe", "functions"],
        ["schema"],
    ):
        result = CliRunner().invoke(main, [*args, "--help"])
        assert result.exit_code == 0, result.output
        assert "Examples:" in result.output
