"""``mapwire explain --mapping FLOW`` with no input shows the flow's settings and rules
(it used to wait for standard input and print nothing)."""

from __future__ import annotations

from pathlib import Path

import yaml
from operations_helpers import mapwire

REPO = Path(__file__).resolve().parents[2]


def test_explain_without_input_prints_the_flows_settings_and_rules(tmp_path: Path) -> None:
    done = mapwire("explain", "--mapping", "mparticle-audiences-to-customerio", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    out = done.stdout
    assert out.startswith("flow mparticle-audiences-to-customerio: mParticle Audience Output")
    declared = yaml.safe_load(
        (REPO / "mappings" / "mparticle_audiences_to_customerio.yaml").read_text()
    )["settings"]
    assert f"settings ({len(declared)}):" in out
    for name in declared:
        assert f"\n  {name} (" in out
    assert (
        '  send_membership_attribute (string; default "when_per_segment_off"; one of '
        '"when_per_segment_off", "always", "never"): When to send the single membership '
        "attribute:" in out
    )
    assert '  one_attribute_per_segment (boolean; default true): "Create one user' in out
    lines = out.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("rules ("))
    rules = lines[start:]
    assert rules[1:4] == [
        "  - audience subscription",
        "    when: doc.type == 'audience_subscription_request'",
        '    skip: "audience subscription {doc.action}"',
    ]
    assert "    for_each profile: doc.user_profiles" in rules
    assert "      - membership" in rules
    assert "action: identify (identifiers, attributes, timestamp_ms)" in [
        line.strip() for line in rules
    ]
    assert out.rstrip().endswith("to trace a document")
