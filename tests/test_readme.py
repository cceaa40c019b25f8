"""The README's examples are real: its mapping validates and maps, its config checks, and
the install and test lines CI runs are marked and extracted exactly."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
from click.testing import CliRunner

from mapwire.cli import main

README = (Path(__file__).resolve().parents[1] / "README.md").read_text("utf-8")
YAML_BLOCKS = re.findall(r"```yaml\n(.*?)```", README, re.S)


def _block(marker: str) -> str:
    found = [b for b in YAML_BLOCKS if marker in b]
    assert len(found) == 1, f"README has no single yaml block containing {marker!r}"
    return found[0]


def test_readme_mapping_validates_and_maps(tmp_path: Path) -> None:
    flows = tmp_path / "my_flows"
    flows.mkdir()
    (flows / "unsubscribes.yaml").write_text(_block("name: customerio-unsubscribes-to-mparticle"))
    runner = CliRunner()
    assert runner.invoke(main, ["validate", str(flows)]).exit_code == 0
    hook = {
        "event_id": "e1",
        "object_type": "email",
        "metric": "unsubscribed",
        "timestamp": 1713484800,
        "data": {"delivery_id": "d1", "campaign_id": 5, "identifiers": {"id": "42"}},
    }
    result = runner.invoke(
        main, ["map", "--mapping", str(flows / "unsubscribes.yaml"), "-"], input=json.dumps(hook)
    )
    assert result.exit_code == 0, result.output
    action = json.loads(result.stdout)
    assert action["payload"]["event_name"] == "email_unsubscribed"
    assert action["payload"]["custom_attributes"] == {"delivery_id": "d1", "campaign_id": "5"}


def test_readme_config_checks(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    text = _block("name: cio-events")
    for name in set(re.findall(r"\{env: ([A-Z_]+)\}", text)):
        monkeypatch.setenv(name, "sentinel-value-123")
    path = tmp_path / "mapwire.yaml"
    path.write_text(text.replace("sqlite:///var/lib/mapwire/state.db", "sqlite:///state.db"))
    result = CliRunner().invoke(main, ["config", "check", str(path)])
    assert result.exit_code == 0, result.output
    assert "cio-events: mparticle-events-to-customerio -> customerio" in result.stdout
    assert "sentinel-value-123" not in result.output


# -- the install and test lines CI takes from the README -----------------------------------

REPO_ROOT = Path(__file__).resolve().parents[1]
README_COMMAND = REPO_ROOT / ".ci" / "readme_command.py"


def readme_command(name: str, readme: Path | None = None) -> subprocess.CompletedProcess[str]:
    """Run the extractor `.ci/run` uses, as it uses it."""
    args = [sys.executable, str(README_COMMAND), name]
    if readme is not None:
        args.append(str(readme))
    return subprocess.run(args, capture_output=True, text=True, timeout=60, check=False)


@pytest.mark.parametrize(
    ("name", "line"),
    [
        ("user-install", "python3 -m venv .venv && . .venv/bin/activate && pip install ."),
        (
            "contributor-install",
            "python3 -m venv .venv && . .venv/bin/activate && pip install -e '.[test]'",
        ),
        ("test", "python -m pytest -q -n auto"),
    ],
)
def test_readme_marks_the_install_and_test_lines(name: str, line: str) -> None:
    result = readme_command(name)
    assert (result.returncode, result.stdout, result.stderr) == (0, line + "\n", "")


def test_the_extras_the_readme_names_exist() -> None:
    extras = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text("utf-8"))["project"][
        "optional-dependencies"
    ]
    named = set(re.findall(r"pip install (?:-e )?'\.\[([\w,]+)\]'", README))
    assert {"test", "redis", "server", "redis,server"} <= named
    for group in named:
        assert set(group.split(",")) <= set(extras), group


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("# Title\n```sh\npython -m pytest -q\n```\n", "0 blocks marked"),
        (
            "<!-- readme-command: test -->\n```sh\npytest\n```\n"
            "<!-- readme-command: test -->\n```sh\npytest\n```\n",
            "2 blocks marked",
        ),
        ("<!-- readme-command: test -->\n\n```sh\npytest\n```\n", "0 blocks marked"),
        ("x\n<!-- readme-command: test -->\n```sh\ncd x\npytest\n```\n", "README:2: "),
        ("<!-- readme-command: test -->\n```sh\n```\n", "one command line"),
    ],
)
def test_readme_command_refuses_a_missing_or_ambiguous_mark(
    tmp_path: Path, text: str, message: str
) -> None:
    readme = tmp_path / "README.md"
    readme.write_text(text, "utf-8")
    result = readme_command("test", readme)
    assert result.returncode == 1
    assert result.stdout == ""
    assert message in result.stderr
