"""A call with the wrong number of arguments is a ``validate`` error (E211), for builtins
and plugin functions alike: it would fail on every document at run time."""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner

from mapwire.cli import main

MAPPING = """\
mapwire: 1
name: arity
source: mparticle.events_api_batch
destination: customerio
rules:
  - name: person
    action: identify
    fields:
      identifiers:
        object:
          id: "to_string(doc.user_identities.customer_id)"
      attributes: "{CALL}"
"""


def validate(tmp_path: Path, call: str) -> tuple[int, str]:
    path = tmp_path / "m.yaml"
    path.write_text(MAPPING.replace("{CALL}", call))
    result = CliRunner().invoke(main, ["validate", str(path)])
    return result.exit_code, result.stdout


def test_a_plugin_function_given_too_few_arguments(tmp_path: Path) -> None:
    code, out = validate(tmp_path, "mparticle_attributes(doc.user_attributes, 'skip')")
    assert code == 1
    assert ":12:20: E211 mparticle_attributes() takes 3 arguments, not 2" in out


def test_a_builtin_given_too_many_arguments(tmp_path: Path) -> None:
    code, out = validate(tmp_path, "merge(doc.user_attributes, to_string(doc.mpid, 'x'))")
    assert code == 1
    assert "E211 to_string() takes 1 argument, not 2" in out


def test_calls_that_fit_their_signatures(tmp_path: Path) -> None:
    call = "merge(doc.user_attributes, mparticle_attributes(doc.user_attributes, 'skip', `null`))"
    code, out = validate(tmp_path, call)
    assert code == 0, out
