"""The README's examples are real: its mapping validates and maps, its config checks."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from click.testing import CliRunner

from mapwire.engine.cli import main

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
