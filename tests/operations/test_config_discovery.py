"""Which config a command uses: --config, else MAPWIRE_CONFIG, else ./mapwire.yaml. Only
``serve`` and ``demo`` fall back to the bundled demo; every other command without a config
stops (exit 2) and says where it looked, instead of quietly using a demo database."""

from __future__ import annotations

from pathlib import Path

import pytest
from operations_helpers import mapwire, sink_config

ROOT = Path(__file__).resolve().parents[2]

NEEDS_A_CONFIG = [
    ["send", "--connection", "cio-events", "in.ndjson"],
    ["dlq", "list"],
    ["dlq", "show", "1"],
    ["dlq", "retry", "--all"],
    ["dlq", "purge", "--all"],
    ["connect", "test"],
    ["config", "check"],
]


@pytest.mark.parametrize("args", NEEDS_A_CONFIG, ids=" ".join)
def test_without_a_config_the_command_stops_and_says_where_it_looked(
    tmp_path: Path, args: list[str]
) -> None:
    (tmp_path / "in.ndjson").write_text("{}\n")
    done = mapwire(*args, cwd=tmp_path)
    assert done.returncode == 2, done.stderr
    assert "no config file: looked for --config FILE, the MAPWIRE_CONFIG" in done.stderr
    assert f"./mapwire.yaml in {tmp_path}" in done.stderr
    assert not (tmp_path / "mapwire-data").exists()  # no demo database appeared


def test_mapwire_config_env_is_used(tmp_path: Path) -> None:
    (tmp_path / "elsewhere").mkdir()
    config = sink_config(tmp_path / "elsewhere")
    done = mapwire("dlq", "list", cwd=tmp_path, env={"MAPWIRE_CONFIG": str(config)})
    assert done.returncode == 0, done.stderr
    assert f"config: {config} (from MAPWIRE_CONFIG)" in done.stderr
    assert (tmp_path / "elsewhere" / "state.db").exists()  # the config's own store
    assert not (tmp_path / "mapwire-data").exists()


def test_mapwire_yaml_in_the_current_directory_is_used(tmp_path: Path) -> None:
    sink_config(tmp_path)
    done = mapwire("config", "check", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert "cio-events: mparticle-events-to-customerio -> customerio" in done.stdout
    assert "mapwire.yaml: OK (1 connection(s))" in done.stderr


def test_config_option_wins_over_the_environment_and_the_current_directory(
    tmp_path: Path,
) -> None:
    sink_config(tmp_path)  # ./mapwire.yaml, store state.db
    chosen = sink_config(tmp_path, name="chosen.yaml", store="chosen.db")
    env = {"MAPWIRE_CONFIG": str(tmp_path / "missing.yaml")}
    done = mapwire("dlq", "list", "--config", str(chosen), cwd=tmp_path, env=env)
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "chosen.db").exists() and not (tmp_path / "state.db").exists()


def test_a_missing_file_named_by_the_environment_is_an_error_naming_it(tmp_path: Path) -> None:
    missing = tmp_path / "missing.yaml"
    done = mapwire("dlq", "list", cwd=tmp_path, env={"MAPWIRE_CONFIG": str(missing)})
    assert done.returncode == 2
    assert f"config: {missing} (from MAPWIRE_CONFIG)" in done.stderr
    assert f"{missing}:1:1: C000 cannot read file" in done.stderr


def test_connect_test_skips_local_sink_connections(tmp_path: Path) -> None:
    sink_config(tmp_path)
    done = mapwire("connect", "test", cwd=tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.startswith("cio-events: SKIPPED - transport is the local sink ")
    assert "nothing is sent to the vendor" in done.stdout


def test_local_state_is_ignored_by_git() -> None:
    lines = (ROOT / ".gitignore").read_text("utf-8").splitlines()
    assert "mapwire-data/" in lines


def test_the_bundled_demo_named_by_its_path_reads_the_demo_state_where_serve_ran(
    tmp_path: Path,
) -> None:
    """``serve`` without a config keeps the demo's state under ./mapwire-data; the demo
    config named by its installed path (as ``demo post`` prints it) reads that same state,
    and creates nothing beside the installed file."""
    from mapwire.runtime.config import DEMO_CONFIG, load_config

    beside = DEMO_CONFIG.parent / "mapwire-data"
    existed = beside.exists()
    done = mapwire("dlq", "list", "--config", str(DEMO_CONFIG), cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "mapwire-data" / "state.db").exists()
    assert beside.exists() == existed
    config = load_config(DEMO_CONFIG)
    assert Path.cwd() / "mapwire-data" / "state.db" == Path(config.store.removeprefix("sqlite:///"))
