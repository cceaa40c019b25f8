"""Two mappings with one name on the search path are an error everywhere a name is looked
up: validate, config check, and loading a config or a mapping for map/send/serve."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from mapwire import hookimpl
from mapwire.cli import main
from mapwire.contracts.errors import ConfigError, SpecError
from mapwire.language.mapping_names import index_mappings
from mapwire.runtime.config import load_config
from mapwire.runtime.mapping_files import resolve_mapping
from mapwire.runtime.registry import Registry, build_registry, reset_registry

DATA = Path(__file__).parent / "data"
SHIPPED = Path(__file__).resolve().parents[2] / "mappings"
MAPWIRE = Path(sys.executable).parent / "mapwire"


def _two_folders(tmp_path: Path, source: Path = DATA / "notes.yaml") -> tuple[Path, Path]:
    a, b = tmp_path / "flows_a", tmp_path / "flows_b"
    a.mkdir()
    b.mkdir()
    (a / "first.yaml").write_text(source.read_text("utf-8") + "# our copy\n")
    # the same name, written further down in the second file
    (b / "second.yaml").write_text("# another team's copy\n\n" + source.read_text("utf-8"))
    return a, b


def _script(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MAPWIRE_")}
    return subprocess.run(
        [str(MAPWIRE), *args],
        capture_output=True,
        text=True,
        env=env,
        cwd=cwd,
        timeout=120,
        check=False,
    )


def test_index_reports_the_second_file_naming_the_first(tmp_path: Path) -> None:
    a, b = _two_folders(tmp_path)
    same_file = a / ".." / "flows_a/first.yaml"  # self-contained: inside tmp_path
    index = index_mappings([a / "first.yaml", b / "second.yaml", same_file])
    assert [str(p) for p in index.problems] == [
        f"{b / 'second.yaml'}:5:7: E110 mapping name 'notes' is also defined in "
        f"{a / 'first.yaml'}:3"
    ]
    assert index.by_name["notes"].path == a / "first.yaml"


def test_validate_reports_duplicate_names_across_given_folders(
    tmp_path: Path, fake_registry: Registry
) -> None:
    a, b = _two_folders(tmp_path)
    result = CliRunner().invoke(main, ["validate", str(a), str(b)])
    assert result.exit_code == 1
    assert result.stdout.splitlines()[0] == (
        f"{b / 'second.yaml'}:5:7: E110 mapping name 'notes' is also defined in "
        f"{a / 'first.yaml'}:3"
    )
    assert result.stdout.splitlines()[1].startswith("  suggestion: give one of the two")


def test_an_identical_copy_is_the_same_mapping(tmp_path: Path) -> None:
    shutil.copy(SHIPPED / "mparticle_events_to_customerio.yaml", tmp_path / "same.yaml")
    result = CliRunner().invoke(main, ["validate", str(tmp_path)])
    assert result.exit_code == 0, result.output


def test_validate_reports_a_clash_with_a_shipped_mapping(tmp_path: Path) -> None:
    mine = tmp_path / "mine.yaml"
    mine.write_text((SHIPPED / "mparticle_events_to_customerio.yaml").read_text() + "# mine\n")
    result = CliRunner().invoke(main, ["validate", str(mine)])
    assert result.exit_code == 1
    assert f"{mine}:3:7: E110 mapping name 'mparticle-events-to-customerio'" in result.stdout
    assert "mparticle_events_to_customerio.yaml:3" in result.stdout


def test_config_load_refuses_duplicate_names(tmp_path: Path, fake_registry: Registry) -> None:
    _two_folders(tmp_path)
    config = tmp_path / "mapwire.yaml"
    config.write_text(
        json.dumps(
            {
                "mapwire": 1,
                "mappings": ["flows_a", "flows_b"],
                "connections": [{"name": "n", "flow": "notes"}],
            }
        )
    )
    with pytest.raises(ConfigError) as info:
        load_config(config, fake_registry)
    assert [p.code for p in info.value.problems] == ["E110"]
    assert info.value.problems[0].path == str(tmp_path / "flows_b" / "second.yaml")


class _ShipsACopy:
    def __init__(self, folder: Path) -> None:
        self.folder = folder

    @hookimpl
    def register_mappings(self, register: Any) -> None:
        register(self.folder)


def test_map_by_name_refuses_duplicates_on_the_plugin_search_path(tmp_path: Path) -> None:
    folder = tmp_path / "plugin_mappings"
    folder.mkdir()
    text = (SHIPPED / "mparticle_audiences_to_customerio.yaml").read_text("utf-8")
    (folder / "copy.yaml").write_text(text + "# a plugin's own copy\n")
    registry = build_registry(extra_plugins=[("copycat", _ShipsACopy(folder))])
    with pytest.raises(SpecError) as info:
        resolve_mapping("mparticle-audiences-to-customerio", registry)
    assert info.value.problems[0].code == "E110"
    reset_registry(registry)
    try:
        result = CliRunner().invoke(
            main, ["map", "--mapping", "mparticle-audiences-to-customerio", "-"], input="{}"
        )
    finally:
        reset_registry(None)
    assert result.exit_code == 2
    assert "E110 mapping name 'mparticle-audiences-to-customerio'" in result.stderr


def test_installed_script_config_check_send_and_serve_refuse_duplicates(
    tmp_path: Path,
) -> None:
    shipped = SHIPPED / "customerio_activity_to_mparticle.yaml"
    _, b = _two_folders(tmp_path, shipped)
    config = tmp_path / "mapwire.yaml"
    config.write_text(
        "mapwire: 1\n"
        "store: sqlite:///state.db\n"
        "mappings: [flows_a, flows_b]\n"
        "connections:\n"
        "  - name: act\n"
        "    flow: customerio-activity-to-mparticle\n"
        "    destination: {api_key: k, api_secret: s}\n"
    )
    expected = f"{b / 'second.yaml'}:5:7: E110 mapping name 'customerio-activity-to-mparticle'"
    checked = _script("config", "check", str(config), cwd=tmp_path)
    assert checked.returncode == 1
    assert expected in checked.stdout
    # the shipped file and both copies: all three are named
    assert checked.stdout.count("E110") == 2
    (tmp_path / "in.json").write_text("{}")
    sent = _script("send", "--config", str(config), "--connection", "act", "in.json", cwd=tmp_path)
    assert sent.returncode == 2
    assert expected in sent.stderr
    served = _script("serve", "--config", str(config), "--port", "0", cwd=tmp_path)
    assert served.returncode == 2
    assert expected in served.stderr
