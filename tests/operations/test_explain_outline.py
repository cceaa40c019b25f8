"""``mapwire explain --mapping FLOW`` with no input shows the flow's settings and rules
(it used to wait for standard input and print nothing)."""

from __future__ import annotations

from pathlib import Path

from operations_helpers import mapwire


def test_explain_without_input_prints_the_flows_settings_and_rules(tmp_path: Path) -> None:
    done = mapwire("explain", "--mapping", "mparticle-audiences-to-customerio", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    out = done.stdout
    assert out.startswith("flow mparticle-audiences-to-customerio: mParticle Audience Output")
    assert "settings (3):" in out
    assert (
        '  send_membership_attribute (string; default "when_per_segment_off"; one of '
        '"when_per_segment_off", "always", "never"): When to send the single membership '
        "attribute:" in out
    )
    assert '  one_attribute_per_segment (boolean; default true): "Create one user' in out
    lines = out.splitlines()
    rules = lines[lines.index("rules (5):") :]
    assert rules[1:4] == [
        "  - audience subscription",
        "    when: doc.type == 'audience_subscription_request'",
        '    skip: "audience subscription {doc.action}"',
    ]
    assert "    for_each profile: doc.user_profiles" in rules
    assert "      - membership" in rules
    assert "        action: identify (identifiers, attributes)" in rules
    assert out.rstrip().endswith("to trace a document")
